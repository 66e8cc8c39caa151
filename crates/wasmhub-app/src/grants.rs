//! What a component may touch, each grant with where it was given.

use std::fmt;

use wasmhub_manifest::{DirGrant, DirMode, EnvGrant, OutboundRule, SocketRule};

/// Where a grant came from, for audits and error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A manifest line: `wasmhub.toml:12`.
    Manifest(String),
    /// A command-line flag, as typed: `--env TZ`.
    Flag(String),
    /// Nobody wrote it: the verb's default, with why.
    Default(&'static str),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Manifest(at) => f.write_str(at),
            Self::Flag(flag) => write!(f, "flag {flag}"),
            Self::Default(why) => write!(f, "default ({why})"),
        }
    }
}

/// A granted value and where it was granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Granted<T> {
    /// The value.
    pub value: T,
    /// Where it came from.
    pub origin: Origin,
}

impl<T> Granted<T> {
    /// `value`, granted at `origin`.
    pub fn new(value: T, origin: Origin) -> Self {
        Self { value, origin }
    }
}

/// How a user adds a grant: in the manifest, or with flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantSite {
    /// `[component.NAME.grant]`, for the component declared at `at`.
    Manifest {
        /// The component's name.
        component: String,
        /// Where it is declared (`wasmhub.toml:5`).
        at: String,
    },
    /// `[component.NAME]` of a `spin.toml`: its grants are Spin's keys there
    /// (`allowed_outbound_hosts`, `key_value_stores`, ...), for the component declared at `at`.
    Spin {
        /// The component's name.
        component: String,
        /// Where it is declared (`spin.toml:12`).
        at: String,
    },
    /// Command-line flags of the running verb.
    Flags,
}

impl GrantSite {
    /// How messages name the component: `component "cart"` or `the component`.
    pub fn subject(&self) -> String {
        match self {
            Self::Manifest { component, .. } | Self::Spin { component, .. } => {
                format!("component \"{component}\"")
            }
            Self::Flags => "the component".into(),
        }
    }
}

/// Everything a component may touch beyond its own memory; empty means nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grants {
    /// Environment variables the guest sees.
    pub env: Vec<Granted<EnvGrant>>,
    /// Host directories the guest sees, at guest paths.
    pub dirs: Vec<Granted<DirGrant>>,
    /// Allowed outgoing HTTP destinations.
    pub outbound: Vec<Granted<OutboundRule>>,
    /// Remote addresses it may connect or send to.
    pub connect: Vec<Granted<SocketRule>>,
    /// Local addresses it may bind and listen on.
    pub bind: Vec<Granted<SocketRule>>,
    /// Whether it may import stdin, stdout and stderr.
    pub stdio: Granted<bool>,
    /// Whether it may import the wall and monotonic clocks.
    pub clocks: Granted<bool>,
    /// Whether it may import random numbers.
    pub random: Granted<bool>,
    /// Strict mode: an imported but ungranted files, sockets or outbound HTTP capability
    /// refuses the component before it runs, instead of denying each call.
    pub strict: Granted<bool>,
    /// The app it belongs to: its key-value stores are the app's.
    pub app: String,
    /// Key-value stores it may open.
    pub keyvalue: Vec<Granted<crate::StoreGrant>>,
    /// Configuration it reads through `wasi:config`.
    pub config: Vec<Granted<crate::ConfigGrant>>,
    /// Arguments the guest sees (`argv[0]` first).
    pub args: Vec<String>,
    /// Whether the guest's stdin, stdout and stderr are the host process's (else the log).
    pub inherit_stdio: bool,
    /// Where to add a missing grant.
    pub site: GrantSite,
}

/// Why stdio, clocks and random are on unless denied.
pub const DEFAULT_ON: &str = "on unless denied";

/// Why an ungranted capability is linked and denied at the call unless strict.
pub const DEFAULT_LENIENT: &str = "ungranted calls are denied while running";

impl Grants {
    /// No files, env, network or sockets; stdio, clocks and random on; nothing inherited.
    pub fn none(site: GrantSite) -> Self {
        let on = || Granted::new(true, Origin::Default(DEFAULT_ON));
        Self {
            env: Vec::new(),
            dirs: Vec::new(),
            outbound: Vec::new(),
            connect: Vec::new(),
            bind: Vec::new(),
            stdio: on(),
            clocks: on(),
            random: on(),
            strict: Granted::new(false, Origin::Default(DEFAULT_LENIENT)),
            app: String::new(),
            keyvalue: Vec::new(),
            config: Vec::new(),
            args: Vec::new(),
            inherit_stdio: false,
            site,
        }
    }

    /// Whether any socket rule names a host by DNS name, so name lookup is needed.
    pub fn needs_name_lookup(&self) -> bool {
        self.connect
            .iter()
            .chain(&self.bind)
            .any(|r| matches!(r.value.host, wasmhub_manifest::SocketHost::Name(_)))
    }
}

/// How a directory grant reads in an audit: `data -> /data (ro)`.
pub fn describe_dir(d: &DirGrant) -> String {
    let mode = match d.mode {
        DirMode::ReadOnly => "ro",
        DirMode::ReadWrite => "rw",
    };
    format!("{} -> {} ({mode})", d.host.display(), d.guest)
}

/// How an env grant reads in an audit: `NAME=VALUE` or `NAME (from the host)`.
pub fn describe_env(e: &EnvGrant) -> String {
    match e {
        EnvGrant::Value { name, value } => format!("{name}={value}"),
        EnvGrant::Inherit { name } => format!("{name} (the host's value)"),
    }
}
