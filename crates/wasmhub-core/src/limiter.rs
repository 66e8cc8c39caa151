//! A store's memory budget as its `ResourceLimiter`: linear memories and tables together.
//!
//! Tables count against the memory budget at [`TABLE_ELEMENT_BYTES`] per element (an
//! element is a pointer: a function reference or a GC reference slot), so a component cannot
//! hold memory outside its cap in tables. Whatever the budget, one table is capped at
//! [`MAX_TABLE_ELEMENTS`]. A grow that Wasmtime refuses after asking (past the memory's or
//! table's declared maximum, past the pooling slot, out of address space) is taken back out.

use wasmtime::ResourceLimiter;

use crate::BudgetExceeded;

/// Bytes a table element counts for against the memory budget: one pointer.
pub const TABLE_ELEMENT_BYTES: u64 = std::mem::size_of::<usize>() as u64;

/// Elements one table may hold whatever the budget: 1M is the most any real component uses.
pub const MAX_TABLE_ELEMENTS: usize = 1 << 20;

/// What Wasmtime says when it fails a grow before asking the limiter (nothing was counted).
const UNASKED_FAILURES: [&str; 2] = [
    "memory growth exceeds memory type's limits",
    "overflow calculating new table size",
];

/// Tracks a store's linear memory and tables against the budget; the store's `ResourceLimiter`.
#[derive(Debug, Default)]
pub struct MemoryMeter {
    cap: Option<u64>,
    /// Bytes of memories and tables held now.
    current: u64,
    peak: u64,
    refused: Option<BudgetExceeded>,
    /// `(current, peak)` before the last grow allowed, to take it back if Wasmtime fails it.
    before: Option<(u64, u64)>,
}

impl MemoryMeter {
    /// A meter allowing `cap` bytes of linear memory and tables in total, or any amount.
    pub fn new(cap: Option<u64>) -> Self {
        Self {
            cap,
            ..Self::default()
        }
    }

    /// The most linear memory and table space the store held at once, in bytes.
    pub fn peak(&self) -> u64 {
        self.peak
    }

    /// The budget a grow went past, when one did.
    pub fn refused(&self) -> Option<&BudgetExceeded> {
        self.refused.as_ref()
    }

    /// Counts a grow from `current` to `desired` bytes of one memory or table; past the cap
    /// it is refused with the error `over` makes from the cap and the total asked.
    fn grow(
        &mut self,
        current: u64,
        desired: u64,
        over: impl FnOnce(u64, u64) -> BudgetExceeded,
    ) -> wasmtime::Result<bool> {
        let next = (self.current + desired).saturating_sub(current);
        if let Some(cap) = self.cap.filter(|cap| next > *cap) {
            // Stop the guest here rather than hand it a -1 it may ignore or misread: the
            // error then names the budget and the size asked for.
            let e = over(cap, next);
            self.refused = Some(e.clone());
            return Err(e.into());
        }
        self.before = Some((self.current, self.peak));
        self.current = next;
        self.peak = self.peak.max(next);
        Ok(true)
    }

    /// Wasmtime failed a grow: take back the one last counted, unless Wasmtime failed it
    /// before asking (then the last counted one went through).
    fn failed(&mut self, error: &wasmtime::Error) {
        let text = error.to_string();
        if UNASKED_FAILURES.iter().any(|m| text.contains(m)) {
            return;
        }
        if let Some((current, peak)) = self.before.take() {
            self.current = current;
            self.peak = peak;
        }
    }
}

impl ResourceLimiter for MemoryMeter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.grow(current as u64, desired as u64, |limit, asked| {
            BudgetExceeded::Memory { limit, asked }
        })
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.failed(&error);
        Ok(())
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > MAX_TABLE_ELEMENTS {
            return Ok(false);
        }
        let bytes = |n: usize| n as u64 * TABLE_ELEMENT_BYTES;
        self.grow(bytes(current), bytes(desired), |limit, asked| {
            BudgetExceeded::Table {
                limit,
                asked,
                elements: desired as u64,
            }
        })
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.failed(&error);
        Ok(())
    }

    fn instances(&self) -> usize {
        1_000
    }

    fn tables(&self) -> usize {
        1_000
    }

    fn memories(&self) -> usize {
        100
    }
}

#[cfg(test)]
mod tests {
    use wasmtime::{Engine, Instance, Module, Store};

    use super::*;

    /// A module with one memory (`pages` pages, at most `max`) and one table (1 element, at
    /// most 4), exporting `grow-memory(pages)` and `grow-table(elements)`.
    const GROWER: &str = r#"(module
        (memory 1 2)
        (table 1 4 funcref)
        (func (export "grow-memory") (param i32) (result i32) (memory.grow (local.get 0)))
        (func (export "grow-table") (param i32) (result i32)
            (table.grow (ref.null func) (local.get 0)))
        (table $big 0 funcref)
        (func (export "grow-big") (param i32) (result i32)
            (table.grow $big (ref.null func) (local.get 0))))"#;

    fn grower(cap: Option<u64>) -> (Store<MemoryMeter>, Instance) {
        let engine = Engine::default();
        let module = Module::new(&engine, GROWER).unwrap();
        let mut store = Store::new(&engine, MemoryMeter::new(cap));
        store.limiter(|m| m);
        let instance = Instance::new(&mut store, &module, &[]).unwrap();
        (store, instance)
    }

    fn call(
        store: &mut Store<MemoryMeter>,
        instance: &Instance,
        name: &str,
        n: i32,
    ) -> wasmtime::Result<i32> {
        let f = instance
            .get_typed_func::<i32, i32>(&mut *store, name)
            .unwrap();
        f.call(&mut *store, n)
    }

    const PAGE: u64 = 64 << 10;

    #[test]
    fn memories_add_up_to_the_cap() {
        let mut m = MemoryMeter::new(Some(2 << 20));
        assert!(m.memory_growing(0, 1 << 20, None).unwrap());
        assert!(
            m.memory_growing(0, 1 << 20, None).unwrap(),
            "a second memory"
        );
        assert!(m.memory_growing(1 << 20, 2 << 20, None).is_err());
        assert!(matches!(
            m.refused(),
            Some(BudgetExceeded::Memory { asked, .. }) if *asked == 3 << 20
        ));
        assert_eq!(m.peak(), 2 << 20);
    }

    #[test]
    fn tables_count_against_the_memory_budget() {
        let cap = PAGE + 8 * TABLE_ELEMENT_BYTES + (1 << 20);
        let (mut store, instance) = grower(Some(cap));
        let start = PAGE + TABLE_ELEMENT_BYTES;
        assert_eq!(
            store.data().peak(),
            start,
            "the table's first element counts"
        );
        // 1 MiB of table elements fits beside the memory; one more element does not.
        let fits = ((1 << 20) / TABLE_ELEMENT_BYTES) as i32;
        assert_eq!(call(&mut store, &instance, "grow-big", fits).unwrap(), 0);
        let err = call(&mut store, &instance, "grow-big", 8).unwrap_err();
        let exceeded = err
            .chain()
            .find_map(|c| c.downcast_ref::<BudgetExceeded>())
            .unwrap_or_else(|| panic!("{err:?}"));
        assert_eq!(exceeded.kind(), "memory");
        assert!(
            exceeded.to_string().starts_with(&format!(
                "tried to grow a table to {} elements (8 bytes each)",
                crate::thousands(fits as u64 + 8)
            )),
            "{exceeded}"
        );
        assert!(matches!(
            store.data().refused(),
            Some(BudgetExceeded::Table { .. })
        ));
    }

    #[test]
    fn a_table_without_a_budget_is_still_bounded() {
        let (mut store, instance) = grower(None);
        let over = MAX_TABLE_ELEMENTS as i32 + 1;
        assert_eq!(call(&mut store, &instance, "grow-big", over).unwrap(), -1);
        assert_eq!(store.data().peak(), PAGE + TABLE_ELEMENT_BYTES);
    }

    #[test]
    fn a_grow_wasmtime_fails_is_not_counted() {
        let (mut store, instance) = grower(Some(64 << 20));
        let start = store.data().peak();
        // Past the declared maxima (2 pages, 4 elements): Wasmtime fails them after asking.
        assert_eq!(call(&mut store, &instance, "grow-memory", 5).unwrap(), -1);
        assert_eq!(call(&mut store, &instance, "grow-table", 10).unwrap(), -1);
        assert_eq!(store.data().peak(), start, "failed grows leave the peak");
        assert_eq!(store.data().current, start);
        // A grow that goes through stays counted when the next one fails.
        assert_eq!(call(&mut store, &instance, "grow-memory", 1).unwrap(), 1);
        assert_eq!(call(&mut store, &instance, "grow-memory", 1).unwrap(), -1);
        assert_eq!(store.data().current, start + PAGE);
        assert_eq!(store.data().peak(), start + PAGE);
    }
}
