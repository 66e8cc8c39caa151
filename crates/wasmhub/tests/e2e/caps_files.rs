//! Files and env: denied at the call unless granted (refused before running under
//! `--strict`), confined while running.

use std::os::unix::fs::MetadataExt;

use test_programs_artifacts::{ENV_DUMP, FILES_HTTP, FS_ESCAPE};

use super::harness::{Hub, g, golden};
use super::server::{Served, manifest, toml_path};

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

#[test]
fn a_served_component_reaches_its_granted_files_and_nothing_else() {
    // In a worker process too: `WASMHUB_TEST_ISOLATION=process` (and
    // `process_isolation::a_worker_serves_its_granted_files_and_nothing_else`).
    served_files_are_confined(None);
}

/// Serves `files-http` granted `data/` (read-only, at /data) and `out/` (read-write, at
/// /out), with `isolation = "process"` when `process` (else as the test run chooses), and
/// checks it reads and writes there and nowhere else.
pub fn served_files_are_confined(isolation: Option<&str>) {
    let hub = Hub::new();
    let (data, _) = sandbox(&hub);
    let out = hub.tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let app = manifest(
        &hub,
        &format!(
            "[app]\nname = \"files\"\n{}\n[component.files]\nsource = {}\nroute = \"/files/...\"\n\n\
             [component.files.grant]\nfiles = [{{ host = {}, guest = \"/data\" }}, \
             {{ host = {}, guest = \"/out\", mode = \"rw\" }}]\n",
            isolation.map_or(String::new(), |i| format!("isolation = \"{i}\"\n")),
            toml_path(g(FILES_HTTP)),
            toml_path(data.to_str().unwrap()),
            toml_path(out.to_str().unwrap()),
        ),
    );
    let s = Served::start(&hub, &[&app]);
    let r = s.get("/files/read?/data/note.txt");
    assert_eq!((r.status, r.text().as_str()), (200, "granted text\n"));
    for path in [
        "/data/../secret.txt",
        "/data/../../../../etc/passwd",
        "/etc/passwd",
        "/proc/self/environ",
        "/data/abs-link",
        "/data/up-link",
        "/out/../data/note.txt",
    ] {
        let r = s.get(&format!("/files/read?{path}"));
        assert_eq!(r.status, 404, "read {path}: {}", r.text());
        assert!(
            r.text().starts_with("denied: "),
            "read {path}: {}",
            r.text()
        );
    }
    // Writing: in the read-write grant only; the file is the directory owner's on disk.
    let w = super::server::request(s.addr, "POST", "/files/write?/out/new.txt", b"");
    assert_eq!((w.status, w.text().as_str()), (200, "written"));
    let written = out.join("new.txt");
    assert_eq!(
        std::fs::read_to_string(&written).unwrap(),
        "written by files-http\n"
    );
    assert_eq!(
        std::fs::metadata(&written).unwrap().uid(),
        std::fs::metadata(&out).unwrap().uid()
    );
    let r = s.get("/files/read?/out/new.txt");
    assert_eq!(
        (r.status, r.text().as_str()),
        (200, "written by files-http\n")
    );
    for path in ["/data/new.txt", "/new.txt", "/out/../escaped.txt"] {
        let w = super::server::request(s.addr, "POST", &format!("/files/write?{path}"), b"");
        assert_eq!(w.status, 404, "write {path}: {}", w.text());
    }
    assert!(!data.join("new.txt").exists());
    assert!(!hub.tmp.path().join("escaped.txt").exists());
    // Every file operation WASI offers works in the read-write grant (in a worker: each
    // system call it needs is in its seccomp list, or the worker would end by SIGSYS).
    for (op, args, answer) in [
        ("list", "/data", "abs-link,note.txt,up-link"),
        ("stat", "/data/note.txt", "13"),
        ("readlink", "/data/up-link", "../secret.txt"),
        ("mkdir", "/out/d", "done"),
        ("write", "/out/d/f", "written"),
        ("rename", "/out/d/f&/out/d/g", "done"),
        ("link", "/out/d/g&/out/d/h", "done"),
        ("symlink", "g&/out/d/s", "done"),
        ("readlink", "/out/d/s", "g"),
        ("truncate", "/out/d/g", "done"),
        ("sync", "/out/d/g", "done"),
        ("touch", "/out/d/g", "done"),
        ("read", "/out/d/h", "wri"),
        ("list", "/out/d", "g,h,s"),
        ("remove", "/out/d/h", "done"),
        ("remove", "/out/d/s", "done"),
        ("remove", "/out/d/g", "done"),
        ("rmdir", "/out/d", "done"),
    ] {
        let r = s.get(&format!("/files/{op}?{args}"));
        assert_eq!((r.status, r.text().as_str()), (200, answer), "{op} {args}");
    }
    assert!(!out.join("d").exists());
    // ... and none in the read-only one, or out of either.
    for (op, args) in [
        ("mkdir", "/data/d"),
        ("remove", "/data/note.txt"),
        ("rename", "/data/note.txt&/out/moved"),
        ("link", "/data/note.txt&/out/linked"),
        ("symlink", "/etc/passwd&/data/s"),
        ("truncate", "/data/note.txt"),
        ("touch", "/data/note.txt"),
        ("link", "/out/../secret.txt&/out/stolen"),
        ("readlink", "/data/../secret.txt"),
    ] {
        let r = s.get(&format!("/files/{op}?{args}"));
        assert_eq!(r.status, 404, "{op} {args}: {}", r.text());
    }
    assert_eq!(
        std::fs::read_to_string(data.join("note.txt")).unwrap(),
        "granted text\n"
    );
    assert!(!out.join("stolen").exists() && !out.join("moved").exists());
}
