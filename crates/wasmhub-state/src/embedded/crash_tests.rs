//! Killed mid-write: a child process (this test binary, re-run in child mode) increments
//! under load and prints each acknowledged value; it is killed with SIGKILL at a random
//! moment, and the reopened store must hold every acknowledged increment and no more than
//! were attempted.

use std::hash::{BuildHasher, Hasher};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{EmbeddedBackend, OpenError};
use crate::backend::{KvBackend, StoreId};
use crate::limits::KvLimits;
use crate::ops::Kv;

const CHILD_ENV: &str = "WASMHUB_STATE_CRASH_CHILD";
const APP: &str = "crash";
const KEY: &str = "hits";
const CYCLES: usize = 5;

fn store() -> StoreId {
    StoreId::new(APP, "counter")
}

/// The child: increments with 16 writers until killed. Does nothing in a normal run.
#[test]
fn crash_child() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    rt.block_on(async move {
        let backend = Arc::new(EmbeddedBackend::open(dir.as_ref(), APP).unwrap());
        let kv = Kv::new(backend, KvLimits::default());
        for _ in 0..16 {
            let kv = kv.clone();
            tokio::spawn(async move {
                loop {
                    say("try");
                    let value = kv.increment(&store(), KEY, 1).await.unwrap();
                    say(&format!("ack {value}"));
                }
            });
        }
        // Until killed.
        std::future::pending::<()>().await
    });
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").unwrap();
    out.flush().unwrap();
}

fn random_below(n: u64) -> u64 {
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
        % n
}

#[tokio::test]
async fn a_killed_writer_keeps_every_acknowledged_increment() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut before = 0i64;
    for cycle in 0..CYCLES {
        let mut child = Command::new(&exe)
            .args([
                "embedded::crash_tests::crash_child",
                "--exact",
                "--nocapture",
            ])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
        // Wait for the first acknowledged write, then let it run a random while.
        let mut lines = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while !lines.iter().any(|l: &String| l.starts_with("ack ")) {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => lines.push(line),
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("cycle {cycle}: the child acknowledged nothing in 60 s: {lines:?}");
                }
            }
        }
        if cycle == 0 {
            let err = EmbeddedBackend::open(dir.path(), APP).err();
            assert!(
                matches!(err, Some(OpenError::InUse { .. })),
                "another process's open is refused: {err:?}"
            );
        }
        std::thread::sleep(Duration::from_millis(random_below(300)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();
        lines.extend(rx.try_iter());
        let tries = lines.iter().filter(|l| *l == "try").count() as i64;
        let acked = lines
            .iter()
            .filter_map(|l| l.strip_prefix("ack "))
            .map(|v| v.parse::<i64>().unwrap())
            .max()
            .unwrap();

        let backend = EmbeddedBackend::open(dir.path(), APP).expect("the store opens after a kill");
        let value = backend.get(&store(), KEY).await.unwrap().unwrap().value;
        let value = i64::from_le_bytes(value.try_into().unwrap());
        assert!(
            value >= acked,
            "cycle {cycle}: {value} lost acknowledged increments (last acknowledged {acked})"
        );
        assert!(
            value <= before + tries,
            "cycle {cycle}: {value} is more than the {before} + {tries} attempted"
        );
        assert_eq!(
            backend.usage(&store()).await.unwrap(),
            backend.recount(&store()).unwrap(),
            "cycle {cycle}: usage matches a recount"
        );
        before = value;
    }
}
