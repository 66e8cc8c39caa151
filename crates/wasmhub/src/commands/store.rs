//! `wasmhub store`.

use anyhow::Result;
use clap::{Parser, Subcommand};
use wasmhub_oci::progress::human;

use crate::oci::RegistryFlags;

/// The local content store: what was pulled or pushed.
#[derive(Parser)]
pub struct StoreCommand {
    #[command(flatten)]
    registry: RegistryFlags,
    #[command(subcommand)]
    action: StoreAction,
}

#[derive(Subcommand)]
enum StoreAction {
    /// List stored references with their digests and sizes.
    List,
    /// Remove blobs no reference uses and temp files left by interrupted pulls.
    Gc,
}

impl StoreCommand {
    /// Lists or collects.
    pub fn execute(self) -> Result<i32> {
        let store = self.registry.store()?;
        match self.action {
            StoreAction::List => {
                for e in store.list()? {
                    let (component, size) = e.component.map_or_else(
                        || ("?".to_owned(), "?".to_owned()),
                        |(d, n)| (d.short().to_owned(), human(n)),
                    );
                    let name = match &e.reference.tag {
                        Some(tag) => {
                            format!("{}/{}:{tag}", e.reference.registry, e.reference.repository)
                        }
                        None => e.reference.to_string(),
                    };
                    println!(
                        "{name}  manifest {}  component {component}  {size}",
                        e.manifest.short()
                    );
                }
            }
            StoreAction::Gc => {
                let c = store.gc(|| {
                    eprintln!(
                        "waiting for a pull or push into {} to finish",
                        store.root().display()
                    );
                })?;
                for u in &c.unreadable {
                    eprintln!(
                        "warning: {:#}; no blob was removed, since that reference may use any of them (fix or delete the file)",
                        u.error
                    );
                }
                println!(
                    "removed {} unreferenced blob(s) and {} temp file(s), {} freed",
                    c.blobs,
                    c.temps,
                    human(c.bytes)
                );
            }
        }
        Ok(0)
    }
}
