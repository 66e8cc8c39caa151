//! Group commit: one thread takes every pending write, applies them in order in one
//! durable transaction (one fsync), and only then acknowledges each.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::time::{Duration, Instant};

use redb::{Database, ReadableTable, Table};
use tokio::sync::oneshot;

use super::reads::Reads;
use super::tables::{self, ENTRIES, META, REVISION, USAGE};
use crate::backend::{BackendError, BatchOp, Condition, StoreId, StoreQuota, Usage, Written};
use crate::quota::{Change, check_quota, holds};

/// Most writes one transaction takes, so a flood still commits in bounded steps.
const MAX_GROUP: usize = 4096;
/// Most value bytes one transaction takes (a group stops growing once past it).
const MAX_GROUP_BYTES: usize = 64 << 20;
/// How long after its first write a group may wait for the writers of the previous group
/// to come back. Concurrent writers otherwise each find the writer idle after a fast
/// fsync and commit in groups of a few (one fsync per five writes at 256 connections
/// through `serve`); a lone writer never waits.
const COMMIT_WINDOW: Duration = Duration::from_millis(3);
/// Once a group is as large as the last one, how long it waits for one more write.
const STEADY_GAP: Duration = Duration::from_micros(250);

/// One write waiting for the writer thread.
pub struct Request {
    /// The store written.
    pub store: StoreId,
    /// What to write.
    pub op: Op,
    /// Where the outcome goes, once it is durable.
    pub reply: oneshot::Sender<Result<Written, BackendError>>,
}

/// A write.
pub enum Op {
    /// A conditional put.
    Put {
        key: String,
        value: Vec<u8>,
        condition: Condition,
        quota: StoreQuota,
    },
    /// A conditional delete.
    Delete { key: String, condition: Condition },
    /// An atomic batch.
    Batch {
        ops: Vec<BatchOp>,
        quota: StoreQuota,
    },
}

impl Op {
    /// The bytes of keys and values this write carries.
    fn bytes(&self) -> usize {
        match self {
            Op::Put { key, value, .. } => key.len() + value.len(),
            Op::Delete { key, .. } => key.len(),
            Op::Batch { ops, .. } => ops
                .iter()
                .map(|op| match op {
                    BatchOp::Put { key, value } => key.len() + value.len(),
                    BatchOp::Delete { key } => key.len(),
                })
                .sum(),
        }
    }
}

/// What the writer has done, for benchmarks and `check`.
#[derive(Debug, Default)]
pub struct Counters {
    /// Durable transactions committed.
    pub commits: AtomicU64,
    /// Writes acknowledged after a commit (conflicts and quota refusals included).
    pub writes: AtomicU64,
}

/// The writer thread's loop: runs until every sender is gone.
pub fn run(
    db: Arc<Database>,
    file: String,
    rx: Receiver<Request>,
    counters: Arc<Counters>,
    reads: Arc<Reads>,
) {
    let mut revision = None;
    let mut last_group = 1;
    while let Ok(first) = rx.recv() {
        let group = collect(&rx, first, last_group, COMMIT_WINDOW);
        last_group = group.len();
        match commit_group(&db, &mut revision, &group) {
            Ok(outcomes) => {
                reads.committed();
                counters.commits.fetch_add(1, Ordering::Relaxed);
                counters
                    .writes
                    .fetch_add(group.len() as u64, Ordering::Relaxed);
                for (request, outcome) in group.into_iter().zip(outcomes) {
                    let _ = request.reply.send(outcome);
                }
            }
            Err(e) => {
                // Nothing of this group is known durable: every write in it fails. The
                // revision is read again from the file before the next group.
                revision = None;
                tracing::error!(file = %file, error = %e, "state commit failed");
                let e = Arc::new(e);
                for request in group {
                    let _ = request.reply.send(Err(BackendError::Failed {
                        store: request.store,
                        message: format!("cannot write the state file {file}: {e}"),
                        source: Some(Box::new(SharedError(e.clone()))),
                    }));
                }
            }
        }
    }
}

/// The group that starts with `first`: every write already queued and, unless the last
/// group was a lone write (`last_group`), those that arrive within `window` of its start:
/// all of them until it is as large as the last group, then while each comes within
/// [`STEADY_GAP`] of the one before; bounded by [`MAX_GROUP`] and [`MAX_GROUP_BYTES`].
pub(super) fn collect(
    rx: &Receiver<Request>,
    first: Request,
    last_group: usize,
    window: Duration,
) -> Vec<Request> {
    let opened = Instant::now();
    let mut bytes = first.op.bytes();
    let mut group = vec![first];
    while group.len() < MAX_GROUP && bytes < MAX_GROUP_BYTES {
        let more = match rx.try_recv() {
            Ok(more) => more,
            Err(TryRecvError::Disconnected) => break,
            Err(TryRecvError::Empty) => {
                let left = window.saturating_sub(opened.elapsed());
                if left.is_zero() || (last_group <= 1 && group.len() == 1) {
                    break;
                }
                // Until the last group's size, wait out the window; past it, only while
                // writes keep coming, so a group grows with a steady flow of writers.
                let wait = if group.len() < last_group {
                    left
                } else {
                    left.min(STEADY_GAP)
                };
                match rx.recv_timeout(wait) {
                    Ok(more) => more,
                    Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
                }
            }
        };
        bytes += more.op.bytes();
        group.push(more);
    }
    group
}

/// A redb error shared by every write of a failed group.
#[derive(Debug)]
struct SharedError(Arc<redb::Error>);

impl std::fmt::Display for SharedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SharedError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

/// Applies `group` in order in one transaction and commits it durably. Each write is
/// decided (condition, quota) before it touches a table, so one refused write leaves the
/// others and itself whole. An error from the file itself fails the whole group.
fn commit_group(
    db: &Database,
    revision: &mut Option<u64>,
    group: &[Request],
) -> Result<Vec<Result<Written, BackendError>>, redb::Error> {
    let txn = db.begin_write()?;
    let outcomes = {
        let mut entries = txn.open_table(ENTRIES)?;
        let mut usage_table = txn.open_table(USAGE)?;
        let mut meta = txn.open_table(META)?;
        let mut rev = match *revision {
            Some(r) => r,
            None => meta.get(REVISION)?.map(|g| g.value()).unwrap_or(0),
        };
        let start = rev;
        let mut usages: HashMap<&str, Usage> = HashMap::new();
        let mut outcomes = Vec::with_capacity(group.len());
        for request in group {
            let label = request.store.label.as_str();
            let usage = match usages.get(label) {
                Some(u) => *u,
                None => tables::usage(&usage_table, label)?,
            };
            let mut w = Writes {
                entries: &mut entries,
                label,
                usage,
                rev: &mut rev,
            };
            let outcome = w.apply(&request.store, &request.op)?;
            let usage = w.usage;
            usages.insert(label, usage);
            outcomes.push(outcome);
        }
        for (label, u) in usages {
            usage_table.insert(label, (u.keys, u.bytes))?;
        }
        if rev != start {
            meta.insert(REVISION, rev)?;
        }
        *revision = Some(rev);
        outcomes
    };
    if let Err(e) = txn.commit() {
        *revision = None;
        return Err(e.into());
    }
    Ok(outcomes)
}

/// Writes to one store inside the group's transaction.
struct Writes<'a, 't> {
    entries: &'a mut Table<'t, (&'static str, &'static str), (u64, &'static [u8])>,
    label: &'a str,
    usage: Usage,
    rev: &'a mut u64,
}

impl Writes<'_, '_> {
    /// Decides and applies one write; `Ok(Err(..))` is a refusal that wrote nothing.
    fn apply(
        &mut self,
        store: &StoreId,
        op: &Op,
    ) -> Result<Result<Written, BackendError>, redb::Error> {
        match op {
            Op::Put {
                key,
                value,
                condition,
                quota,
            } => {
                let old = tables::meta(&*self.entries, self.label, key)?;
                if !holds(old.map(|o| o.0), *condition) {
                    return Ok(Ok(Written::Conflict(old.map(|o| o.0))));
                }
                let mut change = Change::default();
                change.remove(key, old.map(|o| o.1));
                change.add(key, value.len());
                match check_quota(store, self.usage, change, *quota) {
                    Ok(u) => self.usage = u,
                    Err(e) => return Ok(Err(e)),
                }
                let rev = self.next_revision();
                self.entries
                    .insert((self.label, key.as_str()), (rev, value.as_slice()))?;
                Ok(Ok(Written::Done(Some(rev))))
            }
            Op::Delete { key, condition } => {
                let old = tables::meta(&*self.entries, self.label, key)?;
                if !holds(old.map(|o| o.0), *condition) {
                    return Ok(Ok(Written::Conflict(old.map(|o| o.0))));
                }
                let Some((old_rev, old_len)) = old else {
                    return Ok(Ok(Written::Done(None)));
                };
                let mut change = Change::default();
                change.remove(key, Some(old_len));
                self.usage = change.apply(self.usage);
                self.entries.remove((self.label, key.as_str()))?;
                Ok(Ok(Written::Done(Some(old_rev))))
            }
            Op::Batch { ops, quota } => {
                let change = Change::of_batch(ops, |key| {
                    Ok::<_, redb::StorageError>(
                        tables::meta(&*self.entries, self.label, key)?.map(|o| o.1),
                    )
                })?;
                match check_quota(store, self.usage, change, *quota) {
                    Ok(u) => self.usage = u,
                    Err(e) => return Ok(Err(e)),
                }
                for op in ops {
                    match op {
                        BatchOp::Put { key, value } => {
                            let rev = self.next_revision();
                            self.entries
                                .insert((self.label, key.as_str()), (rev, value.as_slice()))?;
                        }
                        BatchOp::Delete { key } => {
                            self.entries.remove((self.label, key.as_str()))?;
                        }
                    }
                }
                Ok(Ok(Written::Done(None)))
            }
        }
    }

    fn next_revision(&mut self) -> u64 {
        *self.rev += 1;
        *self.rev
    }
}
