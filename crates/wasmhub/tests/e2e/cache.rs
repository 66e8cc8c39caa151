//! The compile cache: a second load maps compiled code; bad entries are recompiled, never fatal.

use std::path::{Path, PathBuf};

use test_programs_artifacts::GREET;

use super::harness::{Hub, g};

/// Invokes `greet` with cache logging on; returns the logged outcome.
fn outcome(hub: &Hub, component: &str) -> String {
    let r = hub.output(hub.cmd().env("WASMHUB_LOG", "wasmhub_core=debug").args([
        "invoke",
        component,
        r#"greet("c")"#,
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "\"Hello, c!\"\n");
    let at = r.stderr.find("outcome=").expect("a cache log line");
    r.stderr[at + 8..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

fn files_named(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in walk(dir) {
        if e.extension().is_some_and(|x| x == ext) {
            out.push(e);
        }
    }
    out
}

/// Every file below `dir`.
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn second_load_is_a_hit() {
    let hub = Hub::new();
    assert_eq!(outcome(&hub, g(GREET)), "Miss");
    assert_eq!(outcome(&hub, g(GREET)), "Hit");
    assert_eq!(files_named(&hub.cache_dir(), "cwasm").len(), 1);
}

#[test]
fn same_bytes_elsewhere_share_the_entry() {
    let hub = Hub::new();
    assert_eq!(outcome(&hub, g(GREET)), "Miss");
    let copy = hub.tmp.path().join("copy.wasm");
    std::fs::copy(g(GREET), &copy).unwrap();
    assert_eq!(outcome(&hub, copy.to_str().unwrap()), "Hit");
}

#[test]
fn changed_file_is_recompiled() {
    let hub = Hub::new();
    let copy = hub.tmp.path().join("c.wasm");
    std::fs::copy(g(GREET), &copy).unwrap();
    assert_eq!(outcome(&hub, copy.to_str().unwrap()), "Miss");
    // Append a custom section: same behaviour, different bytes.
    let mut bytes = std::fs::read(&copy).unwrap();
    bytes.extend_from_slice(&[0, 5, 4, b'n', b'o', b't', b'e']);
    std::fs::write(&copy, bytes).unwrap();
    assert_eq!(outcome(&hub, copy.to_str().unwrap()), "Miss");
    assert_eq!(files_named(&hub.cache_dir(), "cwasm").len(), 2);
}

#[test]
fn corrupt_entries_are_recompiled() {
    let hub = Hub::new();
    assert_eq!(outcome(&hub, g(GREET)), "Miss");
    let cwasm = files_named(&hub.cache_dir(), "cwasm").pop().unwrap();
    let good = std::fs::read(&cwasm).unwrap();

    // Garbage in place of compiled code.
    std::fs::write(&cwasm, b"definitely not an ELF file").unwrap();
    assert_eq!(outcome(&hub, g(GREET)), "Miss");
    assert_eq!(
        std::fs::read(&cwasm).unwrap().len(),
        good.len(),
        "entry replaced"
    );

    // Truncated compiled code.
    std::fs::write(&cwasm, &good[..good.len() / 2]).unwrap();
    assert_eq!(outcome(&hub, g(GREET)), "Miss");

    // A garbled index entry.
    for entry in walk(&hub.cache_dir()) {
        if entry.parent().unwrap().ends_with("by-file") {
            std::fs::write(&entry, "zz").unwrap();
        }
    }
    assert_eq!(
        outcome(&hub, g(GREET)),
        "Hit",
        "the digest finds the intact entry"
    );
    assert_eq!(outcome(&hub, g(GREET)), "Hit");
}

#[test]
fn unwritable_cache_only_costs_speed() {
    let hub = Hub::new();
    // A file where the cache directory should be.
    std::fs::write(hub.cache_dir(), "in the way").unwrap();
    assert_eq!(outcome(&hub, g(GREET)), "Miss");
    assert_eq!(outcome(&hub, g(GREET)), "Miss");
}
