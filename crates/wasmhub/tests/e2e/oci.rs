//! Components in a real OCI registry (Debian's docker-registry on 127.0.0.1): push, pull,
//! run from a reference, integrity, auth, and interop with an independent client (skopeo).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use test_programs_artifacts::{GREET, HELLO_HTTP, PY_GREET};

use super::harness::{Hub, assert_fails_with, g};
use super::registry::{
    Fake, FakeContent, Gate, Registry, USER, flip_byte, sha256, wasm_config, wasm_manifest,
};
use super::server::{Served, manifest, toml_path};

/// `wasmhub push` then checks the layout field by field, as `wkg` writes it.
fn push(hub: &Hub, component: &str, reference: &str) -> String {
    let r = hub.run(&["push", component, reference]);
    assert_eq!(r.code, 0, "push {reference}: {}", r.stderr);
    let line = r.stdout.trim();
    assert!(
        line.starts_with(&format!("pushed {reference}@sha256:")),
        "{line}"
    );
    line.rsplit('@').next().unwrap().to_owned()
}

#[test]
fn push_writes_the_wasm_oci_layout() {
    let hub = Hub::new();
    let reg = Registry::open();
    let digest = push(&hub, g(GREET), &reg.reference("acme/greet:1.0.0"));
    let bytes = std::fs::read(g(GREET)).unwrap();
    let m = reg.manifest("acme/greet", "1.0.0");
    assert_eq!(m["mediaType"], "application/vnd.oci.image.manifest.v1+json");
    assert_eq!(m["schemaVersion"], 2);
    assert_eq!(
        m["config"]["mediaType"],
        "application/vnd.wasm.config.v0+json"
    );
    assert_eq!(
        m["annotations"]["org.opencontainers.image.version"],
        "1.0.0"
    );
    let layers = m["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1);
    assert_eq!(layers[0]["mediaType"], "application/wasm");
    assert_eq!(layers[0]["digest"], sha256(&bytes).as_str());
    assert_eq!(layers[0]["size"], bytes.len());
    // The manifest's digest is the one push printed.
    let raw = reg.get(
        "/v2/acme/greet/manifests/1.0.0",
        "application/vnd.oci.image.manifest.v1+json",
    );
    assert_eq!(sha256(&raw), digest);
    let config: Value = serde_json::from_slice(&reg.get(
        &format!(
            "/v2/acme/greet/blobs/{}",
            m["config"]["digest"].as_str().unwrap()
        ),
        "*/*",
    ))
    .unwrap();
    assert_eq!(config["architecture"], "wasm");
    assert_eq!(config["os"], "wasip2");
    assert!(config["created"].as_str().is_some_and(|c| c.contains('T')));
    assert_eq!(config["layerDigests"][0], sha256(&bytes).as_str());
    let exports: Vec<&str> = config["component"]["exports"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(exports.contains(&"wasmhub:demo/greeter"), "{exports:?}");

    // Tags are versions; a digest is not a place to push to.
    let r = hub.run(&["push", g(GREET), &reg.reference("acme/greet:latest")]);
    assert_fails_with(
        &r,
        "tag \"latest\" is not a semantic version: tag components with their version, like 1.2.0",
    );
    let r = hub.run(&["push", "Cargo.toml", &reg.reference("acme/greet:1.0.1")]);
    assert_fails_with(&r, "is not a WebAssembly component");
}

#[test]
fn pull_verifies_and_then_runs_offline() {
    let hub = Hub::new();
    let reg = Registry::open();
    let reference = reg.reference("acme/greet:1.2.0");
    let digest = push(&hub, g(GREET), &reference);

    // A fresh store: the pull fetches config and component, and the copy is exact.
    let other = Hub::new();
    let out = other.tmp.path().join("greet.wasm");
    let r = other.run(&["pull", &reference, "-o", out.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.trim(), format!("pulled {reference}@{digest}"));
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(g(GREET)).unwrap()
    );
    // Again: one manifest request, no blob.
    let before = reg.requests("acme/greet");
    let r = other.run(&["pull", &reference]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("0 B fetched"), "{}", r.stderr);
    let after = reg.requests("acme/greet");
    assert_eq!(
        (after.0 - before.0, after.1 - before.1),
        (1, 0),
        "manifest and blob requests"
    );
    // By digest too.
    let by_digest = format!("{}/acme/greet@{digest}", reg.addr);
    let r = other.run(&["pull", &by_digest]);
    assert_eq!(r.code, 0, "{}", r.stderr);

    let r = other.run(&["store", "list"]);
    assert!(
        r.stdout
            .contains(&format!("{reference}  manifest {}", &digest[7..19])),
        "{}",
        r.stdout
    );

    // Run from the reference; then with the registry gone, from the store alone.
    let call = |hub: &Hub| hub.run(&["invoke", &format!("oci://{reference}"), r#"greet("oci")"#]);
    let r = call(&other);
    assert_eq!(
        (r.code, r.stdout.trim()),
        (0, "\"Hello, oci!\""),
        "{}",
        r.stderr
    );
    drop(reg);
    let r = call(&other);
    assert_eq!(
        (r.code, r.stdout.trim()),
        (0, "\"Hello, oci!\""),
        "{}",
        r.stderr
    );
    // A first use with no registry says which registry it could not reach.
    let r = call(&Hub::new());
    assert_fails_with(&r, "cannot reach registry 127.0.0.1:");
}

#[test]
fn a_manifest_serves_a_component_from_a_reference() {
    let hub = Hub::new();
    let reg = Registry::open();
    let reference = reg.reference("acme/hello:0.1.0");
    push(&hub, g(HELLO_HTTP), &reference);
    let served_hub = Hub::new();
    let path = manifest(
        &served_hub,
        &format!(
            "[app]\nname = \"shop\"\n\n[component.hello]\nsource = \"oci://{reference}\"\nroute = \"/hello\"\n\n[component.local]\nsource = {}\nroute = \"/local\"\n",
            toml_path(g(HELLO_HTTP))
        ),
    );
    let s = Served::start(&served_hub, &[&path]);
    for route in ["/hello", "/local"] {
        let r = s.get(route);
        assert_eq!(
            (r.status, r.text()),
            (200, "Hello, wasm!".to_owned()),
            "{route}"
        );
    }
    drop(s);
    // A reference that names nothing fails before serving, naming the manifest line.
    let missing = manifest(
        &served_hub,
        &format!(
            "[app]\nname = \"shop\"\n\n[component.gone]\nsource = \"oci://{}\"\n",
            reg.reference("acme/gone:1.0.0")
        ),
    );
    let r = served_hub.run(&["check", &missing]);
    assert_fails_with(&r, "wasmhub.toml:5: component \"gone\" comes from");
    assert_fails_with(&r, "acme/gone:1.0.0 was not found in the registry");
    let bad = manifest(
        &served_hub,
        "[app]\nname = \"shop\"\n\n[component.bad]\nsource = \"oci://127.0.0.1:5000/Acme/x:1.0.0\"\n",
    );
    let r = served_hub.run(&["check", &bad]);
    assert_fails_with(
        &r,
        "wasmhub.toml:5: component \"bad\": reference \"oci://127.0.0.1:5000/Acme/x:1.0.0\" has an invalid repository",
    );
}

#[test]
fn tampered_blobs_are_refused_and_nothing_partial_is_kept() {
    let hub = Hub::new();
    let reg = Registry::open();
    let reference = reg.reference("acme/greet:1.0.0");
    push(&hub, g(GREET), &reference);
    let layer = sha256(&std::fs::read(g(GREET)).unwrap());

    // Corrupt the registry's copy: the pull fails naming both digests; the store keeps nothing.
    flip_byte(&reg.blob_file(&layer));
    let fresh = Hub::new();
    let r = fresh.run(&["pull", &reference]);
    assert_fails_with(
        &r,
        &format!("{reference}: the registry sent content for {layer} that hashes to sha256:"),
    );
    assert_fails_with(&r, "nothing was stored");
    let store = fresh.tmp.path().join("store");
    assert!(!store.join("blobs/sha256").join(&layer[7..]).exists());
    assert_eq!(std::fs::read_dir(store.join("tmp")).unwrap().count(), 0);
    let r = fresh.run(&["invoke", &format!("oci://{reference}"), r#"greet("x")"#]);
    assert_fails_with(&r, "that hashes to sha256:");

    // Repair it; now corrupt the local copy instead: it is detected, dropped and fetched again.
    flip_byte(&reg.blob_file(&layer));
    let r = fresh.run(&["pull", &reference]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    flip_byte(&store.join("blobs/sha256").join(&layer[7..]));
    let r = fresh.run(&["invoke", &format!("oci://{reference}"), r#"greet("again")"#]);
    assert_eq!(
        (r.code, r.stdout.trim()),
        (0, "\"Hello, again!\""),
        "{}",
        r.stderr
    );
    assert_eq!(
        sha256(&std::fs::read(store.join("blobs/sha256").join(&layer[7..])).unwrap()),
        layer
    );
}

/// Every blob in the store hashes to its name.
fn assert_store_intact(store: &Path) {
    let Ok(blobs) = std::fs::read_dir(store.join("blobs/sha256")) else {
        return;
    };
    for blob in blobs {
        let path = blob.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(
            sha256(&std::fs::read(&path).unwrap()),
            format!("sha256:{name}"),
            "{}",
            path.display()
        );
    }
}

#[test]
fn a_killed_pull_leaves_nothing_that_is_used() {
    let hub = Hub::new();
    let reg = Registry::open();
    let reference = reg.reference("acme/big:1.0.0");
    // The CPython component (about 18 MiB) takes long enough to be killed midway.
    push(&hub, g(PY_GREET), &reference);
    let puller = Hub::new();
    let store = puller.tmp.path().join("store");
    let mut midway = 0;
    // A hundred kills, 2 ms to 200 ms after the start.
    for delay_ms in (0..100u64).map(|i| 2 + i * 2) {
        let _ = std::fs::remove_dir_all(&store);
        let mut child = puller.cmd().args(["pull", &reference]).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        assert_store_intact(&store);
        // A temp file left behind means the kill landed mid-download.
        midway +=
            usize::from(std::fs::read_dir(store.join("tmp")).is_ok_and(|mut d| d.next().is_some()));
        // The next command succeeds and cleans up after the killed one.
        let r = puller.run(&["pull", &reference]);
        assert_eq!(r.code, 0, "after a kill at {delay_ms} ms: {}", r.stderr);
        assert_store_intact(&store);
        assert_eq!(
            std::fs::read_dir(store.join("tmp")).unwrap().count(),
            0,
            "temp files after a kill at {delay_ms} ms"
        );
    }
    assert!(
        midway > 0,
        "no kill landed during a download: the pull was too quick to test"
    );
    let out = puller.tmp.path().join("big.wasm");
    let r = puller.run(&["pull", &reference, "-o", out.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        std::fs::read(out).unwrap(),
        std::fs::read(g(PY_GREET)).unwrap()
    );
    // No progress bar when stderr is not a terminal; one, with size and rate, when it is
    // (`script` gives the command a pseudo-terminal).
    assert!(!r.stderr.contains("pulling acme/big ["), "{}", r.stderr);
    let _ = std::fs::remove_dir_all(&store);
    let bin = env!("CARGO_BIN_EXE_wasmhub");
    let tty = puller.output(
        Command::new("script")
            .args(["-qec", &format!("{bin} pull {reference}"), "/dev/null"])
            .env("WASMHUB_STORE", &store),
    );
    assert_eq!(tty.code, 0, "{}{}", tty.stdout, tty.stderr);
    assert!(
        tty.stdout
            .contains("pulling acme/big [########################] 17."),
        "{}",
        tty.stdout
    );
    assert!(tty.stdout.contains("MiB/s"), "{}", tty.stdout);
}

#[test]
fn basic_auth_from_flags_env_and_docker_config() {
    let hub = Hub::new();
    let reg = Registry::with_auth();
    let reference = reg.reference("acme/greet:1.0.0");
    let r = hub.run(&["push", g(GREET), &reference]);
    assert_fails_with(
        &r,
        "the registry requires credentials: give --username and --password-stdin, set WASMHUB_REGISTRY_USERNAME and WASMHUB_REGISTRY_PASSWORD, or log in with `docker login 127.0.0.1:",
    );

    let with_password = |args: &[&str], password: &str| {
        let mut cmd = hub.cmd();
        cmd.args(args).stdin(std::process::Stdio::piped());
        let mut child = cmd
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = with_password(
        &[
            "push",
            "--username",
            USER.0,
            "--password-stdin",
            g(GREET),
            &reference,
        ],
        "wrong",
    );
    assert_eq!(code, 2);
    assert!(err.contains("the registry refused the credentials from --username/--password-stdin: check the user name and password"), "{err}");
    let (code, err) = with_password(
        &[
            "push",
            "-u",
            USER.0,
            "--password-stdin",
            g(GREET),
            &reference,
        ],
        USER.1,
    );
    assert_eq!(code, 0, "{err}");

    // From the environment.
    let r = hub.output(
        hub.cmd()
            .args(["pull", &reference, "--store"])
            .arg(hub.tmp.path().join("store-env"))
            .env("WASMHUB_REGISTRY_USERNAME", USER.0)
            .env("WASMHUB_REGISTRY_PASSWORD", USER.1),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    // From the Docker config file, as `docker login` writes it.
    let docker = hub.tmp.path().join("docker");
    std::fs::create_dir_all(&docker).unwrap();
    let auth = base64_encode(format!("{}:{}", USER.0, USER.1).as_bytes());
    std::fs::write(
        docker.join("config.json"),
        format!(r#"{{"auths": {{"{}": {{"auth": "{auth}"}}}}}}"#, reg.addr),
    )
    .unwrap();
    let r = hub.run(&["invoke", &format!("oci://{reference}"), r#"greet("auth")"#]);
    assert_eq!(
        (r.code, r.stdout.trim()),
        (0, "\"Hello, auth!\""),
        "{}",
        r.stderr
    );
}

fn base64_encode(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `skopeo`, a registry client that is not ours (Debian's package, installed by setup).
fn skopeo(hub: &Hub, args: &[&str]) {
    let r = hub.output(Command::new("skopeo").args(args));
    assert_eq!(r.code, 0, "skopeo {args:?}: {}{}", r.stdout, r.stderr);
}

/// Writes skopeo's `dir:` layout: `manifest.json`, `version` and each blob by its hex digest.
fn write_dir_layout(dir: &Path, manifest: &Value, blobs: &[&[u8]]) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("version"), "Directory Transport Version: 1.1\n").unwrap();
    std::fs::write(
        dir.join("manifest.json"),
        serde_json::to_vec(manifest).unwrap(),
    )
    .unwrap();
    for blob in blobs {
        std::fs::write(dir.join(&sha256(blob)[7..]), blob).unwrap();
    }
}

fn descriptor(media_type: &str, bytes: &[u8]) -> Value {
    serde_json::json!({"mediaType": media_type, "digest": sha256(bytes), "size": bytes.len()})
}

#[test]
fn an_independent_client_pulls_what_we_push_and_pushes_what_we_pull() {
    let hub = Hub::new();
    let reg = Registry::open();
    let component = std::fs::read(g(GREET)).unwrap();
    // wasmhub -> skopeo: the layer skopeo fetches is the component, byte for byte.
    push(&hub, g(GREET), &reg.reference("acme/greet:1.0.0"));
    let out = hub.tmp.path().join("skopeo-out");
    let src = format!("docker://{}", reg.reference("acme/greet:1.0.0"));
    skopeo(
        &hub,
        &[
            "copy",
            "--src-tls-verify=false",
            &src,
            &format!("dir:{}", out.display()),
        ],
    );
    assert_eq!(
        std::fs::read(out.join(&sha256(&component)[7..])).unwrap(),
        component
    );

    // skopeo -> wasmhub: an artifact laid out by the test and pushed by skopeo.
    let config = serde_json::json!({
        "created": "2026-11-24T00:00:00Z", "author": null, "architecture": "wasm", "os": "wasip2",
        "layerDigests": [sha256(&component)],
        "component": {"exports": ["wasmhub:demo/greeter"], "imports": [], "target": null}
    });
    let config = serde_json::to_vec(&config).unwrap();
    let artifact = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": descriptor("application/vnd.wasm.config.v0+json", &config),
        "layers": [descriptor("application/wasm", &component)],
        "annotations": {"org.opencontainers.image.version": "2.0.0"}
    });
    let dir = hub.tmp.path().join("skopeo-in");
    write_dir_layout(&dir, &artifact, &[&config, &component]);
    let dest = format!("docker://{}", reg.reference("other/greet:2.0.0"));
    skopeo(
        &hub,
        &[
            "copy",
            "--dest-tls-verify=false",
            &format!("dir:{}", dir.display()),
            &dest,
        ],
    );
    let pulled = hub.tmp.path().join("from-skopeo.wasm");
    let r = hub.run(&[
        "pull",
        &reg.reference("other/greet:2.0.0"),
        "-o",
        pulled.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(std::fs::read(&pulled).unwrap(), component);

    // Artifacts that are not components are refused, saying what they are.
    let image_config = br#"{"architecture":"amd64","os":"linux"}"#;
    let image = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": descriptor("application/vnd.oci.image.config.v1+json", image_config),
        "layers": [descriptor("application/vnd.oci.image.layer.v1.tar", &component)]
    });
    let dir = hub.tmp.path().join("image");
    write_dir_layout(&dir, &image, &[image_config, &component]);
    skopeo(
        &hub,
        &[
            "copy",
            "--dest-tls-verify=false",
            &format!("dir:{}", dir.display()),
            &format!("docker://{}", reg.reference("acme/image:1.0.0")),
        ],
    );
    let r = hub.run(&["pull", &reg.reference("acme/image:1.0.0")]);
    assert_fails_with(
        &r,
        "acme/image:1.0.0 is not a Wasm component: its config is of type \"application/vnd.oci.image.config.v1+json\", expected \"application/vnd.wasm.config.v0+json\"",
    );
    let two = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": descriptor("application/vnd.wasm.config.v0+json", &config),
        "layers": [descriptor("application/wasm", &component), descriptor("text/plain", b"readme")]
    });
    let dir = hub.tmp.path().join("two");
    write_dir_layout(&dir, &two, &[&config, &component, b"readme"]);
    skopeo(
        &hub,
        &[
            "copy",
            "--dest-tls-verify=false",
            &format!("dir:{}", dir.display()),
            &format!("docker://{}", reg.reference("acme/two:1.0.0")),
        ],
    );
    let before = reg.requests("acme/two").1;
    let r = hub.run(&["pull", &reg.reference("acme/two:1.0.0")]);
    assert_fails_with(
        &r,
        "it has 2 layer(s) of type(s) [\"application/wasm\", \"text/plain\"]; a component artifact has exactly one \"application/wasm\" layer",
    );
    assert_eq!(
        reg.requests("acme/two").1,
        before,
        "nothing fetched from a refused artifact"
    );
}

#[test]
fn plain_http_only_for_loopback_or_when_insecure() {
    let hub = Hub::new();
    // 0.0.0.0 is not a loopback name, so TLS is used (and port 1 refuses at once).
    let r = hub.run(&["pull", "0.0.0.0:1/acme/x:1.0.0"]);
    assert_fails_with(&r, "cannot reach registry 0.0.0.0:1");
    assert_fails_with(&r, "https://0.0.0.0:1/v2/acme/x/manifests/1.0.0");
    assert_fails_with(&r, "plain HTTP only with --insecure");
    let r = hub.run(&["pull", "--insecure", "0.0.0.0:1/acme/x:1.0.0"]);
    assert_fails_with(&r, "http://0.0.0.0:1/v2/acme/x/manifests/1.0.0");
}

/// Every file below `dir` (none if it does not exist).
fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    super::cache::walk(dir)
}

#[test]
fn a_registry_that_sends_more_than_declared_is_refused_and_nothing_is_kept() {
    let hub = Hub::new();
    let component = std::fs::read(g(GREET)).unwrap();
    let config = wasm_config(&component);
    let (layer, config_digest) = (sha256(&component), sha256(&config));
    // Each manifest is honest about digests; the sizes it declares are too small (or, for
    // the config, too large to accept). The registry sends every blob whole.
    let short = component.len() - 1000;
    let fake = Fake::start(FakeContent {
        manifests: vec![
            (
                "1.0.0".into(),
                wasm_manifest(&config, config.len(), &component, short),
            ),
            (
                "2.0.0".into(),
                wasm_manifest(&config, 10, &component, component.len()),
            ),
            (
                "3.0.0".into(),
                wasm_manifest(&config, 5 << 20, &component, component.len()),
            ),
        ],
        blobs: vec![
            (layer.clone(), component.clone(), None),
            (config_digest.clone(), config.clone(), None),
        ],
        head_status: 0,
    });
    let store = hub.tmp.path().join("store");
    let nothing_kept = || {
        assert_eq!(
            files(&store.join("blobs")),
            Vec::<std::path::PathBuf>::new()
        );
        assert_eq!(files(&store.join("refs")), Vec::<std::path::PathBuf>::new());
        assert_eq!(files(&store.join("tmp")), Vec::<std::path::PathBuf>::new());
    };
    let reference = format!("{}/acme/liar:1.0.0", fake.addr);
    let r = hub.run(&["pull", &reference]);
    assert_fails_with(
        &r,
        &format!(
            "{reference}: the registry sent more than the {short} bytes the manifest declares for blob {layer}"
        ),
    );
    assert_fails_with(&r, "nothing was stored");
    nothing_kept();

    let reference = format!("{}/acme/liar:2.0.0", fake.addr);
    let r = hub.run(&["pull", &reference]);
    assert_fails_with(
        &r,
        &format!(
            "{reference}: the registry sent more than the 10 bytes the manifest declares for blob {config_digest}"
        ),
    );
    nothing_kept();

    // A config declared past the cap is not even requested.
    let before = fake.requests().len();
    let reference = format!("{}/acme/liar:3.0.0", fake.addr);
    let r = hub.run(&["pull", &reference]);
    assert_fails_with(
        &r,
        &format!(
            "{reference}: the manifest declares config {config_digest} of 5242880 bytes, more than the 4194304 a Wasm config may have"
        ),
    );
    let asked: Vec<String> = fake.requests()[before..].to_vec();
    assert!(asked.iter().all(|l| !l.contains("/blobs/")), "{asked:?}");
    nothing_kept();
}

#[test]
fn gc_racing_a_pull_loses_nothing() {
    let hub = Hub::new();
    let component = std::fs::read(g(GREET)).unwrap();
    let config = wasm_config(&component);
    let manifest = wasm_manifest(&config, config.len(), &component, component.len());
    let gate = Gate::default();
    let fake = Fake::start(FakeContent {
        manifests: vec![("1.0.0".into(), manifest.clone())],
        blobs: vec![
            (sha256(&component), component.clone(), Some(gate.clone())),
            (sha256(&config), config.clone(), None),
        ],
        head_status: 0,
    });
    let reference = format!("{}/acme/greet:1.0.0", fake.addr);
    // The store already holds the config, referenced by nothing: the pull reuses it.
    let store = hub.tmp.path().join("store");
    let blob = |bytes: &[u8]| store.join("blobs/sha256").join(&sha256(bytes)[7..]);
    std::fs::create_dir_all(store.join("blobs/sha256")).unwrap();
    std::fs::write(blob(&config), &config).unwrap();

    // The pull stops halfway through the component, between the blobs it relies on and
    // the reference it will write.
    let pull = hub
        .cmd()
        .args(["pull", &reference])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    gate.wait_reached();
    // Now a gc: it either waits for the pull (saying so) or finishes at once.
    let mut gc = hub
        .cmd()
        .args(["store", "gc"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut gc_err = std::io::BufReader::new(gc.stderr.take().unwrap());
    let mut first = String::new();
    std::io::BufRead::read_line(&mut gc_err, &mut first).unwrap();
    gate.open();
    let pulled = pull.wait_with_output().unwrap();
    assert!(
        pulled.status.success(),
        "{}",
        String::from_utf8_lossy(&pulled.stderr)
    );
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut gc_err, &mut rest).unwrap();
    let collected = gc.wait_with_output().unwrap();
    assert!(collected.status.success(), "{first}{rest}");
    // Everything the reference reaches is in the store, intact.
    for bytes in [&config, &component, &manifest] {
        let path = blob(bytes);
        assert!(path.exists(), "{} was lost", path.display());
        assert_eq!(sha256(&std::fs::read(path).unwrap()), sha256(bytes));
    }
    // It did so by waiting for the pull, not by luck.
    assert!(
        first.contains("waiting for a pull or push into"),
        "{first}{rest}"
    );
    drop(fake);
    let r = hub.run(&["invoke", &format!("oci://{reference}"), r#"greet("race")"#]);
    assert_eq!(
        (r.code, r.stdout.trim()),
        (0, "\"Hello, race!\""),
        "{}",
        r.stderr
    );
}

#[test]
fn a_registry_that_cannot_say_whether_it_has_a_blob_fails_the_push() {
    let hub = Hub::new();
    // Every HEAD on a blob answers 500: the push must stop, not take the blob for absent.
    let fake = Fake::start(FakeContent {
        head_status: 500,
        ..FakeContent::default()
    });
    let reference = format!("{}/acme/greet:1.0.0", fake.addr);
    let r = hub.run(&["push", g(GREET), &reference]);
    assert_fails_with(&r, "cannot ask the registry whether it holds blob sha256:");
    let uploads: Vec<String> = fake
        .requests()
        .into_iter()
        .filter(|l| !l.starts_with("GET") && !l.starts_with("HEAD"))
        .collect();
    assert!(uploads.is_empty(), "nothing is uploaded: {uploads:?}");
}
