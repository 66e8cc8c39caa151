//! Deploys on a 3-node cluster: revisions count up, code is uploaded once, a deploy that
//! read a revision another deploy has since replaced writes nothing, and a blob that does
//! not hash to its name is refused, naming the component.

use std::collections::BTreeMap;

use async_nats::jetstream;
use wasmhub_cluster::blobs::{self, BlobError};
use wasmhub_cluster::deploy::{self, Code, DeployError};
use wasmhub_cluster::testing::{NatsCluster, replace_object};

const MANIFEST: &str =
    "[app]\nname = \"shop\"\n\n[component.web]\nsource = \"web.wasm\"\nroute = \"/...\"\n";

fn code(bytes: &[u8]) -> Vec<Code> {
    vec![Code {
        component: "web".into(),
        sha256: blobs::sha256_hex(bytes),
        bytes: bytes.to_vec(),
    }]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revisions_count_up_and_a_stale_deploy_writes_nothing() {
    let cluster = NatsCluster::start().await.unwrap();
    let client = async_nats::connect(cluster.node_url(0)).await.unwrap();
    let first = deploy::deploy(&client, "shop", MANIFEST, code(b"v1"))
        .await
        .unwrap();
    assert_eq!(first.desired.revision, 1);
    assert_eq!(first.uploaded, ["web"]);
    let js = jetstream::new(client.clone());
    let kv = deploy::bucket(&js, None).await.unwrap();
    let stale = deploy::current(&kv, "shop").await.unwrap();
    let second = deploy::deploy(&client, "shop", MANIFEST, code(b"v1"))
        .await
        .unwrap();
    assert_eq!(second.desired.revision, 2);
    assert!(second.uploaded.is_empty(), "the code was already there");
    // A deploy that read revision 1 loses to the one that wrote revision 2.
    let pins = BTreeMap::from([("web".to_owned(), blobs::sha256_hex(b"v1"))]);
    let lost = deploy::write_next(&kv, "shop", MANIFEST, pins, stale).await;
    assert!(
        matches!(lost, Err(DeployError::Conflict { after: 1, .. })),
        "{lost:?}"
    );
    let (_, now) = deploy::current(&kv, "shop").await.unwrap().unwrap();
    assert_eq!(now.revision, 2, "the losing deploy wrote nothing");
    assert_eq!(deploy::apps(&js).await.unwrap(), [("shop".to_owned(), 2)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blob_that_does_not_hash_to_its_name_is_refused() {
    let cluster = NatsCluster::start().await.unwrap();
    let client = async_nats::connect(cluster.node_url(0)).await.unwrap();
    deploy::deploy(&client, "shop", MANIFEST, code(b"real code"))
        .await
        .unwrap();
    let sha = blobs::sha256_hex(b"real code");
    let js = jetstream::new(client.clone());
    let store = blobs::open(&js, 1).await.unwrap();
    assert_eq!(
        blobs::fetch_verified(&store, "web", &sha).await.unwrap(),
        b"real code"
    );
    replace_object(&cluster.node_url(0), blobs::STORE, &sha, b"other code")
        .await
        .unwrap();
    let refused = blobs::fetch_verified(&store, "web", &sha).await;
    let Err(e @ BlobError::Tampered { .. }) = refused else {
        panic!("tampered code must be refused: {refused:?}");
    };
    let text = e.to_string();
    assert!(
        text.contains("component \"web\"") && text.contains(&sha),
        "{text}"
    );
}
