//! `oci://` references on the command line and in manifests, resolved through the store.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use wasmhub_app::App;
use wasmhub_oci::{Credentials, Options, Reference, Store};

/// Where the content store is and how to reach registries.
#[derive(Args, Debug, Default)]
pub struct RegistryFlags {
    /// Content store directory. Default: $WASMHUB_STORE, else $XDG_DATA_HOME/wasmhub/store, else ~/.local/share/wasmhub/store.
    #[arg(long, value_name = "DIR")]
    pub store: Option<PathBuf>,
    /// Allow plain HTTP to a registry that is not on this machine (loopback registries always may).
    #[arg(long)]
    pub insecure: bool,
    /// Registry user name (with --password-stdin). Default: $WASMHUB_REGISTRY_USERNAME, else ~/.docker/config.json.
    #[arg(long, short = 'u', value_name = "USER", requires = "password_stdin")]
    pub username: Option<String>,
    /// Read the registry password from stdin.
    #[arg(long, requires = "username")]
    pub password_stdin: bool,
}

impl RegistryFlags {
    /// The content store these flags select.
    pub fn store(&self) -> Result<Store> {
        Store::open(self.store.clone().unwrap_or_else(Store::default_root))
    }

    /// Registry options, reading the password from stdin when asked.
    pub fn options(&self) -> Result<Options> {
        let credentials = match (&self.username, self.password_stdin) {
            (Some(username), true) => {
                let mut password = String::new();
                std::io::stdin()
                    .read_line(&mut password)
                    .context("cannot read the password from stdin")?;
                Some(Credentials {
                    username: username.clone(),
                    password: password.trim_end_matches(['\r', '\n']).to_owned(),
                })
            }
            _ => None,
        };
        Ok(Options {
            insecure: self.insecure,
            credentials,
            progress: true,
        })
    }
}

/// Whether `target` is an `oci://` reference.
pub fn is_reference(target: &Path) -> bool {
    target
        .to_str()
        .is_some_and(wasmhub_oci::reference::Reference::is_reference)
}

/// The component file for `target`: itself, or for an `oci://` reference its copy in the
/// default store (pulled on first use, offline afterwards).
pub fn local(target: &Path) -> Result<PathBuf> {
    let Some(text) = target.to_str().filter(|_| is_reference(target)) else {
        return Ok(target.to_owned());
    };
    let reference = Reference::parse(text).map_err(anyhow::Error::msg)?;
    fetch(&reference)
}

fn fetch(reference: &Reference) -> Result<PathBuf> {
    let store = RegistryFlags::default().store()?;
    let opts = Options {
        progress: true,
        ..Options::default()
    };
    crate::common::block_on(wasmhub_oci::resolve(&store, reference, &opts))?
}

/// The name a component pulled from `target` goes by: the repository's last part.
pub fn name(target: &Path) -> Option<String> {
    let reference = Reference::parse(target.to_str()?).ok()?;
    reference.repository.rsplit('/').next().map(str::to_owned)
}

/// Replaces every `oci://` source of `app` with its file in the store, pulling what is missing.
pub fn resolve_app(app: &mut App) -> Result<()> {
    for c in &mut app.components {
        let Some(text) = c.source.to_str().filter(|_| is_reference(&c.source)) else {
            continue;
        };
        let at = c.origin.as_deref().unwrap_or("the app");
        let reference = Reference::parse(text)
            .map_err(|e| anyhow::anyhow!("{at}: component \"{}\": {e}", c.name))?;
        c.source = fetch(&reference)
            .with_context(|| format!("{at}: component \"{}\" comes from {reference}", c.name))?;
    }
    Ok(())
}
