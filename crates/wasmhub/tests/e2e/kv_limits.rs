//! Store limits at their edges: exactly at the limit passes, one more fails with a message
//! naming the store, the limit and the value asked; and the per-request operation budget.

use test_programs_artifacts::KV_HTTP;

use super::harness::Hub;
use super::kv::{at, component, get, post, write_manifest};
use super::server::Served;

/// Asserts that `answer` is a 500 `other:` error naming store `label` of app `limits` and
/// each of `figures`.
fn refused(answer: (u16, String), label: &str, figures: &[&str]) {
    let (status, body) = answer;
    assert_eq!(status, 500, "{body}");
    assert!(body.starts_with("other: "), "{body}");
    assert!(body.contains(&format!("store \"{label}\"")), "{body}");
    assert!(body.contains("app \"limits\""), "{body}");
    for f in figures {
        assert!(body.contains(f), "{f:?} in {body}");
    }
}

fn served(hub: &Hub) -> Served {
    let app = format!(
        r#"[app]
name = "limits"
{}
[component.kv.budget]
kv-ops = 20
{}
[keyvalue.keys]
keys = 3

[keyvalue.bytes]
size = "100B"

[keyvalue.ksize]
key-size = "8B"

[keyvalue.vsize]
value-size = "16B"
"#,
        component(
            "kv",
            KV_HTTP,
            r#"keyvalue = ["keys", "bytes", "ksize", "vsize", "default"]"#
        ),
        component("other", KV_HTTP, r#"keyvalue = ["default"]"#),
    );
    Served::start(hub, &[&write_manifest(hub, "limits", &app)])
}

#[test]
fn keys_per_store_at_the_edge() {
    let hub = Hub::new();
    let s = served(&hub);
    for k in ["k0", "k1", "k2"] {
        assert_eq!(post(&s, &at("/kv", "set", "keys", k), b"v").0, 200, "{k}");
    }
    refused(
        post(&s, &at("/kv", "set", "keys", "k3"), b"v"),
        "keys",
        &["would hold 4 keys, past its limit of 3"],
    );
    assert_eq!(
        get(&s, &at("/kv", "exists", "keys", "k3")),
        (200, "false".into())
    );
    // Overwriting a key adds none; freeing one makes room.
    assert_eq!(post(&s, &at("/kv", "set", "keys", "k0"), b"w").0, 200);
    refused(
        get(&s, &at("/kv", "incr", "keys", "n")),
        "keys",
        &["would hold 4 keys, past its limit of 3"],
    );
    assert_eq!(get(&s, &at("/kv", "delete", "keys", "k1")).0, 200);
    assert_eq!(get(&s, &at("/kv", "incr", "keys", "n")), (200, "1".into()));
    // A batch that would pass the limit writes nothing of it.
    refused(
        get(&s, "/kv/batch-set?store=keys&n=2&prefix=b"),
        "keys",
        &["would hold 5 keys, past its limit of 3"],
    );
    assert_eq!(
        get(&s, &at("/kv", "exists", "keys", "b0")),
        (200, "false".into())
    );
}

#[test]
fn bytes_per_store_at_the_edge() {
    let hub = Hub::new();
    let s = served(&hub);
    // Keys count with their values: 1 + 99 = 100 bytes, exactly the limit.
    assert_eq!(
        post(&s, &at("/kv", "set", "bytes", "a"), &[b'v'; 99]).0,
        200
    );
    refused(
        post(&s, &at("/kv", "set", "bytes", "b"), b""),
        "bytes",
        &["would hold 101 bytes, past its limit of 100"],
    );
    assert_eq!(
        get(&s, &at("/kv", "exists", "bytes", "b")),
        (200, "false".into())
    );
    // Shrinking `a` by one byte makes room for the one-byte key `b`.
    assert_eq!(
        post(&s, &at("/kv", "set", "bytes", "a"), &[b'v'; 98]).0,
        200
    );
    assert_eq!(post(&s, &at("/kv", "set", "bytes", "b"), b"").0, 200);
    refused(
        post(&s, &at("/kv", "set", "bytes", "a"), &[b'v'; 99]),
        "bytes",
        &["would hold 101 bytes, past its limit of 100"],
    );
}

#[test]
fn key_and_value_sizes_at_the_edge() {
    let hub = Hub::new();
    let s = served(&hub);
    assert_eq!(
        post(&s, &at("/kv", "set", "ksize", "12345678"), b"v").0,
        200
    );
    refused(
        post(&s, &at("/kv", "set", "ksize", "123456789"), b"v"),
        "ksize",
        &["9 bytes", "8 bytes"],
    );
    refused(
        get(&s, &at("/kv", "incr", "ksize", "123456789")),
        "ksize",
        &["9 bytes", "8 bytes"],
    );

    assert_eq!(post(&s, &at("/kv", "set", "vsize", "v"), &[7; 16]).0, 200);
    refused(
        post(&s, &at("/kv", "set", "vsize", "v"), &[7; 17]),
        "vsize",
        &["value of 17 bytes is larger than the limit of 16 bytes"],
    );
    assert_eq!(
        s.get(&at("/kv", "get", "vsize", "v")).body,
        vec![7; 16],
        "unchanged"
    );
}

#[test]
fn default_key_and_value_sizes_at_the_edge() {
    let hub = Hub::new();
    let s = served(&hub);
    let key = "k".repeat(1024);
    assert_eq!(post(&s, &at("/other", "set", "default", &key), b"v").0, 200);
    refused(
        post(
            &s,
            &at("/other", "set", "default", &format!("{key}k")),
            b"v",
        ),
        "default",
        &["1025 bytes", "1024 bytes"],
    );
    let mib = vec![1u8; 1 << 20];
    assert_eq!(
        post(&s, &at("/other", "set", "default", "big"), &mib).0,
        200
    );
    let mut more = mib.clone();
    more.push(1);
    refused(
        post(&s, &at("/other", "set", "default", "big"), &more),
        "default",
        &["1048577 bytes", "1048576 bytes"],
    );
}

#[test]
fn operations_per_request_at_the_edge() {
    let hub = Hub::new();
    let s = served(&hub);
    // kv-ops = 20 for `kv`: `open` and 19 calls make 20 and pass, one more fails; the
    // budget is per request.
    for _ in 0..2 {
        let at_limit = get(&s, "/kv/exists-n?store=default&n=19");
        assert_eq!(at_limit, (200, "ok".into()));
    }
    let (status, body) = get(&s, "/kv/exists-n?store=default&n=20");
    assert_eq!(status, 500, "{body}");
    let message = "would make 21 key-value operations, past its limit of 20";
    assert!(body.contains(message), "{body}");
    assert!(body.contains("kv-ops"), "names the budget: {body}");
    // A batch counts one operation per key.
    let at_limit = get(&s, "/kv/batch-set?store=default&n=19");
    assert_eq!(at_limit, (200, "ok".into()));
    let (status, body) = get(&s, "/kv/batch-set?store=default&n=20");
    assert!(status == 500 && body.contains(message), "{body}");
    // The default budget (10,000) of the other component is far away.
    assert_eq!(
        get(&s, "/other/exists-n?store=default&n=20"),
        (200, "ok".into())
    );
}
