//! (d): `relay-http` in one `wasmhub serve` calls `pricing-http` in another over loopback.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};

/// The two serve processes.
pub struct Hop {
    pricing: (Child, SocketAddr),
    relay: (Child, SocketAddr),
}

/// Starts `wasmhub serve ARGS` on a free port; returns it once it listens.
pub fn serve(wasmhub: &Path, args: &[&str]) -> Result<(Child, SocketAddr)> {
    let mut child = Command::new(wasmhub)
        .args(["serve", "--addr", "127.0.0.1:0"])
        .args(args)
        .env("WASMHUB_LOG", "warn,wasmhub_http::server=info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start wasmhub serve")?;
    let stdout = child.stdout.take().context("stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    while let Some(line) = lines.next() {
        if let Some(addr) = line?.strip_prefix("listening on http://") {
            let addr = addr.trim().parse()?;
            std::thread::spawn(move || lines.for_each(drop));
            return Ok((child, addr));
        }
    }
    bail!("wasmhub serve exited before listening")
}

impl Hop {
    /// Serves pricing-http and relay-http (granted outbound to pricing-http only).
    pub fn start(wasmhub: &Path, guests: &Path) -> Result<Self> {
        let pricing_wasm = guests.join("pricing-http.wasm").display().to_string();
        let pricing = serve(wasmhub, &[&pricing_wasm])?;
        let grant = format!("http://{}", pricing.1);
        let relay_wasm = guests.join("relay-http.wasm").display().to_string();
        let relay = serve(wasmhub, &["--outbound", &grant, &relay_wasm])?;
        Ok(Self { pricing, relay })
    }

    /// ns per call for `n` calls made by the relay (one request to it, minus one of n = 1).
    pub fn per_call(&self, n: u32) -> Result<f64> {
        let one = self.get(1)?;
        let all = self.get(n)?;
        Ok(all.saturating_sub(one).as_nanos() as f64 / f64::from(n - 1))
    }

    fn get(&self, n: u32) -> Result<std::time::Duration> {
        let path = format!("/?n={n}&url=http://{}/describe?sku=fig", self.pricing.1);
        get(self.relay.1, &path, "fig: 80 cents")
    }
}

/// The time one `GET path` on a fresh connection takes; fails unless the answer is a 200
/// whose text contains `expect`.
pub fn get(addr: SocketAddr, path: &str, expect: &str) -> Result<std::time::Duration> {
    let start = Instant::now();
    let mut s = TcpStream::connect(addr)?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nhost: bench\r\nconnection: close\r\n\r\n"
    )?;
    let mut resp = String::new();
    s.read_to_string(&mut resp)?;
    let took = start.elapsed();
    if !resp.starts_with("HTTP/1.1 200") || !resp.contains(expect) {
        bail!("{addr}{path} answered: {resp}");
    }
    Ok(took)
}

impl Drop for Hop {
    fn drop(&mut self) {
        for (child, _) in [&mut self.pricing, &mut self.relay] {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
