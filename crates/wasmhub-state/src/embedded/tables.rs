//! The three fixed tables of a state file. Store labels and keys are data inside them,
//! never table names.

use redb::{ReadableTable, TableDefinition};

use crate::backend::{Entry, Page, Usage};

/// `(label, key)` to `(revision, value)`.
pub const ENTRIES: TableDefinition<(&str, &str), (u64, &[u8])> = TableDefinition::new("entries");
/// `label` to `(keys, bytes)`, updated in the transaction of every write.
pub const USAGE: TableDefinition<&str, (u64, u64)> = TableDefinition::new("usage");
/// Named numbers: [`REVISION`].
pub const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// The last revision handed out in this file, so none is reused after a restart.
pub const REVISION: &str = "revision";

/// The entry at `(label, key)`.
pub fn get(
    table: &impl ReadableTable<(&'static str, &'static str), (u64, &'static [u8])>,
    label: &str,
    key: &str,
) -> Result<Option<Entry>, redb::StorageError> {
    Ok(table.get((label, key))?.map(|guard| {
        let (revision, value) = guard.value();
        Entry {
            value: value.to_vec(),
            revision,
        }
    }))
}

/// The revision and value length at `(label, key)`, without copying the value.
pub fn meta(
    table: &impl ReadableTable<(&'static str, &'static str), (u64, &'static [u8])>,
    label: &str,
    key: &str,
) -> Result<Option<(u64, usize)>, redb::StorageError> {
    Ok(table.get((label, key))?.map(|guard| {
        let (revision, value) = guard.value();
        (revision, value.len())
    }))
}

/// Up to `limit` keys of `label` after `after`, ascending.
pub fn list(
    table: &impl ReadableTable<(&'static str, &'static str), (u64, &'static [u8])>,
    label: &str,
    after: Option<&str>,
    limit: usize,
) -> Result<Page, redb::StorageError> {
    use std::ops::Bound;
    let start = match after {
        Some(a) => Bound::Excluded((label, a)),
        None => Bound::Included((label, "")),
    };
    let mut keys = Vec::new();
    let mut more = false;
    for item in table.range((start, Bound::Unbounded))? {
        let (k, _) = item?;
        let (l, key) = k.value();
        if l != label {
            break;
        }
        if keys.len() == limit {
            more = true;
            break;
        }
        keys.push(key.to_owned());
    }
    let next = if more { keys.last().cloned() } else { None };
    Ok(Page { keys, next })
}

/// Every entry of `label`, counted.
pub fn recount(
    table: &impl ReadableTable<(&'static str, &'static str), (u64, &'static [u8])>,
    label: &str,
) -> Result<Usage, redb::StorageError> {
    use std::ops::Bound;
    let mut usage = Usage::default();
    for item in table.range((Bound::Included((label, "")), Bound::Unbounded))? {
        let (k, v) = item?;
        let (l, key) = k.value();
        if l != label {
            break;
        }
        usage.keys += 1;
        usage.bytes += (key.len() + v.value().1.len()) as u64;
    }
    Ok(usage)
}

/// The recorded usage of `label`.
pub fn usage(
    table: &impl ReadableTable<&'static str, (u64, u64)>,
    label: &str,
) -> Result<Usage, redb::StorageError> {
    Ok(table
        .get(label)?
        .map(|g| {
            let (keys, bytes) = g.value();
            Usage { keys, bytes }
        })
        .unwrap_or_default())
}
