//! The setup step's stamp: a digest of its command and its inputs' content, kept under the
//! app's `.wasmhub/` so the step reruns only when a lockfile (or the command) changes.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::{BuildError, Target};

/// Where stamps live, relative to the app's directory.
pub const SETUP_DIR: &str = ".wasmhub/setup";

/// The digest of a setup step: its command, then each input's name and content (or absence).
pub fn setup_digest(workdir: &Path, command: &str, inputs: &[String]) -> String {
    let mut h = Sha256::new();
    h.update(command.as_bytes());
    h.update([0]);
    for input in inputs {
        h.update(input.as_bytes());
        match std::fs::read(workdir.join(input)) {
            Ok(bytes) => {
                h.update([1]);
                h.update((bytes.len() as u64).to_le_bytes());
                h.update(&bytes);
            }
            Err(_) => h.update([0]),
        }
    }
    hex::encode(h.finalize())
}

/// The stamp file of `target`'s setup step.
pub(crate) fn stamp_path(target: &Target) -> PathBuf {
    target
        .app_dir
        .join(SETUP_DIR)
        .join(format!("{}.sha256", target.name))
}

/// Whether the setup step must run: no stamp yet, or one from other inputs.
pub(crate) fn needed(target: &Target, command: &str, inputs: &[String]) -> bool {
    let stamp = std::fs::read_to_string(stamp_path(target)).unwrap_or_default();
    stamp.trim() != setup_digest(&target.workdir, command, inputs)
}

/// Records a successful setup, digesting the inputs as the step left them (it may have
/// written the lockfile itself).
pub(crate) fn record(target: &Target, command: &str, inputs: &[String]) -> Result<(), BuildError> {
    let path = stamp_path(target);
    let err = |source| BuildError::Stamp {
        name: target.name.clone(),
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(path.parent().expect("a stamp has a directory")).map_err(err)?;
    let digest = setup_digest(&target.workdir, command, inputs);
    std::fs::write(&path, format!("{digest}\n")).map_err(err)
}
