//! How much a component may use: size, fuel, deadline, memory, stack, input and output.

use std::time::Duration;

pub use wasmhub_manifest::Profile;

/// Resource caps for one component; `None` is "no cap of this kind from the user".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Budget {
    /// The preset these values started from.
    pub profile: Option<Profile>,
    /// Largest component file, bytes.
    pub size: Option<u64>,
    /// Fuel per call or request.
    pub fuel: Option<u64>,
    /// Wall-clock limit per call or request.
    pub deadline: Option<Duration>,
    /// Total linear memory, bytes.
    pub memory: Option<u64>,
    /// Wasm call stack, bytes.
    pub stack: Option<u64>,
    /// Largest `invoke` arguments as WAVE text, bytes.
    pub input: Option<u64>,
    /// Largest `invoke` results as WAVE text, bytes.
    pub output: Option<u64>,
    /// Instances of this component serving requests at once (`serve`).
    pub instances: Option<u32>,
    /// Key-value operations per call or request.
    pub kv_ops: Option<u64>,
}

impl Budget {
    /// Shopify Functions' numbers: 256 kB, 11M instructions, 10,000 kB memory, 512 kB stack,
    /// 5 ms, 128 kB in, 20 kB out (and no clocks or random: see `denies_nondeterminism`).
    pub const FUNCTION: Self = Self {
        profile: Some(Profile::Function),
        size: Some(256_000),
        fuel: Some(11_000_000),
        deadline: Some(Duration::from_millis(5)),
        memory: Some(10_000_000),
        stack: Some(512_000),
        input: Some(128_000),
        output: Some(20_000),
        instances: None,
        kv_ops: None,
    };

    /// The preset's values, or no caps.
    pub fn preset(profile: Option<Profile>) -> Self {
        match profile {
            Some(Profile::Function) => Self::FUNCTION,
            None => Self::default(),
        }
    }

    /// The budget a `[component.NAME.budget]` table gives: its profile's values, overridden
    /// by each key it sets.
    pub fn from_section(b: &wasmhub_manifest::BudgetSection) -> Self {
        let profile = b.profile.as_ref().map(|p| *p.get_ref());
        Self::preset(profile).overridden_by(&Self {
            profile,
            size: b.size.map(|s| s.0),
            fuel: b.fuel,
            deadline: b.deadline.map(|d| d.0),
            memory: b.memory.map(|s| s.0),
            stack: b.stack.map(|s| s.0),
            input: b.input.map(|s| s.0),
            output: b.output.map(|s| s.0),
            instances: b.instances.map(|n| n.0),
            kv_ops: b.kv_ops,
        })
    }

    /// Applies the profile's determinism to `grants` (no clocks, no random), naming `at`
    /// (where the profile was written) as the reason.
    pub fn restrict(&self, grants: &mut crate::Grants, at: &str) {
        if self.denies_nondeterminism() {
            let why = format!("budget profile \"function\", {at}");
            for g in [&mut grants.clocks, &mut grants.random] {
                *g = crate::Granted::new(false, crate::Origin::Manifest(why.clone()));
            }
        }
    }

    /// Whether the budget also asks for deterministic runs (no clocks, no random).
    pub fn denies_nondeterminism(&self) -> bool {
        self.profile == Some(Profile::Function)
    }

    /// `serve`'s defaults where the user set nothing: generous, never unlimited. A 64 MiB
    /// component, 256 MiB of linear memory (the pool's slot), a 512 KiB wasm stack; time is
    /// bounded by `--request-timeout` (30 s) and CPU with it, so fuel stays off by default.
    pub fn with_serve_defaults(self) -> Self {
        Self {
            size: self.size.or(Some(64 << 20)),
            memory: self.memory.or(Some(256 << 20)),
            stack: self.stack.or(Some(512 << 10)),
            ..self
        }
    }

    /// Replaces each value `other` sets.
    pub fn overridden_by(mut self, other: &Self) -> Self {
        macro_rules! take {
            ($($f:ident),*) => { $( if other.$f.is_some() { self.$f = other.$f; } )* };
        }
        take!(
            size, fuel, deadline, memory, stack, input, output, instances, kv_ops
        );
        self
    }
}
