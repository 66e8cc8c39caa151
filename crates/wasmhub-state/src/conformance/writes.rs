//! Revisions, conditional writes, sizes, quotas and batches.

use std::sync::Arc;

use super::{assert_usage_matches, kv, store};
use crate::backend::{BackendError, BatchOp, Condition, KvBackend, StoreQuota, Usage, Written};
use crate::limits::KvLimits;
use crate::ops::{Kv, KvError};

pub(super) async fn revisions_increase_and_are_never_reused(b: Arc<dyn KvBackend>) {
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

pub(super) async fn conditional_writes(b: Arc<dyn KvBackend>) {
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

pub(super) async fn sizes_at_the_edge(b: Arc<dyn KvBackend>) {
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

pub(super) async fn quotas_at_the_edge(b: Arc<dyn KvBackend>) {
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

pub(super) async fn batches(b: Arc<dyn KvBackend>) {
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
    let tight = StoreQuota {
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

pub(super) fn done(w: Written) -> u64 {
    match w {
        Written::Done(Some(r)) => r,
        other => panic!("expected a write with a revision, got {other:?}"),
    }
}
