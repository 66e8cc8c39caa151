//! Running a build: the setup step when its inputs changed, then the command, each line of
//! output prefixed with the component's name; a cancelled build is killed with its children.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::{BuildError, Target, setup};

/// Where output lines go, already prefixed with the component's name.
pub type Lines = Arc<dyn Fn(&str) + Send + Sync>;

/// Set to stop a build in progress (a newer change wants another).
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    /// Asks the build to stop; its processes are killed.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether [`Cancel::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Builds `targets` in order, stopping at the first failure; returns each build's time.
pub fn build_all(targets: &[Target], lines: &Lines) -> Result<Vec<Duration>, BuildError> {
    let width = targets.iter().map(|t| t.name.len()).max().unwrap_or(0);
    targets
        .iter()
        .map(|t| build_one(t, width, lines, &Cancel::default()))
        .collect()
}

/// Builds one component: setup (when needed), then its command; checks that it wrote its
/// output. `width` pads the name prefix so several components' lines align.
pub fn build_one(
    target: &Target,
    width: usize,
    lines: &Lines,
    cancel: &Cancel,
) -> Result<Duration, BuildError> {
    let started = Instant::now();
    let prefix = format!("{:<width$} | ", target.name);
    let say = |line: &str| lines(&format!("{prefix}{line}"));
    if let Some((command, inputs)) = &target.setup
        && setup::needed(target, command, inputs)
    {
        say(&format!(
            "$ {command}   (setup: first run or its inputs changed)"
        ));
        shell(target, "setup", command, &prefix, lines, cancel)?;
        setup::record(target, command, inputs)?;
    }
    say(&format!("$ {}", target.command));
    shell(target, "build", &target.command, &prefix, lines, cancel)?;
    if !target.output.is_file() {
        return Err(BuildError::NoOutput {
            name: target.name.clone(),
            source_path: target.output.clone(),
        });
    }
    Ok(started.elapsed())
}

/// Runs `command` with `sh -c` in the target's workdir, in its own process group.
fn shell(
    target: &Target,
    step: &'static str,
    command: &str,
    prefix: &str,
    lines: &Lines,
    cancel: &Cancel,
) -> Result<(), BuildError> {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(&target.workdir)
        .env("WASMHUB_APP_DIR", &target.app_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|source| BuildError::Spawn {
            name: target.name.clone(),
            command: command.to_owned(),
            dir: target.workdir.clone(),
            source,
        })?;
    let readers = [
        forward(child.stdout.take().expect("piped"), prefix, lines),
        forward(child.stderr.take().expect("piped"), prefix, lines),
    ];
    let status = loop {
        if cancel.is_cancelled() {
            kill_group(child.id());
            let _ = child.wait();
            for r in readers {
                let _ = r.join();
            }
            return Err(BuildError::Cancelled {
                name: target.name.clone(),
            });
        }
        match child.try_wait() {
            Ok(Some(status)) => break Ok(status),
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => break Err(e),
        }
    };
    for r in readers {
        let _ = r.join();
    }
    let status = status.map_err(|source| BuildError::Spawn {
        name: target.name.clone(),
        command: command.to_owned(),
        dir: target.workdir.clone(),
        source,
    })?;
    if status.success() {
        Ok(())
    } else {
        Err(BuildError::Failed {
            name: target.name.clone(),
            step,
            command: command.to_owned(),
            status: status.to_string(),
        })
    }
}

/// Kills the build's whole process group (the shell and what it started).
fn kill_group(pid: u32) {
    if let Ok(pid) = i32::try_from(pid) {
        // SAFETY: kill has no memory effects; a negative pid names the group the child leads.
        unsafe { libc::kill(-pid, libc::SIGKILL) };
    }
}

/// Copies `from` line by line to `lines`, each with `prefix`.
fn forward(
    from: impl Read + Send + 'static,
    prefix: &str,
    lines: &Lines,
) -> std::thread::JoinHandle<()> {
    let prefix = prefix.to_owned();
    let lines = Arc::clone(lines);
    std::thread::spawn(move || {
        let mut reader = BufReader::new(from);
        let mut buf = Vec::new();
        while let Ok(n) = reader.read_until(b'\n', &mut buf) {
            if n == 0 {
                break;
            }
            let line = String::from_utf8_lossy(&buf);
            lines(&format!("{prefix}{}", line.trim_end_matches(['\n', '\r'])));
            buf.clear();
        }
    })
}
