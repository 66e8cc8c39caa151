//! Running the binary, normalising its output, and golden `.err` files (`BLESS=1` rewrites).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use test_programs_artifacts::guest;

/// One test's sandbox: its own compile cache and scratch directory.
pub struct Hub {
    /// Scratch space, also the cache's parent.
    pub tmp: tempfile::TempDir,
}

/// What a run printed and how it ended.
pub struct Ran {
    /// Exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Hub {
    pub fn new() -> Self {
        Self {
            tmp: tempfile::tempdir().unwrap(),
        }
    }

    /// A hub whose compile cache outlives the test (in Cargo's target tmp dir), for the large
    /// JavaScript and Python components that take seconds to compile.
    pub fn shared_cache() -> Self {
        let hub = Self::new();
        let shared = Path::new(env!("CARGO_TARGET_TMPDIR")).join("wasmhub-cache");
        std::fs::create_dir_all(&shared).unwrap();
        std::os::unix::fs::symlink(shared, hub.cache_dir()).unwrap();
        hub
    }

    pub fn cache_dir(&self) -> PathBuf {
        self.tmp.path().join("cache")
    }

    /// Where this hub's apps keep their state (`WASMHUB_DATA_DIR`): never the user's own.
    pub fn data_dir(&self) -> PathBuf {
        self.tmp.path().join("data")
    }

    /// A `wasmhub` command with this hub's cache and no inherited log settings.
    pub fn cmd(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_wasmhub"));
        cmd.env("WASMHUB_CACHE_DIR", self.cache_dir())
            // Its own content store, and no registry credentials from the machine.
            .env("WASMHUB_STORE", self.tmp.path().join("store"))
            // Its own app state, never the machine's data dir.
            .env("WASMHUB_DATA_DIR", self.data_dir())
            .env_remove("XDG_DATA_HOME")
            .env("DOCKER_CONFIG", self.tmp.path().join("docker"))
            .env_remove("WASMHUB_REGISTRY_USERNAME")
            .env_remove("WASMHUB_REGISTRY_PASSWORD")
            .env_remove("WASMHUB_NATS_PASSWORD")
            .env_remove("WASMHUB_LOG")
            .stdin(Stdio::null());
        cmd
    }

    /// Runs `wasmhub ARGS`.
    pub fn run(&self, args: &[&str]) -> Ran {
        self.output(self.cmd().args(args))
    }

    pub fn output(&self, cmd: &mut Command) -> Ran {
        let Output {
            status,
            stdout,
            stderr,
        } = cmd.output().expect("wasmhub starts");
        Ran {
            code: status.code().expect("wasmhub exits, not killed"),
            stdout: String::from_utf8(stdout).unwrap(),
            stderr: String::from_utf8(stderr).unwrap(),
        }
    }

    /// Replaces machine-specific parts of `text`: guest and temp paths, code offsets.
    pub fn normalize(&self, text: &str) -> String {
        let guests = Path::new(guest(test_programs_artifacts::GREET))
            .parent()
            .unwrap();
        let text = text
            .replace(&guests.display().to_string(), "$GUESTS")
            .replace(&self.tmp.path().display().to_string(), "$TMP")
            .replace(
                env!("CARGO_MANIFEST_DIR").trim_end_matches("/crates/wasmhub"),
                "$ROOT",
            );
        hide_hex(&text)
    }
}

/// `0x1f2e` -> `0x…`, and symbol hashes (`[0123…]`, `::h0123…`) dropped: they change with
/// every toolchain and build.
fn hide_hex(text: &str) -> String {
    let text = drop_symbol_hashes(text);
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(i) = rest.find("0x") {
        out.push_str(&rest[..i + 2]);
        rest = &rest[i + 2..];
        let n = rest.bytes().take_while(u8::is_ascii_hexdigit).count();
        if n > 0 {
            out.push('…');
        }
        rest = &rest[n..];
    }
    out.push_str(rest);
    out
}

/// Compares `actual` with `tests/ui/NAME.err`; `BLESS=1` writes it instead.
pub fn golden(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/ui")
        .join(format!("{name}.err"));
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("missing {}: run with BLESS=1 to create it", path.display()));
    assert_eq!(
        expected,
        actual,
        "{} differs from the output (BLESS=1 rewrites it)",
        path.display()
    );
}

/// Path of a guest as a string, checked to exist.
pub fn g(path: &'static str) -> &'static str {
    guest(path)
}

fn drop_symbol_hashes(text: &str) -> String {
    let hex16 = |s: &str| s.len() >= 16 && s.bytes().take(16).all(|b| b.is_ascii_hexdigit());
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let next = [rest.find('['), rest.find("::h")]
            .into_iter()
            .flatten()
            .min();
        let Some(i) = next else { break };
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        if let Some(after) = rest.strip_prefix('[')
            && hex16(after)
            && after.as_bytes().get(16) == Some(&b']')
        {
            rest = &after[17..];
        } else if let Some(after) = rest.strip_prefix("::h")
            && hex16(after)
        {
            rest = &after[16..];
        } else {
            out.push_str(&rest[..1]);
            rest = &rest[1..];
        }
    }
    out.push_str(rest);
    out
}

/// Asserts that `r` failed (exit 2) with `needle` in its error output.
pub fn assert_fails_with(r: &Ran, needle: &str) {
    assert_eq!(r.code, 2, "expected a failure: {}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(needle),
        "expected {needle:?} in:\n{}",
        r.stderr
    );
}
