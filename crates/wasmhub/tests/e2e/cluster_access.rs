//! NATS access from the command line: a server that requires a user and password (given by
//! flag or by `WASMHUB_NATS_PASSWORD`), and one that requires TLS with a private CA (made
//! here with `openssl`). The right settings work for `deploy`, `host` and `cluster status`;
//! wrong ones fail at once with an error naming the flags, never echoing the password.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use wasmhub_cluster::testing::NatsServer;

use super::cluster_fleet::{HostOnHub, HostProc, get};
use super::harness::Hub;
use super::kv::run_bounded;

const PASSWORD: &str = "s3cret-Pa55";

fn status(hub: &Hub, url: &str, extra: &[&str], password_env: Option<&str>) -> (i32, String) {
    let mut cmd = hub.cmd();
    cmd.args(["cluster", "status", "--cluster", url])
        .args(extra);
    if let Some(p) = password_env {
        cmd.env("WASMHUB_NATS_PASSWORD", p);
    }
    let ran = hub.output(&mut cmd);
    (ran.code, ran.stderr)
}

#[test]
fn a_server_that_requires_a_password_takes_the_right_one_and_names_the_flags_otherwise() {
    let server = NatsServer::start(&format!(
        "authorization {{ user: deployer, password: \"{PASSWORD}\" }}"
    ))
    .expect("nats-server starts (cargo xtask setup)");
    let url = server.url();
    let hub = Hub::new();
    let good = ["--nats-user", "deployer", "--nats-password", PASSWORD];
    let (code, err) = status(&hub, &url, &good, None);
    assert_eq!(code, 0, "{err}");
    let (code, err) = status(&hub, &url, &["--nats-user", "deployer"], Some(PASSWORD));
    assert_eq!(code, 0, "the password from WASMHUB_NATS_PASSWORD: {err}");

    let wrong = ["--nats-user", "deployer", "--nats-password", "wrong-pw-123"];
    let (code, err) = status(&hub, &url, &wrong, None);
    assert_ne!(code, 0);
    assert!(
        err.contains(&format!(
            "NATS server {url} refused the credentials (--nats-user/--nats-password)"
        )),
        "{err}"
    );
    assert!(
        !err.contains("wrong-pw-123"),
        "the password is not echoed: {err}"
    );
    let (code, err) = status(&hub, &url, &[], None);
    assert_ne!(code, 0);
    assert!(
        err.contains("refused the credentials (no credentials were given: pass --nats-user"),
        "{err}"
    );

    // A deploy and a host (its key-value stores too) with the password from the environment.
    let manifest = super::kv::one_store_app(&hub, "locked", r#""default""#);
    let mut deploy = hub.cmd();
    deploy
        .args([
            "deploy",
            &manifest,
            "--cluster",
            &url,
            "--nats-user",
            "deployer",
        ])
        .env("WASMHUB_NATS_PASSWORD", PASSWORD);
    let ran = hub.output(&mut deploy);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let host = HostProc::start_with(&hub, &url, "locked", "a0", &good);
    let answer = get(host.addr, &super::kv::at("/kv", "incr", "default", "n")).unwrap();
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (200, "1"),
        "{answer:?}"
    );
}

/// Makes a CA and a certificate for 127.0.0.1 signed by it, in `dir`, with `openssl`.
fn make_certs(dir: &Path, ca: &str) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl is installed");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let (ca_key, ca_pem) = (format!("{ca}.key"), format!("{ca}.pem"));
    let mut args = vec!["req", "-x509", "-days", "2", "-subj", "/CN=wasmhub test CA"];
    args.extend_from_slice(&ec);
    args.extend_from_slice(&["-keyout", &ca_key, "-out", &ca_pem]);
    args.extend_from_slice(&["-addext", "basicConstraints=critical,CA:TRUE"]);
    args.extend_from_slice(&["-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
    run(&args);
    if ca != "ca" {
        return;
    }
    let mut args = vec!["req", "-subj", "/CN=127.0.0.1"];
    args.extend_from_slice(&ec);
    args.extend_from_slice(&["-keyout", "server.key", "-out", "server.csr"]);
    run(&args);
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-days",
        "2",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-extfile",
        "ext.cnf",
    ]);
}

#[test]
fn a_tls_server_is_reached_with_its_ca_and_refused_without_it() {
    let certs = tempfile::tempdir().unwrap();
    make_certs(certs.path(), "ca");
    make_certs(certs.path(), "other-ca");
    let p = |f: &str| certs.path().join(f).display().to_string();
    let server = NatsServer::start(&format!(
        "tls {{ cert_file: {:?}, key_file: {:?} }}",
        p("server.pem"),
        p("server.key")
    ))
    .expect("nats-server starts (cargo xtask setup)");
    let url = server.url();
    let hub = Hub::new();
    let (code, err) = status(&hub, &url, &["--nats-tls-ca", &p("ca.pem")], None);
    assert_eq!(code, 0, "{err}");
    let ran = run_bounded(
        &hub,
        &[
            "cluster",
            "status",
            "--cluster",
            &url,
            "--nats-tls-ca",
            &p("other-ca.pem"),
        ],
        Duration::from_secs(120),
    )
    .expect("status gives up on a certificate it cannot verify");
    assert_ne!(ran.code, 0);
    assert!(
        ran.stderr.contains(&format!(
            "cannot make a TLS connection to NATS server {url}"
        )) && ran.stderr.contains("--nats-tls-ca"),
        "{}",
        ran.stderr
    );
    let (code, err) = status(&hub, &url, &["--nats-tls-ca", &p("missing.pem")], None);
    assert_ne!(code, 0);
    assert!(err.contains("cannot read --nats-tls-ca"), "{err}");
}
