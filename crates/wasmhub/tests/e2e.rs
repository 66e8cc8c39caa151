//! End-to-end tests: the real `wasmhub` binary on real guest components.

mod e2e {
    pub mod cache;
    pub mod errors;
    pub mod harness;
    pub mod inspect;
    pub mod invoke;
    pub mod run;
    pub mod serve;
    pub mod server;
}
