//! What a component's imports ask of the host, by interface name.

/// The kind of host access an import gives a guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Capability {
    /// Streams and polling: plumbing that grants nothing by itself.
    Io,
    /// Standard input, output and error.
    Stdio,
    /// Ending the process with a status.
    Exit,
    /// Environment variables and arguments.
    Env,
    /// Host directories.
    Files,
    /// Wall and monotonic clocks.
    Clocks,
    /// Random numbers.
    Random,
    /// TCP/UDP sockets and name lookup.
    Sockets,
    /// Outgoing HTTP requests.
    OutboundHttp,
    /// HTTP types shared by handlers (granted to served components).
    HttpTypes,
    /// The app's key-value stores (`wasi:keyvalue`).
    KeyValue,
    /// Configuration values (`wasi:config`).
    Config,
    /// An interface no host provides: another component must.
    Unknown,
}

impl Capability {
    /// Short lowercase name, as printed by `inspect`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Io => "io",
            Self::Stdio => "stdio",
            Self::Exit => "exit",
            Self::Env => "env",
            Self::Files => "files",
            Self::Clocks => "clocks",
            Self::Random => "random",
            Self::Sockets => "network (sockets)",
            Self::OutboundHttp => "network (outbound http)",
            Self::HttpTypes => "http",
            Self::KeyValue => "keyvalue",
            Self::Config => "config",
            Self::Unknown => "not provided by any host",
        }
    }

    /// How a user grants this on the command line, where a grant is needed (without one,
    /// calls to it are denied).
    pub fn cli_grant(self) -> Option<&'static str> {
        match self {
            Self::Env => Some("--env NAME or --env NAME=VALUE"),
            Self::Files => Some("--dir HOST::GUEST[:ro]"),
            Self::Sockets => Some("--connect tcp://HOST:PORT or --bind tcp://HOST:PORT"),
            Self::OutboundHttp => Some("--outbound https://HOST"),
            Self::KeyValue => Some("--keyvalue LABEL"),
            Self::Config => Some("--config KEY=VALUE or --config-secret KEY=env:NAME"),
            _ => None,
        }
    }
}

/// One import, split into interface and version, with the capability it implies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportNeed {
    /// `namespace:package/interface` without the version.
    pub interface: String,
    /// The `@version` suffix, if any.
    pub version: Option<String>,
    /// The capability it implies.
    pub capability: Capability,
    /// Whether `wasmhub run`/`invoke` link an implementation (grants still decide access).
    pub provided: bool,
}

/// The `wasi:keyvalue` versions the host links.
pub const KEYVALUE_VERSIONS: [&str; 2] = ["0.2.0-draft", "0.2.0-draft2"];

/// The `wasi:config` versions the host links.
pub const CONFIG_VERSIONS: [&str; 3] = ["0.2.0-draft", "0.2.0-draft-2024-09-27", "0.2.0-rc.1"];

/// Spin's key-value versions the host links (`fermyon:spin/key-value`, `spin:key-value/key-value`).
pub const SPIN_KEYVALUE_VERSIONS: [&str; 2] = ["2.0.0", "3.0.0"];

/// Classifies an import name such as `wasi:filesystem/preopens@0.2.3`.
pub fn classify_import(name: &str) -> ImportNeed {
    let (interface, version) = match name.split_once('@') {
        Some((i, v)) => (i, Some(v.to_owned())),
        None => (name, None),
    };
    let state = match interface {
        "wasi:keyvalue/store" | "wasi:keyvalue/atomics" | "wasi:keyvalue/batch" => {
            Some((Capability::KeyValue, &KEYVALUE_VERSIONS[..]))
        }
        "wasi:config/store" => Some((Capability::Config, &CONFIG_VERSIONS[..])),
        "fermyon:spin/key-value" | "spin:key-value/key-value" => {
            Some((Capability::KeyValue, &SPIN_KEYVALUE_VERSIONS[..]))
        }
        "fermyon:spin/variables" | "spin:variables/variables" => {
            Some((Capability::Config, &SPIN_KEYVALUE_VERSIONS[..]))
        }
        _ => None,
    };
    if let Some((capability, versions)) = state {
        return ImportNeed {
            interface: interface.to_owned(),
            provided: version.as_deref().is_some_and(|v| versions.contains(&v)),
            version,
            capability,
        };
    }
    let wasi_02 = version.as_deref().is_some_and(|v| v.starts_with("0.2."));
    let wasi_03 = version.as_deref().is_some_and(|v| v.starts_with("0.3."));
    // Interfaces WASI 0.3 adds (its others keep their 0.2 names).
    let only_03 = matches!(
        interface,
        "wasi:cli/types"
            | "wasi:clocks/types"
            | "wasi:clocks/system-clock"
            | "wasi:clocks/timezone"
            | "wasi:sockets/types"
            | "wasi:http/client"
            | "wasi:http/handler"
    );
    let (capability, in_p2) = match interface {
        "wasi:io/error" | "wasi:io/poll" | "wasi:io/streams" => (Capability::Io, true),
        "wasi:cli/types" => (Capability::Io, false),
        "wasi:clocks/types" | "wasi:clocks/system-clock" | "wasi:clocks/timezone" => {
            (Capability::Clocks, false)
        }
        "wasi:sockets/types" => (Capability::Sockets, false),
        "wasi:http/client" | "wasi:http/handler" => (Capability::OutboundHttp, false),
        "wasi:cli/stdin"
        | "wasi:cli/stdout"
        | "wasi:cli/stderr"
        | "wasi:cli/terminal-input"
        | "wasi:cli/terminal-output"
        | "wasi:cli/terminal-stdin"
        | "wasi:cli/terminal-stdout"
        | "wasi:cli/terminal-stderr" => (Capability::Stdio, true),
        "wasi:cli/exit" => (Capability::Exit, true),
        "wasi:cli/environment" => (Capability::Env, true),
        "wasi:filesystem/types" | "wasi:filesystem/preopens" => (Capability::Files, true),
        "wasi:clocks/wall-clock" | "wasi:clocks/monotonic-clock" => (Capability::Clocks, true),
        "wasi:random/random" | "wasi:random/insecure" | "wasi:random/insecure-seed" => {
            (Capability::Random, true)
        }
        "wasi:sockets/network"
        | "wasi:sockets/instance-network"
        | "wasi:sockets/tcp"
        | "wasi:sockets/tcp-create-socket"
        | "wasi:sockets/udp"
        | "wasi:sockets/udp-create-socket"
        | "wasi:sockets/ip-name-lookup" => (Capability::Sockets, true),
        "wasi:http/outgoing-handler" => (Capability::OutboundHttp, false),
        "wasi:http/types" => (Capability::HttpTypes, false),
        _ => (Capability::Unknown, false),
    };
    ImportNeed {
        interface: interface.to_owned(),
        version,
        capability,
        // WASI 0.3 (wasi:io is gone; the rest keep their names) is linked for components
        // that opt into it.
        provided: (in_p2 && wasi_02)
            || (wasi_03 && (only_03 || (in_p2 && !interface.starts_with("wasi:io/")))),
    }
}

/// `wasi:cli/{stdin, stdout}@0.2.12` for imports of one package at one version.
pub fn compact_imports(imports: &[String]) -> String {
    let mut groups: Vec<(String, String, Vec<String>)> = Vec::new();
    for name in imports {
        let (path, version) = name.split_once('@').unwrap_or((name, ""));
        let (package, iface) = path.split_once('/').unwrap_or((path, ""));
        match groups
            .iter_mut()
            .find(|(p, v, _)| p == package && v == version)
        {
            Some(g) => g.2.push(iface.to_owned()),
            None => groups.push((
                package.to_owned(),
                version.to_owned(),
                vec![iface.to_owned()],
            )),
        }
    }
    groups
        .into_iter()
        .map(|(package, version, ifaces)| {
            let at = if version.is_empty() {
                String::new()
            } else {
                format!("@{version}")
            };
            match ifaces.as_slice() {
                [one] if one.is_empty() => format!("{package}{at}"),
                [one] => format!("{package}/{one}{at}"),
                many => format!("{package}/{{{}}}{at}", many.join(", ")),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_wasi_and_unknown_imports() {
        let n = classify_import("wasi:filesystem/preopens@0.2.3");
        assert_eq!(n.interface, "wasi:filesystem/preopens");
        assert_eq!(n.version.as_deref(), Some("0.2.3"));
        assert_eq!(n.capability, Capability::Files);
        assert!(n.provided);
        let n = classify_import("wasi:cli/environment@0.3.0");
        assert_eq!(n.capability, Capability::Env);
        assert!(n.provided, "0.3 is linked for components that opt in");
        assert_eq!(
            classify_import("wasi:clocks/types@0.3.0").capability,
            Capability::Clocks
        );
        assert!(
            !classify_import("wasi:io/poll@0.3.0").provided,
            "0.3 has no wasi:io"
        );
        assert!(
            !classify_import("wasi:clocks/types@0.2.6").provided,
            "0.3's only"
        );
        let n = classify_import("acme:pricing/calc");
        assert_eq!(n.capability, Capability::Unknown);
        assert!(n.version.is_none());
        assert!(!classify_import("wasi:http/outgoing-handler@0.2.0").provided);
    }

    #[test]
    fn imports_compact_by_package_and_version() {
        let names = [
            "wasi:io/poll@0.2.6",
            "wasi:io/error@0.2.6",
            "wasi:io/poll@0.3.0",
            "acme:x/y",
            "acme:z",
        ]
        .map(String::from);
        assert_eq!(
            compact_imports(&names),
            "wasi:io/{poll, error}@0.2.6, wasi:io/poll@0.3.0, acme:x/y, acme:z"
        );
    }
}
