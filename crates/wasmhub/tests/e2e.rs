//! End-to-end tests: the real `wasmhub` binary on real guest components.

mod e2e {
    pub mod browser;
    pub mod budgets;
    pub mod cache;
    pub mod caps_files;
    pub mod caps_http;
    pub mod caps_net;
    pub mod conn_limits;
    pub mod crash;
    pub mod errors;
    pub mod graph;
    pub mod graph_budgets;
    pub mod harness;
    pub mod inspect;
    pub mod invoke;
    pub mod kv;
    pub mod kv_cli;
    pub mod kv_concurrency;
    pub mod kv_crash;
    pub mod kv_isolation;
    pub mod kv_limits;
    pub mod kv_secrets;
    pub mod node;
    pub mod oci;
    pub mod polyglot;
    pub mod portability;
    pub mod registry;
    pub mod run;
    pub mod serve;
    pub mod server;
    pub mod spin;
    pub mod state_errors;
    pub mod streaming;
    pub mod wasi3;
    pub mod wasi3_chain;
}
