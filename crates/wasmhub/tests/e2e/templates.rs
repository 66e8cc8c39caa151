//! `wasmhub new` and `wasmhub add`: each of the six templates is generated, built by
//! `wasmhub build` (which installs its tools on first use) and run: an HTTP handler served
//! and answering under `wasmhub dev`, which picks up an edit of its source; a library
//! invoked. `add` keeps the manifest's comments; nothing is
//! overwritten without --force.
//!
//! The JavaScript and Python tests install componentize-js from npm and componentize-py
//! from PyPI into the app's directory (npm's and pip's own caches make later runs quick).

use std::path::Path;
use std::time::Duration;

use super::dev::Dev;
use super::harness::{Hub, Ran, golden};

/// `wasmhub ARGS` run in `dir`.
fn run_in(hub: &Hub, dir: &Path, args: &[&str]) -> Ran {
    hub.output(hub.cmd().current_dir(dir).args(args))
}

fn ok(r: &Ran, what: &str) {
    assert_eq!(r.code, 0, "{what}:\n{}\n{}", r.stdout, r.stderr);
}

/// `new APP --lang L` (an HTTP handler), `add LIB --lang L --kind lib`, `build`, then serve
/// the handler and invoke the library.
fn generated_app_builds_and_runs(lang: &str, says: &str, handler: &str) {
    let hub = Hub::shared_cache();
    let (app, lib) = (format!("{lang}-web"), format!("{lang}-lib"));
    ok(
        &run_in(
            &hub,
            hub.tmp.path(),
            &["new", &app, "--lang", lang, "--kind", "http"],
        ),
        "new",
    );
    let dir = hub.tmp.path().join(&app);
    ok(
        &run_in(&hub, &dir, &["add", &lib, "--lang", lang, "--kind", "lib"]),
        "add",
    );
    let built = run_in(&hub, &dir, &["build"]);
    ok(&built, "build");
    assert!(
        built.stdout.contains(&format!("{app} | $ ")),
        "{}",
        built.stdout
    );
    assert!(built.stdout.contains("can be served"), "{}", built.stdout);
    // A second build finds its tools installed: no setup step.
    let again = run_in(&hub, &dir, &["build", &lib]);
    ok(&again, "build again");
    assert!(!again.stdout.contains("(setup:"), "{}", again.stdout);

    let manifest = dir.join("wasmhub.toml");
    // `dev` serves it, and picks up an edit of the handler's source.
    let dev = Dev::start(&hub, &dir, "wasmhub.toml");
    let r = dev.get("/hello?x=1");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.text(),
        format!("Hello from {app} ({says}) at /hello?x=1\n")
    );
    let source = dir.join(&app).join(handler);
    let text = std::fs::read_to_string(&source).unwrap();
    std::fs::write(&source, text.replace("Hello from", "Howdy from")).unwrap();
    dev.wait_for(&format!("reloaded {app} (build "), Duration::from_secs(600));
    let r = dev.get("/hello");
    assert_eq!(r.text(), format!("Howdy from {app} ({says}) at /hello\n"));
    drop(dev);

    let m = wasmhub_manifest::load(&manifest).unwrap();
    let lib_name = wasmhub_manifest::ComponentName::try_from(lib.clone()).unwrap();
    let source = dir.join(m.component[&lib_name].source.get_ref());
    let r = hub.run(&["invoke", source.to_str().unwrap(), r#"api.greet("you")"#]);
    ok(&r, "invoke");
    assert_eq!(
        r.stdout.trim(),
        format!("\"Hello, you, from {lib} ({says})!\"")
    );
}

#[test]
fn rust_templates_build_and_run() {
    generated_app_builds_and_runs("rust", "Rust", "src/lib.rs");
}

#[test]
fn js_templates_build_and_run() {
    generated_app_builds_and_runs("js", "JavaScript", "app.js");
}

#[test]
fn python_templates_build_and_run() {
    generated_app_builds_and_runs("python", "Python", "app.py");
}

#[test]
fn add_keeps_the_manifest_and_never_overwrites() {
    let hub = Hub::new();
    let manifest = hub.tmp.path().join("wasmhub.toml");
    let before = "# My shop.\n[app]\nname   = \"shop\"   # aligned, as I like it\n\n\
                  # The cart, built elsewhere.\n[component.cart]\nsource = \"cart.wasm\"\n\
                  route = \"/cart/...\"\n";
    std::fs::write(&manifest, before).unwrap();
    let dir = hub.tmp.path();
    ok(
        &run_in(
            &hub,
            dir,
            &["add", "prices", "--lang", "python", "--kind", "lib"],
        ),
        "add",
    );
    let after = std::fs::read_to_string(&manifest).unwrap();
    assert!(
        after.starts_with(before),
        "the old text is kept as written:\n{after}"
    );
    golden("add-keeps-comments", &after);
    assert!(dir.join("prices/app.py").is_file());
    assert!(dir.join("prices/wit/world.wit").is_file());

    // Again: the directory and the tables are there; nothing changes without --force.
    std::fs::write(dir.join("prices/app.py"), "# mine\n").unwrap();
    let r = run_in(
        &hub,
        dir,
        &["add", "prices", "--lang", "python", "--kind", "lib"],
    );
    assert_eq!(r.code, 2);
    golden("add-exists", &hub.normalize(&r.stderr));
    assert_eq!(std::fs::read_to_string(&manifest).unwrap(), after);
    assert_eq!(
        std::fs::read_to_string(dir.join("prices/app.py")).unwrap(),
        "# mine\n"
    );
    std::fs::remove_dir_all(dir.join("prices")).unwrap();
    let r = run_in(
        &hub,
        dir,
        &["add", "prices", "--lang", "python", "--kind", "lib"],
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("already has [component.prices]; pick another name, or pass --force"),
        "{}",
        r.stderr
    );
    assert!(!dir.join("prices").exists(), "nothing written");

    // --force replaces the tables (once) and keeps everything else.
    ok(
        &run_in(
            &hub,
            dir,
            &["add", "prices", "--lang", "js", "--kind", "lib", "--force"],
        ),
        "add --force",
    );
    let forced = std::fs::read_to_string(&manifest).unwrap();
    assert!(forced.starts_with(before), "{forced}");
    assert_eq!(forced.matches("[component.prices]").count(), 1, "{forced}");
    assert!(forced.contains("componentize-js"), "{forced}");

    // `new` refuses an existing directory, naming it and --force.
    let r = run_in(&hub, dir, &["new", "prices", "--lang", "rust"]);
    assert_eq!(r.code, 2);
    golden("new-exists", &hub.normalize(&r.stderr));
    let r = run_in(&hub, dir, &["new", "Bad_Name", "--lang", "rust"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("invalid component name `Bad_Name`"),
        "{}",
        r.stderr
    );
}

/// Copies `from` to `to`, leaving out what a build makes (outputs, installed tools).
fn copy_sources(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let made = ["target", "node_modules", ".wasmhub", "deps", "__pycache__"]
            .contains(&name.as_str())
            || name.ends_with(".wasm");
        if made {
            continue;
        }
        if entry.file_type().unwrap().is_dir() {
            copy_sources(&entry.path(), &to.join(&name));
        } else {
            std::fs::copy(entry.path(), to.join(&name)).unwrap();
        }
    }
}

#[test]
fn the_polyglot_example_builds_and_answers_through_its_links() {
    let hub = Hub::shared_cache();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/polyglot");
    let dir = hub.tmp.path().join("polyglot");
    copy_sources(&example, &dir);
    let built = run_in(&hub, &dir, &["build"]);
    ok(&built, "build");
    let order: Vec<&str> = built
        .stdout
        .lines()
        .filter(|l| l.contains(" | $ ") && !l.contains("(setup:"))
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    assert_eq!(order, ["compute", "words", "front"], "providers first");
    let dev = Dev::start(&hub, &dir, "wasmhub.toml");
    let r = dev.get("/?n=50&text=three+languages");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.text(),
        "fib(50) = 12586269025 (Rust)\n\"three languages\" -> \"Three Languages\" (Python)\n\
         answered by JavaScript\n"
    );
}
