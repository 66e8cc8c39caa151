//! Opt-in instance reuse (`--reuse N`, `reuse = N`): state carries from one request to the
//! next only where a component opts in, and a failed request's instance is never reused.

use test_programs_artifacts::{COUNTER_HTTP, COUNTER_HTTP3};

use super::harness::{Hub, g, golden};
use super::server::{Served, manifest, toml_path};

/// The counter each of `paths` answers, in order (a failed request as `None`).
fn counts(s: &Served, paths: &[&str]) -> Vec<Option<u64>> {
    paths
        .iter()
        .map(|p| {
            let r = s.get(p);
            (r.status == 200).then(|| r.text().trim().parse().expect("a count"))
        })
        .collect()
}

/// The idle timeout is long, so a slow machine never drops an instance between requests.
const IDLE: &[&str] = &["--reuse-idle", "120s"];

fn serve(hub: &Hub, guest: &str, wasi3: bool, reuse: Option<&str>) -> Served {
    let mut args: Vec<&str> = IDLE.to_vec();
    if wasi3 {
        args.extend(["--wasi", "0.3"]);
    }
    if let Some(n) = reuse {
        args.extend(["--reuse", n]);
    }
    args.push(guest);
    Served::start(hub, &args)
}

#[test]
fn without_reuse_a_counter_never_carries_across_requests() {
    let hub = Hub::new();
    for (guest, wasi3) in [(g(COUNTER_HTTP), false), (g(COUNTER_HTTP3), true)] {
        let s = serve(&hub, guest, wasi3, None);
        assert_eq!(counts(&s, &["/", "/", "/"]), [Some(1); 3], "{guest}");
    }
}

#[test]
fn with_reuse_a_counter_carries_until_the_instance_has_served_its_share() {
    let hub = Hub::new();
    for (guest, wasi3) in [(g(COUNTER_HTTP), false), (g(COUNTER_HTTP3), true)] {
        let s = serve(&hub, guest, wasi3, Some("3"));
        // Sequential requests: the one idle instance takes each; after 3, a fresh one.
        assert_eq!(
            counts(&s, &["/", "/", "/", "/", "/"]),
            [Some(1), Some(2), Some(3), Some(1), Some(2)],
            "{guest}"
        );
    }
}

#[test]
fn a_failed_request_s_instance_is_never_reused() {
    let hub = Hub::new();
    for (guest, wasi3) in [(g(COUNTER_HTTP), false), (g(COUNTER_HTTP3), true)] {
        let s = serve(&hub, guest, wasi3, Some("100"));
        assert_eq!(
            counts(&s, &["/", "/", "/trap", "/", "/"]),
            [Some(1), Some(2), None, Some(1), Some(2)],
            "{guest}"
        );
        let r = s.get("/trap");
        assert_eq!(r.status, 500, "{}", r.text());
        assert!(r.text().contains("the component failed"), "{}", r.text());
        assert_eq!(counts(&s, &["/"]), [Some(1)], "{guest}");
    }
}

#[test]
fn check_says_that_state_carries_and_refuses_a_bad_reuse() {
    let hub = Hub::new();
    let text = |reuse: &str| {
        format!(
            "[app]\nname = \"shop\"\n\n[component.counter]\nsource = {}\nroute = \"/...\"\nwasi = \"0.3\"\n{reuse}",
            toml_path(g(COUNTER_HTTP3))
        )
    };
    let path = manifest(&hub, &text("reuse = 128\n"));
    let r = hub.run(&["check", &path]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains(
            "  reuse: one instance serves up to 128 requests: state can carry from one request \
             to the next (globals, memory, open handles); an instance that fails is never reused"
        ),
        "{}",
        r.stdout
    );
    // A manifest's component is served with the reuse it declares.
    let s = Served::start(&hub, &["--reuse-idle", "120s", &path]);
    assert_eq!(counts(&s, &["/", "/"]), [Some(1), Some(2)]);
    drop(s);
    let flag = hub.run(&["serve", "--reuse", "2", &path]);
    assert!(
        flag.stderr.contains(
            "--reuse applies to a lone component; let a manifest's component reuse its \
             instances with reuse = N under [component.NAME]"
        ),
        "{}",
        flag.stderr
    );
    // `manifest` writes the app's one manifest file: from here on it is another app.
    let fresh = hub.run(&["check", &manifest(&hub, &text(""))]);
    assert!(!fresh.stdout.contains("reuse:"), "{}", fresh.stdout);
    let bad = hub.run(&["check", &manifest(&hub, &text("reuse = 0\n"))]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    golden("manifest-reuse-zero", &hub.normalize(&bad.stderr));
}
