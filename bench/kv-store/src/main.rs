//! The embedded store called directly from the host: the baseline a guest's `get` and
//! `set` are compared with.
//!
//! Usage: `kv-store DATA_DIR` prints every row; `kv-store DATA_DIR set CONCURRENCY SECONDS`
//! runs only the durable-set load (for `strace -c` to count its fsyncs). Rows are printed
//! as `row<TAB>name<TAB>value<TAB>unit` for `cargo xtask bench kv` to tabulate.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use wasmhub_state::{EmbeddedBackend, Kv, KvLimits, StoreId};

const GETS: u32 = 200_000;
const FSYNCS: u32 = 200;
const SET_SECONDS: f64 = 3.0;

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

fn main() -> Result {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    match args.as_slice() {
        [dir] => rt.block_on(all(Path::new(dir))),
        [dir, set, c, s] if set == "set" => {
            let (c, s) = (c.parse()?, s.parse()?);
            let (writes, commits) = rt.block_on(set_load(&fresh(Path::new(dir), "set")?, c, s))?;
            println!("writes {writes} commits {commits}");
            Ok(())
        }
        _ => Err("usage: kv-store DATA_DIR [set CONCURRENCY SECONDS]".into()),
    }
}

fn row(name: &str, value: f64, unit: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "row\t{name}\t{value}\t{unit}");
    let _ = out.flush();
}

/// A data dir of its own for `name`, emptied first.
fn fresh(dir: &Path, name: &str) -> Result<PathBuf> {
    let dir = dir.join(name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    Ok(dir)
}

fn store() -> StoreId {
    StoreId::new("bench", "default")
}

async fn all(dir: &Path) -> Result {
    row(
        "fsync of a 4 KiB write (median)",
        fsync_ms(&fresh(dir, "fsync")?)?,
        "ms",
    );
    let backend = Arc::new(EmbeddedBackend::open(&fresh(dir, "get")?, "bench")?);
    let kv = Kv::new(backend, KvLimits::default());
    kv.set(&store(), "key", vec![7; 100]).await?;
    let start = Instant::now();
    for _ in 0..GETS {
        std::hint::black_box(kv.get(&store(), "key").await?);
    }
    let ns = start.elapsed().as_nanos() as f64 / f64::from(GETS);
    row(
        "Kv::get, 100-byte value, direct (baseline)",
        ns / 1000.0,
        "us/op",
    );
    for c in [1, 16, 256] {
        let (writes, commits) = set_load(&fresh(dir, "set")?, c, SET_SECONDS).await?;
        row(
            &format!("Kv::set durable, {c} writers"),
            writes as f64 / SET_SECONDS,
            "writes/s",
        );
        row(
            &format!("commits per acknowledged write, {c} writers"),
            commits as f64 / writes.max(1) as f64,
            "commits/write",
        );
    }
    Ok(())
}

/// `concurrency` tasks setting distinct keys for `seconds`: acknowledged writes, commits.
async fn set_load(dir: &Path, concurrency: usize, seconds: f64) -> Result<(u64, u64)> {
    let backend = Arc::new(EmbeddedBackend::open(dir, "bench")?);
    let kv = Kv::new(backend.clone(), KvLimits::default());
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(AtomicU64::new(0));
    let commits_before = backend.commits();
    let mut tasks = Vec::new();
    for t in 0..concurrency {
        let (kv, stop, acked) = (kv.clone(), stop.clone(), acked.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // A bounded key space, so the store stays within its default quota.
                let key = format!("t{t}-{}", i % 64);
                kv.set(&store(), &key, vec![1; 64])
                    .await
                    .expect("durable set");
                acked.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let writes = acked.load(Ordering::Relaxed);
    let commits = backend.commits() - commits_before;
    for t in tasks {
        t.await?;
    }
    Ok((writes, commits))
}

/// The median time of writing 4 KiB at the end of a file and `fsync`ing it.
fn fsync_ms(dir: &Path) -> Result<f64> {
    std::fs::create_dir_all(dir)?;
    let mut file = std::fs::File::create(dir.join("probe"))?;
    let mut times = Vec::new();
    for _ in 0..FSYNCS {
        file.write_all(&[0u8; 4096])?;
        let start = Instant::now();
        file.sync_all()?;
        times.push(start.elapsed());
    }
    times.sort();
    Ok(times[times.len() / 2].as_secs_f64() * 1000.0)
}
