//! The embedded store's own rules: files, locks, restarts and group commit.

use std::os::unix::fs::PermissionsExt;
use std::sync::{Arc, Mutex};

use super::{EmbeddedBackend, OpenError};
use crate::backend::{Condition, KvBackend, StoreId, StoreQuota, Written};
use crate::limits::KvLimits;
use crate::ops::Kv;

const Q: StoreQuota = StoreQuota {
    max_keys: 100,
    max_bytes: 1000,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn embedded_backend_conforms() {
    let dirs = Mutex::new(Vec::new());
    crate::conformance::run_all(|| {
        let dir = tempfile::tempdir().unwrap();
        let backend = EmbeddedBackend::open(dir.path(), crate::conformance::APP).unwrap();
        dirs.lock().unwrap().push(dir);
        Arc::new(backend) as Arc<dyn KvBackend>
    })
    .await;
}

#[test]
fn a_second_open_of_the_same_app_is_refused_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let first = EmbeddedBackend::open(dir.path(), "shop").unwrap();
    let err = EmbeddedBackend::open(dir.path(), "shop")
        .err()
        .expect("refused");
    assert!(matches!(err, OpenError::InUse { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "the state of app \"shop\" ({}) is in use by another wasmhub process; stop it or use another --data-dir",
            first.path().display()
        )
    );
    EmbeddedBackend::open(dir.path(), "other").expect("another app's file is free");
    drop(first);
    EmbeddedBackend::open(dir.path(), "shop").expect("free again once closed");
}

#[tokio::test]
async fn revisions_and_usage_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let s = StoreId::new("app", "s");
    let (r1, usage) = {
        let b = EmbeddedBackend::open(dir.path(), "app").unwrap();
        let Written::Done(Some(r1)) = b
            .put(&s, "k", b"v".to_vec(), Condition::Always, Q)
            .await
            .unwrap()
        else {
            panic!("written")
        };
        b.delete(&s, "k", Condition::Always).await.unwrap();
        b.put(&s, "j", b"vv".to_vec(), Condition::Always, Q)
            .await
            .unwrap();
        (r1, b.usage(&s).await.unwrap())
    };
    let b = EmbeddedBackend::open(dir.path(), "app").unwrap();
    assert_eq!(b.usage(&s).await.unwrap(), usage);
    assert_eq!(b.recount(&s).unwrap(), usage);
    let Written::Done(Some(r2)) = b
        .put(&s, "k", b"v".to_vec(), Condition::Always, Q)
        .await
        .unwrap()
    else {
        panic!("written")
    };
    assert!(
        r2 > r1 + 1,
        "revisions continue after a restart ({r1} then {r2})"
    );
    assert_eq!(
        b.put(&s, "k", b"x".to_vec(), Condition::Revision(r1), Q)
            .await
            .unwrap(),
        Written::Conflict(Some(r2)),
        "a revision from before the restart does not match the recreated key"
    );
}

#[test]
fn the_folder_and_file_are_private_and_exposed_ones_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("new/data");
    let b = EmbeddedBackend::open(&data, "app").unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("kv")), 0o700);
    assert_eq!(mode(b.path()), 0o600);
    assert_eq!(b.info().location, b.path().display().to_string());
    assert!(b.info().durable);
    let path = b.path().to_path_buf();
    drop(b);

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = EmbeddedBackend::open(&data, "app")
        .err()
        .expect("refused")
        .to_string();
    assert!(
        err.contains(&format!("chmod 600 {}", path.display())),
        "{err}"
    );
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();

    let kv = data.join("kv");
    std::fs::set_permissions(&kv, std::fs::Permissions::from_mode(0o755)).unwrap();
    let err = EmbeddedBackend::open(&data, "app")
        .err()
        .expect("refused")
        .to_string();
    assert!(
        err.contains(&format!("chmod 700 {}", kv.display())),
        "{err}"
    );
}

#[test]
fn odd_app_names_stay_inside_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    for app in ["", ".", "..", "../escape", "a/b", "a\0b"] {
        let b = EmbeddedBackend::open(&data, app).unwrap();
        assert_eq!(b.path().parent().unwrap(), data.join("kv"), "{app:?}");
    }
    let names: Vec<_> = std::fs::read_dir(data.join("kv")).unwrap().collect();
    assert_eq!(names.len(), 6, "one distinct file per app");
    assert!(!dir.path().join("escape").exists());
}

#[tokio::test]
async fn one_app_per_file() {
    let dir = tempfile::tempdir().unwrap();
    let b = EmbeddedBackend::open(dir.path(), "app").unwrap();
    let err = b
        .get(&StoreId::new("other", "s"), "k")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("holds app \"app\", not \"other\""), "{err}");
}

/// Writes queued together commit in one transaction; a refused one fails alone.
#[tokio::test]
async fn a_group_commits_once_and_refusals_fail_alone() {
    use super::writer::{self, Counters, Op, Request};
    let dir = tempfile::tempdir().unwrap();
    let b = EmbeddedBackend::open(dir.path(), "app").unwrap();
    let s = StoreId::new("app", "s");
    let (tx, rx) = std::sync::mpsc::channel();
    let mut replies = Vec::new();
    let put = |key: &str, len, condition| Op::Put {
        key: key.into(),
        value: vec![0; len],
        condition,
        quota: StoreQuota {
            max_keys: 10,
            max_bytes: 20,
        },
    };
    let ops = [
        put("a", 1, Condition::Always),
        put("a", 1, Condition::Absent),
        put("big", 30, Condition::Always),
        put("b", 1, Condition::Absent),
        Op::Delete {
            key: "a".into(),
            condition: Condition::Revision(999),
        },
    ];
    for op in ops {
        let (reply, done) = tokio::sync::oneshot::channel();
        tx.send(Request {
            store: s.clone(),
            op,
            reply,
        })
        .unwrap();
        replies.push(done);
    }
    drop(tx);
    // Every request is queued before the writer starts, so it takes them as one group.
    let counters = Arc::new(Counters::default());
    writer::run(
        b.db.clone(),
        "test".into(),
        rx,
        counters.clone(),
        b.reads.clone(),
    );
    let mut outcomes = Vec::new();
    for r in replies {
        outcomes.push(r.await.unwrap().map_err(|e| e.to_string()));
    }
    let rev_a = match outcomes[0] {
        Ok(Written::Done(Some(r))) => r,
        ref o => panic!("{o:?}"),
    };
    assert_eq!(outcomes[1], Ok(Written::Conflict(Some(rev_a))));
    assert!(
        outcomes[2].as_ref().unwrap_err().contains("limit of 20"),
        "{:?}",
        outcomes[2]
    );
    assert!(matches!(outcomes[3], Ok(Written::Done(Some(r))) if r > rev_a));
    assert_eq!(outcomes[4], Ok(Written::Conflict(Some(rev_a))));
    assert_eq!(
        counters.commits.load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    assert_eq!(
        counters.writes.load(std::sync::atomic::Ordering::Relaxed),
        5
    );
    assert_eq!(b.usage(&s).await.unwrap(), b.recount(&s).unwrap());
    assert_eq!(b.recount(&s).unwrap().keys, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_share_commits() {
    let dir = tempfile::tempdir().unwrap();
    let b = Arc::new(EmbeddedBackend::open(dir.path(), "app").unwrap());
    let kv = Kv::new(b.clone(), KvLimits::default());
    let s = StoreId::new("app", "s");
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..200 {
        let (kv, s) = (kv.clone(), s.clone());
        tasks.spawn(async move { kv.set(&s, &format!("k{i}"), vec![1]).await.unwrap() });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    // How writes group depends on timing; every one is acknowledged and counted either way.
    assert!(b.commits() >= 1 && b.commits() <= 200);
    assert_eq!(b.acknowledged_writes(), 200);
    assert_eq!(b.usage(&s).await.unwrap().keys, 200);
}

/// A write request for `key` whose reply nobody awaits.
fn request(key: &str) -> super::writer::Request {
    let (reply, _) = tokio::sync::oneshot::channel();
    super::writer::Request {
        store: StoreId::new("app", "s"),
        op: super::writer::Op::Delete {
            key: key.into(),
            condition: Condition::Always,
        },
        reply,
    }
}

/// After a group of three, the next one waits (within its window) for three writers, so
/// writers that come back one by one share a commit instead of each paying an fsync.
#[test]
fn a_group_waits_for_as_many_writers_as_the_last_one() {
    use super::writer::collect;
    use std::time::{Duration, Instant};
    let (tx, rx) = std::sync::mpsc::channel();
    let late = std::thread::spawn(move || {
        for key in ["b", "c"] {
            std::thread::sleep(Duration::from_millis(20));
            tx.send(request(key)).unwrap();
        }
        tx
    });
    // The window is far longer than the test: it ends when the third write arrives.
    let group = collect(&rx, request("a"), 3, Duration::from_secs(60));
    assert_eq!(group.len(), 3, "the two late writers joined the group");
    let tx = late.join().unwrap();

    // A lone writer (the last group had one write) commits at once.
    let started = Instant::now();
    let group = collect(&rx, request("d"), 1, Duration::from_secs(60));
    assert_eq!(group.len(), 1);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "it did not wait"
    );

    // A closed queue ends the wait too.
    drop(tx);
    let group = collect(&rx, request("e"), 3, Duration::from_secs(60));
    assert_eq!(group.len(), 1);
}
