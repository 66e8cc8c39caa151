//! `wasmhub pull`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Parser;
use wasmhub_oci::Reference;
use wasmhub_oci::progress::human;

use crate::oci::RegistryFlags;

/// Fetch a component from an OCI registry into the local content store.
///
/// One manifest request when the store already holds the content; every blob is checked
/// against its digest and nothing partial is kept. `run`, `invoke` and `serve` take the
/// same reference as `oci://REF` and pull on first use.
#[derive(Parser)]
pub struct PullCommand {
    #[command(flatten)]
    registry: RegistryFlags,
    /// Also copy the component to this file.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// What: REGISTRY/REPOSITORY:TAG or REGISTRY/REPOSITORY@sha256:DIGEST.
    reference: String,
}

impl PullCommand {
    /// Pulls and prints the digest.
    pub fn execute(self) -> Result<i32> {
        let reference = Reference::parse(&self.reference).map_err(anyhow::Error::msg)?;
        let store = self.registry.store()?;
        let opts = self.registry.options()?;
        let pulled = crate::common::block_on(wasmhub_oci::pull(&store, &reference, &opts))??;
        println!("pulled {reference}@{}", pulled.manifest);
        eprintln!(
            "component {} ({}, {} fetched) in {}",
            pulled.component,
            human(pulled.size),
            human(pulled.fetched),
            store.root().display()
        );
        if let Some(out) = &self.output {
            // The bytes written are the bytes checked against the digest, read once.
            let bytes = store
                .read(&pulled.component, pulled.size)?
                .with_context(|| {
                    format!(
                        "component {} left the store (a concurrent `wasmhub store gc`?); pull again",
                        pulled.component
                    )
                })?;
            std::fs::write(out, bytes)
                .with_context(|| format!("cannot write {}", out.display()))?;
        }
        Ok(0)
    }
}
