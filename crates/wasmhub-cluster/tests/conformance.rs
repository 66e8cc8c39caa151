//! The backend-neutral key-value suite against NatsBackend on a real 3-node NATS cluster.

use std::sync::Arc;

use wasmhub_cluster::NatsBackend;
use wasmhub_cluster::testing::NatsCluster;
use wasmhub_state::KvBackend;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nats_backend_conforms_on_a_three_node_cluster() {
    let cluster = NatsCluster::start().await.unwrap();
    let info = NatsBackend::connect(&cluster.url()).await.unwrap().info();
    assert_eq!((info.kind, info.durable), ("nats", true));
    assert!(info.location.contains("127.0.0.1"), "{info:?}");
    // Each check wants a fresh backend, as a new process would see it on an empty cluster
    // (the suite writes to one app): the buckets of the check before are deleted first.
    let fresh = || {
        tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(async {
                cluster.wipe().await.unwrap();
                Arc::new(NatsBackend::connect(&cluster.url()).await.unwrap()) as Arc<dyn KvBackend>
            })
        })
    };
    tokio::time::timeout(
        std::time::Duration::from_secs(600),
        wasmhub_state::conformance::run_all(fresh),
    )
    .await
    .expect("the suite finishes within 10 minutes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buckets_have_three_replicas_on_a_three_node_cluster_and_one_per_store() {
    let cluster = NatsCluster::start().await.unwrap();
    let b = NatsBackend::connect(&cluster.node_url(0)).await.unwrap();
    let q = wasmhub_state::KvLimits::default().quota();
    for label in ["default", "sessions"] {
        let s = wasmhub_state::StoreId::new("shop", label);
        b.put(&s, "k", b"v".to_vec(), wasmhub_state::Condition::Always, q)
            .await
            .unwrap();
    }
    let js = async_nats::jetstream::new(async_nats::connect(cluster.node_url(1)).await.unwrap());
    for label in ["default", "sessions"] {
        let name = format!("KV_{}", wasmhub_cluster::names::bucket("shop", label));
        let mut stream = js.get_stream(&name).await.unwrap();
        let info = stream.info().await.unwrap();
        assert_eq!(info.config.num_replicas, 3, "{name}");
        assert!(
            !info.config.allow_direct,
            "{name}: reads go through the leader"
        );
    }
}

#[tokio::test]
async fn a_missing_nats_server_names_the_setup_step() {
    let missing = std::env::temp_dir().join("no-such-dir/nats-server");
    let err = NatsCluster::start_with(missing)
        .await
        .err()
        .expect("no cluster without a binary")
        .to_string();
    assert!(
        err.contains("no-such-dir/nats-server") && err.contains("cargo xtask setup"),
        "{err}"
    );
}
