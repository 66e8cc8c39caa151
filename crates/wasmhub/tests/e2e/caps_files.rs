//! Files and env: denied at the call unless granted (refused before running under
//! `--strict`), confined while running.

use test_programs_artifacts::{ENV_DUMP, FS_ESCAPE};

use super::harness::{Hub, g, golden};

/// A granted `data/` with a note, a secret beside it, and symlinks out of it.
fn sandbox(hub: &Hub) -> (std::path::PathBuf, String) {
    let data = hub.tmp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("note.txt"), "granted text\n").unwrap();
    std::fs::write(hub.tmp.path().join("secret.txt"), "host secret\n").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", data.join("abs-link")).unwrap();
    std::os::unix::fs::symlink("../secret.txt", data.join("up-link")).unwrap();
    let grant = format!("{}::/data:ro", data.display());
    (data, grant)
}

#[test]
fn files_are_denied_at_the_call_unless_granted_and_refused_under_strict() {
    let hub = Hub::new();
    // A plain Rust std program, no grant flags: it runs, and its file access is denied.
    let r = hub.run(&["run", g(FS_ESCAPE), "read", "/data/note.txt"]);
    assert_eq!(r.code, 1, "the guest ran and saw the denial: {}", r.stderr);
    assert!(
        r.stdout.starts_with("denied read /data/note.txt: "),
        "{}",
        r.stdout
    );
    golden("denied-files-flags", &hub.normalize(&r.stderr));

    // Strict: refused before it runs, with the grant to add.
    let r = hub.run(&["run", "--strict", g(FS_ESCAPE), "read", "/data/note.txt"]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.stdout.is_empty(), "the guest never ran: {}", r.stdout);
    golden("refused-files-flags", &hub.normalize(&r.stderr));

    // Granted: it works, strict or not, and nothing is denied.
    let (_data, grant) = sandbox(&hub);
    for strict in [&[][..], &["--strict"][..]] {
        let mut args = vec!["run"];
        args.extend_from_slice(strict);
        args.extend(["--dir", &grant, g(FS_ESCAPE), "read", "/data/note.txt"]);
        let ok = hub.run(&args);
        assert_eq!(ok.code, 0, "{}{}", ok.stdout, ok.stderr);
        assert_eq!(ok.stdout, "ok read /data/note.txt: granted text\n");
        assert!(!ok.stderr.contains("warning"), "{}", ok.stderr);
    }
}

#[test]
fn file_access_cannot_leave_the_granted_directory() {
    let hub = Hub::new();
    let (data, grant) = sandbox(&hub);
    let attempts = [
        ("read", "/data/../secret.txt"),
        ("read", "/data/../../../../etc/passwd"),
        ("read", "/etc/passwd"),
        ("read", "/proc/self/environ"),
        ("read", "/data/abs-link"),
        ("read", "/data/up-link"),
        ("list", "/"),
        ("list", "/data/.."),
    ];
    for (op, path) in attempts {
        let r = hub.run(&["run", "--dir", &grant, g(FS_ESCAPE), op, path]);
        assert_eq!(r.code, 1, "{op} {path} must fail: {}", r.stdout);
        assert!(
            r.stdout.starts_with(&format!("denied {op} {path}: ")),
            "{op} {path}: {}",
            r.stdout
        );
        assert!(!r.stdout.contains("host secret") && !r.stdout.contains("root:"));
    }
    // A hard link needs both ends inside; one pointing out is refused.
    let rw = format!("{}::/data", data.display());
    let r = hub.run(&[
        "run",
        "--dir",
        &rw,
        g(FS_ESCAPE),
        "hardlink",
        "/data/../secret.txt",
        "/data/stolen",
    ]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stdout.starts_with("denied hardlink"), "{}", r.stdout);
    assert!(!data.join("stolen").exists());
    // Inside the grant, the same operations work.
    let r = hub.run(&[
        "run",
        "--dir",
        &rw,
        g(FS_ESCAPE),
        "list",
        "/data",
        "hardlink",
        "/data/note.txt",
        "/data/copy",
        "read",
        "/data/copy",
    ]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(
        r.stdout,
        "ok list /data: abs-link,note.txt,up-link\nok hardlink /data/note.txt: linked /data/copy\n\
         ok read /data/copy: granted text\n"
    );
}

#[test]
fn read_only_grants_refuse_writes() {
    let hub = Hub::new();
    let (data, grant) = sandbox(&hub);
    let ro = hub.run(&[
        "run",
        "--dir",
        &grant,
        g(FS_ESCAPE),
        "write",
        "/data/new.txt",
    ]);
    assert_eq!(ro.code, 1, "{}", ro.stdout);
    assert!(
        ro.stdout.starts_with("denied write /data/new.txt"),
        "{}",
        ro.stdout
    );
    assert!(!data.join("new.txt").exists());

    let rw = format!("{}::/data", data.display());
    let w = hub.run(&["run", "--dir", &rw, g(FS_ESCAPE), "write", "/data/new.txt"]);
    assert_eq!(w.code, 0, "{}", w.stdout);
    assert_eq!(
        std::fs::read_to_string(data.join("new.txt")).unwrap(),
        "written by fs-escape\n"
    );
}

#[test]
fn env_shows_only_granted_variables() {
    let hub = Hub::new();
    let dump = |extra: &[&str]| {
        let mut cmd = hub.cmd();
        cmd.env("HOST_SECRET", "s3cret").arg("run").args(extra);
        hub.output(cmd.arg(g(ENV_DUMP)))
    };
    let r = dump(&[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "arg env-dump.wasm\n", "no variable leaks");
    let r = dump(&["--env", "SHOWN=1", "--env", "HOST_SECRET"]);
    assert_eq!(
        r.stdout,
        "env SHOWN=1\nenv HOST_SECRET=s3cret\narg env-dump.wasm\n"
    );
}

#[test]
fn denied_clocks_refuse_only_components_that_import_them() {
    let hub = Hub::new();
    let (_data, grant) = sandbox(&hub);
    let args = [
        "run",
        "--deny",
        "clocks",
        "--dir",
        &grant,
        g(FS_ESCAPE),
        "list",
        "/data",
    ];
    let r = hub.run(&args);
    assert_eq!(r.code, 2, "{}", r.stdout);
    golden("refused-clocks-flags", &hub.normalize(&r.stderr));
    // env-dump imports neither clocks nor random: denying them changes nothing.
    let r = hub.run(&["run", "--deny", "clocks", "--deny", "random", g(ENV_DUMP)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn unused_grants_are_warned_about() {
    let hub = Hub::new();
    let (_data, grant) = sandbox(&hub);
    let r = hub.run(&[
        "run",
        "--dir",
        &grant,
        "--connect",
        "tcp://127.0.0.1:9",
        g(ENV_DUMP),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    golden("unused-grants-flags", &hub.normalize(&r.stderr));
}
