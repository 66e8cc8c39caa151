//! JavaScript and Python guests run under wasmhub like the Rust ones: same answers, same
//! grants and budgets.

use test_programs_artifacts::{
    GREET, HELLO_HTTP, JS_GREET, JS_HELLO_HTTP, PY_GREET, PY_HELLO_HTTP,
};

use super::harness::{Hub, assert_fails_with, g};
use super::portability::PYTHON_RUNTIME_GRANTS;
use super::server::Served;

#[test]
fn js_and_python_greet_answer_like_rust() {
    let hub = Hub::shared_cache();
    let calls = [
        r#"greet("world")"#,
        r#"greeter.greet("polyglot")"#,
        "greeter.add(2147483647, 1)",
        "greeter.divide(-7, 2)",
        "greeter.divide(7, 0)",
        "greeter.area(rectangle({x: -3, y: 4}))",
        "greeter.echo-variant(circle(2.5))",
        "greeter.echo-flags({write})",
        "greeter.echo-nested([none, some({x: 5, y: 6})])",
        r#"shouter.shout("straße")"#,
    ];
    for call in calls {
        let rust = hub.run(&["invoke", g(GREET), call]);
        assert_eq!(rust.code, 0, "{call}: {}", rust.stderr);
        for guest in [g(JS_GREET), g(PY_GREET)] {
            let r = hub.run(&["invoke", guest, call]);
            assert_eq!(
                (r.code, &r.stdout),
                (0, &rust.stdout),
                "{guest} {call}: {}",
                r.stderr
            );
        }
    }
    // A guest exception is a trap, as a Rust panic is.
    for guest in [g(GREET), g(JS_GREET), g(PY_GREET)] {
        let r = hub.run(&["invoke", guest, r#"greeter.fail("boom")"#]);
        assert_fails_with(&r, "the guest trapped in wasmhub:demo/greeter#fail");
    }
    // The function profile's size cap explains what it refuses: an engine inside the component.
    let r = hub.run(&[
        "invoke",
        "--profile",
        "function",
        g(JS_GREET),
        r#"greet("x")"#,
    ]);
    assert_fails_with(&r, "carries its language's engine, 12-18 MiB");
}

#[test]
fn js_and_python_http_handlers_serve_like_rust() {
    let hub = Hub::shared_cache();
    // The CPython runtime imports files and sockets it never uses here: it runs with no
    // grants (calls would be denied), and only --strict refuses it before serving.
    let refused = hub.run(&[
        "serve",
        "--strict",
        "--addr",
        "127.0.0.1:0",
        g(PY_HELLO_HTTP),
    ]);
    assert_fails_with(
        &refused,
        "imports wasi:filesystem/{types, preopens}@0.2.9 but is granted no files",
    );
    let mut py = PYTHON_RUNTIME_GRANTS.to_vec();
    py.push(g(PY_HELLO_HTTP));
    let plain = [g(HELLO_HTTP), g(JS_HELLO_HTTP), g(PY_HELLO_HTTP)].map(|c| vec![c]);
    for args in plain.into_iter().chain([py]) {
        let s = Served::start(&hub, &args[..]);
        for _ in 0..3 {
            let r = s.get("/hello");
            assert_eq!(
                (r.status, r.text()),
                (200, "Hello, wasm!".to_owned()),
                "{args:?}"
            );
            assert_eq!(r.header("content-type"), Some("text/plain"));
        }
    }
}
