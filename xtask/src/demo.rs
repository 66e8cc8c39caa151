//! `cargo xtask demo`: build everything and show the main jobs working.

use std::path::Path;
use std::process::Command;

use crate::util::{self, Result};
use crate::{guests, setup};

/// Sets up, builds the host and guests, then runs a command and invokes typed exports.
pub fn demo() -> Result {
    setup::setup()?;
    guests::build()?;
    util::cargo(&["build", "--quiet", "-p", "wasmhub"])?;
    let bin = util::target_dir().join("debug/wasmhub");
    let guests = util::target_dir().join("guests");
    let data = util::root().join("examples/data");
    let greet = guests.join("greet.wasm");

    step("inspect a component: its world, kind and the capabilities it needs");
    show(Command::new(&bin).arg("inspect").arg(&greet))?;

    step("run a wasi:cli command, granting one env var and one read-only directory");
    show(
        Command::new(&bin)
            .args(["run", "--env", "GREETING=hello from the host", "--dir"])
            .arg(format!("{}::/data:ro", data.display()))
            .arg(guests.join("cli-echo.wasm"))
            .args([
                "--env",
                "GREETING",
                "--file",
                "/data/note.txt",
                "some",
                "args",
            ]),
    )?;

    step("nothing is granted by default: without --dir it runs, and reading the file is denied");
    let _ = show(
        Command::new(&bin)
            .arg("run")
            .arg(guests.join("cli-echo.wasm"))
            .args(["--file", "/data/note.txt"]),
    );

    step("--strict refuses it before it runs instead, naming the grant to add");
    let _ = show(
        Command::new(&bin)
            .args(["run", "--strict"])
            .arg(guests.join("cli-echo.wasm"))
            .args(["--file", "/data/note.txt"]),
    );

    step("invoke typed exports with WAVE values");
    for call in [
        r#"greet("world")"#,
        r#"greeter.echo-record({x: 3, y: -4})"#,
        r#"greeter.divide(7, 0)"#,
        r#"wasmhub:demo/greeter#echo-variant(rectangle({x: 2, y: 5}))"#,
    ] {
        show(Command::new(&bin).arg("invoke").arg(&greet).arg(call))?;
    }
    step("the same as JSON, for scripts");
    show(
        Command::new(&bin)
            .args(["invoke", "--json"])
            .arg(&greet)
            .arg(r#"greeter.echo-tuple(("a", 1, true))"#),
    )?;

    step("a wrong call names the real signature");
    let _ = show(
        Command::new(&bin)
            .arg("invoke")
            .arg(&greet)
            .arg("greet(42)"),
    );

    serve_app(&bin)?;
    polyglot(&bin)?;
    eprintln!("\ndemo done: the binary is {}", rel(&bin));
    Ok(())
}

/// Serves `examples/hello-app`, shows a few requests, then stops it with SIGTERM.
fn serve_app(bin: &Path) -> Result {
    let manifest = util::root().join("examples/hello-app/wasmhub.toml");
    // The app's key-value store lives here: a fresh one per demo, so the counter starts at 1.
    let data = util::target_dir().join("demo-data");
    let _ = std::fs::remove_dir_all(&data);
    step(
        "serve an app: wasi:http components, a fresh instance per request, audited grants, a link",
    );
    show(
        Command::new(bin)
            .arg("check")
            .arg(&manifest)
            .env("WASMHUB_DATA_DIR", &data),
    )?;
    let (mut child, url) = start(bin, &manifest, &data)?;
    eprintln!("\nthe app is at {url} (try {url}/hello)");
    for path in ["/hello", "/count", "/count", "/nowhere"] {
        let _ = show(
            Command::new("curl")
                .args(["-sS", "-i", "--max-time", "5"])
                .arg(format!("{url}{path}")),
        );
        eprintln!();
    }
    let _ = show(
        Command::new("curl")
            .args(["-sS", "--max-time", "5", "--data", "echoed back"])
            .arg(format!("{url}/echo")),
    );
    step("state: /count and /visits share the key-value store `default`, so one counter");
    for path in ["/visits", "/count"] {
        let _ = show(
            Command::new("curl")
                .args(["-sS", "--max-time", "5"])
                .arg(format!("{url}{path}")),
        );
    }
    step("outbound HTTP only where granted: proxy may reach 127.0.0.1, nothing else");
    for target in [format!("{url}/hello"), "http://example.com/".to_owned()] {
        let _ = show(
            Command::new("curl")
                .args(["-sS", "--max-time", "5"])
                .arg(format!("{url}/proxy?url={target}")),
        );
        eprintln!();
    }
    step("a graph: cart calls pricing in process through a runtime link");
    for path in [
        "/cart/checkout?apple=2&pear=1",
        "/cart/receipt?melon=1&fig=2",
        "/cart/checkout?kiwi=1",
    ] {
        let _ = show(
            Command::new("curl")
                .args(["-sS", "--max-time", "5"])
                .arg(format!("{url}{path}")),
        );
        eprintln!();
    }
    stop(&mut child);
    step("restart the app: the counter is durable, it goes on where it stopped");
    let (mut child, url) = start(bin, &manifest, &data)?;
    let _ = show(
        Command::new("curl")
            .args(["-sS", "--max-time", "5"])
            .arg(format!("{url}/count")),
    );
    stop(&mut child);
    eprintln!("serve it yourself: {} serve {}", rel(bin), rel(&manifest));
    Ok(())
}

/// Builds `examples/polyglot` with `wasmhub build` (JavaScript, Rust and Python, each from
/// its [component.NAME.build]), serves it and asks the JavaScript front, which calls the
/// other two through WIT links.
fn polyglot(bin: &Path) -> Result {
    let manifest = util::root().join("examples/polyglot/wasmhub.toml");
    let data = util::target_dir().join("demo-data");
    step("a polyglot app: `wasmhub build` builds a JS front, a Rust and a Python component");
    show(Command::new(bin).arg("build").arg(&manifest))?;
    let (mut child, url) = start(bin, &manifest, &data)?;
    step("the JavaScript front calls Rust (fib) and Python (title case) in process");
    let _ = show(
        Command::new("curl")
            .args(["-sS", "--max-time", "10"])
            .arg(format!("{url}/?n=50&text=three+languages+one+app")),
    );
    stop(&mut child);
    eprintln!(
        "edit it live: cd {} && {} dev",
        rel(manifest.parent().expect("a directory")),
        bin.display()
    );
    Ok(())
}

/// Starts `wasmhub serve MANIFEST --data-dir DATA` on a free port: the child and its URL.
fn start(bin: &Path, manifest: &Path, data: &Path) -> Result<(std::process::Child, String)> {
    let mut child = Command::new(bin)
        .args(["serve", "--addr", "127.0.0.1:0"])
        .arg(manifest)
        .arg("--data-dir")
        .arg(data)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start serve: {e}"))?;
    let stdout = child.stdout.take().expect("piped");
    for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
        let line = line.map_err(|e| e.to_string())?;
        eprintln!("{line}");
        if let Some(url) = line.strip_prefix("listening on ") {
            return Ok((child, url.to_owned()));
        }
    }
    let _ = child.wait();
    Err("serve exited before listening".into())
}

/// Stops a served app with SIGTERM (a graceful shutdown) and waits for it.
fn stop(child: &mut std::process::Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

fn step(title: &str) {
    eprintln!("\n== {title}");
}

fn show(cmd: &mut Command) -> Result {
    let shown: Vec<String> = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| {
            let a = rel(Path::new(a));
            if a.contains([' ', '(', '"', '{']) {
                format!("'{a}'")
            } else {
                a
            }
        })
        .collect();
    eprintln!("$ {}", shown.join(" "));
    util::run_quiet(cmd)
}

fn rel(p: &Path) -> String {
    let root = util::root();
    p.strip_prefix(&root).unwrap_or(p).display().to_string()
}
