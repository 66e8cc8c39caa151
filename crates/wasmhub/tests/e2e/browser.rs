//! The Rust `greet` component in a browser: transpiled by jco, loaded by a page served on
//! 127.0.0.1, run by headless Chromium (installed by `cargo xtask setup`).

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;

use test_programs_artifacts::GREET;

use super::harness::{Hub, g};
use super::node::{node_modules, transpile};

/// The shim modules jco's output imports, mapped to their browser builds.
const SHIMS: &[&str] = &[
    "cli",
    "clocks",
    "filesystem",
    "http",
    "io",
    "random",
    "sockets",
];

/// Serves `root` (and `/node_modules/` from the project's tools) until the test ends.
fn serve_static(root: PathBuf) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let modules = node_modules();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let _ = answer(stream, &root, &modules);
        }
    });
    addr
}

fn answer(mut stream: TcpStream, root: &Path, modules: &Path) -> std::io::Result<()> {
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line)?;
    let path = line.split_whitespace().nth(1).unwrap_or("/");
    let path = path.split('?').next().unwrap_or(path);
    let file = match path.strip_prefix("/node_modules/") {
        Some(rest) => modules.join(rest),
        None => root.join(path.trim_start_matches('/')),
    };
    let kind = match file.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html",
        Some("js" | "mjs") => "text/javascript",
        Some("wasm") => "application/wasm",
        _ => "application/octet-stream",
    };
    let (status, body) = match std::fs::read(&file) {
        Ok(body) if !path.contains("..") => ("200 OK", body),
        _ => ("404 Not Found", b"not found".to_vec()),
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\ncontent-type: {kind}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )?;
    stream.write_all(&body)
}

#[test]
fn rust_greet_runs_in_headless_chromium() {
    let chromium = ["chromium", "chromium-browser"]
        .into_iter()
        .find(|c| Command::new(c).arg("--version").output().is_ok())
        .expect("chromium is not installed: run `cargo xtask setup` (or `cargo xtask test`)");
    let hub = Hub::new();
    let web = hub.tmp.path().join("web");
    transpile(&hub, g(GREET), &web.join("greet"), "greet");
    let imports: Vec<String> = SHIMS
        .iter()
        .map(|s| {
            format!(
                "\"@bytecodealliance/preview2-shim/{s}\": \"/node_modules/@bytecodealliance/preview2-shim/dist/browser/{s}.js\""
            )
        })
        .collect();
    let page = format!(
        "<!doctype html><html><head><script type=\"importmap\">{{\"imports\": {{{}}}}}</script></head>\
         <body><output id=\"answer\">pending</output><script type=\"module\">\
         import {{ greet }} from './greet/greet.js';\
         document.getElementById('answer').textContent = greet('browser');\
         </script></body></html>",
        imports.join(", ")
    );
    std::fs::write(web.join("index.html"), page).unwrap();
    let addr = serve_static(web);
    let out = hub.output(Command::new(chromium).args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--virtual-time-budget=10000",
        "--dump-dom",
        &format!("http://{addr}/index.html"),
    ]));
    let ours = hub.run(&["invoke", g(GREET), r#"greet("browser")"#]);
    let expected = ours.stdout.trim().trim_matches('"').to_owned();
    assert_eq!(expected, "Hello, browser!");
    assert!(
        out.stdout
            .contains(&format!("<output id=\"answer\">{expected}</output>")),
        "the page did not show the component's answer:\n{}\n{}",
        out.stdout,
        out.stderr
    );
}
