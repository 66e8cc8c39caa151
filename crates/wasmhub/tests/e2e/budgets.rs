//! Budgets: each limit stops a guest past it, names itself, and lets one just under it pass.

use test_programs_artifacts::{BIG, FS_ESCAPE, HOG};

use super::harness::{Hub, Ran, g, golden};

fn invoke(hub: &Hub, flags: &[&str], call: &str) -> Ran {
    let mut args = vec!["invoke"];
    args.extend_from_slice(flags);
    args.extend([g(HOG), call]);
    hub.run(&args)
}

/// The fuel a call used, from `--report=json`.
fn fuel_used(hub: &Hub, call: &str) -> u64 {
    let r = invoke(hub, &["--report=json"], call);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(r.stderr.trim()).unwrap();
    v["fuel"].as_u64().unwrap()
}

#[test]
fn size_is_checked_before_compiling() {
    let hub = Hub::new();
    let r = hub.run(&["invoke", "--max-size", "100KiB", g(BIG), "size()"]);
    assert_eq!(r.code, 2);
    golden("budget-size", &hub.normalize(&r.stderr));
    let r = hub.run(&["invoke", "--max-size", "16MiB", g(BIG), "size()"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn fuel_stops_at_the_budget_and_is_deterministic() {
    let hub = Hub::new();
    let used = fuel_used(&hub, "spin(20000)");
    assert_eq!(
        used,
        fuel_used(&hub, "spin(20000)"),
        "same input, same fuel"
    );
    assert!(used > 20_000, "at least one unit per round: {used}");
    let exact = used.to_string();
    let r = invoke(&hub, &["--fuel", &exact], "spin(20000)");
    assert_eq!(r.code, 0, "exactly the fuel it needs passes: {}", r.stderr);
    // Fuel is checked at loop heads and calls, so the last straight stretch may overrun a
    // budget by a few dozen units: 1% less than the reported use must fail.
    let less = used - used / 100;
    let short = less.to_string();
    let r = invoke(&hub, &["--fuel", &short], "spin(20000)");
    assert_eq!(r.code, 2);
    let units = r
        .stderr
        .trim()
        .strip_prefix("error: the component ran out of fuel: it used all ")
        .and_then(|m| m.strip_suffix(" units of its budget"))
        .unwrap_or_else(|| panic!("{}", r.stderr));
    assert_eq!(units.replace(',', ""), less.to_string(), "{units}");
}

#[test]
fn deadline_stops_an_endless_loop() {
    let hub = Hub::new();
    let r = invoke(&hub, &["--deadline", "20ms"], "spin-forever()");
    assert_eq!(r.code, 2);
    let msg = r.stderr.trim();
    let after = msg
        .strip_prefix("error: the component exceeded its deadline of 20 ms (stopped after ")
        .and_then(|m| m.strip_suffix(" ms)"))
        .unwrap_or_else(|| panic!("{msg}"));
    let after: f64 = after.parse().unwrap();
    assert!((20.0..2000.0).contains(&after), "{msg}");
    let r = invoke(&hub, &["--deadline", "10s"], "spin(100000)");
    assert_eq!(r.code, 0, "a slow but legal call passes: {}", r.stderr);
}

#[test]
fn memory_is_capped_in_total_and_per_grow() {
    let hub = Hub::new();
    let r = invoke(&hub, &["--memory", "8MiB"], "hoard(16)");
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("error: the component tried to grow memory to ")
            && r.stderr.contains(" MiB; its budget is 8 MiB"),
        "{}",
        r.stderr
    );
    let r = invoke(&hub, &["--memory", "8MiB"], "hoard(4)");
    assert_eq!(r.stdout, "4\n", "{}", r.stderr);
    let r = invoke(&hub, &["--memory", "8MiB"], "grow-once(1000)");
    assert_eq!(r.code, 2);
    golden("budget-memory-grow", &r.stderr);
    let r = invoke(&hub, &["--memory", "8MiB"], "grow-once(16)");
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn stack_stops_deep_recursion() {
    let hub = Hub::new();
    let r = invoke(&hub, &[], "recurse(3000)");
    assert_eq!(r.stdout, "3000\n", "{}", r.stderr);
    let r = invoke(&hub, &["--stack", "16KiB"], "recurse(3000)");
    assert_eq!(r.code, 2);
    golden("budget-stack", &r.stderr);
    let r = invoke(&hub, &[], "recurse(10000000)");
    assert!(
        r.stderr
            .contains("exhausted its wasm stack budget of 512 KiB"),
        "{}",
        r.stderr
    );
}

/// The `function` profile with only its deadline lifted: its 5 ms is too tight for a loaded 2-core
/// CI machine (CI once stopped a run at 5.7 ms), and the deadline has its own tests above.
const FUNCTION: [&str; 4] = ["--profile", "function", "--deadline", "10s"];

#[test]
fn function_profile_limits_input_output_and_determinism() {
    let hub = Hub::new();
    let r = invoke(&hub, &FUNCTION, "text(30000)");
    assert_eq!(r.code, 2);
    golden("budget-output", &r.stderr);
    let r = invoke(&hub, &FUNCTION, "text(100)");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let long = format!("measure(\"{}\")", "x".repeat(130_000));
    let r = invoke(&hub, &FUNCTION, &long);
    assert_eq!(r.code, 2);
    golden("budget-input", &r.stderr);
    // No clocks and no random under the profile: a component importing them is refused.
    let r = hub.run(&["run", "--profile", "function", g(FS_ESCAPE)]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains(
            "imports wasi:clocks/wall-clock@0.2.6 but clocks are denied (flag --profile function)"
        ),
        "{}",
        r.stderr
    );
}

#[test]
fn report_shows_use_against_the_budget() {
    let hub = Hub::new();
    let r = invoke(&hub, &[&FUNCTION[..], &["--report"]].concat(), "spin(1000)");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(lines.len(), 4, "{}", r.stderr);
    assert!(
        lines[1].starts_with("report: wall time")
            && lines[1].contains("10.00 s")
            && lines[1].ends_with('%'),
        "the deadline in force is reported: {}",
        lines[1]
    );
    assert!(
        lines[2].contains("11,000,000") && lines[2].ends_with('%'),
        "{}",
        lines[2]
    );
    assert!(lines[3].starts_with("report: peak memory") && lines[3].contains("9.5 MiB"));
}

#[test]
fn serve_names_the_budget_and_serves_on() {
    use super::server::{Served, manifest, toml_path};
    use test_programs_artifacts::{HELLO_HTTP, MISBEHAVE_HTTP};
    let hub = Hub::new();
    let path = manifest(
        &hub,
        &format!(
            "[app]\nname = \"shop\"\n\n[component.hello]\nsource = {}\nroute = \"/hello\"\n\n\
             [component.bad]\nsource = {}\nroute = \"/bad/...\"\n\n[component.bad.budget]\n\
             fuel = 50000000\nmemory = \"16MiB\"\n\n[component.slow]\nsource = {}\n\
             route = \"/slow/...\"\n\n[component.slow.budget]\ndeadline = \"100ms\"\n",
            toml_path(g(HELLO_HTTP)),
            toml_path(g(MISBEHAVE_HTTP)),
            toml_path(g(MISBEHAVE_HTTP)),
        ),
    );
    let s = Served::start(&hub, &[&path]);
    for (route, status, budget, says) in [
        (
            "/bad/loop",
            500,
            "fuel",
            "ran out of fuel: it used all 50,000,000 units",
        ),
        ("/bad/grow", 500, "memory", "its budget is 16 MiB"),
        (
            "/slow/loop",
            504,
            "deadline",
            "within its deadline of 100ms",
        ),
    ] {
        let r = s.get(route);
        assert_eq!(r.status, status, "{route}: {}", r.text());
        assert_eq!(r.header("x-wasmhub-budget"), Some(budget), "{route}");
        assert!(r.text().contains(says), "{route}: {}", r.text());
        assert_eq!(
            s.get("/hello").text(),
            "Hello, wasm!",
            "others are unaffected"
        );
    }
    assert_eq!(
        s.get("/bad/fine").text(),
        "ok",
        "under its budget it answers"
    );
    // The access line carries the figures (fuel is metered: the app has a fuel budget).
    let log = s.wait_log("path=\"/bad/fine\"");
    let line = log
        .lines()
        .find(|l| l.contains("wasmhub::access") && l.contains("path=\"/bad/fine\""))
        .unwrap_or_else(|| panic!("{log}"));
    assert!(
        line.contains(" fuel=") && line.contains(" peak_memory="),
        "{line}"
    );
}
