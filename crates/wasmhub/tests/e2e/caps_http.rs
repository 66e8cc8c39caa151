//! Outbound HTTP and the audit: denied at the call unless granted (refused before serving
//! under `--strict`), checked per request.

use test_programs_artifacts::{FETCH_HTTP, HELLO_HTTP, MISBEHAVE_HTTP};

use super::harness::{Hub, g, golden};
use super::server::{Served, manifest, toml_path};

/// A manifest serving `fetch-http` at `/fetch` with `grant` lines under its grant table.
fn fetch_app(hub: &Hub, grant: &str) -> String {
    manifest(
        hub,
        &format!(
            "[app]\nname = \"shop\"\n\n[component.fetch]\nsource = {}\nroute = \"/fetch\"\n\n\
             [component.fetch.grant]\n{grant}",
            toml_path(g(FETCH_HTTP))
        ),
    )
}

#[test]
fn outbound_is_denied_at_the_call_unless_granted_and_refused_under_strict() {
    let hub = Hub::new();
    let path = fetch_app(&hub, "");
    let check = hub.run(&["check", &path]);
    assert_eq!(check.code, 0, "{}{}", check.stdout, check.stderr);
    let out = hub.normalize(&check.stdout);
    assert!(
        out.contains(
            "  denied at the call: component \"fetch\" imports wasi:http/outgoing-handler@0.2.12 \
             but is granted no outbound hosts: calls will be denied; to allow them, add \
             outbound = [\"https://HOST\"] under [component.fetch.grant] ($TMP/wasmhub.toml:5)"
        ),
        "{out}"
    );
    let strict = hub.run(&["check", "--strict", &path]);
    assert_eq!(strict.code, 2, "{}", strict.stdout);
    assert!(
        strict
            .stdout
            .contains("  refused: component \"fetch\" imports wasi:http/outgoing-handler"),
        "{}",
        strict.stdout
    );
    let serve = hub.run(&["serve", "--strict", "--addr", "127.0.0.1:0", &path]);
    assert_eq!(serve.code, 2, "refused before listening: {}", serve.stdout);
    assert!(!serve.stdout.contains("listening"));
    golden("refused-outbound-manifest", &hub.normalize(&serve.stderr));
    // `strict = true` under [app] is the same door check.
    let strict_app = hub.tmp.path().join("strict.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &strict_app,
        text.replace("name = \"shop\"", "name = \"shop\"\nstrict = true"),
    )
    .unwrap();
    let strict_app = strict_app.to_str().unwrap();
    let serve = hub.run(&["serve", "--addr", "127.0.0.1:0", strict_app]);
    assert_eq!(serve.code, 2, "refused before listening: {}", serve.stdout);
    assert!(
        serve.stderr.contains("but is granted no outbound hosts"),
        "{}",
        serve.stderr
    );

    // Served without the grant: each outgoing request is denied at the call, the first is
    // logged with the exact grant, and the metrics count them all.
    let upstream = Served::start(&hub, &[g(HELLO_HTTP)]);
    let metrics = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let s = Served::start(&hub, &["--metrics-addr", &metrics.to_string(), &path]);
    let url = format!("/fetch?url=http://{}/", upstream.addr);
    for _ in 0..3 {
        let r = s.get(&url);
        assert_eq!(r.status, 502);
        assert!(r.text().contains("HttpRequestDenied"), "{}", r.text());
    }
    let warning = format!(
        "component \"fetch\" tried to send an HTTP request to http://{} but no outbound grant \
         covers it: the call was denied; to allow it, add outbound = [\"http://{}\"] under \
         [component.fetch.grant] ({})",
        upstream.addr,
        upstream.addr,
        path.replace(".toml", ".toml:5"),
    );
    let log = s.wait_log(&warning);
    assert_eq!(log.matches(&warning).count(), 1, "one warning: {log}");
    assert!(
        !upstream.log().contains("wasmhub::access"),
        "nothing reached upstream: {}",
        upstream.log()
    );
    let m = super::server::request(metrics, "GET", "/metrics", &[]).text();
    assert!(
        m.contains(
            "wasmhub_denied_calls_total{component=\"fetch\",capability=\"outbound_http\"} 3"
        ),
        "{m}"
    );
}

#[test]
fn outbound_only_to_granted_destinations() {
    let hub = Hub::new();
    let upstream = Served::start(&hub, &[g(HELLO_HTTP)]);
    let port = upstream.addr.port();
    let url = format!("/fetch?url=http://{}/", upstream.addr);
    let attempts = [
        // A granted host on another port, and another host on the right port.
        (
            format!("outbound = [\"http://127.0.0.1:{}\"]\n", port + 1),
            false,
        ),
        (format!("outbound = [\"http://localhost:{port}\"]\n"), false),
        (
            format!("outbound = [\"https://127.0.0.1:{port}\"]\n"),
            false,
        ),
        (format!("outbound = [\"http://127.0.0.1:{port}\"]\n"), true),
        ("outbound = [\"http://*:*\"]\n".to_owned(), true),
    ];
    for (grant, allowed) in attempts {
        let hub = Hub::new();
        let s = Served::start(&hub, &[&fetch_app(&hub, &grant)]);
        let r = s.get(&url);
        if allowed {
            assert_eq!(r.text(), "upstream status 200", "{grant}");
            continue;
        }
        assert_eq!(r.status, 502, "{grant}");
        assert!(
            r.text().contains("HttpRequestDenied"),
            "{grant}: {}",
            r.text()
        );
        let log = s.wait_log("but no outbound grant covers it");
        assert!(
            log.contains(&format!(
                "component \"fetch\" tried to send an HTTP request to http://127.0.0.1:{port} "
            )),
            "{log}"
        );
    }
}

#[test]
fn check_prints_the_audit_with_origins() {
    let hub = Hub::new();
    let data = hub.tmp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let path = fetch_app(
        &hub,
        "outbound = [\"http://127.0.0.1:8081\"]\nenv = [\"MODE=test\"]\n\
         files = [{ host = \"data\", guest = \"/data\" }]\nclocks = false\n",
    );
    let r = hub.run(&["check", &path]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    // Columns are padded to the widest value (a temp path here): compare words.
    let words = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let out: Vec<String> = hub.normalize(&r.stdout).lines().map(words).collect();
    for line in [
        "    capability  granted                  where",
        "    env         MODE=test                $TMP/wasmhub.toml:10",
        "    files       $TMP/data -> /data (ro)  $TMP/wasmhub.toml:11",
        "    outbound    http://127.0.0.1:8081    $TMP/wasmhub.toml:9",
        "    sockets     none                     default (deny)",
        "    stdio       yes                      default (on unless denied)",
        "    clocks      denied                   $TMP/wasmhub.toml:12",
        "    network (outbound http) wasi:http/outgoing-handler@0.2.12",
        "  warning: files $TMP/data -> /data (ro) is granted ($TMP/wasmhub.toml:11) but the \
         component does not import wasi:filesystem: the grant has no effect",
    ] {
        assert!(
            out.contains(&words(line)),
            "missing `{line}` in:\n{}",
            out.join("\n")
        );
    }
}

#[test]
fn a_manifest_denial_names_its_line() {
    let hub = Hub::new();
    let path = manifest(
        &hub,
        &format!(
            "[app]\nname = \"shop\"\n\n[component.bad]\nsource = {}\nroute = \"/bad\"\n\n\
             [component.bad.grant]\nclocks = false\n",
            toml_path(g(MISBEHAVE_HTTP))
        ),
    );
    let r = hub.run(&["check", &path]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    golden("refused-clocks-manifest", &hub.normalize(&r.stderr));
}
