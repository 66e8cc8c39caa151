//! The Spin-SDK rows of `cargo xtask bench serve`: the plain Rust hello on WASI 0.3 (what
//! spin-sdk 7 builds on) and a spin-sdk 7 hello served from a spin.toml, and the SDK's
//! overhead as ratios to the plain hellos.

use std::path::{Path, PathBuf};

use super::serve::{Sample, Server, wasmhub_server};
use crate::util::Result;

/// The plain Rust hello on WASI 0.3.
const HELLO3: &str = "wasmhub serve (hello, WASI 0.3)";
/// A Spin-SDK hello served from a spin.toml, as a Spin user runs it.
const SPIN_SDK: &str = "wasmhub serve spin.toml (spin-sdk 7 hello)";

/// The two rows' servers.
pub(super) fn servers(target: &Path, wasmhub: &Path, cache: &Path) -> Result<Vec<Server>> {
    Ok(vec![
        wasmhub_server(
            HELLO3,
            wasmhub,
            cache,
            &["--wasi", "0.3"],
            &target.join("guests/hello-http3.wasm"),
        ),
        wasmhub_server(SPIN_SDK, wasmhub, cache, &[], &spin_app(target)?),
    ])
}

/// Prints the Spin-SDK hello's throughput, CPU and cold start against the plain hellos'.
pub(super) fn print_overhead(servers: &[Server], medians: &[Sample], colds: &[f64]) {
    let find = |name: &str| servers.iter().position(|s| s.name == name);
    let (Some(sdk), Some(w), Some(w3)) = (find(SPIN_SDK), find("wasmhub serve"), find(HELLO3))
    else {
        return;
    };
    let s = &medians[sdk];
    for (base, what) in [
        (w, "plain Rust hello (WASI 0.2)"),
        (w3, "plain Rust hello (WASI 0.3: the SDK's own overhead)"),
    ] {
        let m = &medians[base];
        println!(
            "spin-sdk hello / {what}: throughput {:.2}x, CPU per request {:.2}x, cold start {:.2}x",
            s.rps / m.rps,
            s.cpu_us_per_req / m.cpu_us_per_req,
            colds[sdk] / colds[base]
        );
    }
}

/// A Spin app in `target/bench-spin`: `spin.toml` routing every path to the spin-sdk-http
/// guest (which says hello on `/`); its path.
fn spin_app(target: &Path) -> Result<PathBuf> {
    let dir = target.join("bench-spin");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let source = target.join("guests/spin-sdk-http.wasm");
    let manifest = format!(
        "spin_manifest_version = 2\n\n[application]\nname = \"bench-spin\"\n\n\
         [[trigger.http]]\nroute = \"/...\"\ncomponent = \"hello\"\n\n\
         [component.hello]\nsource = {:?}\n",
        source.display().to_string()
    );
    let path = dir.join("spin.toml");
    std::fs::write(&path, manifest).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}
