//! Emits one path constant per guest under `crates/test-programs/{rust,hostile,js,python}`, and fails the
//! build when a guest is used by no end-to-end test.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let programs = manifest.parent().unwrap();
    let root = programs.parent().unwrap().parent().unwrap();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|t| if t.is_absolute() { t } else { root.join(t) })
        .unwrap_or_else(|| root.join("target"));
    let guests_dir = target.join("guests");
    println!("cargo:rerun-if-env-changed=CARGO_TARGET_DIR");

    // Rust guests are named by their folder; other languages' get a prefix (`js-greet`).
    let mut guests = Vec::new();
    for (group, prefix) in [
        ("rust", ""),
        ("hostile", ""),
        ("js", "js-"),
        ("python", "py-"),
    ] {
        let dir = programs.join(group);
        println!("cargo:rerun-if-changed={}", dir.display());
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_dir())
            .map(|e| format!("{prefix}{}", e.file_name().to_string_lossy()))
            .collect();
        names.sort();
        guests.extend(names);
    }

    let tests_dir = root.join("crates/wasmhub/tests");
    println!("cargo:rerun-if-changed={}", tests_dir.display());
    let tests = read_tests(&tests_dir);

    let mut out = String::new();
    for name in &guests {
        let konst = name.to_uppercase().replace('-', "_");
        if !tests.contains(&konst) {
            panic!(
                "guest `{name}` is used by no test: reference test_programs_artifacts::{konst} \
                 in crates/wasmhub/tests/"
            );
        }
        let path = guests_dir.join(format!("{name}.wasm"));
        writeln!(
            out,
            "/// The `{name}` guest, built by `cargo xtask guests`."
        )
        .unwrap();
        writeln!(
            out,
            "pub const {konst}: &str = {:?};",
            path.display().to_string()
        )
        .unwrap();
    }
    let dest = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("guests.rs");
    std::fs::write(dest, out).unwrap();
}

fn read_tests(dir: &Path) -> String {
    let mut all = String::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                all.push_str(&read_tests(&p));
            } else if p.extension().is_some_and(|x| x == "rs") {
                println!("cargo:rerun-if-changed={}", p.display());
                all.push_str(&std::fs::read_to_string(&p).unwrap_or_default());
            }
        }
    }
    all
}
