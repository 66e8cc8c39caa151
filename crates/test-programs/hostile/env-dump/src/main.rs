//! `env-dump`: prints every environment variable and argument it can see, to prove it sees only grants.

fn main() {
    for (name, value) in std::env::vars() {
        println!("env {name}={value}");
    }
    for arg in std::env::args() {
        println!("arg {arg}");
    }
}
