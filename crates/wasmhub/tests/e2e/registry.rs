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
