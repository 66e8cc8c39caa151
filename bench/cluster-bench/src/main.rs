//! `cargo xtask bench cluster`: one app on a 3-node NATS JetStream cluster (started here,
//! as the tests start it) served by three `wasmhub host` processes behind haproxy. Prints
//! capacity with 1, 2 and 3 hosts, shared-KV latency on NATS against the embedded store,
//! deploy convergence, and failed requests during a rolling deploy and a host kill, as
//! markdown tables. Every process it starts is stopped when it ends, also on error.
//!
//! Usage: `cluster-bench WASMHUB_BIN GUESTS_DIR SCRATCH_DIR`.

mod capacity;
mod kv;
mod rollout;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use wasmhub_cluster::testing::NatsCluster;
use wasmhub_cluster::testing::fleet::HostProc;

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

/// The app's name in the cluster.
const APP: &str = "clusterbench";

/// What every `wasmhub` process of the bench shares: binary, cluster, scratch folder.
pub struct Fleet {
    bin: PathBuf,
    guests: PathBuf,
    dir: PathBuf,
    url: String,
}

impl Fleet {
    /// A `wasmhub` command with its caches and state in the scratch folder.
    fn cmd(&self) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.env("WASMHUB_CACHE_DIR", self.dir.join("cache"))
            .env("WASMHUB_STORE", self.dir.join("store"))
            .env("WASMHUB_DATA_DIR", self.dir.join("data"))
            .env_remove("WASMHUB_LOG")
            .env_remove("RUST_BACKTRACE")
            .stdin(Stdio::null());
        cmd
    }

    /// Starts host `id` with the per-host instance limit.
    fn host(&self, id: &str) -> HostProc {
        let limit = capacity::INSTANCES.to_string();
        let work = self.dir.join(format!("work-{id}"));
        HostProc::spawn(
            self.cmd(),
            &work,
            &self.url,
            APP,
            id,
            &["--max-instances", &limit],
        )
    }

    /// Deploys the app answering `version` (`version-http`, which waits 20 ms on `/wait`);
    /// returns when `wasmhub deploy` does (bounded to 5 minutes).
    fn deploy(&self, version: &str) -> Result {
        let source = self.guests.join("version-http.wasm");
        let manifest = self.dir.join(format!("{version}.toml"));
        let text = format!(
            "[app]\nname = \"{APP}\"\n\n[component.web]\nsource = {:?}\nroute = \"/...\"\n\n\
             [component.web.grant]\nenv = [\"VERSION={version}\"]\n",
            source.display().to_string()
        );
        std::fs::write(&manifest, text)?;
        let mut child = self
            .cmd()
            .arg("deploy")
            .arg(&manifest)
            .args(["--cluster", &self.url])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?;
        let until = Instant::now() + Duration::from_secs(300);
        while child.try_wait()?.is_none() {
            if Instant::now() > until {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("wasmhub deploy of {version} took over 5 minutes").into());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let out = child.wait_with_output()?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            return Err(format!("wasmhub deploy of {version} failed: {err}").into());
        }
        Ok(())
    }
}

fn main() -> Result {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [bin, guests, dir] = args.as_slice() else {
        return Err("usage: cluster-bench WASMHUB_BIN GUESTS_DIR SCRATCH_DIR".into());
    };
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir)?;
    // Absolute: manifests name their code relative to themselves.
    let dir = &std::fs::canonicalize(dir)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let nats = rt.block_on(NatsCluster::start())?;
    let fleet = Fleet {
        bin: std::fs::canonicalize(bin)?,
        guests: std::fs::canonicalize(guests)?,
        dir: dir.to_owned(),
        url: nats.url(),
    };
    let latencies = rt.block_on(kv::latencies(&fleet.url, &dir.join("embedded")))?;

    fleet.deploy("v1")?;
    let hosts: Vec<HostProc> = (0..3).map(|i| fleet.host(&format!("h{i}"))).collect();
    let capacity = capacity::measure(dir, &hosts)?;
    let rollout = rollout::measure(&fleet, dir, hosts)?;
    drop(nats);

    print_tables(&capacity, &latencies, &rollout);
    Ok(())
}

fn print_tables(capacity: &[Vec<capacity::Run>], kv: &[kv::Latency], r: &rollout::Figures) {
    use capacity::{CONNECTIONS, INSTANCES, ROUNDS, SECONDS};
    println!(
        "\nCapacity: wrk -t2 -c{CONNECTIONS} -d{SECONDS}s through haproxy on a route that waits 20 ms, \
         {INSTANCES} instances per host (haproxy maxconn {INSTANCES} per server), median of {ROUNDS} interleaved rounds"
    );
    println!("| hosts | 2xx req/s | p50 ms | p99 ms | failed | ideal req/s |");
    println!("|---:|---:|---:|---:|---:|---:|");
    let medians: Vec<capacity::Run> = capacity.iter().map(|r| capacity::median(r)).collect();
    for (i, m) in medians.iter().enumerate() {
        let ideal = (i + 1) as f64 * f64::from(INSTANCES) / 0.020;
        println!(
            "| {} | {:.0} | {:.1} | {:.1} | {} | {ideal:.0} |",
            i + 1,
            m.ok_rps,
            m.p50_ms,
            m.p99_ms,
            m.failed
        );
    }
    if let (Some(one), Some(three)) = (medians.first(), medians.get(2)) {
        println!(
            "\n3 hosts / 1 host: {:.2}x (target >= 2.7x; capacity, not CPU scaling: 2 cores)",
            three.ok_rps / one.ok_rps.max(1e-9)
        );
    }
    println!("\nShared key-value, one call at a time, 100-byte value (µs)");
    println!("| backend | get p50 | get p99 | set p50 | set p99 |");
    println!("|---|---:|---:|---:|---:|");
    for l in kv {
        println!(
            "| {} | {:.1} | {:.1} | {:.0} | {:.0} |",
            l.backend, l.get.0, l.get.1, l.set.0, l.set.1
        );
    }
    println!("\nDeploys and host loss (3 hosts behind haproxy, 4 clients in a loop)");
    println!("| measure | value |");
    println!("|---|---:|");
    println!(
        "| `deploy` returned -> all 3 hosts serve it, under load | {:.2} s |",
        r.converge_loaded_s
    );
    println!(
        "| `deploy` returned -> all 3 hosts serve it, idle | {:.2} s |",
        r.converge_idle_s
    );
    println!(
        "| failed requests, rolling deploy under load | {} of {} |",
        r.deploy_failed.0, r.deploy_failed.1
    );
    println!(
        "| failed requests, `kill -9` of one host under load (2 s before to 6 s after) | {} of {} |",
        r.kill_failed.0, r.kill_failed.1
    );
    println!(
        "| failed requests from 2 s after the kill | {} |",
        r.kill_failed_after_2s
    );
}
