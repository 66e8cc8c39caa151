//! `cargo xtask bench dev`: for an app made by `wasmhub new` in each language, the time
//! from saving an edit of the handler to the first response that shows it under
//! `wasmhub dev`, split into its parts (watch and debounce, the language's tool, wasmhub's
//! compile and swap, the first response), median of [`EDITS`]; and the reload time of an
//! unchanged app through `serve`'s admin listener.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use super::http::request;
use super::sample::median;
use crate::setup;
use crate::util::{self, Result};

/// Edits timed per language.
const EDITS: usize = 5;
/// Reloads of the unchanged app timed.
const RELOADS: usize = 5;
/// Longest wait for one step (a cold tool install or compile on a loaded machine).
const PATIENCE: Duration = Duration::from_secs(600);

/// A language's template and the file its handler is in.
const LANGUAGES: [(&str, &str); 3] = [
    ("rust", "src/lib.rs"),
    ("js", "app.js"),
    ("python", "app.py"),
];

/// One edit's figures, in seconds.
#[derive(Default, Clone, Copy)]
struct Edit {
    total: f64,
    watch: f64,
    tool: f64,
    wasmhub: f64,
    respond: f64,
}

/// Runs the benchmark and prints its table.
pub fn run() -> Result {
    setup::setup()?;
    util::cargo(&["build", "--quiet", "-p", "wasmhub"])?;
    let target = util::target_dir();
    let bin = target.join("debug/wasmhub");
    let root = target.join("bench-dev");
    let _ = std::fs::remove_dir_all(&root);
    let cache = root.join("cache");
    std::fs::create_dir_all(&cache).map_err(|e| format!("cannot make {}: {e}", cache.display()))?;
    let wasmhub = |dir: &Path| {
        let mut c = Command::new(&bin);
        c.current_dir(dir).env("WASMHUB_CACHE_DIR", &cache);
        c
    };
    let mut rows = Vec::new();
    for (lang, handler) in LANGUAGES {
        let app = format!("bench-{lang}");
        util::run_quiet(wasmhub(&root).args(["new", &app, "--lang", lang, "--kind", "http"]))?;
        let dir = root.join(&app);
        // The first build installs the tools and fills the caches; edits are timed after it.
        util::run_quiet(wasmhub(&dir).arg("build"))?;
        let edits = timed_edits(wasmhub(&dir), &dir.join(&app).join(handler), &app)?;
        rows.push((lang, edits));
    }
    let reload = unchanged_reload(wasmhub(&root.join("bench-js")))?;

    println!(
        "\n`wasmhub dev`, an edit of the handler's text saved to the first response showing it, \
         median of {EDITS} edits (seconds)"
    );
    println!(
        "| language | edit to response | watch + debounce | tool | wasmhub compile + swap | first response |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for (lang, edits) in &rows {
        let m = |f: fn(&Edit) -> f64| median(&mut edits.iter().map(f).collect::<Vec<_>>());
        println!(
            "| {lang} | {:.2} | {:.2} | {:.2} | {:.2} | {:.3} |",
            m(|e| e.total),
            m(|e| e.watch),
            m(|e| e.tool),
            m(|e| e.wasmhub),
            m(|e| e.respond)
        );
    }
    println!(
        "\nreload of an unchanged app (the JS one, POST /-/reload): {reload:.1} ms, median of {RELOADS} (target <= 50 ms)"
    );
    for (lang, edits) in &rows {
        let own = median(&mut edits.iter().map(|e| e.wasmhub).collect::<Vec<_>>());
        let total = median(&mut edits.iter().map(|e| e.total).collect::<Vec<_>>());
        match *lang {
            "rust" => println!("rust: edit to response {total:.2} s (target <= 3 s)"),
            _ => println!("{lang}: wasmhub's compile + swap {own:.2} s (target <= 1 s)"),
        }
    }
    Ok(())
}

/// A child process whose stdout lines arrive, timestamped, on a channel; killed on drop.
struct Watched {
    child: Child,
    lines: Receiver<(Instant, String)>,
}

impl Watched {
    fn start(mut cmd: Command) -> Result<Self> {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start wasmhub: {e}"))?;
        let out = child.stdout.take().expect("piped");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out)
                .lines()
                .map_while(std::result::Result::ok)
            {
                if tx.send((Instant::now(), line)).is_err() {
                    break;
                }
            }
        });
        Ok(Self { child, lines })
    }

    /// The first line from now on containing `needle`, and when it came.
    fn wait_for(&self, needle: &str) -> Result<(Instant, String)> {
        let until = Instant::now() + PATIENCE;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok((at, line)) if line.contains(needle) => return Ok((at, line)),
                Ok(_) => {}
                Err(_) => return Err(format!("wasmhub printed no line with {needle:?}")),
            }
        }
    }

    /// The port of the first `PREFIX http://127.0.0.1:PORT...` line.
    fn port(&self, prefix: &str) -> Result<u16> {
        let (_, line) = self.wait_for(prefix)?;
        line.rsplit(':')
            .next()
            .and_then(|p| p.split('/').next())
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| format!("no port in {line:?}"))
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `wasmhub dev` and times [`EDITS`] edits of `source`.
fn timed_edits(mut wasmhub: Command, source: &Path, app: &str) -> Result<Vec<Edit>> {
    wasmhub.args(["dev", "--addr", "127.0.0.1:0"]);
    let dev = Watched::start(wasmhub)?;
    let port = dev.port("listening on http://")?;
    // Edits count from when the watcher is in place.
    dev.wait_for("watching ")?;
    let original =
        std::fs::read_to_string(source).map_err(|e| format!("{}: {e}", source.display()))?;
    let mut edits = Vec::new();
    for i in 0..EDITS {
        let marker = format!("Edit {i} from");
        let start = Instant::now();
        write(source, &original.replace("Hello from", &marker))?;
        let (at, line) = dev.wait_for(&format!("reloaded {app} (build "))?;
        let answered = wait_body(port, &marker)?;
        let (tool, wasmhub) = parts(&line)?;
        let total = answered.duration_since(start).as_secs_f64();
        let to_line = at.duration_since(start).as_secs_f64();
        edits.push(Edit {
            total,
            watch: (to_line - tool - wasmhub).max(0.0),
            tool,
            wasmhub,
            respond: answered.duration_since(at).as_secs_f64(),
        });
        eprintln!("{app} edit {i}: {total:.2} s ({line})");
    }
    Ok(edits)
}

fn write(path: &Path, text: &str) -> Result {
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Polls `GET /hello` until its body starts with `marker`; when it first did.
fn wait_body(port: u16, marker: &str) -> Result<Instant> {
    let until = Instant::now() + PATIENCE;
    while Instant::now() < until {
        if let Ok((200, body)) = request(port, "GET", "/hello", &[])
            && body.starts_with(marker.as_bytes())
        {
            return Ok(Instant::now());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    Err(format!("no response showing {marker:?}"))
}

/// The build and compile seconds of a `reloaded NAME (build B s, compile C s) -> ...` line.
fn parts(line: &str) -> Result<(f64, f64)> {
    let after = |key: &str| {
        line.split(key)
            .nth(1)
            .and_then(|rest| rest.split(" s").next())
            .and_then(|n| n.trim().parse::<f64>().ok())
    };
    match (after("(build "), after("compile ")) {
        (Some(b), Some(c)) => Ok((b, c)),
        _ => Err(format!("cannot read the times in {line:?}")),
    }
}

/// Median milliseconds of `POST /-/reload` of an app nothing changed in, under `serve`.
fn unchanged_reload(mut wasmhub: Command) -> Result<f64> {
    wasmhub.args([
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--admin-addr",
        "127.0.0.1:0",
        "wasmhub.toml",
    ]);
    let served = Watched::start(wasmhub)?;
    let admin = served.port("admin on http://")?;
    let mut times = Vec::new();
    for _ in 0..RELOADS {
        let start = Instant::now();
        let (status, body) = request(admin, "POST", "/-/reload", &[])?;
        if status != 200 {
            return Err(format!(
                "reload answered {status}: {}",
                String::from_utf8_lossy(&body)
            ));
        }
        times.push(start.elapsed().as_secs_f64() * 1e3);
    }
    Ok(median(&mut times))
}
