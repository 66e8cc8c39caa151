//! Paged listing, odd labels and keys, export and import.

use std::sync::Arc;

use std::collections::BTreeSet;

use super::{APP, assert_usage_matches, kv, store};
use crate::backend::{KvBackend, StoreId};
use crate::ops::{KvError, PAGE_KEYS};

pub(super) async fn list_pages_are_stable_under_writes(b: Arc<dyn KvBackend>) {
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

pub(super) async fn odd_labels_and_keys(b: Arc<dyn KvBackend>) {
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

pub(super) async fn export_then_import(b: Arc<dyn KvBackend>) {
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
