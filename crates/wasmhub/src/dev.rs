//! The loop of `wasmhub dev`: wait for a change, rebuild the components it touches (a newer
//! change cancels a build in progress), reload in process, one line per reload.

use std::collections::{BTreeMap, VecDeque};
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use wasmhub_dev::{BuildError, Cancel, Changed, Lines, Matcher, Target, Watch};
use wasmhub_http::ReloadHandle;
use wasmhub_manifest::Sources;

/// Each component's last build error while it stands (the server's loader reads it).
pub type Failures = Arc<Mutex<BTreeMap<String, String>>>;

/// Lines of output kept from a build for its error page.
const TAIL: usize = 40;

/// Runs builds, printing their output and remembering failures.
#[derive(Clone)]
pub struct Builds {
    failures: Failures,
    width: usize,
}

impl Builds {
    /// Builds for `targets`, recording failures in `failures`.
    pub fn new(failures: Failures, targets: &[Target]) -> Self {
        let width = targets.iter().map(|t| t.name.len()).max().unwrap_or(0);
        Self { failures, width }
    }

    /// Builds `target`; on failure, the error (with the output's last lines) is remembered.
    pub fn run(&self, target: &Target, cancel: &Cancel) -> Result<Duration, BuildError> {
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let keep = tail.clone();
        let lines: Lines = Arc::new(move |line: &str| {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
            let mut kept = keep.lock().unwrap_or_else(|e| e.into_inner());
            if kept.len() == TAIL {
                kept.pop_front();
            }
            kept.push_back(line.to_owned());
        });
        let result = wasmhub_dev::build_one(target, self.width, &lines, cancel);
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        match &result {
            Ok(_) => {
                failures.remove(&target.name);
            }
            Err(BuildError::Cancelled { .. }) => {}
            Err(e) => {
                let tail = tail.lock().unwrap_or_else(|e| e.into_inner());
                let output: Vec<&str> = tail.iter().map(String::as_str).collect();
                failures.insert(
                    target.name.clone(),
                    format!("its build failed: {e}\n\n{}\n", output.join("\n")),
                );
            }
        }
        result
    }

    /// Prints a failed build's error, once.
    pub fn report_failure(&self, name: &str, e: &BuildError) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "error: {e}\n       the last good version of \"{name}\" keeps serving (if it ever built)"
        );
        let _ = out.flush();
    }
}

/// Watches the app's directory until the process ends.
pub fn watch_loop(
    manifest: &Path,
    mut targets: Vec<Target>,
    mut builds: Builds,
    reload: &ReloadHandle,
    rt: &tokio::runtime::Handle,
) -> Result<()> {
    let dir = std::path::absolute(manifest)?
        .parent()
        .map(Path::to_owned)
        .context("the manifest has a directory")?;
    let watch = Watch::new(&dir).with_context(|| format!("cannot watch {}", dir.display()))?;
    let mut matcher = Matcher::new(manifest, &targets);
    say(&format!("watching {} for changes", dir.display()));
    let mut pending = Changed::default();
    loop {
        if pending.is_empty() {
            match watch.next(&matcher, None) {
                Some(changed) => pending = changed,
                None => return Ok(()),
            }
        }
        let job = std::mem::take(&mut pending);
        if job.manifest {
            match wasmhub_manifest::load_with(manifest, Sources::MayBeBuilt)
                .map_err(anyhow::Error::from)
                .and_then(|m| Ok(wasmhub_dev::plan(&m, &[])?))
            {
                Ok(new) => {
                    targets = new;
                    matcher = Matcher::new(manifest, &targets);
                    builds = Builds::new(builds.failures.clone(), &targets);
                }
                Err(e) => {
                    say(&format!(
                        "error: {e:#}\n       the running app keeps serving"
                    ));
                    continue;
                }
            }
        }
        // A manifest change builds what has no output yet; a file change what it touches.
        let chosen: Vec<Target> = targets
            .iter()
            .enumerate()
            .filter(|(i, t)| job.targets.contains(i) || (job.manifest && !t.output.is_file()))
            .map(|(_, t)| t.clone())
            .collect();
        let cancel = Cancel::default();
        let worker = {
            let (chosen, builds, cancel) = (chosen.clone(), builds.clone(), cancel.clone());
            std::thread::spawn(move || {
                chosen
                    .iter()
                    .map(|t| (t.name.clone(), builds.run(t, &cancel)))
                    .collect::<Vec<_>>()
            })
        };
        while !worker.is_finished() {
            if let Some(more) = watch.next(&matcher, Some(Duration::from_millis(100))) {
                cancel.cancel();
                pending.merge(more);
            }
        }
        let results = worker.join().expect("the build thread does not panic");
        if cancel.is_cancelled() {
            pending.merge(job);
            say("a newer change: building again");
            continue;
        }
        let mut built = Vec::new();
        let mut took = Duration::ZERO;
        for (name, result) in results {
            match result {
                Ok(d) => {
                    built.push(name);
                    took += d;
                }
                Err(e) => builds.report_failure(&name, &e),
            }
        }
        if built.is_empty() && !job.manifest {
            continue;
        }
        match rt.block_on(reload.reload()) {
            Ok(r) => {
                let what = if built.is_empty() {
                    "the manifest".to_owned()
                } else {
                    built.join(", ")
                };
                let build = if built.is_empty() {
                    String::new()
                } else {
                    format!("build {:.1} s, ", took.as_secs_f64())
                };
                say(&format!(
                    "reloaded {what} ({build}compile {:.1} s) -> generation {}",
                    r.took.as_secs_f64(),
                    r.generation
                ));
            }
            Err(e) => say(&format!(
                "error: reload failed; the running generation keeps serving: {e}"
            )),
        }
    }
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}
