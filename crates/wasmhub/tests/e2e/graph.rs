//! Runtime links: `cart` calls `pricing` in process through `invoke` and `serve`, resources
//! cross the link, and every bad link is refused before running, naming both sides.

use test_programs_artifacts::{CART, GREET, PRICING, PRICING_HTTP, PRICING_MISMATCH, RELAY_HTTP};

use super::harness::{Hub, assert_fails_with, g, golden};
use super::server::{Served, manifest, toml_path};

/// A manifest with `cart` (routed at `/cart/...`) and `pricing`; `extra` is appended.
fn shop(hub: &Hub, pricing: &str, extra: &str) -> String {
    manifest(
        hub,
        &format!(
            "[app]\nname = \"shop\"\n\n[component.cart]\nsource = {}\nroute = \"/cart/...\"\n\n\
             [component.pricing]\nsource = {}\n{extra}",
            toml_path(g(CART)),
            toml_path(pricing)
        ),
    )
}

const LINK: &str = "\n[component.cart.link]\n\"acme:pricing/calc\" = \"pricing\"\n";

#[test]
fn invoke_calls_through_a_runtime_link() {
    let hub = Hub::new();
    let path = shop(&hub, g(PRICING), LINK);
    let invoke = |call: &str| {
        let r = hub.run(&["invoke", &path, "--component", "cart", call]);
        assert_eq!(r.code, 0, "{call}: {}", r.stderr);
        r.stdout.trim().to_owned()
    };
    // `checkout` builds a basket (a resource made by pricing) and borrows it twice.
    assert_eq!(
        invoke(r#"checkout([{sku: "apple", qty: 2}, {sku: "pear", qty: 1}])"#),
        "ok(105)"
    );
    // `receipt` hands the basket's ownership to pricing, which consumes it.
    assert_eq!(
        invoke(r#"receipt([{sku: "melon", qty: 1}, {sku: "fig", qty: 3}])"#),
        r#"ok("4 items, 490 EUR")"#
    );
    assert_eq!(
        invoke(r#"checkout([{sku: "kiwi", qty: 1}])"#),
        r#"err("unknown sku: kiwi")"#
    );
    assert_eq!(invoke(r#"relay("fig", 1000)"#), r#""fig: 80 cents""#);
    // The target itself is callable too, and a manifest with several components needs a name.
    let r = hub.run(&[
        "invoke",
        &path,
        "--component",
        "pricing",
        r#"price("pear")"#,
    ]);
    assert_eq!(r.stdout.trim(), "some(45)", "{}", r.stderr);
    let r = hub.run(&["invoke", &path, "describe(\"pear\")"]);
    assert_fails_with(
        &r,
        "has 2 components: pick one with --component NAME (cart, pricing)",
    );
}

#[test]
fn serve_calls_through_a_runtime_link() {
    let hub = Hub::new();
    let path = shop(&hub, g(PRICING), LINK);
    let s = Served::start(&hub, &[&path]);
    for _ in 0..3 {
        let r = s.get("/cart/checkout?apple=2&pear=1");
        assert_eq!((r.status, r.text()), (200, "105".to_owned()));
    }
    let r = s.get("/cart/receipt?apple=1&melon=2");
    assert_eq!((r.status, r.text()), (200, "3 items, 530 EUR".to_owned()));
    let r = s.get("/cart/checkout?kiwi=1");
    assert_eq!((r.status, r.text()), (422, "unknown sku: kiwi".to_owned()));
    let check = hub.run(&["check", &path]);
    assert_eq!(check.code, 0, "{}", check.stderr);
    assert!(
        check
            .stdout
            .contains("linked                   acme:pricing/calc@0.1.0 -> component \"pricing\""),
        "{}",
        check.stdout
    );
    let drawn = "links:\n  cart\n  └─ acme:pricing/calc@0.1.0 -> pricing (";
    assert!(check.stdout.contains(drawn), "{}", check.stdout);
}

/// `check` and `serve` refuse `text` (a manifest) with the same message, kept as golden `name`.
fn refused(hub: &Hub, path: &str, name: &str) {
    let check = hub.run(&["check", path]);
    assert_eq!(check.code, 2, "{}", check.stdout);
    let serve = hub.run(&["serve", "--addr", "127.0.0.1:0", path]);
    assert_eq!(serve.code, 2, "refused before listening: {}", serve.stdout);
    assert_eq!(check.stderr, serve.stderr);
    golden(name, &hub.normalize(&serve.stderr));
}

#[test]
fn a_missing_link_names_the_import_and_who_exports_it() {
    let hub = Hub::new();
    let path = shop(&hub, g(PRICING), "");
    refused(&hub, &path, "link-missing");
}

#[test]
fn a_link_that_does_not_fit_names_both_sides_and_the_difference() {
    let hub = Hub::new();
    let path = shop(&hub, g(PRICING_MISMATCH), LINK);
    refused(&hub, &path, "link-mismatch");
    let r = hub.run(&["invoke", &path, "--component", "cart", r#"relay("fig", 1)"#]);
    assert_fails_with(
        &r,
        "parameter `sku`: component \"cart\" passes string but component \"pricing\" takes u32",
    );
}

#[test]
fn links_to_the_wrong_import_or_a_non_exporter_are_refused() {
    let hub = Hub::new();
    let path = shop(
        &hub,
        g(PRICING),
        "\n[component.cart.link]\n\"acme:pricing/calc\" = \"greet\"\n\n[component.greet]\nsource = "
            .to_owned()
            .as_str(),
    );
    let text = std::fs::read_to_string(&path).unwrap() + &toml_path(g(GREET)) + "\n";
    std::fs::write(&path, text).unwrap();
    refused(&hub, &path, "link-not-exported");
    let path = shop(
        &hub,
        g(PRICING),
        "\n[component.cart.link]\n\"acme:pricing/calx\" = \"pricing\"\n",
    );
    refused(&hub, &path, "link-no-such-import");
}

#[test]
fn a_cycle_of_links_is_refused_with_its_path() {
    let hub = Hub::new();
    let path = shop(
        &hub,
        g(PRICING),
        &format!("{LINK}\n[component.pricing.link]\n\"acme:cart/shop\" = \"cart\"\n"),
    );
    refused(&hub, &path, "link-cycle");
}

#[test]
fn the_same_call_over_http_between_two_serve_processes() {
    // The network-hop baseline of the graph benchmark: relay-http in one process calls
    // pricing-http in another over loopback.
    let hub = Hub::new();
    let pricing = Served::start(&hub, &[g(PRICING_HTTP)]);
    let grant = format!("http://{}", pricing.addr);
    let relay = Served::start(&hub, &["--outbound", &grant, g(RELAY_HTTP)]);
    let r = relay.get(&format!(
        "/?n=3&url=http://{}/describe?sku=pear",
        pricing.addr
    ));
    assert_eq!((r.status, r.text()), (200, "pear: 45 cents".to_owned()));
}

#[test]
fn compose_from_links_or_plugs_runs_standalone() {
    let hub = Hub::new();
    let path = shop(&hub, g(PRICING), LINK);
    let out = hub.tmp.path().join("composed.wasm");
    let out = out.to_str().unwrap();
    let r = hub.run(&["compose", &path, "--component", "cart", "-o", out]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // The composed component needs no manifest and no link: pricing is inside it.
    let r = hub.run(&["invoke", out, r#"receipt([{sku: "pear", qty: 2}])"#]);
    assert_eq!(r.stdout.trim(), r#"ok("2 items, 90 EUR")"#, "{}", r.stderr);
    let inspect = hub.run(&["inspect", out]);
    assert!(
        !inspect.stdout.contains("acme:pricing/calc"),
        "{}",
        inspect.stdout
    );
    let s = Served::start(&hub, &[out]);
    let r = s.get("/checkout?fig=2");
    assert_eq!((r.status, r.text()), (200, "160".to_owned()));

    let plugged = hub.tmp.path().join("plugged.wasm");
    let plugged = plugged.to_str().unwrap();
    let r = hub.run(&["compose", g(CART), "--plug", g(PRICING), "-o", plugged]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = hub.run(&["invoke", plugged, r#"checkout([{sku: "melon", qty: 1}])"#]);
    assert_eq!(r.stdout.trim(), "ok(250)", "{}", r.stderr);

    // A plug that serves nothing, and a link that does not fit, are refused.
    let r = hub.run(&["compose", g(CART), "--plug", g(GREET), "-o", plugged]);
    assert_eq!(r.code, 2);
    golden("compose-plug-serves-nothing", &hub.normalize(&r.stderr));
    let bad = shop(&hub, g(PRICING_MISMATCH), LINK);
    let r = hub.run(&["compose", &bad, "--component", "cart", "-o", out]);
    assert_fails_with(
        &r,
        "does not fit: in acme:pricing/calc@0.1.0, function `describe`",
    );
}

#[test]
fn inspect_draws_the_graph_of_a_manifest() {
    let hub = Hub::new();
    let path = shop(&hub, g(PRICING), LINK);
    let r = hub.run(&["inspect", &path]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("  cart     "), "{}", r.stdout);
    assert!(r.stdout.contains("http-proxy"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("links:\n  cart\n  └─ acme:pricing/calc@0.1.0 -> pricing ("),
        "{}",
        r.stdout
    );
}

#[test]
fn the_composed_component_answers_alike_in_node_via_jco() {
    let hub = Hub::new();
    let path = shop(&hub, g(PRICING), LINK);
    let out = hub.tmp.path().join("composed.wasm");
    let out = out.to_str().unwrap();
    let r = hub.run(&["compose", &path, "--component", "cart", "-o", out]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let calls = [
        (
            r#"checkout([{sku: "apple", qty: 2}, {sku: "pear", qty: 1}])"#,
            "shop.checkout([{ sku: 'apple', qty: 2 }, { sku: 'pear', qty: 1 }])",
        ),
        (
            r#"receipt([{sku: "melon", qty: 1}, {sku: "fig", qty: 3}])"#,
            "shop.receipt([{ sku: 'melon', qty: 1 }, { sku: 'fig', qty: 3 }])",
        ),
        (
            r#"checkout([{sku: "kiwi", qty: 1}])"#,
            "shop.checkout([{ sku: 'kiwi', qty: 1 }])",
        ),
    ];
    // Results printed as WAVE prints them: ok(..)/err(..) with strings quoted.
    let mut script = String::from(
        "import { shop } from './cart/cart.js';\n\
         const wave = (v) => typeof v === 'string' ? JSON.stringify(v) : String(v);\n\
         const show = (f) => { try { return `ok(${wave(f())})`; } catch (e) { return `err(${wave(e.payload)})`; } };\n",
    );
    for (_, js) in &calls {
        script.push_str(&format!("console.log(show(() => {js}));\n"));
    }
    let node = super::node::run_in_node(&hub, out, "cart", &script);
    assert_eq!(node.code, 0, "{}{}", node.stdout, node.stderr);
    let from_node: Vec<&str> = node.stdout.lines().collect();
    for (i, (call, _)) in calls.iter().enumerate() {
        let r = hub.run(&["invoke", out, call]);
        assert_eq!(from_node[i], r.stdout.trim(), "{call}: {}", r.stderr);
    }
}

#[test]
fn each_linked_component_keeps_its_own_budget_and_grants() {
    let hub = Hub::new();
    let path = shop(
        &hub,
        g(PRICING),
        &format!("{LINK}\n[component.pricing.budget]\nfuel = 200000\n"),
    );
    let ok = hub.run(&[
        "invoke",
        &path,
        "--component",
        "cart",
        r#"relay("fig", 10)"#,
    ]);
    assert_eq!(ok.stdout.trim(), r#""fig: 80 cents""#, "{}", ok.stderr);
    // Cart has no fuel budget; pricing runs out of its own.
    let r = hub.run(&[
        "invoke",
        &path,
        "--component",
        "cart",
        r#"relay("fig", 100000)"#,
    ]);
    assert_eq!(r.code, 2);
    assert_eq!(
        r.stderr.trim(),
        "error: component \"pricing\" ran out of fuel: it used all 200,000 units of its budget"
    );
    let s = Served::start(&hub, &[&path]);
    let r = s.get("/cart/checkout?apple=1");
    assert_eq!(r.status, 200, "{}", r.text());
    let r = s.get(&format!("/cart/checkout?{}", "apple=1&".repeat(2000)));
    assert_eq!(r.status, 500);
    assert_eq!(r.header("x-wasmhub-budget"), Some("fuel"));
    assert!(
        r.text()
            .starts_with("the request was stopped: component \"pricing\" ran out of fuel"),
        "{}",
        r.text()
    );
    let r = s.get("/cart/checkout?pear=1");
    assert_eq!(
        (r.status, r.text()),
        (200, "45".to_owned()),
        "the next request is fine"
    );

    // A link target's grants are checked like any component's: pricing imports stdio.
    let hub = Hub::new();
    let path = shop(
        &hub,
        g(PRICING),
        &format!("{LINK}\n[component.pricing.grant]\nstdio = false\n"),
    );
    let r = hub.run(&["invoke", &path, "--component", "cart", r#"relay("fig", 1)"#]);
    assert_fails_with(
        &r,
        "component \"pricing\" imports wasi:cli/{stdin, stdout, stderr",
    );
}
