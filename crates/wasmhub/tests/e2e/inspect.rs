//! `wasmhub inspect`: world, kind, size and capabilities.

use test_programs_artifacts::{FS_ESCAPE, GREET};

use super::harness::{Hub, g};

#[test]
fn library_component() {
    let hub = Hub::new();
    let r = hub.run(&["inspect", g(GREET)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = &r.stdout;
    assert!(out.contains("kind:      library"), "{out}");
    assert!(out.contains("greet: func(name: string) -> string"), "{out}");
    assert!(
        out.contains("wasmhub:demo/greeter#echo-record: func(v: record { x: s32, y: s32 }) -> record { x: s32, y: s32 }"),
        "{out}"
    );
    assert!(out.contains("export wasmhub:demo/greeter;"), "{out}");
    assert!(out.contains("interface greeter {"), "{out}");
    let size = std::fs::metadata(g(GREET)).unwrap().len();
    assert!(out.contains(&format!("({size} bytes)")), "{out}");
}

#[test]
fn command_component_needs() {
    let hub = Hub::new();
    let r = hub.run(&["inspect", "--json", g(FS_ESCAPE)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["kind"], "command");
    let caps = v["capabilities"].as_object().unwrap();
    for cap in ["files", "env", "stdio", "exit"] {
        assert!(caps.contains_key(cap), "{cap} missing from {caps:?}");
    }
    assert!(caps["files"].as_array().unwrap().iter().any(|i| {
        i.as_str()
            .unwrap()
            .starts_with("wasi:filesystem/preopens@0.2.")
    }));
    assert!(
        v["exports"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e.as_str().unwrap().starts_with("wasi:cli/run@0.2."))
    );
    assert_eq!(v["sha256"].as_str().unwrap().len(), 64);
}

#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let hub = Hub::new();
    // A pipe whose reader is already gone: every write to it fails (EPIPE).
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = hub
        .cmd()
        .args(["inspect", g(GREET)])
        .stdout(writer)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    // Like any Unix tool: ended by SIGPIPE, silently.
    assert_eq!(out.status.signal(), Some(13), "{:?} {stderr}", out.status);
}
