//! Building the guest components from source into `target/guests/<name>.wasm` (Rust here,
//! JavaScript and Python in `foreign.rs`).

use std::path::Path;
use std::process::Command;

use crate::util::{self, Result};

/// Builds every guest (cargo is incremental) and copies the ones that changed.
pub fn build() -> Result {
    let root = util::root();
    let programs = root.join("crates/test-programs");
    let target = util::target_dir();
    let build_dir = target.join("guest-build");
    util::run(
        Command::new(util::cargo_bin())
            .args([
                "build",
                "--quiet",
                "--release",
                "--target",
                "wasm32-wasip2",
                "--target-dir",
            ])
            .arg(&build_dir)
            .current_dir(&programs)
            // The guests are their own workspace: host-only settings must not leak in.
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env_remove("CARGO_BUILD_TARGET"),
    )?;
    let out = target.join("guests");
    std::fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let built = build_dir.join("wasm32-wasip2/release");
    let mut count = 0;
    for group in ["rust", "hostile"] {
        for entry in std::fs::read_dir(programs.join(group)).map_err(|e| e.to_string())? {
            let name = entry.map_err(|e| e.to_string())?.file_name();
            let name = name.to_string_lossy();
            let file = format!("{}.wasm", name.replace('-', "_"));
            let src = [built.join(&file), built.join(format!("{name}.wasm"))]
                .into_iter()
                .find(|p| p.exists())
                .ok_or_else(|| format!("guest {name} built no .wasm in {}", built.display()))?;
            copy_if_changed(&src, &out.join(format!("{name}.wasm")))?;
            count += 1;
        }
    }
    count += crate::foreign::build(&out)?;
    eprintln!("guests: {count} components in {}", out.display());
    Ok(())
}

fn copy_if_changed(src: &Path, dest: &Path) -> Result {
    let read = |p: &Path| std::fs::read(p).ok();
    let bytes = read(src).ok_or_else(|| format!("cannot read {}", src.display()))?;
    if read(dest).as_deref() != Some(&bytes[..]) {
        std::fs::write(dest, &bytes)
            .map_err(|e| format!("cannot write {}: {e}", dest.display()))?;
    }
    Ok(())
}
