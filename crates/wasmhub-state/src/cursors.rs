//! Numbers standing for `list-keys` cursors, for the `wasi:keyvalue` draft whose cursors
//! are `u64`: a page's cursor is handed to one instance and often used by the next one (a
//! client pages through requests), so the numbers are process-wide, the newest kept.

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};

/// How many cursors are remembered; the oldest are forgotten first.
pub const KEPT: usize = 65_536;

#[derive(Default)]
struct Cursors {
    next: u64,
    by_number: BTreeMap<u64, String>,
}

fn cursors() -> &'static Mutex<Cursors> {
    static CURSORS: OnceLock<Mutex<Cursors>> = OnceLock::new();
    CURSORS.get_or_init(Mutex::default)
}

/// A new number for `cursor` (never 0, never reused in this process).
pub fn remember(cursor: String) -> u64 {
    let mut c = cursors().lock().unwrap_or_else(|e| e.into_inner());
    c.next += 1;
    let n = c.next;
    c.by_number.insert(n, cursor);
    while c.by_number.len() > KEPT {
        c.by_number.pop_first();
    }
    n
}

/// The cursor `n` stands for, if it is still remembered.
pub fn recall(n: u64) -> Option<String> {
    let c = cursors().lock().unwrap_or_else(|e| e.into_inner());
    c.by_number.get(&n).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_stand_for_cursors_until_forgotten() {
        let a = remember("k1".into());
        let b = remember("k2".into());
        assert_ne!(a, b);
        assert_eq!(recall(a).as_deref(), Some("k1"));
        assert_eq!(recall(b).as_deref(), Some("k2"));
        assert_eq!(recall(0), None);
        for i in 0..KEPT {
            remember(format!("x{i}"));
        }
        assert_eq!(recall(a), None, "the oldest is forgotten");
    }
}
