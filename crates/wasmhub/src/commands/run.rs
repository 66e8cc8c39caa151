//! `wasmhub run`.

use std::path::PathBuf;

use anyhow::Result;
use clap::Parser;

use crate::budget::BudgetFlags;
use crate::common::{CacheFlags, GrantFlags, StrictFlag, WasiFlag, block_on};

/// Run a wasi:cli command component.
///
/// Nothing is granted by default: no environment variables, no files, no network. A
/// component that imports them still runs, and each call it makes to something not granted
/// is denied (the first of each kind is reported on stderr as `wasmhub: warning:` with the
/// flag that would allow it); `--strict` refuses it before it runs instead. stdin, stdout
/// and stderr are the host's. The exit status is the guest's: 0 on success,
/// 1 when it returns an error (WASI 0.2's `exit` carries only ok/err), or the exact code
/// when the guest calls `exit-with-code`. Errors of wasmhub itself exit with 2.
#[derive(Parser)]
pub struct RunCommand {
    #[command(flatten)]
    grants: GrantFlags,
    #[command(flatten)]
    state: crate::common::StateFlags,
    #[command(flatten)]
    budget: BudgetFlags,
    #[command(flatten)]
    cache: CacheFlags,
    #[command(flatten)]
    wasi: WasiFlag,
    #[command(flatten)]
    strict: StrictFlag,
    /// The component (.wasm) to run, then the guest's arguments: everything after the
    /// component goes to the guest, flags included (its argv[0] is the file name).
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = false,
        value_name = "COMPONENT [ARGS]..."
    )]
    component_and_args: Vec<String>,
}

impl RunCommand {
    /// Runs the command and returns its exit status.
    pub fn execute(self) -> Result<i32> {
        wasmhub_caps::report_denials_to(wasmhub_caps::DenialSink::Stderr);
        self.state.apply()?;
        let mut rest = self.component_and_args.into_iter();
        let target = PathBuf::from(rest.next().expect("clap requires the component"));
        let component = crate::oci::local(&target)?;
        let budget = self.budget.budget();
        self.budget.check_size(&component, &budget)?;
        let mut metering = self.budget.metering([&budget]);
        metering.wasi3 = self.wasi.is_wasi3();
        let (engine, loaded) = self.cache.load(&component, metering)?;
        let argv0 = crate::oci::name(&target).unwrap_or_else(|| {
            component
                .file_name()
                .map_or_else(|| "component".into(), |n| n.to_string_lossy().into_owned())
        });
        let args = std::iter::once(argv0).chain(rest).collect();
        let mut grants = self.grants.grants(args);
        grants.app =
            crate::oci::name(&target).unwrap_or_else(|| wasmhub_app::App::single_name(&component));
        self.strict.apply_to(&mut grants);
        self.budget.restrict(&budget, &mut grants);
        crate::common::warn_unused(&engine, &loaded.component, &grants);
        let (code, usage) = block_on(wasmhub_host::run_command(
            &engine,
            &loaded.component,
            &grants,
            &budget,
        ))??;
        self.budget.print_report(&usage, &budget);
        Ok(code)
    }
}
