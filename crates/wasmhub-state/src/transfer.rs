//! Moving a store's data out and in (`wasmhub kv export|import`), on any backend.

use crate::backend::StoreId;
use crate::ops::{Kv, KvError};

/// Pairs written per batch on import.
pub const IMPORT_BATCH: usize = 256;

impl Kv {
    /// Every key of `store` with its value, in key order (keys deleted while the export
    /// runs are left out).
    pub async fn export(&self, store: &StoreId) -> Result<Vec<(String, Vec<u8>)>, KvError> {
        let mut out = Vec::new();
        let mut cursor = None;
        loop {
            let (keys, next) = self.list(store, cursor.as_deref()).await?;
            out.extend(self.get_many(store, keys).await?.into_iter().flatten());
            match next {
                Some(n) => cursor = Some(n),
                None => return Ok(out),
            }
        }
    }

    /// Writes every pair into `store`, [`IMPORT_BATCH`] at a time; the number written.
    /// Sizes are checked for every pair before anything is written.
    pub async fn import(
        &self,
        store: &StoreId,
        pairs: Vec<(String, Vec<u8>)>,
    ) -> Result<u64, KvError> {
        for (key, value) in &pairs {
            self.check_key(store, key)?;
            self.check_value(store, value)?;
        }
        let total = pairs.len() as u64;
        let mut pairs = pairs.into_iter().peekable();
        while pairs.peek().is_some() {
            let chunk: Vec<_> = pairs.by_ref().take(IMPORT_BATCH).collect();
            self.set_many(store, chunk).await?;
        }
        Ok(total)
    }
}
