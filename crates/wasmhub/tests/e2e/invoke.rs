//! `wasmhub invoke`: name resolution, every WIT value type, JSON, and call errors.

use test_programs_artifacts::{BIG, GREET};

use super::harness::{Hub, g, golden};

fn invoke(hub: &Hub, call: &str) -> String {
    let r = hub.run(&["invoke", g(GREET), call]);
    assert_eq!(r.code, 0, "{call}: {}", r.stderr);
    r.stdout
}

#[test]
fn root_interface_and_qualified_names() {
    let hub = Hub::new();
    assert_eq!(invoke(&hub, r#"greet("world")"#), "\"Hello, world!\"\n");
    assert_eq!(
        invoke(&hub, r#"greeter.greet("x")"#),
        "\"Hello from the greeter, x!\"\n"
    );
    assert_eq!(
        invoke(&hub, r#"wasmhub:demo/greeter#greet("x")"#),
        "\"Hello from the greeter, x!\"\n"
    );
    // A bare name that only one interface exports.
    assert_eq!(invoke(&hub, r#"shout("hey")"#), "\"HEY\"\n");
    assert_eq!(invoke(&hub, "add(2, 40)"), "42\n");
    // No result prints nothing.
    assert_eq!(invoke(&hub, "greeter.nothing()"), "");
}

#[test]
fn every_wit_type_round_trips() {
    let hub = Hub::new();
    let cases = [
        ("echo-bool", "true"),
        ("echo-u8", "255"),
        ("echo-s8", "-128"),
        ("echo-u16", "65535"),
        ("echo-s16", "-32768"),
        ("echo-u32", "4294967295"),
        ("echo-s32", "-2147483648"),
        ("echo-u64", "18446744073709551615"),
        ("echo-s64", "-9223372036854775808"),
        ("echo-f32", "1.5"),
        ("echo-f64", "-0.125"),
        ("echo-f64", "nan"),
        ("echo-f64", "-inf"),
        ("echo-char", "'☃'"),
        ("echo-string", r#""tab\t quote\" unicode ü""#),
        ("echo-list", "[1, 2, 3]"),
        ("echo-list", "[]"),
        ("echo-record", "{x: 1, y: -2}"),
        ("echo-tuple", r#"("a", 7, false)"#),
        ("echo-variant", "circle(2.5)"),
        ("echo-variant", "rectangle({x: 2, y: 3})"),
        ("echo-variant", "empty"),
        ("echo-enum", "green"),
        ("echo-option", r#"some("x")"#),
        ("echo-option", "none"),
        ("echo-result", "ok(5)"),
        ("echo-result", r#"err("bad")"#),
        ("echo-flags", "{read, execute}"),
        ("echo-flags", "{}"),
        ("echo-nested", "[some({x: 1, y: 2}), none]"),
    ];
    for (func, value) in cases {
        let out = invoke(&hub, &format!("greeter.{func}({value})"));
        assert_eq!(out.trim_end(), value, "{func}({value})");
    }
}

#[test]
fn computed_results() {
    let hub = Hub::new();
    assert_eq!(invoke(&hub, "greeter.divide(7, 2)"), "ok(3)\n");
    assert_eq!(
        invoke(&hub, "greeter.divide(7, 0)"),
        "err(\"cannot divide 7 by 0\")\n"
    );
    assert_eq!(invoke(&hub, "area(rectangle({x: 3, y: 4}))"), "12\n");
}

#[test]
fn json_output() {
    let hub = Hub::new();
    let json = |call: &str| {
        let r = hub.run(&["invoke", "--json", g(GREET), call]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        r.stdout.trim_end().to_owned()
    };
    assert_eq!(json(r#"greet("j")"#), r#""Hello, j!""#);
    assert_eq!(
        json("greeter.echo-record({x: 1, y: 2})"),
        r#"{"x":1,"y":2}"#
    );
    assert_eq!(
        json("greeter.echo-variant(circle(1.5))"),
        r#"{"circle":1.5}"#
    );
    assert_eq!(json("greeter.echo-variant(empty)"), r#"{"empty":null}"#);
    assert_eq!(json("greeter.echo-option(none)"), "null");
    assert_eq!(json(r#"greeter.echo-result(err("e"))"#), r#"{"err":"e"}"#);
    assert_eq!(
        json("greeter.echo-flags({read, write})"),
        r#"["read","write"]"#
    );
    assert_eq!(json("greeter.echo-enum(blue)"), r#""blue""#);
    assert_eq!(
        json("greeter.echo-u64(18446744073709551615)"),
        "18446744073709551615"
    );
    assert_eq!(
        json(r#"greeter.echo-tuple(("t", 1, true))"#),
        r#"["t",1,true]"#
    );
}

#[test]
fn large_component() {
    let hub = Hub::new();
    let r = hub.run(&["invoke", g(BIG), "size()"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "4194304\n");
    let again = hub.run(&["invoke", g(BIG), "checksum()"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
}

fn failing(hub: &Hub, call: &str) -> String {
    let r = hub.run(&["invoke", g(GREET), call]);
    assert_eq!(r.code, 2, "{call} should fail");
    assert!(r.stdout.is_empty());
    hub.normalize(&r.stderr)
}

#[test]
fn wrong_arguments_name_the_signature() {
    let hub = Hub::new();
    golden("invoke-wrong-type", &failing(&hub, "greet(42)"));
    golden("invoke-wrong-arity", &failing(&hub, "add(1)"));
    golden(
        "invoke-bad-record",
        &failing(&hub, "greeter.echo-record({x: 1})"),
    );
}

#[test]
fn unknown_and_ambiguous_names() {
    let hub = Hub::new();
    golden("invoke-unknown", &failing(&hub, "gret(\"x\")"));
    golden("invoke-ambiguous", &failing(&hub, "nothing()"));
    golden("invoke-syntax", &failing(&hub, "greet"));
}
