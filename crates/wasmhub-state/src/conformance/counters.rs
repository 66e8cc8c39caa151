//! Increment and compare-and-swap, alone and under concurrency.

use std::sync::Arc;

use std::collections::BTreeSet;

use super::{assert_usage_matches, kv, store};
use crate::backend::KvBackend;
use crate::ops::KvError;

pub(super) async fn increment_rules(b: Arc<dyn KvBackend>) {
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

pub(super) async fn concurrent_increments_lose_nothing(b: Arc<dyn KvBackend>) {
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

pub(super) async fn swap_races_have_one_winner(b: Arc<dyn KvBackend>) {
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
