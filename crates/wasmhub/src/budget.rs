//! Budget flags for `run` and `invoke`, and the `--report` they print.

use anyhow::Result;
use clap::Args;
use wasmhub_app::{Budget, Granted, Grants, Origin, Profile};
use wasmhub_core::{Exceeded, Metering, Usage, check_size, ms, thousands};
use wasmhub_manifest::{ByteSize, Wall, human_bytes};

/// How much the component may use; nothing is capped unless asked.
#[derive(Args, Debug, Default)]
pub struct BudgetFlags {
    /// Start from a preset: `function` = Shopify Functions' limits (256kB size, 11,000,000 fuel,
    /// 10000kB memory, 512kB stack, 5ms, 128kB in, 20kB out, no clocks or random); flags override it.
    #[arg(long, value_name = "PROFILE")]
    pub profile: Option<Profile>,
    /// Fuel for the run (about one unit per wasm instruction); past it the guest is stopped.
    #[arg(long, value_name = "UNITS")]
    pub fuel: Option<u64>,
    /// Wall-clock limit for the run, e.g. 5ms or 2s.
    #[arg(long, value_name = "DURATION")]
    pub deadline: Option<Wall>,
    /// Total linear memory, e.g. 64MiB; a larger memory.grow fails.
    #[arg(long, value_name = "SIZE")]
    pub memory: Option<ByteSize>,
    /// Wasm call stack, e.g. 512KiB (default 512KiB).
    #[arg(long, value_name = "SIZE")]
    pub stack: Option<ByteSize>,
    /// Refuse a component file larger than this, before compiling it.
    #[arg(long, value_name = "SIZE")]
    pub max_size: Option<ByteSize>,
    /// Largest `invoke` arguments, as WAVE text.
    #[arg(long, value_name = "SIZE")]
    pub max_input: Option<ByteSize>,
    /// Largest `invoke` results, as WAVE text.
    #[arg(long, value_name = "SIZE")]
    pub max_output: Option<ByteSize>,
    /// Most key-value operations the run may make (default 10000).
    #[arg(long, value_name = "N")]
    pub kv_ops: Option<u64>,
    /// Print what the run used, and each figure's share of its budget, on stderr: `--report` or `--report=json`.
    #[arg(
        long,
        value_name = "FORMAT",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "text"
    )]
    pub report: Option<ReportFormat>,
}

/// How `--report` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// A table for people.
    Text,
    /// One JSON object for tools.
    Json,
}

impl BudgetFlags {
    /// The budget these flags ask for.
    pub fn budget(&self) -> Budget {
        Budget::preset(self.profile).overridden_by(&Budget {
            profile: self.profile,
            size: self.max_size.map(|s| s.0),
            fuel: self.fuel,
            deadline: self.deadline.map(|d| d.0),
            memory: self.memory.map(|s| s.0),
            stack: self.stack.map(|s| s.0),
            input: self.max_input.map(|s| s.0),
            output: self.max_output.map(|s| s.0),
            instances: None,
            kv_ops: self.kv_ops,
        })
    }

    /// What the engine must meter: the budgets' needs, and fuel when a report is asked for.
    pub fn metering<'a>(&self, budgets: impl IntoIterator<Item = &'a Budget>) -> Metering {
        let mut m = Metering::for_budgets(budgets);
        m.fuel |= self.report.is_some();
        m
    }

    /// Applies the profile's determinism to `grants` (no clocks, no random).
    pub fn restrict(&self, budget: &Budget, grants: &mut Grants) {
        if budget.denies_nondeterminism() {
            for g in [&mut grants.clocks, &mut grants.random] {
                *g = Granted::new(false, Origin::Flag("--profile function".into()));
            }
        }
    }

    /// Fails when the file at `path` is over the size budget.
    pub fn check_size(&self, path: &std::path::Path, budget: &Budget) -> Result<()> {
        check_size(path, budget).map_err(|exceeded| {
            Exceeded {
                who: "the component".into(),
                exceeded,
            }
            .into()
        })
    }

    /// Prints `usage` against `budget` on stderr, if a report was asked for.
    pub fn print_report(&self, usage: &Usage, budget: &Budget) {
        match self.report {
            None => {}
            Some(ReportFormat::Json) => {
                let v = serde_json::json!({
                    "wall_us": usage.wall.as_micros() as u64,
                    "fuel": usage.fuel,
                    "peak_memory": usage.peak_memory,
                    "budget": {
                        "deadline_us": budget.deadline.map(|d| d.as_micros() as u64),
                        "fuel": budget.fuel,
                        "memory": budget.memory,
                    },
                });
                eprintln!("{v}");
            }
            Some(ReportFormat::Text) => {
                let share = |used: f64, of: Option<f64>| match of {
                    Some(of) if of > 0.0 => format!("{:5.1}%", used / of * 100.0),
                    _ => "     -".to_owned(),
                };
                let rows = [
                    (
                        "wall time",
                        ms(usage.wall),
                        budget.deadline.map_or("none".into(), ms),
                        share(
                            usage.wall.as_secs_f64(),
                            budget.deadline.map(|d| d.as_secs_f64()),
                        ),
                    ),
                    (
                        "fuel",
                        usage.fuel.map_or("-".into(), thousands),
                        budget.fuel.map_or("none".into(), thousands),
                        share(
                            usage.fuel.unwrap_or(0) as f64,
                            budget.fuel.map(|f| f as f64),
                        ),
                    ),
                    (
                        "peak memory",
                        human_bytes(usage.peak_memory),
                        budget.memory.map_or("none".into(), human_bytes),
                        share(usage.peak_memory as f64, budget.memory.map(|m| m as f64)),
                    ),
                ];
                eprintln!(
                    "report: {:<12} {:>12}  {:>12}  {:>6}",
                    "", "used", "budget", "share"
                );
                for (name, used, of, pct) in rows {
                    eprintln!("report: {name:<12} {used:>12}  {of:>12}  {pct:>6}");
                }
            }
        }
    }
}

/// Budgets for every component `serve` (or `check`) runs, over what the manifest gives.
#[derive(Args, Debug, Default, Clone)]
pub struct ServeBudgetFlags {
    /// Fuel per request for every component (about one unit per wasm instruction); past it the request fails with 500. Default: the manifest's, else none.
    #[arg(long, value_name = "UNITS")]
    pub fuel: Option<u64>,
    /// Wall-clock limit per request for every component, e.g. 100ms; past it the client gets 504. Default: the manifest's, else --request-timeout.
    #[arg(long, value_name = "DURATION")]
    pub deadline: Option<Wall>,
    /// Linear memory per instance for every component, e.g. 16MiB. Default: the manifest's, else 256MiB.
    #[arg(long, value_name = "SIZE")]
    pub memory: Option<ByteSize>,
    /// Wasm call stack for every component, e.g. 512KiB. Default: the manifest's, else 512KiB.
    #[arg(long, value_name = "SIZE")]
    pub stack: Option<ByteSize>,
    /// Refuse any component file larger than this, before compiling it. Default: the manifest's, else 64MiB.
    #[arg(long, value_name = "SIZE")]
    pub max_size: Option<ByteSize>,
    /// Most key-value operations per request for every component. Default: the manifest's, else 10000.
    #[arg(long, value_name = "N")]
    pub kv_ops: Option<u64>,
}

impl ServeBudgetFlags {
    /// Overrides, in every component of `app`, each budget value a flag gives.
    pub fn apply(&self, app: &mut wasmhub_app::App) {
        let flags = Budget {
            fuel: self.fuel,
            deadline: self.deadline.map(|d| d.0),
            memory: self.memory.map(|s| s.0),
            stack: self.stack.map(|s| s.0),
            size: self.max_size.map(|s| s.0),
            kv_ops: self.kv_ops,
            ..Budget::default()
        };
        for c in &mut app.components {
            c.budget = c.budget.overridden_by(&flags);
        }
    }
}
