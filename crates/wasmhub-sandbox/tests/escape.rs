//! "Assume the Wasm sandbox is broken": each escape attempt runs in a worker process that
//! entered exactly the worker's sandbox (`configure` + `enter`, the same calls a worker
//! makes) after running a real component, and must be refused or end the worker by SIGSYS
//! or an OOM kill; the same attempt in the same program outside the sandbox must work.
//! A third run per case starts the worker with `configure` only (pid, net, ipc, uts and
//! cgroup namespaces and the tenant's cgroups; still root, no `enter`) and checks what that
//! outer wall alone stops. The `inspect` case
//! looks at a running worker from /proc and checks each lock-down property directly.
//!
//! `cargo test -p wasmhub-sandbox --test escape [-- CASE...]`; needs root (skips otherwise).

#[path = "escape/attempts.rs"]
mod attempts;
#[path = "escape/driver.rs"]
mod driver;
#[path = "escape/inspect.rs"]
mod inspect;
#[path = "escape/net.rs"]
mod net;
#[path = "escape/worker.rs"]
mod worker;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        let fd = args[3].parse().expect("socket fd");
        worker::main(&args[1], driver::Mode::parse(&args[2]), fd);
    }
    let filters: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with('-'))
        .collect();
    std::process::exit(driver::main(&filters));
}
