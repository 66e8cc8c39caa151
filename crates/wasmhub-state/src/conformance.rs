//! The semantics every [`KvBackend`] keeps, as one suite any backend's tests can run:
//! `conformance::run_all(|| Arc::new(MyBackend::new()) as _).await`.
//!
//! Each check takes a fresh backend from `make` and writes to app [`APP`] only. Failures
//! panic with the rule that was broken.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::backend::{BackendError, BatchOp, Condition, KvBackend, StoreId, Usage, Written};
use crate::limits::KvLimits;
use crate::ops::{Kv, KvError, PAGE_KEYS};

/// The app every check writes to.
pub const APP: &str = "conformance";

/// Runs every check, each on a fresh backend from `make`.
pub async fn run_all(make: impl Fn() -> Arc<dyn KvBackend>) {
    revisions_increase_and_are_never_reused(make()).await;
    conditional_writes(make()).await;
    sizes_at_the_edge(make()).await;
    quotas_at_the_edge(make()).await;
    increment_rules(make()).await;
    concurrent_increments_lose_nothing(make()).await;
    swap_races_have_one_winner(make()).await;
    list_pages_are_stable_under_writes(make()).await;
    batches(make()).await;
    odd_labels_and_keys(make()).await;
    export_then_import(make()).await;
}

fn store(label: &str) -> StoreId {
    StoreId::new(APP, label)
}

fn kv(backend: &Arc<dyn KvBackend>) -> Kv {
    Kv::new(backend.clone(), KvLimits::default())
}

/// The usage of `store` counted through `list` and `get`, to compare with `usage`.
pub async fn recount(backend: &Arc<dyn KvBackend>, store: &StoreId) -> Usage {
    let mut usage = Usage::default();
    let mut after: Option<String> = None;
    loop {
        let page = backend.list(store, after.as_deref(), 500).await.unwrap();
        for key in &page.keys {
            if let Some(e) = backend.get(store, key).await.unwrap() {
                usage.keys += 1;
                usage.bytes += (key.len() + e.value.len()) as u64;
            }
        }
        match page.next {
            Some(n) => after = Some(n),
            None => return usage,
        }
    }
}

async fn assert_usage_matches(backend: &Arc<dyn KvBackend>, store: &StoreId) {
    let recorded = backend.usage(store).await.unwrap();
    assert_eq!(
        recorded,
        recount(backend, store).await,
        "usage of {store} equals a recount"
    );
}

fn done(w: Written) -> u64 {
    match w {
        Written::Done(Some(r)) => r,
        other => panic!("expected a write with a revision, got {other:?}"),
    }
}

async fn revisions_increase_and_are_never_reused(b: Arc<dyn KvBackend>) {
    let s = store("revisions");
    let q = KvLimits::default().quota();
    let r1 = done(
        b.put(&s, "a", b"1".to_vec(), Condition::Always, q)
            .await
            .unwrap(),
    );
    let r2 = done(
        b.put(&s, "a", b"2".to_vec(), Condition::Always, q)
            .await
            .unwrap(),
    );
    assert!(r2 > r1, "a rewrite gets a higher revision ({r1} then {r2})");
    assert_eq!(b.get(&s, "a").await.unwrap().unwrap().revision, r2);
    assert_eq!(
        b.delete(&s, "a", Condition::Always).await.unwrap(),
        Written::Done(Some(r2)),
        "a delete reports the revision it removed"
    );
    assert_eq!(b.get(&s, "a").await.unwrap(), None);
    let r3 = done(
        b.put(&s, "a", b"1".to_vec(), Condition::Always, q)
            .await
            .unwrap(),
    );
    assert!(
        r3 > r2,
        "a key deleted and written again gets a new revision"
    );
    let r4 = done(
        b.put(&s, "b", b"1".to_vec(), Condition::Always, q)
            .await
            .unwrap(),
    );
    assert!(r4 > r3, "revisions increase across keys of a store");
    assert_eq!(
        b.delete(&s, "missing", Condition::Always).await.unwrap(),
        Written::Done(None)
    );
    assert_usage_matches(&b, &s).await;
}

async fn conditional_writes(b: Arc<dyn KvBackend>) {
    let s = store("conditions");
    let q = KvLimits::default().quota();
    let r1 = done(
        b.put(&s, "k", b"v1".to_vec(), Condition::Absent, q)
            .await
            .unwrap(),
    );
    assert_eq!(
        b.put(&s, "k", b"x".to_vec(), Condition::Absent, q)
            .await
            .unwrap(),
        Written::Conflict(Some(r1)),
        "absent on a present key conflicts"
    );
    let r2 = done(
        b.put(&s, "k", b"v2".to_vec(), Condition::Revision(r1), q)
            .await
            .unwrap(),
    );
    assert_eq!(
        b.put(&s, "k", b"x".to_vec(), Condition::Revision(r1), q)
            .await
            .unwrap(),
        Written::Conflict(Some(r2)),
        "a stale revision conflicts"
    );
    assert_eq!(
        b.put(&s, "none", b"x".to_vec(), Condition::Revision(r2), q)
            .await
            .unwrap(),
        Written::Conflict(None),
        "a revision on an absent key conflicts"
    );
    assert_eq!(b.get(&s, "none").await.unwrap(), None);
    assert_eq!(
        b.delete(&s, "k", Condition::Revision(r1)).await.unwrap(),
        Written::Conflict(Some(r2))
    );
    assert_eq!(b.get(&s, "k").await.unwrap().unwrap().value, b"v2");
    assert_eq!(
        b.delete(&s, "k", Condition::Revision(r2)).await.unwrap(),
        Written::Done(Some(r2))
    );
    assert_eq!(
        b.delete(&s, "k", Condition::Revision(r2)).await.unwrap(),
        Written::Conflict(None)
    );
    assert_usage_matches(&b, &s).await;
}

async fn sizes_at_the_edge(b: Arc<dyn KvBackend>) {
    let s = store("sizes");
    let limits = KvLimits {
        max_key_bytes: 8,
        max_value_bytes: 16,
        ..KvLimits::default()
    };
    let kv = Kv::new(b.clone(), limits);
    kv.set(&s, &"k".repeat(8), vec![1; 16])
        .await
        .expect("exactly at both limits passes");
    let err = kv.set(&s, &"k".repeat(9), vec![1]).await.unwrap_err();
    assert!(
        matches!(
            err,
            KvError::KeyTooLong {
                limit: 8,
                asked: 9,
                ..
            }
        ),
        "{err}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("\"sizes\"") && msg.contains("9 bytes") && msg.contains("limit of 8"),
        "{msg}"
    );
    let err = kv.set(&s, "v", vec![1; 17]).await.unwrap_err();
    assert!(
        matches!(
            err,
            KvError::ValueTooLarge {
                limit: 16,
                asked: 17,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("17 bytes") && err.to_string().contains("limit of 16"));
    assert_eq!(
        kv.get(&s, "v").await.unwrap(),
        None,
        "a refused value writes nothing"
    );
    let err = kv.swap(&s, "v", None, vec![1; 17]).await.unwrap_err();
    assert!(matches!(err, KvError::ValueTooLarge { .. }), "{err}");
    let err = kv
        .set_many(&s, vec![("ok".into(), vec![1]), ("v".into(), vec![1; 17])])
        .await
        .unwrap_err();
    assert!(matches!(err, KvError::ValueTooLarge { .. }), "{err}");
    assert_eq!(
        kv.get(&s, "ok").await.unwrap(),
        None,
        "every size is checked first"
    );
    let long = "k".repeat(1024 * 1024);
    for err in [
        kv.get(&s, &long).await.unwrap_err(),
        kv.delete(&s, &long).await.unwrap_err(),
        kv.exists(&s, &long).await.unwrap_err(),
        kv.increment(&s, &long, 1).await.unwrap_err(),
    ] {
        assert!(
            matches!(err, KvError::KeyTooLong { .. }),
            "a 1 MB key is refused: {err}"
        );
    }
    assert_usage_matches(&b, &s).await;
}

async fn quotas_at_the_edge(b: Arc<dyn KvBackend>) {
    let s = store("quotas");
    let limits = KvLimits {
        max_keys: 3,
        max_bytes: 30,
        ..KvLimits::default()
    };
    let kv = Kv::new(b.clone(), limits);
    for key in ["a", "b", "c"] {
        kv.set(&s, key, vec![0; 4]).await.unwrap();
    }
    let before = b.usage(&s).await.unwrap();
    assert_eq!(before, Usage { keys: 3, bytes: 15 });
    let err = kv.set(&s, "d", vec![]).await.unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(
            &err,
            KvError::Backend(BackendError::Quota {
                what: "keys",
                limit: 3,
                asked: 4,
                ..
            })
        ),
        "{msg}"
    );
    assert!(
        msg.contains("\"quotas\"") && msg.contains("4 keys") && msg.contains("limit of 3"),
        "{msg}"
    );
    assert_eq!(
        kv.get(&s, "d").await.unwrap(),
        None,
        "a refused write writes nothing"
    );
    assert_eq!(b.usage(&s).await.unwrap(), before);
    // Bytes: 15 used; "a" grows from 1+4 to 1+19 (30 in all): exactly at the limit.
    kv.set(&s, "a", vec![1; 19])
        .await
        .expect("exactly at the byte limit passes");
    let err = kv.set(&s, "a", vec![2; 20]).await.unwrap_err();
    assert!(
        matches!(
            &err,
            KvError::Backend(BackendError::Quota {
                what: "bytes",
                limit: 30,
                asked: 31,
                ..
            })
        ),
        "{err}"
    );
    assert_eq!(
        kv.get(&s, "a").await.unwrap(),
        Some(vec![1; 19]),
        "the old value stays"
    );
    // A batch past the quota writes none of its operations.
    let err = kv
        .set_many(&s, vec![("b".into(), vec![]), ("e".into(), vec![])])
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            KvError::Backend(BackendError::Quota { what: "keys", .. })
        ),
        "{err}"
    );
    assert_eq!(kv.get(&s, "b").await.unwrap(), Some(vec![0; 4]));
    // Deleting frees room; a counter needs 8 bytes plus its key.
    kv.delete(&s, "c").await.unwrap();
    kv.set(&s, "a", vec![1; 4]).await.unwrap();
    kv.increment(&s, "n", 1).await.unwrap();
    let err = kv.increment(&s, "m", 1).await.unwrap_err();
    assert!(
        matches!(&err, KvError::Backend(BackendError::Quota { .. })),
        "{err}"
    );
    assert_usage_matches(&b, &s).await;
}

async fn increment_rules(b: Arc<dyn KvBackend>) {
    let s = store("counters");
    let kv = kv(&b);
    assert_eq!(
        kv.increment(&s, "n", 5).await.unwrap(),
        5,
        "a missing key starts at 0"
    );
    assert_eq!(kv.increment(&s, "n", -7).await.unwrap(), -2);
    assert_eq!(
        kv.get(&s, "n").await.unwrap(),
        Some((-2i64).to_le_bytes().to_vec())
    );

    kv.set(&s, "text", b"abc".to_vec()).await.unwrap();
    let rev = b.get(&s, "text").await.unwrap().unwrap().revision;
    let err = kv.increment(&s, "text", 1).await.unwrap_err();
    assert!(matches!(&err, KvError::NotACounter { len: 3, .. }), "{err}");
    let after = b.get(&s, "text").await.unwrap().unwrap();
    assert_eq!(
        (after.value.as_slice(), after.revision),
        (&b"abc"[..], rev),
        "nothing written"
    );
    kv.set(&s, "empty", Vec::new()).await.unwrap();
    let err = kv.increment(&s, "empty", 1).await.unwrap_err();
    assert!(
        matches!(&err, KvError::NotACounter { len: 0, .. }),
        "an empty value is not 0: {err}"
    );

    for (start, delta) in [(i64::MAX, 1), (i64::MIN, -1), (1, i64::MAX)] {
        kv.set(&s, "edge", start.to_le_bytes().to_vec())
            .await
            .unwrap();
        let rev = b.get(&s, "edge").await.unwrap().unwrap().revision;
        let err = kv.increment(&s, "edge", delta).await.unwrap_err();
        assert!(
            matches!(&err, KvError::Overflow { current, .. } if *current == start),
            "{err}"
        );
        let e = b.get(&s, "edge").await.unwrap().unwrap();
        assert_eq!(
            (e.value, e.revision),
            (start.to_le_bytes().to_vec(), rev),
            "nothing written"
        );
    }
    assert_eq!(kv.increment(&s, "edge", -1).await.unwrap(), 0);
    assert_usage_matches(&b, &s).await;
}

async fn concurrent_increments_lose_nothing(b: Arc<dyn KvBackend>) {
    let s = store("race");
    let kv = kv(&b);
    const TASKS: i64 = 32;
    const EACH: i64 = 4;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..TASKS {
        let (kv, s) = (kv.clone(), s.clone());
        tasks.spawn(async move {
            let mut seen = Vec::new();
            for _ in 0..EACH {
                seen.push(kv.increment(&s, "hits", 1).await.unwrap());
            }
            seen
        });
    }
    let mut all = BTreeSet::new();
    while let Some(seen) = tasks.join_next().await {
        for v in seen.unwrap() {
            assert!(all.insert(v), "two increments both returned {v}");
        }
    }
    let total = TASKS * EACH;
    assert_eq!(
        all,
        (1..=total).collect(),
        "every increment saw its own value"
    );
    assert_eq!(
        kv.get(&s, "hits").await.unwrap(),
        Some(total.to_le_bytes().to_vec())
    );
}

async fn swap_races_have_one_winner(b: Arc<dyn KvBackend>) {
    let s = store("cas");
    let kv = kv(&b);
    // Both swaps from the same read, one after the other: the second loses.
    kv.set(&s, "k", b"A".to_vec()).await.unwrap();
    let seen = kv.read_for_swap(&s, "k").await.unwrap().unwrap();
    assert!(
        kv.swap(&s, "k", Some(seen.revision), b"B".to_vec())
            .await
            .unwrap()
    );
    assert!(
        !kv.swap(&s, "k", Some(seen.revision), b"C".to_vec())
            .await
            .unwrap()
    );
    assert_eq!(kv.get(&s, "k").await.unwrap(), Some(b"B".to_vec()));
    // Both at once: exactly one wins, whichever it is.
    let seen = kv.read_for_swap(&s, "k").await.unwrap().unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for value in [b"X", b"Y"] {
        let (kv, s) = (kv.clone(), s.clone());
        tasks.spawn(async move {
            (
                kv.swap(&s, "k", Some(seen.revision), value.to_vec())
                    .await
                    .unwrap(),
                value,
            )
        });
    }
    let mut winners = Vec::new();
    while let Some(r) = tasks.join_next().await {
        let (won, value) = r.unwrap();
        if won {
            winners.push(value.to_vec());
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "exactly one of two swaps from the same read wins"
    );
    assert_eq!(kv.get(&s, "k").await.unwrap(), Some(winners[0].clone()));
    // No ABA: the same value written back is a new revision.
    let seen = kv.read_for_swap(&s, "k").await.unwrap().unwrap();
    kv.set(&s, "k", b"other".to_vec()).await.unwrap();
    kv.set(&s, "k", seen.value.clone()).await.unwrap();
    assert!(
        !kv.swap(&s, "k", Some(seen.revision), b"Z".to_vec())
            .await
            .unwrap(),
        "CAS compares revisions, not values"
    );
    // From absent: the first creation wins.
    assert!(kv.swap(&s, "new", None, b"1".to_vec()).await.unwrap());
    assert!(!kv.swap(&s, "new", None, b"2".to_vec()).await.unwrap());
    // After a delete, a revision seen before it never matches again.
    let seen = kv.read_for_swap(&s, "new").await.unwrap().unwrap();
    kv.delete(&s, "new").await.unwrap();
    kv.set(&s, "new", b"1".to_vec()).await.unwrap();
    assert!(
        !kv.swap(&s, "new", Some(seen.revision), b"3".to_vec())
            .await
            .unwrap()
    );
}

async fn list_pages_are_stable_under_writes(b: Arc<dyn KvBackend>) {
    let s = store("paging");
    let kv = kv(&b);
    let (keys, next) = kv.list(&s, None).await.unwrap();
    assert!(
        keys.is_empty() && next.is_none(),
        "an empty store lists nothing"
    );
    let stable: Vec<String> = (0..PAGE_KEYS * 2 + 500)
        .map(|i| format!("s{i:05}"))
        .collect();
    for chunk in stable.chunks(500) {
        kv.set_many(&s, chunk.iter().map(|k| (k.clone(), vec![1])).collect())
            .await
            .unwrap();
    }
    let churn = |i: usize| format!("s{i:05}-churn");
    // Another writer inserts and deletes keys among the stable ones all along.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (kv, s, stop) = (kv.clone(), s.clone(), stop.clone());
        tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let key = format!("s{:05}-other", (i * 37) % 2500);
                kv.set(&s, &key, vec![3]).await.unwrap();
                if i % 2 == 0 {
                    kv.delete(&s, &key).await.unwrap();
                }
                i += 1;
                tokio::task::yield_now().await;
            }
        })
    };
    let mut listed = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let (keys, next) = kv.list(&s, cursor.as_deref()).await.unwrap();
        assert!(keys.len() <= PAGE_KEYS);
        pages += 1;
        listed.extend(keys);
        // Others write between pages: around the cursor, before it and after it.
        let at = listed.len();
        for i in [at.saturating_sub(1), at, at + 1, at + 700, 3] {
            kv.set(&s, &churn(i), vec![2]).await.unwrap();
        }
        kv.delete(&s, &churn(3)).await.unwrap();
        match next {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.await.unwrap();
    assert!(pages >= 3, "{} keys take several pages", stable.len());
    assert!(
        listed.windows(2).all(|w| w[0] < w[1]),
        "keys come ascending, each once"
    );
    let listed: BTreeSet<&str> = listed.iter().map(String::as_str).collect();
    for key in &stable {
        assert!(
            listed.contains(key.as_str()),
            "{key}, present throughout, is listed"
        );
    }
    let err = kv.list(&s, Some("not a cursor")).await.unwrap_err();
    assert!(matches!(err, KvError::BadCursor { .. }), "{err}");
    assert_usage_matches(&b, &s).await;
}

async fn batches(b: Arc<dyn KvBackend>) {
    let s = store("batch");
    let kv = kv(&b);
    kv.set(&s, "old", b"x".to_vec()).await.unwrap();
    kv.set_many(
        &s,
        vec![
            ("a".into(), b"1".to_vec()),
            ("b".into(), b"2".to_vec()),
            ("a".into(), b"3".to_vec()),
        ],
    )
    .await
    .unwrap();
    let got = kv
        .get_many(&s, vec!["a".into(), "missing".into(), "b".into()])
        .await
        .unwrap();
    assert_eq!(
        got,
        vec![
            Some(("a".into(), b"3".to_vec())),
            None,
            Some(("b".into(), b"2".to_vec()))
        ],
        "later operations of a batch win; absent keys are None"
    );
    kv.delete_many(&s, vec!["a".into(), "old".into(), "never".into()])
        .await
        .unwrap();
    assert_eq!(kv.list(&s, None).await.unwrap().0, vec!["b".to_string()]);
    let ops = vec![
        BatchOp::Delete { key: "b".into() },
        BatchOp::Put {
            key: "c".into(),
            value: vec![0; 10],
        },
    ];
    let tight = crate::backend::StoreQuota {
        max_keys: 1,
        max_bytes: 5,
    };
    let err = b.batch(&s, ops, tight).await.unwrap_err();
    assert!(
        matches!(err, BackendError::Quota { what: "bytes", .. }),
        "{err}"
    );
    if b.atomic_batches() {
        assert_eq!(
            kv.get(&s, "b").await.unwrap(),
            Some(b"2".to_vec()),
            "a refused batch writes nothing"
        );
    }
    assert_usage_matches(&b, &s).await;
}

async fn odd_labels_and_keys(b: Arc<dyn KvBackend>) {
    let kv = kv(&b);
    let labels = [
        "",
        "..",
        ".",
        "a/b",
        "/etc/passwd",
        "\0",
        "x\0y",
        "entries",
        "ü",
    ];
    let keys = ["", "..", "a/b", "\0", "a\0b", "ünï"];
    for (i, label) in labels.iter().enumerate() {
        let s = store(label);
        for key in keys {
            kv.set(&s, key, format!("{i}:{key}").into_bytes())
                .await
                .unwrap();
        }
    }
    for (i, label) in labels.iter().enumerate() {
        let s = store(label);
        for key in keys {
            assert_eq!(
                kv.get(&s, key).await.unwrap(),
                Some(format!("{i}:{key}").into_bytes()),
                "label {label:?} key {key:?} keeps its own value"
            );
        }
        let (mut listed, _) = kv.list(&s, None).await.unwrap();
        listed.sort();
        let mut want: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        want.sort();
        assert_eq!(listed, want, "label {label:?} lists only its own keys");
        assert_usage_matches(&b, &s).await;
    }
    let other = StoreId::new("another app", "");
    assert_eq!(
        b.get(&other, "").await.ok().flatten(),
        None,
        "apps do not share stores"
    );
    let mut stores = b.stores(APP).await.unwrap();
    stores.sort();
    let mut want: Vec<String> = labels.iter().map(|l| l.to_string()).collect();
    want.sort();
    assert_eq!(stores, want, "stores lists every label holding data");
    kv.delete_many(&store("a/b"), keys.iter().map(|k| k.to_string()).collect())
        .await
        .unwrap();
    assert!(
        !b.stores(APP).await.unwrap().contains(&"a/b".to_string()),
        "an emptied store is not listed"
    );
}

async fn export_then_import(b: Arc<dyn KvBackend>) {
    let kv = kv(&b);
    let (from, to) = (store("from"), store("to"));
    let pairs: Vec<(String, Vec<u8>)> = (0..600)
        .map(|i| (format!("k{i:04}"), vec![i as u8; i % 7]))
        .collect();
    kv.import(&from, pairs.clone()).await.unwrap();
    let exported = kv.export(&from).await.unwrap();
    assert_eq!(exported, pairs, "export returns every pair in key order");
    assert_eq!(kv.import(&to, exported).await.unwrap(), 600);
    assert_eq!(kv.export(&to).await.unwrap(), pairs);
    assert_usage_matches(&b, &to).await;
}
