//! Crash safety: `kill -9` a hundred times during a compile-cache write and during `serve`
//! start; the cache never holds a partial entry, and the next command succeeds. (Killed
//! pulls: `oci.rs`.)

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use test_programs_artifacts::{BIG, HELLO_HTTP};

use super::cache::walk;
use super::harness::{Hub, g};
use super::server::Served;

const KILLS: u32 = 100;

/// Starts `wasmhub ARGS` with its output discarded.
fn spawn(hub: &Hub, args: &[&str]) -> std::process::Child {
    hub.cmd()
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Spawns `wasmhub ARGS` and kills it (SIGKILL) after `delay`.
fn kill_after(hub: &Hub, args: &[&str], delay: Duration) {
    let mut child = spawn(hub, args);
    std::thread::sleep(delay);
    let _ = child.kill();
    let _ = child.wait();
}

/// Spawns `wasmhub ARGS` and kills it (SIGKILL) once a compiled entry sits in the cache
/// under its final name (or after two minutes).
fn kill_once_written(hub: &Hub, args: &[&str]) {
    let mut child = spawn(hub, args);
    let until = Instant::now() + Duration::from_secs(120);
    while Instant::now() < until
        && !walk(&hub.cache_dir()).iter().any(|f| {
            let name = f.file_name().unwrap().to_string_lossy();
            name.ends_with(".cwasm") && !name.starts_with(".tmp-")
        })
    {
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn killed_compiles_never_leave_a_partial_cache_entry() {
    // The complete entry, and how long a cold `invoke` takes to write it.
    let reference = Hub::new();
    let started = Instant::now();
    let r = reference.run(&["invoke", g(BIG), "size()"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let full = started.elapsed();
    let complete: Vec<Vec<u8>> = walk(&reference.cache_dir())
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    assert_eq!(complete.len(), 1, "one compiled entry");

    let hub = Hub::new();
    let (mut entries_seen, mut half_written) = (0, 0);
    for i in 0..KILLS {
        // Kills spread over the whole run, compile and write included; every tenth waits
        // for the entry to appear first, so both ends are reached however loaded the
        // machine is (the first kill, at zero, always comes before the entry).
        let delay = full.mul_f64(f64::from(i) / f64::from(KILLS));
        let _ = std::fs::remove_dir_all(hub.cache_dir());
        if i % 10 == 9 {
            kill_once_written(&hub, &["invoke", g(BIG), "size()"]);
        } else {
            kill_after(&hub, &["invoke", g(BIG), "size()"], delay);
        }
        for f in walk(&hub.cache_dir()) {
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            half_written += u32::from(name.starts_with(".tmp-"));
            if name.ends_with(".cwasm") && !name.starts_with(".tmp-") {
                // Under its final name an entry is whole, or it is not there at all.
                assert!(
                    std::fs::read(&f).unwrap() == complete[0],
                    "a partial entry after a kill at {delay:?}"
                );
                entries_seen += 1;
            }
        }
        // The next command succeeds and removes what the killed one left half-written.
        let r = hub.run(&["invoke", g(BIG), "size()"]);
        assert_eq!(
            (r.code, r.stdout.as_str()),
            (0, "4194304\n"),
            "{}",
            r.stderr
        );
        let temps: Vec<PathBuf> = walk(&hub.cache_dir())
            .into_iter()
            .filter(|f| {
                f.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with(".tmp-")
            })
            .collect();
        assert!(temps.is_empty(), "left behind: {temps:?}");
    }
    // Some kills came after the entry was written, some before: both ends were reached.
    assert!(entries_seen > 0 && entries_seen < KILLS, "{entries_seen}");
    println!("{KILLS} kills: {entries_seen} after the entry was written, {half_written} mid-write");
}

#[test]
fn killed_serve_starts_leave_nothing_that_stops_the_next() {
    let hub = Hub::new();
    for i in 0..KILLS {
        let delay = Duration::from_micros(u64::from(i) * 300);
        kill_after(
            &hub,
            &["serve", "--addr", "127.0.0.1:0", g(HELLO_HTTP)],
            delay,
        );
    }
    let s = Served::start(&hub, &[g(HELLO_HTTP)]);
    let r = s.get("/");
    assert_eq!((r.status, r.text()), (200, "Hello, wasm!".to_owned()));
}

#[test]
fn sigterm_under_load_completes_every_accepted_request() {
    use std::io::{Read, Write};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

    let hub = Hub::new();
    let mut s = Served::start(&hub, &[g(HELLO_HTTP)]);
    let addr = s.addr;
    let (answered, refused) = (
        Arc::new(AtomicU32::new(0)),
        Arc::new(AtomicBool::new(false)),
    );
    // Eight clients, each sending requests one after another until connecting fails.
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let (answered, refused) = (answered.clone(), refused.clone());
            std::thread::spawn(move || {
                let started = Instant::now();
                while started.elapsed() < Duration::from_secs(10) {
                    let Ok(mut c) = std::net::TcpStream::connect(addr) else {
                        refused.store(true, Ordering::SeqCst);
                        return;
                    };
                    let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
                    let _ =
                        c.write_all(b"GET / HTTP/1.1\r\nhost: load\r\nconnection: close\r\n\r\n");
                    let mut answer = Vec::new();
                    let _ = c.read_to_end(&mut answer);
                    if answer.starts_with(b"HTTP/1.1 200") {
                        answered.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(700));
    let term = Instant::now();
    s.sigterm();
    let status = s.child.wait().unwrap();
    let exited = term.elapsed();
    for c in clients {
        c.join().unwrap();
    }
    assert!(status.success(), "{status}");
    // The drain timeout is 10 s; with requests this short it takes far less.
    assert!(exited < Duration::from_secs(10), "exited after {exited:?}");
    assert!(
        refused.load(Ordering::SeqCst),
        "new connections are refused after SIGTERM"
    );
    // Every request the server took in (one access line each) reached its client. The log
    // reader may still be catching up with the exited process: wait for it briefly.
    let answered = answered.load(Ordering::SeqCst) as usize;
    let served = || {
        s.log()
            .lines()
            .filter(|l| l.contains("wasmhub::access") && l.contains("status=200"))
            .count()
    };
    let caught_up = Instant::now();
    while served() < answered && caught_up.elapsed() < Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let logged = served();
    println!("{answered} answered, {logged} logged, exited {exited:?} after SIGTERM");
    assert!(answered > 100, "the load was light: {answered} requests");
    assert_eq!(logged, answered, "requests served but never answered");
}
