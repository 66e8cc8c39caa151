//! Shared-KV latency: `Kv::get` and `Kv::set` one after another (a 100-byte value) on the
//! NATS JetStream backend of the bench's cluster and on the embedded store (redb, durable
//! writes), in the same run.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use wasmhub_cluster::NatsBackend;
use wasmhub_state::{EmbeddedBackend, Kv, KvBackend, KvLimits, StoreId};

use crate::Result;

/// Timed calls of each kind per backend (after [`WARMUP`] untimed ones).
const CALLS: usize = 1000;
const WARMUP: usize = 50;

/// One backend's figures, in microseconds.
pub struct Latency {
    /// Which backend.
    pub backend: &'static str,
    /// `get` p50 and p99.
    pub get: (f64, f64),
    /// `set` p50 and p99.
    pub set: (f64, f64),
}

/// Measures NATS KV at `url` and the embedded store in `dir`.
pub async fn latencies(url: &str, dir: &Path) -> Result<Vec<Latency>> {
    let nats: Arc<dyn KvBackend> = Arc::new(NatsBackend::connect(url).await?);
    let _ = std::fs::remove_dir_all(dir);
    let embedded: Arc<dyn KvBackend> = Arc::new(EmbeddedBackend::open(dir, crate::APP)?);
    Ok(vec![
        measure("NATS JetStream KV (3 nodes, R3)", nats).await?,
        measure("embedded (redb, durable)", embedded).await?,
    ])
}

async fn measure(name: &'static str, backend: Arc<dyn KvBackend>) -> Result<Latency> {
    let kv = Kv::new(backend, KvLimits::default());
    let store = StoreId::new(crate::APP, "default");
    let value = vec![7u8; 100];
    let mut sets = Vec::with_capacity(CALLS);
    for i in 0..WARMUP + CALLS {
        let key = format!("k{}", i % 64);
        let at = Instant::now();
        kv.set(&store, &key, value.clone()).await?;
        if i >= WARMUP {
            sets.push(at.elapsed().as_secs_f64() * 1e6);
        }
    }
    let mut gets = Vec::with_capacity(CALLS);
    for i in 0..WARMUP + CALLS {
        let key = format!("k{}", i % 64);
        let at = Instant::now();
        let got = kv.get(&store, &key).await?;
        if i >= WARMUP {
            gets.push(at.elapsed().as_secs_f64() * 1e6);
        }
        if got.as_deref() != Some(&value[..]) {
            return Err(format!("{name}: get of {key} did not return what was set").into());
        }
    }
    Ok(Latency {
        backend: name,
        get: p50_p99(&mut gets),
        set: p50_p99(&mut sets),
    })
}

/// The 50th and 99th percentiles of `v` (sorted in place).
pub fn p50_p99(v: &mut [f64]) -> (f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| v[((v.len() as f64 * q) as usize).min(v.len() - 1)];
    (at(0.50), at(0.99))
}
