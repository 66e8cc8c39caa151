//! Enforcing a [`Budget`] on one store: fuel, an epoch-checked deadline, a memory limiter;
//! turning the traps they cause into errors that name the budget; reporting what was used.

use std::time::{Duration, Instant};

use wasmhub_app::Budget;
use wasmtime::{Store, Trap};

use crate::MemoryMeter;

/// A budget that a run went past, with the limit and what was used or asked.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BudgetExceeded {
    /// Wall clock.
    #[error("exceeded its deadline of {} (stopped after {})", ms(*limit), ms(*after))]
    Deadline {
        /// The budget.
        limit: Duration,
        /// When it was stopped.
        after: Duration,
    },
    /// Fuel.
    #[error("ran out of fuel: it used all {} units of its budget", thousands(*limit))]
    Fuel {
        /// The budget, all used.
        limit: u64,
    },
    /// Linear memory.
    #[error("tried to grow memory to {}; its budget is {}", bytes(*asked), bytes(*limit))]
    Memory {
        /// The budget.
        limit: u64,
        /// The total it asked for.
        asked: u64,
    },
    /// A table's growth, counted against the memory budget.
    #[error(
        "tried to grow a table to {} elements ({} bytes each), bringing its memory and tables to \
         {}; its memory budget is {}",
        thousands(*elements),
        crate::limiter::TABLE_ELEMENT_BYTES,
        bytes(*asked),
        bytes(*limit)
    )]
    Table {
        /// The memory budget.
        limit: u64,
        /// The total of memories and tables it asked for.
        asked: u64,
        /// The table's size asked for, in elements.
        elements: u64,
    },
    /// Wasm call stack.
    #[error("exhausted its wasm stack budget of {} (too deep a recursion?)", bytes(*limit))]
    Stack {
        /// The budget.
        limit: u64,
    },
    /// Component file size.
    #[error(
        "is {}; the size budget is {}{}",
        bytes(*size),
        bytes(*limit),
        if *size > 8 << 20 {
            " (a component built from JavaScript or Python carries its language's engine, \
             12-18 MiB: raise the size budget for it, or write the function in Rust)"
        } else {
            ""
        }
    )]
    Size {
        /// The budget.
        limit: u64,
        /// The file's size.
        size: u64,
    },
    /// `invoke` arguments.
    #[error("was called with {} of arguments; the input budget is {}", bytes(*size), bytes(*limit))]
    Input {
        /// The budget.
        limit: u64,
        /// Their size as WAVE text.
        size: u64,
    },
    /// `invoke` results.
    #[error("returned {} of results; the output budget is {}", bytes(*size), bytes(*limit))]
    Output {
        /// The budget.
        limit: u64,
        /// Their size as WAVE text.
        size: u64,
    },
}

impl BudgetExceeded {
    /// The budget's name: `deadline`, `fuel`, `memory` (tables count there too), `stack`,
    /// `size`, `input`, `output`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Deadline { .. } => "deadline",
            Self::Fuel { .. } => "fuel",
            Self::Memory { .. } | Self::Table { .. } => "memory",
            Self::Stack { .. } => "stack",
            Self::Size { .. } => "size",
            Self::Input { .. } => "input",
            Self::Output { .. } => "output",
        }
    }
}

/// `component "price" ran out of fuel: ...`: a budget error with the component named.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{who} {exceeded}")]
pub struct Exceeded {
    /// `component "price"` or `the component`.
    pub who: String,
    /// Which budget and by how much.
    pub exceeded: BudgetExceeded,
}

/// What one call or request used, and of which budget.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Usage {
    /// Wall time from store creation to the end.
    #[serde(rename = "wall_us", serialize_with = "micros")]
    pub wall: Duration,
    /// Fuel consumed, when metered.
    pub fuel: Option<u64>,
    /// Peak linear memory, bytes.
    pub peak_memory: u64,
}

fn micros<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_micros() as u64)
}

/// Why the epoch callback (or a host timer, while the guest waited) stopped the guest.
#[derive(Debug, thiserror::Error)]
#[error("the deadline passed")]
pub struct DeadlinePassed;

/// A budget installed on one store.
#[derive(Debug, Clone)]
pub struct Meter {
    budget: Budget,
    started: Instant,
    fueled: bool,
}

impl Meter {
    /// Sets fuel on `store` (the engine must meter what the budget asks: see
    /// [`crate::Metering::for_budgets`]) and starts the budget's clock. The memory cap lives in
    /// the store's `MemoryMeter`; the deadline is checked at epoch ticks by the callback the
    /// store's one constructor installs (`wasmhub_host::new_store`), at [`Meter::ends_at`].
    pub fn install<T: 'static>(store: &mut Store<T>, budget: &Budget) -> Self {
        // Fails exactly when the engine does not meter fuel.
        let fueled = store.set_fuel(budget.fuel.unwrap_or(u64::MAX)).is_ok();
        Self {
            budget: *budget,
            started: Instant::now(),
            fueled,
        }
    }

    /// When the budget's deadline passes, if it has one.
    pub fn ends_at(&self) -> Option<Instant> {
        self.budget.deadline.map(|limit| self.started + limit)
    }

    /// What the store used so far.
    pub fn usage<T>(&self, store: &Store<T>, memory: &MemoryMeter) -> Usage {
        let fuel = if self.fueled {
            let left = store.get_fuel().unwrap_or(0);
            Some(self.budget.fuel.unwrap_or(u64::MAX) - left)
        } else {
            None
        };
        Usage {
            wall: self.started.elapsed(),
            fuel,
            peak_memory: memory.peak(),
        }
    }

    /// The budget this meter enforces.
    pub fn budget(&self) -> &Budget {
        &self.budget
    }

    /// Which budget, if any, caused `err`.
    pub fn exceeded(&self, err: &anyhow::Error, memory: &MemoryMeter) -> Option<BudgetExceeded> {
        let b = &self.budget;
        if err.chain().any(|c| c.is::<DeadlinePassed>()) {
            return Some(BudgetExceeded::Deadline {
                limit: b.deadline.unwrap_or_default(),
                after: self.started.elapsed(),
            });
        }
        match err.downcast_ref::<Trap>() {
            Some(Trap::OutOfFuel) => {
                return Some(BudgetExceeded::Fuel {
                    limit: b.fuel.unwrap_or(u64::MAX),
                });
            }
            Some(Trap::StackOverflow) => {
                return Some(BudgetExceeded::Stack {
                    limit: b.stack.unwrap_or(crate::DEFAULT_STACK),
                });
            }
            _ => {}
        }
        if let Some(e) = err.chain().find_map(|c| c.downcast_ref::<BudgetExceeded>()) {
            return Some(e.clone());
        }
        memory.refused().cloned()
    }
}

/// Fails when the component file is over the size budget, before it is read or compiled.
pub fn check_size(path: &std::path::Path, budget: &Budget) -> Result<(), BudgetExceeded> {
    let (Some(limit), Ok(meta)) = (budget.size, std::fs::metadata(path)) else {
        return Ok(());
    };
    if meta.len() > limit {
        return Err(BudgetExceeded::Size {
            limit,
            size: meta.len(),
        });
    }
    Ok(())
}

/// `5 ms`, `5.3 ms`, `1.25 s`.
pub fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms >= 1000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else if (ms - ms.round()).abs() < 0.05 {
        format!("{} ms", ms.round())
    } else {
        format!("{ms:.1} ms")
    }
}

/// `11,000,000`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn bytes(n: u64) -> String {
    wasmhub_app::human_bytes(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_read_well() {
        assert_eq!(thousands(11_000_000), "11,000,000");
        assert_eq!(thousands(999), "999");
        assert_eq!(ms(Duration::from_micros(5_300)), "5.3 ms");
        assert_eq!(ms(Duration::from_millis(5)), "5 ms");
        let e = BudgetExceeded::Size {
            limit: 256 << 10,
            size: 301 << 10,
        };
        assert_eq!(e.to_string(), "is 301 KiB; the size budget is 256 KiB");
    }
}
