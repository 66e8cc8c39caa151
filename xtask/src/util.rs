//! Running commands and finding the project's folders.

use std::path::PathBuf;
use std::process::Command;

/// Every task's result: a message for the user on failure.
pub type Result<T = ()> = std::result::Result<T, String>;

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace")
        .to_path_buf()
}

/// Cargo's target directory.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(t) if PathBuf::from(&t).is_absolute() => PathBuf::from(t),
        Some(t) => root().join(t),
        None => root().join("target"),
    }
}

/// Runs `cmd`, echoing it first; fails if it fails.
pub fn run(cmd: &mut Command) -> Result {
    eprintln!("+ {}", show(cmd));
    let status = cmd
        .status()
        .map_err(|e| format!("cannot start `{}`: {e}", show(cmd)))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{}` failed with {status}", show(cmd)))
    }
}

/// Runs `cmd` and returns its stdout, or `None` if it cannot start or fails.
pub fn output(cmd: &mut Command) -> Option<String> {
    let out = cmd.output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs cargo in the workspace root.
pub fn cargo(args: &[&str]) -> Result {
    run(Command::new(cargo_bin()).args(args).current_dir(root()))
}

/// The cargo that runs this xtask.
pub fn cargo_bin() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Whether `program` is on PATH.
pub fn have(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

fn show(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|s| s.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `cmd` without echoing it; fails if it fails.
pub fn run_quiet(cmd: &mut Command) -> Result {
    let status = cmd
        .status()
        .map_err(|e| format!("cannot start {:?}: {e}", cmd.get_program()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("exited with {status}"))
    }
}

/// Runs `cargo test ...`, passing its output through, then prints one closing line with the
/// totals of every test binary: `tests: N passed, N failed`.
pub fn cargo_test(args: &[&str]) -> Result {
    cargo_test_env(args, &[])
}

/// [`cargo_test`] with extra environment variables.
pub fn cargo_test_env(args: &[&str], env: &[(&str, &str)]) -> Result {
    use std::io::{BufRead, BufReader};
    let mut cmd = Command::new(cargo_bin());
    cmd.args(args)
        .envs(env.iter().copied())
        .current_dir(root())
        .stdout(std::process::Stdio::piped());
    eprintln!("+ {}", show(&cmd));
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start cargo test: {e}"))?;
    let (mut passed, mut failed, mut ignored) = (0u64, 0u64, 0u64);
    for line in BufReader::new(child.stdout.take().expect("piped")).lines() {
        let line = line.map_err(|e| e.to_string())?;
        println!("{line}");
        if let Some(rest) = line.strip_prefix("test result: ") {
            for part in rest.split(';') {
                let mut words = part.split_whitespace().rev();
                let (Some(kind), Some(n)) = (words.next(), words.next()) else {
                    continue;
                };
                let Ok(n) = n.parse::<u64>() else { continue };
                match kind {
                    "passed" => passed += n,
                    "failed" => failed += n,
                    "ignored" => ignored += n,
                    _ => {}
                }
            }
        }
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    println!("tests: {passed} passed, {failed} failed, {ignored} skipped");
    if status.success() {
        Ok(())
    } else {
        Err(format!("cargo test failed with {status}"))
    }
}
