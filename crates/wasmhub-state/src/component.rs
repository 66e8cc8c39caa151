//! What one component's instances may reach: its granted stores, with their limits, and its
//! configuration. Made once per component (opening the app's backend, reading secrets) and
//! shared by its instances; each instance gets its own [`StateCtx`].

use std::collections::BTreeMap;
use std::sync::Arc;

use wasmhub_app::{Grants, StoreLimits};
use wasmhub_caps::Denials;

use crate::backends::{self, StateError};
use crate::config::{self, Config};
use crate::{Kv, KvLimits, StoreId};

/// A component's stores and configuration, shared by its instances.
pub struct ComponentState {
    /// Its granted stores by label.
    pub(crate) stores: BTreeMap<String, (StoreId, Kv)>,
    /// Key-value operations one instance may make.
    pub(crate) ops_limit: u64,
    /// Its configuration, secrets included (never printed).
    pub(crate) config: Config,
    /// Whether it was granted any configuration.
    pub(crate) config_granted: bool,
    /// Where its denied opens and reads are reported.
    pub(crate) denials: Arc<Denials>,
}

impl std::fmt::Debug for ComponentState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ComponentState")
            .field("stores", &self.stores.keys().collect::<Vec<_>>())
            .field("ops_limit", &self.ops_limit)
            .field("config", &self.config)
            .finish()
    }
}

/// The limits of a store: the defaults, with what `[keyvalue.LABEL]` set.
pub fn store_limits(given: &StoreLimits, kv_ops: Option<u64>) -> KvLimits {
    let d = KvLimits::default();
    let usize_of = |v: Option<u64>, default: usize| {
        v.map_or(default, |v| usize::try_from(v).unwrap_or(usize::MAX))
    };
    KvLimits {
        max_key_bytes: usize_of(given.key_size, d.max_key_bytes),
        max_value_bytes: usize_of(given.value_size, d.max_value_bytes),
        max_keys: given.keys.unwrap_or(d.max_keys),
        max_bytes: given.size.unwrap_or(d.max_bytes),
        max_ops_per_request: kv_ops.unwrap_or(d.max_ops_per_request),
    }
}

impl ComponentState {
    /// For a component with `grants` and at most `kv_ops` key-value operations per
    /// instance: opens the app's backend if it is granted a store, and reads its
    /// configuration (secret files must be readable by their owner only).
    pub fn of(grants: &Grants, kv_ops: Option<u64>) -> Result<Arc<Self>, StateError> {
        let mut stores = BTreeMap::new();
        if !grants.keyvalue.is_empty() {
            let backend = backends::backend_for(&grants.app)?;
            for g in &grants.keyvalue {
                let label = g.value.label.to_string();
                let id = StoreId::new(grants.app.clone(), label.clone());
                let kv = Kv::new(backend.clone(), store_limits(&g.value.limits, kv_ops));
                stores.insert(label, (id, kv));
            }
        }
        Ok(Arc::new(Self {
            stores,
            ops_limit: kv_ops.unwrap_or(KvLimits::default().max_ops_per_request),
            config: config::resolve(grants)?,
            config_granted: !grants.config.is_empty(),
            denials: Denials::of(&grants.site),
        }))
    }

    /// A component granted nothing of this kind: every open is denied, no configuration.
    pub fn none(grants: &Grants) -> Arc<Self> {
        Arc::new(Self {
            stores: BTreeMap::new(),
            ops_limit: 0,
            config: Config::default(),
            config_granted: false,
            denials: Denials::of(&grants.site),
        })
    }

    /// A fresh per-instance context.
    pub fn instance(self: &Arc<Self>) -> StateCtx {
        StateCtx {
            component: self.clone(),
            ops: 0,
        }
    }
}

/// One instance's view of its component's state and the operations it has made so far.
pub struct StateCtx {
    pub(crate) component: Arc<ComponentState>,
    pub(crate) ops: u64,
}

impl std::fmt::Debug for StateCtx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateCtx").field("ops", &self.ops).finish()
    }
}
