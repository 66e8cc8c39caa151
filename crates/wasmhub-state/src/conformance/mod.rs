//! The semantics every [`KvBackend`] keeps, as one suite any backend's tests can run:
//! `conformance::run_all(|| Arc::new(MyBackend::new()) as _).await`.
//!
//! Each check takes a fresh backend from `make` and writes to app [`APP`] only. Failures
//! panic with the rule that was broken.

mod counters;
mod listing;
mod writes;

use std::sync::Arc;

use crate::backend::{KvBackend, StoreId, Usage};
use crate::limits::KvLimits;
use crate::ops::Kv;
use counters::{concurrent_increments_lose_nothing, increment_rules, swap_races_have_one_winner};
use listing::{export_then_import, list_pages_are_stable_under_writes, odd_labels_and_keys};
use writes::{
    batches, conditional_writes, quotas_at_the_edge, revisions_increase_and_are_never_reused,
    sizes_at_the_edge,
};

/// The app every check writes to.
pub const APP: &str = "conformance";

/// Runs every check, each on a fresh backend from `make`.
pub async fn run_all(make: impl Fn() -> Arc<dyn KvBackend>) {
    revisions_increase_and_are_never_reused(make()).await;
    conditional_writes(make()).await;
    sizes_at_the_edge(make()).await;
    quotas_at_the_edge(make()).await;
    increment_rules(make()).await;
    concurrent_increments_lose_nothing(make()).await;
    swap_races_have_one_winner(make()).await;
    list_pages_are_stable_under_writes(make()).await;
    batches(make()).await;
    odd_labels_and_keys(make()).await;
    export_then_import(make()).await;
}

pub(super) fn store(label: &str) -> StoreId {
    StoreId::new(APP, label)
}

pub(super) fn kv(backend: &Arc<dyn KvBackend>) -> Kv {
    Kv::new(backend.clone(), KvLimits::default())
}

/// The usage of `store` counted through `list` and `get`, to compare with `usage`.
pub async fn recount(backend: &Arc<dyn KvBackend>, store: &StoreId) -> Usage {
    let mut usage = Usage::default();
    let mut after: Option<String> = None;
    loop {
        let page = backend.list(store, after.as_deref(), 500).await.unwrap();
        for key in &page.keys {
            if let Some(e) = backend.get(store, key).await.unwrap() {
                usage.keys += 1;
                usage.bytes += (key.len() + e.value.len()) as u64;
            }
        }
        match page.next {
            Some(n) => after = Some(n),
            None => return usage,
        }
    }
}

pub(super) async fn assert_usage_matches(backend: &Arc<dyn KvBackend>, store: &StoreId) {
    let recorded = backend.usage(store).await.unwrap();
    assert_eq!(
        recorded,
        recount(backend, store).await,
        "usage of {store} equals a recount"
    );
}
