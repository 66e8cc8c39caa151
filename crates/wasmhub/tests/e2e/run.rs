//! `wasmhub run`: stdio, args, grants, exit status.

use test_programs_artifacts::CLI_ECHO;

use super::harness::{Hub, g};

#[test]
fn prints_args() {
    let hub = Hub::new();
    let r = hub.run(&["run", g(CLI_ECHO), "hello", "--", "world"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "hello -- world\n");
}

#[test]
fn env_is_empty_unless_granted() {
    let hub = Hub::new();
    let r = hub.output(hub.cmd().env("FROM_HOST", "secret").args([
        "run",
        g(CLI_ECHO),
        "--env",
        "FROM_HOST",
    ]));
    assert_eq!(r.stdout, "env FROM_HOST is not set\n");

    let r = hub.output(hub.cmd().env("FROM_HOST", "inherited").args([
        "run",
        "--env",
        "FROM_HOST",
        "--env",
        "SET=fixed=value",
        g(CLI_ECHO),
        "--env",
        "FROM_HOST",
        "--env",
        "SET",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "env FROM_HOST=inherited\nenv SET=fixed=value\n");
}

#[test]
fn exit_status_passes_through() {
    let hub = Hub::new();
    let r = hub.run(&["run", g(CLI_ECHO), "partial", "--exit", "3"]);
    assert_eq!(r.code, 3);
    let r = hub.run(&["run", g(CLI_ECHO), "--exit", "0"]);
    assert_eq!(r.code, 0);
    let r = hub.run(&["run", g(CLI_ECHO), "--fail"]);
    assert_eq!(r.code, 1);
    assert_eq!(r.stderr, "cli-echo: failing as asked\n");
}

#[test]
fn stdin_is_wired_through() {
    use std::io::Write;
    let hub = Hub::new();
    let mut child = hub
        .cmd()
        .args(["run", g(CLI_ECHO), "--stdin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"piped in\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "stdin: piped in\n");
}
