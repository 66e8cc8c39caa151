//! How a served instance's memory slot is reset for the next request, chosen once at start.
//!
//! Wasmtime's dirty-page scan (Linux `PAGEMAP_SCAN`, 6.7+) resets only the pages a request
//! wrote that are resident. A page a request wrote and the kernel then swapped out (to a
//! swap device or zswap) is neither reset nor discarded, so the next request in that slot
//! could read it. The scan is therefore used only where nothing can be swapped out; else
//! the slot is reset the way that is always correct: a resident window restored in full
//! and the rest discarded (`madvise`), which reaches swapped-out pages too.

use std::fmt;
use std::sync::OnceLock;

/// How slots are reset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResetMode {
    /// Only the dirty resident pages: fastest, safe because nothing can be swapped out.
    DirtyPageScan,
    /// A resident window restored in full, the rest discarded; `why` the scan is not used.
    Window {
        /// Why: which check ruled the scan out.
        why: String,
    },
}

impl fmt::Display for ResetMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DirtyPageScan => f.write_str(
                "dirty-page scan (PAGEMAP_SCAN; no swap and no zswap, so no written page can \
                 hide from it)",
            ),
            Self::Window { why } => write!(f, "resident window and discard ({why})"),
        }
    }
}

/// What the machine says, as read from `/proc` and `/sys`.
#[derive(Debug, Clone, Default)]
pub struct Machine {
    /// `/proc/sys/kernel/osrelease`.
    pub kernel: String,
    /// `/proc/swaps`.
    pub swaps: String,
    /// `/sys/module/zswap/parameters/enabled`, if the file exists.
    pub zswap: Option<String>,
}

impl Machine {
    /// This machine.
    pub fn read() -> Self {
        let read = |p: &str| std::fs::read_to_string(p).ok();
        Self {
            kernel: read("/proc/sys/kernel/osrelease").unwrap_or_default(),
            // Unreadable swap information counts as swap: the safe side.
            swaps: read("/proc/swaps").unwrap_or_else(|| "header\nunknown".into()),
            zswap: read("/sys/module/zswap/parameters/enabled"),
        }
    }
}

/// The reset `machine` allows.
pub fn decide(machine: &Machine) -> ResetMode {
    let mut parts = machine
        .kernel
        .trim()
        .split(['.', '-'])
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let version = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    let window = |why: String| ResetMode::Window { why };
    if version < (6, 7) {
        return window(format!(
            "kernel {} has no PAGEMAP_SCAN (6.7+)",
            machine.kernel.trim()
        ));
    }
    let devices: Vec<&str> = machine
        .swaps
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    if !devices.is_empty() {
        return window(format!(
            "swap is on ({}): a swapped-out page would escape the scan",
            devices.join(", ")
        ));
    }
    if machine
        .zswap
        .as_deref()
        .is_some_and(|z| matches!(z.trim(), "Y" | "y" | "1"))
    {
        return window("zswap is enabled: a compressed page would escape the scan".into());
    }
    ResetMode::DirtyPageScan
}

/// This machine's reset, decided once.
pub fn reset_mode() -> &'static ResetMode {
    static MODE: OnceLock<ResetMode> = OnceLock::new();
    MODE.get_or_init(|| decide(&Machine::read()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_SWAP: &str = "Filename\tType\tSize\tUsed\tPriority\n";

    fn machine(kernel: &str, swaps: &str, zswap: Option<&str>) -> Machine {
        Machine {
            kernel: kernel.into(),
            swaps: swaps.into(),
            zswap: zswap.map(Into::into),
        }
    }

    #[test]
    fn the_scan_only_where_no_page_can_be_swapped_out() {
        let m = machine("6.18.44-fc-v1147\n", NO_SWAP, Some("N\n"));
        assert_eq!(decide(&m), ResetMode::DirtyPageScan);
        assert_eq!(
            decide(&machine("6.7.0", NO_SWAP, None)),
            ResetMode::DirtyPageScan
        );

        let swap = format!("{NO_SWAP}/dev/sda2 partition 8388604 0 -2\n");
        let ResetMode::Window { why } = decide(&machine("6.18.0", &swap, Some("N"))) else {
            panic!("swap must rule the scan out");
        };
        assert!(why.contains("/dev/sda2"), "{why}");

        let ResetMode::Window { why } = decide(&machine("6.18.0", NO_SWAP, Some("Y\n"))) else {
            panic!("zswap must rule the scan out");
        };
        assert!(why.contains("zswap"), "{why}");

        let ResetMode::Window { why } = decide(&machine("6.6.30", NO_SWAP, None)) else {
            panic!("old kernels have no scan");
        };
        assert!(why.contains("6.6.30"), "{why}");
    }

    #[test]
    fn unreadable_swap_information_counts_as_swap() {
        let m = Machine {
            kernel: "6.18.0".into(),
            ..Machine::default()
        };
        let unreadable = Machine {
            swaps: "header\nunknown".into(),
            ..m
        };
        assert!(matches!(decide(&unreadable), ResetMode::Window { .. }));
    }
}
