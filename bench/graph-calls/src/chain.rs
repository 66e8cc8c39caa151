//! The WASI 0.3 chain front -> middle -> end: in one `wasmhub serve`, each hop a runtime link
//! (an in-process async call), against a chain of three `wasmhub serve` processes whose hops
//! are loopback HTTP requests.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Child;

use anyhow::{Context, Result, bail};

use crate::http::{get, serve};

/// The served chains.
pub struct Chain {
    linked: (Child, SocketAddr),
    /// end, middle, front: each relay granted outbound to the next process only.
    hops: Vec<(Child, SocketAddr)>,
}

impl Chain {
    /// Serves the linked chain from a manifest in `dir`, and the three HTTP hops.
    pub fn start(wasmhub: &Path, guests: &Path, dir: &Path) -> Result<Self> {
        let wasm = |name: &str| guests.join(format!("{name}.wasm")).display().to_string();
        let manifest = dir.join("chain.toml");
        std::fs::write(
            &manifest,
            format!(
                "[app]\nname = \"chain\"\n\n\
                 [component.front]\nsource = {:?}\nroute = \"/chain/...\"\nwasi = \"0.3\"\n\n\
                 [component.front.link]\n\"wasmhub:chain/hop\" = \"middle\"\n\n\
                 [component.middle]\nsource = {:?}\nwasi = \"0.3\"\n\n\
                 [component.middle.link]\n\"wasmhub:chain/hop\" = \"end\"\n\n\
                 [component.end]\nsource = {:?}\nwasi = \"0.3\"\n",
                wasm("chain-http3"),
                wasm("hop-middle"),
                wasm("hop-end"),
            ),
        )?;
        let linked = serve(wasmhub, &[&manifest.display().to_string()])?;
        let mut hops = vec![serve(wasmhub, &[&wasm("hello-http")])?];
        for _ in 0..2 {
            let grant = format!("http://{}", hops.last().expect("a hop").1);
            hops.push(serve(
                wasmhub,
                &["--outbound", &grant, &wasm("relay-http")],
            )?);
        }
        Ok(Self { linked, hops })
    }

    /// ns per chained call in process: `n` calls in one request, minus a request with one.
    pub fn linked_per_call(&self, n: u32) -> Result<f64> {
        let at = |n: u32| {
            get(
                self.linked.1,
                &format!("/chain/call?n={n}"),
                "middle(end(front))",
            )
        };
        let one = at(1)?;
        let all = at(n)?;
        Ok(all.saturating_sub(one).as_nanos() as f64 / f64::from(n - 1))
    }

    /// ns per chained call over HTTP: the front relay makes `n` requests to the middle one,
    /// which makes one to the end for each.
    pub fn http_per_call(&self, n: u32) -> Result<f64> {
        let (end, middle, front) = (self.hops[0].1, self.hops[1].1, self.hops[2].1);
        let at = |n: u32| {
            get(
                front,
                &format!("/?n={n}&url=http://{middle}/?url=http://{end}/"),
                "Hello, wasm!",
            )
        };
        let one = at(1)?;
        let all = at(n)?;
        Ok(all.saturating_sub(one).as_nanos() as f64 / f64::from(n - 1))
    }

    /// µs of wall time per chained call under `wrk` at 8 connections, `n` calls per request,
    /// in process (`linked`) or over HTTP: the cost when every worker thread is busy.
    pub fn loaded_per_call(&self, linked: bool, n: u32) -> Result<f64> {
        let (end, middle, front) = (self.hops[0].1, self.hops[1].1, self.hops[2].1);
        let url = if linked {
            format!("http://{}/chain/call?n={n}", self.linked.1)
        } else {
            format!("http://{front}/?n={n}&url=http://{middle}/?url=http://{end}/")
        };
        let out = std::process::Command::new("wrk")
            .args(["-t2", "-c8", "-d5s", &url])
            .output()
            .context("cannot run wrk (cargo xtask setup installs it)")?;
        let text = String::from_utf8_lossy(&out.stdout);
        if text.contains("Non-2xx") {
            bail!("wrk saw failed requests on {url}:\n{text}");
        }
        let rps: f64 = text
            .lines()
            .find_map(|l| l.strip_prefix("Requests/sec:"))
            .and_then(|v| v.trim().parse().ok())
            .with_context(|| format!("no Requests/sec in wrk's output:\n{text}"))?;
        Ok(1e6 / (rps * f64::from(n)))
    }

    /// ms a request takes whose handler awaits two `slow(ms)` calls down the chain at once.
    pub fn pair_ms(&self, ms: u32) -> Result<f64> {
        let took = get(self.linked.1, &format!("/chain/pair?ms={ms}"), "b after")?;
        Ok(took.as_secs_f64() * 1e3)
    }
}

impl Drop for Chain {
    fn drop(&mut self) {
        for (child, _) in self.hops.iter_mut().chain([&mut self.linked]) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
