//! `check`'s account of an app's key-value stores: backend, file, sharers, limits, use.

use std::collections::BTreeMap;

use anyhow::Result;
use wasmhub_app::App;
use wasmhub_manifest::human_bytes;
use wasmhub_state::{KvLimits, StoreId, backend_for, in_use_elsewhere, store_limits};

/// Prints each store the app's components are granted, once, with who shares it.
pub fn print_stores(app: &App) -> Result<()> {
    let mut stores: BTreeMap<String, (Vec<&str>, KvLimits)> = BTreeMap::new();
    for c in &app.components {
        for g in &c.grants.keyvalue {
            let entry = stores
                .entry(g.value.label.to_string())
                .or_insert_with(|| (Vec::new(), store_limits(&g.value.limits, None)));
            entry.0.push(&c.name);
        }
    }
    if stores.is_empty() {
        return Ok(());
    }
    let backend = backend_for(&app.name)?;
    let info = backend.info();
    let busy = in_use_elsewhere(&app.name);
    println!("\nkey-value stores of app \"{}\":", app.name);
    match &busy {
        Some(path) => println!(
            "  backend: {} ({}), in use by a running wasmhub process: current use not shown",
            info.kind,
            path.display()
        ),
        None => println!(
            "  backend: {} ({}){}",
            info.kind,
            info.location,
            if info.durable { "" } else { ", not durable" }
        ),
    }
    for (label, (sharers, limits)) in &stores {
        let sharers: Vec<String> = sharers.iter().map(|s| format!("\"{s}\"")).collect();
        let usage = if busy.is_some() {
            "in use elsewhere".to_owned()
        } else {
            let id = StoreId::new(app.name.clone(), label.clone());
            let u = crate::common::block_on(backend.usage(&id))??;
            format!(
                "{} of {} keys, {} of {}",
                u.keys,
                limits.max_keys,
                human_bytes(u.bytes),
                human_bytes(limits.max_bytes)
            )
        };
        println!(
            "  store \"{label}\": used by {}; holds {usage}; key up to {}, value up to {}",
            sharers.join(", "),
            human_bytes(limits.max_key_bytes as u64),
            human_bytes(limits.max_value_bytes as u64),
        );
    }
    Ok(())
}
