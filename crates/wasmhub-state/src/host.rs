//! The guest side of key-value and configuration: what each WIT call does, written once on
//! [`StateView`]; `p2keyvalue` and `p2config` adapt it to each WIT version's types.

use wasmtime::component::{HasData, Linker, ResourceTable};

use crate::component::StateCtx;
use crate::{Entry, KvError, StoreId};

/// A store the guest opened.
#[derive(Debug)]
pub struct Bucket {
    pub(crate) label: String,
}

/// A compare-and-swap handle: the key and the entry seen when it was made.
#[derive(Debug)]
pub struct Cas {
    pub(crate) label: String,
    pub(crate) key: String,
    pub(crate) seen: Option<Entry>,
}

/// What a key-value call answers the guest, or a trap.
#[derive(Debug)]
pub enum GuestError {
    /// The store is not granted to this component.
    AccessDenied,
    /// Anything else, with a message naming the store and the limit.
    Other(String),
    /// Not the guest's error: the host failed (for example a stale resource handle).
    Trap(wasmtime::Error),
}

impl From<wasmtime::component::ResourceTableError> for GuestError {
    fn from(e: wasmtime::component::ResourceTableError) -> Self {
        Self::Trap(e.into())
    }
}

impl From<KvError> for GuestError {
    fn from(e: KvError) -> Self {
        if matches!(e, KvError::Backend(crate::BackendError::Failed { .. })) {
            tracing::warn!(target: "wasmhub::state", "{e}");
        }
        Self::Other(e.to_string())
    }
}

/// Store data that carries an instance's state context and resource table.
pub trait HasState: Send + 'static {
    /// The instance's view.
    fn state(&mut self) -> StateView<'_>;
}

/// One instance's state context and its resource table, for the duration of a call.
pub struct StateView<'a> {
    /// Its context.
    pub ctx: &'a mut StateCtx,
    /// The store's resource table.
    pub table: &'a mut ResourceTable,
}

pub(crate) struct HasStateView;

impl HasData for HasStateView {
    type Data<'a> = StateView<'a>;
}

/// Links every `wasi:keyvalue` and `wasi:config` version the host provides, and Spin's
/// key-value and variables.
pub fn add_to_linker<T: HasState>(linker: &mut Linker<T>) -> anyhow::Result<()> {
    crate::p2keyvalue::add_to_linker(linker)?;
    crate::spin::add_to_linker(linker)?;
    crate::p2config::add_to_linker(linker)
}

impl StateView<'_> {
    /// Counts `n` operations against the instance's budget.
    pub(crate) fn spend(&mut self, n: usize) -> Result<(), GuestError> {
        let n = u64::try_from(n).unwrap_or(u64::MAX);
        let limit = self.ctx.component.ops_limit;
        let asked = self.ctx.ops.saturating_add(n);
        if asked > limit {
            return Err(GuestError::Other(format!(
                "this instance (one request or call) would make {asked} key-value operations, \
                 past its limit of {limit} (kv-ops under [component.NAME.budget], or --kv-ops)"
            )));
        }
        self.ctx.ops = asked;
        Ok(())
    }

    /// The store and operations of an opened bucket.
    pub(crate) fn store(&self, label: &str) -> Result<(StoreId, crate::Kv), GuestError> {
        self.ctx
            .component
            .stores
            .get(label)
            .cloned()
            .ok_or_else(|| GuestError::Trap(wasmtime::Error::msg("bucket of an ungranted store")))
    }

    /// The label of a bucket the guest opened.
    pub(crate) fn bucket_label(
        &self,
        b: &wasmtime::component::Resource<Bucket>,
    ) -> Result<String, GuestError> {
        Ok(self.table.get(b)?.label.clone())
    }

    /// `open`: a granted label, or `access-denied` (never "no such store").
    pub(crate) fn open(&mut self, label: String) -> Result<Bucket, GuestError> {
        self.spend(1)?;
        if self.ctx.component.stores.contains_key(&label) {
            Ok(Bucket { label })
        } else {
            let denied = wasmhub_caps::Denied::keyvalue(&label);
            self.ctx.component.denials.deny(&denied);
            Err(GuestError::AccessDenied)
        }
    }

    pub(crate) async fn get(
        &mut self,
        b: &str,
        key: String,
    ) -> Result<Option<Vec<u8>>, GuestError> {
        self.spend(1)?;
        let (id, kv) = self.store(b)?;
        Ok(kv.get(&id, &key).await?)
    }

    pub(crate) async fn set(&mut self, b: &str, key: String, v: Vec<u8>) -> Result<(), GuestError> {
        self.spend(1)?;
        let (id, kv) = self.store(b)?;
        Ok(kv.set(&id, &key, v).await?)
    }

    pub(crate) async fn delete(&mut self, b: &str, key: String) -> Result<(), GuestError> {
        self.spend(1)?;
        let (id, kv) = self.store(b)?;
        Ok(kv.delete(&id, &key).await?)
    }

    pub(crate) async fn exists(&mut self, b: &str, key: String) -> Result<bool, GuestError> {
        self.spend(1)?;
        let (id, kv) = self.store(b)?;
        Ok(kv.exists(&id, &key).await?)
    }

    pub(crate) async fn list(
        &mut self,
        b: &str,
        cursor: Option<String>,
    ) -> Result<(Vec<String>, Option<String>), GuestError> {
        self.spend(1)?;
        let (id, kv) = self.store(b)?;
        Ok(kv.list(&id, cursor.as_deref()).await?)
    }

    /// A string cursor as a number, for the draft whose cursors are `u64`.
    pub(crate) fn number_cursor(&mut self, cursor: String) -> u64 {
        crate::cursors::remember(cursor)
    }

    /// The string cursor a number stands for.
    pub(crate) fn cursor_of(&self, n: u64) -> Result<String, GuestError> {
        crate::cursors::recall(n).ok_or_else(|| {
            GuestError::Other(format!(
                "list-keys cursor {n} is unknown: it was not returned by this host, or it is \
                 one of the oldest of {} kept; list again from the start",
                crate::cursors::KEPT
            ))
        })
    }

    pub(crate) async fn increment(
        &mut self,
        b: &str,
        key: String,
        delta: i64,
    ) -> Result<i64, GuestError> {
        self.spend(1)?;
        let (id, kv) = self.store(b)?;
        Ok(kv.increment(&id, &key, delta).await?)
    }

    pub(crate) async fn cas(&mut self, b: &str, key: String) -> Result<Cas, GuestError> {
        self.spend(1)?;
        let (id, kv) = self.store(b)?;
        let seen = kv.read_for_swap(&id, &key).await?;
        Ok(Cas {
            label: b.to_owned(),
            key,
            seen,
        })
    }

    /// Writes `value` if nothing wrote the key since `cas` was made; `Ok(false)` if
    /// something did.
    pub(crate) async fn swap(&mut self, cas: &Cas, value: Vec<u8>) -> Result<bool, GuestError> {
        self.spend(1)?;
        let (id, kv) = self.store(&cas.label)?;
        let seen = cas.seen.as_ref().map(|e| e.revision);
        Ok(kv.swap(&id, &cas.key, seen, value).await?)
    }

    pub(crate) async fn get_many(
        &mut self,
        b: &str,
        keys: Vec<String>,
    ) -> Result<Vec<Option<(String, Vec<u8>)>>, GuestError> {
        self.spend(keys.len().max(1))?;
        let (id, kv) = self.store(b)?;
        Ok(kv.get_many(&id, keys).await?)
    }

    pub(crate) async fn set_many(
        &mut self,
        b: &str,
        pairs: Vec<(String, Vec<u8>)>,
    ) -> Result<(), GuestError> {
        self.spend(pairs.len().max(1))?;
        let (id, kv) = self.store(b)?;
        Ok(kv.set_many(&id, pairs).await?)
    }

    pub(crate) async fn delete_many(
        &mut self,
        b: &str,
        keys: Vec<String>,
    ) -> Result<(), GuestError> {
        self.spend(keys.len().max(1))?;
        let (id, kv) = self.store(b)?;
        Ok(kv.delete_many(&id, keys).await?)
    }

    /// `wasi:config` `get`: a granted key's value; with no config granted, reported.
    pub(crate) fn config_get(&mut self, key: &str) -> Option<String> {
        let c = &self.ctx.component;
        if !c.config_granted {
            c.denials.deny(&wasmhub_caps::Denied::config(key));
        }
        c.config.get(key).map(str::to_owned)
    }

    /// `wasi:config` `get-all`.
    pub(crate) fn config_all(&mut self) -> Vec<(String, String)> {
        let c = &self.ctx.component;
        if !c.config_granted {
            c.denials.deny(&wasmhub_caps::Denied::config("*"));
        }
        c.config
            .all()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }
}
