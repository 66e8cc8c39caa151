//! `wasmhub push`.

use std::path::PathBuf;

use anyhow::Result;
use clap::Parser;
use wasmhub_oci::Reference;
use wasmhub_oci::progress::human;

use crate::oci::RegistryFlags;

/// Publish a component to an OCI registry in the Wasm artifact layout (as `wkg` does).
///
/// The tag is the component's semantic version. The config lists the world's imports and
/// exports; the manifest carries the version and the component's description, licenses,
/// source and homepage when its metadata has them. A copy stays in the local store.
#[derive(Parser)]
pub struct PushCommand {
    #[command(flatten)]
    registry: RegistryFlags,
    /// The component (.wasm) to publish.
    component: PathBuf,
    /// Where: REGISTRY/REPOSITORY:VERSION, e.g. 127.0.0.1:5000/acme/cart:1.2.0.
    reference: String,
}

impl PushCommand {
    /// Pushes and prints the digest.
    pub fn execute(self) -> Result<i32> {
        let reference = Reference::parse(&self.reference).map_err(anyhow::Error::msg)?;
        let store = self.registry.store()?;
        let opts = self.registry.options()?;
        let pushed = crate::common::block_on(wasmhub_oci::push(
            &store,
            &self.component,
            &reference,
            &opts,
        ))??;
        println!("pushed {reference}@{}", pushed.manifest);
        eprintln!(
            "component {} ({} uploaded)",
            pushed.component,
            human(pushed.uploaded)
        );
        Ok(0)
    }
}
