//! A real OCI registry for tests: Debian's `docker-registry` on a loopback ephemeral port
//! with its storage in a temp dir (installed by `cargo xtask setup`), stopped on drop.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};

/// A running registry.
pub struct Registry {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// Its storage root (`docker/registry/v2/...` below).
    pub storage: PathBuf,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

/// The user and password of the authenticated registry.
pub const USER: (&str, &str) = ("alice", "s3cret-pw");

impl Registry {
    /// A registry anyone may push to and pull from.
    pub fn open() -> Self {
        Self::start(false)
    }

    /// A registry that wants HTTP basic auth as [`USER`].
    pub fn with_auth() -> Self {
        Self::start(true)
    }

    fn start(auth: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let storage = dir.path().join("data");
        let mut config = format!(
            "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:0\n",
            storage.display()
        );
        if auth {
            let htpasswd = dir.path().join("htpasswd");
            let out = Command::new("htpasswd")
                .args(["-Bbn", USER.0, USER.1])
                .output()
                .expect("htpasswd (apache2-utils) is installed by `cargo xtask setup`");
            assert!(out.status.success());
            std::fs::write(&htpasswd, out.stdout).unwrap();
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: wasmhub-test\n    path: {}\n",
                htpasswd.display()
            ));
        }
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).unwrap();
        let log = dir.path().join("registry.log");
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("docker-registry is installed by `cargo xtask setup`");
        let deadline = Instant::now() + Duration::from_secs(20);
        let addr = loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if let Some(rest) = text.split("listening on ").nth(1) {
                let addr: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':')
                    .collect();
                break addr;
            }
            assert!(
                Instant::now() < deadline,
                "docker-registry did not start:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        Self {
            child,
            addr,
            storage,
            log,
            _dir: dir,
        }
    }

    /// `ADDR/REPO:TAG`.
    pub fn reference(&self, repo_and_tag: &str) -> String {
        format!("{}/{repo_and_tag}", self.addr)
    }

    /// How many requests for manifests and for blobs of `repo` the registry has logged.
    pub fn requests(&self, repo: &str) -> (usize, usize) {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let count = |kind: &str| {
            let needle = format!("http.request.uri=/v2/{repo}/{kind}/");
            text.lines()
                .filter(|l| l.contains("response completed") && l.contains(&needle))
                .count()
        };
        (count("manifests"), count("blobs"))
    }

    /// The file holding blob `digest` (`sha256:...`) in the registry's storage.
    pub fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.storage
            .join("docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    /// `GET /v2/...` with `accept`, anonymous; the body.
    pub fn get(&self, path: &str, accept: &str) -> Vec<u8> {
        let mut s = TcpStream::connect(&self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.0\r\nhost: {}\r\naccept: {accept}\r\n\r\n",
            self.addr
        )
        .unwrap();
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).unwrap();
        let split = buf
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("an HTTP response");
        assert!(
            buf.starts_with(b"HTTP/1.1 200") || buf.starts_with(b"HTTP/1.0 200"),
            "{}",
            String::from_utf8_lossy(&buf[..split])
        );
        buf[split + 4..].to_vec()
    }

    /// The manifest of `repo:tag` as JSON.
    pub fn manifest(&self, repo: &str, tag: &str) -> serde_json::Value {
        let body = self.get(
            &format!("/v2/{repo}/manifests/{tag}"),
            "application/vnd.oci.image.manifest.v1+json",
        );
        serde_json::from_slice(&body).unwrap()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Flips one byte of `file` in place (same size, so the registry still serves it whole).
pub fn flip_byte(file: &Path) {
    let mut bytes = std::fs::read(file).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(file, bytes).unwrap();
}

/// A registry that serves what a test tells it, lies included: manifests by tag and blobs
/// sent as given (whatever size the manifest declares), a blob optionally held mid-body
/// until the test opens a [`Gate`]. Plain HTTP/1.1 on 127.0.0.1, one thread per connection;
/// it records every request line. Stopped (and its gates opened) on drop.
pub struct Fake {
    /// `127.0.0.1:PORT`.
    pub addr: String,
    requests: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    gates: Vec<Gate>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    accept: Option<std::thread::JoinHandle<()>>,
}

/// What the fake serves.
#[derive(Default, Clone)]
pub struct FakeContent {
    /// Manifest bytes by tag (every repository).
    pub manifests: Vec<(String, Vec<u8>)>,
    /// Blob bodies by digest, each with an optional gate it waits at halfway.
    pub blobs: Vec<(String, Vec<u8>, Option<Gate>)>,
    /// The status `HEAD` on a blob answers (404 when 0).
    pub head_status: u16,
}

/// A point a response stops at until the test opens it.
#[derive(Clone, Default)]
pub struct Gate(std::sync::Arc<(std::sync::Mutex<(bool, bool)>, std::sync::Condvar)>);

impl Gate {
    /// Waits (up to 60 s) until a response has reached the gate.
    pub fn wait_reached(&self) {
        let (lock, cvar) = &*self.0;
        let state = lock.lock().unwrap();
        let (state, timeout) = cvar
            .wait_timeout_while(state, Duration::from_secs(60), |s| !s.0)
            .unwrap();
        assert!(
            !timeout.timed_out() || state.0,
            "no response reached the gate"
        );
    }

    /// Lets the held response go on.
    pub fn open(&self) {
        let (lock, cvar) = &*self.0;
        lock.lock().unwrap().1 = true;
        cvar.notify_all();
    }

    fn pass(&self) {
        let (lock, cvar) = &*self.0;
        let mut state = lock.lock().unwrap();
        state.0 = true;
        cvar.notify_all();
        let _ = cvar
            .wait_timeout_while(state, Duration::from_secs(60), |s| !s.1)
            .unwrap();
    }
}

impl Fake {
    /// Starts serving `content`.
    pub fn start(content: FakeContent) -> Self {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::{Arc, Mutex};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let gates = content.blobs.iter().filter_map(|b| b.2.clone()).collect();
        let content = Arc::new(content);
        let accept = {
            let (requests, stop) = (requests.clone(), stop.clone());
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(conn) = conn else { continue };
                    let (requests, content) = (requests.clone(), content.clone());
                    std::thread::spawn(move || serve_fake(conn, &content, &requests));
                }
            })
        };
        Self {
            addr,
            requests,
            gates,
            stop,
            accept: Some(accept),
        }
    }

    /// Every request line received so far (`GET /v2/...`).
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        for gate in &self.gates {
            gate.open();
        }
        let _ = TcpStream::connect(&self.addr);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

/// Answers one request on `conn` and closes it.
fn serve_fake(
    mut conn: TcpStream,
    content: &FakeContent,
    requests: &std::sync::Mutex<Vec<String>>,
) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match conn.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let line = head.lines().next().unwrap_or_default().to_owned();
    requests.lock().unwrap().push(line.clone());
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let respond = |conn: &mut TcpStream, status: &str, headers: &str, len: usize| {
        let _ = write!(
            conn,
            "HTTP/1.1 {status}\r\ncontent-length: {len}\r\nconnection: close\r\n{headers}\r\n"
        );
    };
    let not_found = br#"{"errors":[{"code":"NOT_FOUND","message":"not here"}]}"#;
    if path == "/v2/" {
        respond(&mut conn, "200 OK", "content-type: application/json\r\n", 2);
        let _ = conn.write_all(b"{}");
    } else if let Some((_, tag)) = path.split_once("/manifests/") {
        match content.manifests.iter().find(|(t, _)| t == tag) {
            Some((_, bytes)) => {
                let headers = format!(
                    "content-type: application/vnd.oci.image.manifest.v1+json\r\ndocker-content-digest: {}\r\n",
                    sha256(bytes)
                );
                respond(&mut conn, "200 OK", &headers, bytes.len());
                if method != "HEAD" {
                    let _ = conn.write_all(bytes);
                }
            }
            None => {
                respond(
                    &mut conn,
                    "404 Not Found",
                    "content-type: application/json\r\n",
                    not_found.len(),
                );
                let _ = conn.write_all(not_found);
            }
        }
    } else if let Some((_, digest)) = path.split_once("/blobs/") {
        let blob = content.blobs.iter().find(|(d, _, _)| d == digest);
        match (method, blob) {
            ("HEAD", _) if content.head_status != 0 => {
                respond(
                    &mut conn,
                    &format!("{} Failing", content.head_status),
                    "",
                    0,
                );
            }
            ("HEAD", Some((_, body, _))) => respond(&mut conn, "200 OK", "", body.len()),
            ("GET", Some((_, body, gate))) => {
                let headers = "content-type: application/octet-stream\r\n";
                respond(&mut conn, "200 OK", headers, body.len());
                let half = body.len() / 2;
                let _ = conn.write_all(&body[..half]);
                let _ = conn.flush();
                if let Some(gate) = gate {
                    gate.pass();
                }
                let _ = conn.write_all(&body[half..]);
            }
            _ => respond(&mut conn, "404 Not Found", "", 0),
        }
    } else {
        respond(&mut conn, "404 Not Found", "", 0);
    }
}

/// The Wasm config blob for `component`.
pub fn wasm_config(component: &[u8]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "architecture": "wasm", "os": "wasip2", "layerDigests": [sha256(component)]
    }))
    .unwrap()
}

/// A Wasm artifact manifest for `config` and `component`, declaring `config_size` and
/// `layer_size` (the true sizes unless a test lies).
pub fn wasm_manifest(
    config: &[u8],
    config_size: usize,
    component: &[u8],
    layer_size: usize,
) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.wasm.config.v0+json", "digest": sha256(config), "size": config_size},
        "layers": [{"mediaType": "application/wasm", "digest": sha256(component), "size": layer_size}]
    }))
    .unwrap()
}
