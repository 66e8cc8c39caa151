//! Replays every committed fuzz input (seeds, and crashes found and fixed) through its target.

use std::path::Path;

#[test]
fn every_corpus_input_passes_its_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
    let mut replayed = 0;
    for (name, target) in wasmhub_fuzz::TARGETS {
        let dir = root.join(name);
        let entries = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e} (each target has a seed corpus)", dir.display()));
        let mut seeds = 0;
        for entry in entries {
            let path = entry.expect("a corpus entry").path();
            let data = std::fs::read(&path).expect("a corpus file");
            let outcome = std::panic::catch_unwind(|| target(&data));
            assert!(outcome.is_ok(), "{name}: {} fails", path.display());
            seeds += 1;
        }
        assert!(seeds > 0, "{name} has no seeds in {}", dir.display());
        replayed += seeds;
    }
    println!("replayed {replayed} inputs");
}

#[test]
fn every_libfuzzer_target_has_a_body_here() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/fuzz_targets");
    for entry in std::fs::read_dir(&dir).expect("fuzz/fuzz_targets") {
        let name = entry.expect("an entry").file_name();
        let name = name.to_string_lossy();
        let name = name.strip_suffix(".rs").expect("a .rs file");
        assert!(
            wasmhub_fuzz::TARGETS.iter().any(|(t, _)| *t == name),
            "fuzz/fuzz_targets/{name}.rs has no entry in wasmhub_fuzz::TARGETS"
        );
    }
}
