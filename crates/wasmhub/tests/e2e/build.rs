//! `wasmhub build`: providers first, output prefixed, the first failure stops it, the setup
//! step reruns only when its inputs change, then the app is checked as `check` does.

use test_programs_artifacts::{CART, PRICING};

use super::harness::{Hub, g, golden};

/// A shop whose two components are "built" by copying guests: `cart` (routed, links
/// `pricing`) first in the file, `pricing` second; `cart_cmd` replaces cart's copy.
fn shop(hub: &Hub, cart_cmd: &str) -> String {
    let text = format!(
        "[app]\nname = \"shop\"\n\n\
         # the front\n\
         [component.cart]\nsource = \"out/cart.wasm\"\nroute = \"/cart/...\"\n\n\
         [component.cart.build]\ncommand = {cart_cmd:?}\n\
         setup = {{ command = \"echo set up >> setup.log && mkdir -p out\", inputs = [\"deps.lock\"] }}\n\n\
         [component.cart.link]\n\"acme:pricing/calc\" = \"pricing\"\n\n\
         [component.pricing]\nsource = \"out/pricing.wasm\"\n\n\
         [component.pricing.build]\ncommand = \"mkdir -p out && echo pricing >> order.log && cp {} out/pricing.wasm\"\n",
        g(PRICING),
    );
    let path = hub.tmp.path().join("wasmhub.toml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn good_cart() -> String {
    format!(
        "echo cart >> order.log && echo compiling cart && cp {} out/cart.wasm",
        g(CART)
    )
}

#[test]
fn builds_providers_first_then_checks_the_app() {
    let hub = Hub::new();
    let path = shop(&hub, &good_cart());
    // Before a build, serving names the fix.
    let r = hub.run(&["check", &path]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("run `wasmhub build cart` to build it"),
        "{}",
        r.stderr
    );
    let r = hub.run(&["build", &path]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let order = std::fs::read_to_string(hub.tmp.path().join("order.log")).unwrap();
    assert_eq!(order, "pricing\ncart\n", "the provider builds first");
    assert!(
        r.stdout.contains("cart    | compiling cart\n"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("ok: app \"shop\" can be served"),
        "{}",
        r.stdout
    );
    assert_eq!(hub.run(&["check", &path]).code, 0);

    // One component by name; its setup ran once and does not run again.
    let r = hub.run(&["build", "cart", &path]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let order = std::fs::read_to_string(hub.tmp.path().join("order.log")).unwrap();
    assert_eq!(order, "pricing\ncart\ncart\n");
    let setups = || {
        std::fs::read_to_string(hub.tmp.path().join("setup.log"))
            .unwrap()
            .lines()
            .count()
    };
    assert_eq!(setups(), 1, "unchanged inputs: no setup");
    std::fs::write(hub.tmp.path().join("deps.lock"), "v2").unwrap();
    assert_eq!(hub.run(&["build", "cart", &path]).code, 0);
    assert_eq!(setups(), 2, "a changed lockfile reruns the setup");
    assert_eq!(hub.run(&["build", "cart", &path]).code, 0);
    assert_eq!(setups(), 2);
}

#[test]
fn the_first_failure_stops_and_names_the_component() {
    let hub = Hub::new();
    let path = shop(
        &hub,
        "echo cart >> order.log && echo 'error[E0425]: oops' >&2 && exit 101",
    );
    let r = hub.run(&["build", &path]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("cart    | error[E0425]: oops"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("checking app"), "{}", r.stdout);
    golden("build-failed", &hub.normalize(&r.stderr));

    let r = hub.run(&["build", "nope", &path]);
    assert_eq!(r.code, 2);
    golden("build-unknown-component", &hub.normalize(&r.stderr));

    std::fs::write(
        hub.tmp.path().join("bad.toml"),
        "[app]\nname = \"x\"\n\n[component.a]\nsource = \"a.wasm\"\n\n[component.a.build]\ncommand = \"make\"\nwatch = [\"/src/*.rs\"]\n",
    )
    .unwrap();
    let bad = hub.tmp.path().join("bad.toml");
    let r = hub.run(&["build", bad.to_str().unwrap()]);
    assert_eq!(r.code, 2);
    golden("manifest-build-bad-watch", &hub.normalize(&r.stderr));
}
