//! Losing a NATS node under write load loses no acknowledged key-value write.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use wasmhub_cluster::testing::NatsCluster;
use wasmhub_cluster::{NatsBackend, names};
use wasmhub_state::{Kv, KvLimits, StoreId};

const WRITERS: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_the_leader_node_loses_no_acknowledged_increment() {
    let mut cluster = NatsCluster::start().await.unwrap();
    let backend = Arc::new(NatsBackend::connect(&cluster.url()).await.unwrap());
    let kv = Kv::new(backend, KvLimits::default());
    let store = StoreId::new("shop", "default");
    kv.increment(&store, "hits", 0).await.unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(AtomicU64::new(0));
    let mut writers = tokio::task::JoinSet::new();
    for _ in 0..WRITERS {
        let (kv, store, stop, acked) = (kv.clone(), store.clone(), stop.clone(), acked.clone());
        writers.spawn(async move {
            let (mut seen, mut failed) = (Vec::new(), 0u64);
            while !stop.load(Ordering::Relaxed) {
                match kv.increment(&store, "hits", 1).await {
                    Ok(v) => {
                        seen.push(v);
                        acked.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        let msg = e.to_string();
                        assert!(
                            msg.contains("NATS server"),
                            "a failure names the server: {msg}"
                        );
                        failed += 1;
                    }
                }
            }
            (seen, failed)
        });
    }
    let wait_for = |n: u64| {
        let acked = acked.clone();
        async move {
            tokio::time::timeout(Duration::from_secs(120), async {
                while acked.load(Ordering::Relaxed) < n {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
            .await
            .unwrap_or_else(|_| panic!("{n} increments acknowledged within 120 s"))
        }
    };
    wait_for(100).await;
    // The node leading the counter's bucket: its loss forces an election mid-write.
    let stream = format!("KV_{}", names::bucket(&store.app, &store.label));
    let leader = cluster
        .leader_of(&stream)
        .await
        .expect("the bucket's stream has a leader");
    cluster.kill(leader);
    let at_kill = acked.load(Ordering::Relaxed);
    wait_for(at_kill + 100).await;
    stop.store(true, Ordering::Relaxed);

    let (mut all, mut failed) = (BTreeSet::new(), 0);
    while let Some(r) = writers.join_next().await {
        let (seen, f) = r.unwrap();
        failed += f;
        for v in seen {
            assert!(all.insert(v), "two increments both returned {v}");
        }
    }
    let counter = i64::from_le_bytes(
        kv.get(&store, "hits")
            .await
            .unwrap()
            .unwrap()
            .try_into()
            .unwrap(),
    );
    let acked = all.len() as i64;
    assert!(
        counter >= acked && counter <= acked + failed as i64,
        "counter {counter}: every one of {acked} acknowledged increments is kept, \
         and at most the {failed} failed ones (unknown outcome) besides"
    );
    assert!(
        all.iter().all(|v| *v <= counter),
        "no acknowledged value is past the counter"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_while_nats_is_down_fails_in_bounded_time_naming_the_server() {
    let mut cluster = NatsCluster::start().await.unwrap();
    let url = cluster.url();
    let kv = Kv::new(
        Arc::new(NatsBackend::connect(&url).await.unwrap()),
        KvLimits::default(),
    );
    let store = StoreId::new("shop", "default");
    kv.set(&store, "k", b"v".to_vec()).await.unwrap();
    for i in 0..3 {
        cluster.kill(i);
    }
    let started = std::time::Instant::now();
    let err = tokio::time::timeout(Duration::from_secs(90), kv.get(&store, "k"))
        .await
        .expect("the call ends on its own, well within 90 s")
        .unwrap_err();
    assert!(
        err.to_string().contains(&url),
        "the error names the server: {err}"
    );
    assert!(started.elapsed() < Duration::from_secs(60));
    // Back up: the client reconnects by itself and the data is there.
    for i in 0..3 {
        cluster.restart(i).unwrap();
    }
    let value = tokio::time::timeout(Duration::from_secs(120), async {
        loop {
            if let Ok(v) = kv.get(&store, "k").await {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .expect("reads work again within 120 s of the restart");
    assert_eq!(value, Some(b"v".to_vec()));
}
