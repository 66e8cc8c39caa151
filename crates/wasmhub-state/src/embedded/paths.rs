//! Where the embedded store keeps its files, and making them private to this user.

use std::ffi::OsString;
use std::fs::{DirBuilder, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::OpenError;

/// Longest encoded app name that still makes a valid file name (255 bytes with the affixes).
const MAX_ENCODED: usize = 240;

/// The data directory: `$WASMHUB_DATA_DIR`, else `$XDG_DATA_HOME/wasmhub`, else
/// `~/.local/share/wasmhub`.
pub fn data_dir() -> Result<PathBuf, OpenError> {
    data_dir_from(|name| std::env::var_os(name))
}

/// [`data_dir`] with the environment read through `var`.
fn data_dir_from(var: impl Fn(&str) -> Option<OsString>) -> Result<PathBuf, OpenError> {
    let var = |name| var(name).filter(|v| !v.is_empty());
    if let Some(dir) = var("WASMHUB_DATA_DIR") {
        return Ok(PathBuf::from(dir));
    }
    // The XDG spec ignores a relative XDG_DATA_HOME.
    if let Some(dir) = var("XDG_DATA_HOME").map(PathBuf::from)
        && dir.is_absolute()
    {
        return Ok(dir.join("wasmhub"));
    }
    if let Some(home) = var("HOME") {
        return Ok(PathBuf::from(home).join(".local/share/wasmhub"));
    }
    Err(OpenError::NoDataDir)
}

/// The file that holds `app`'s state under `data_dir`. The name is never a path of its own:
/// every byte outside `[A-Za-z0-9_-]` is written `.xx` (hex), so no two apps share a file
/// and none leaves the directory.
pub fn state_file(data_dir: &Path, app: &str) -> Result<PathBuf, OpenError> {
    let encoded = encode_app(app);
    if encoded.len() > MAX_ENCODED {
        return Err(OpenError::NameTooLong {
            app: app.to_owned(),
            max: MAX_ENCODED,
        });
    }
    Ok(data_dir.join("kv").join(format!("app-{encoded}.redb")))
}

/// `app` with every byte outside `[A-Za-z0-9_-]` written as `.` and two hex digits.
fn encode_app(app: &str) -> String {
    let mut out = String::with_capacity(app.len());
    for b in app.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
            out.push(b as char);
        } else {
            out.push('.');
            out.push_str(&hex::encode([b]));
        }
    }
    out
}

/// Creates the folders up to `file` and the file itself, private to this user: the `kv`
/// folder 0700, the file 0600. An existing `kv` folder or file that group or others can
/// use is refused with the `chmod` that fixes it (never silently changed).
pub fn prepare(file: &Path) -> Result<(), OpenError> {
    let kv = file.parent().expect("state files sit in the kv folder");
    let data = kv.parent().expect("the kv folder sits in the data dir");
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| OpenError::Io { path, source }
    };
    if !data.exists() {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(data)
            .map_err(io(data))?;
    }
    match DirBuilder::new().mode(0o700).create(kv) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io(kv)(e)),
    }
    refuse_exposed(kv, 0o700)?;
    let created = !file.exists();
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(file)
        .map_err(io(file))?;
    if created {
        // The new file's name must survive a crash too, or the first commits with it.
        std::fs::File::open(kv)
            .and_then(|d| d.sync_all())
            .map_err(io(kv))?;
    }
    refuse_exposed(file, 0o600)
}

fn refuse_exposed(path: &Path, wanted: u32) -> Result<(), OpenError> {
    let meta = std::fs::metadata(path).map_err(|source| OpenError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if meta.mode() & 0o077 != 0 {
        return Err(OpenError::Exposed {
            path: path.to_path_buf(),
            mode: meta.mode() & 0o777,
            wanted,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_dir_comes_from_the_first_variable_set() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| OsString::from(v))
            }
        };
        const ALL: [(&str, &str); 3] = [
            ("WASMHUB_DATA_DIR", "/w"),
            ("XDG_DATA_HOME", "/x"),
            ("HOME", "/h"),
        ];
        assert_eq!(data_dir_from(env(&ALL)).unwrap(), Path::new("/w"));
        assert_eq!(
            data_dir_from(env(&ALL[1..])).unwrap(),
            Path::new("/x/wasmhub")
        );
        assert_eq!(
            data_dir_from(env(&[
                ("WASMHUB_DATA_DIR", ""),
                ("XDG_DATA_HOME", "rel"),
                ("HOME", "/h")
            ]))
            .unwrap(),
            Path::new("/h/.local/share/wasmhub"),
            "empty and relative values are skipped"
        );
        let err = data_dir_from(env(&[])).unwrap_err().to_string();
        assert!(
            err.contains("WASMHUB_DATA_DIR")
                && err.contains("XDG_DATA_HOME")
                && err.contains("HOME"),
            "{err}"
        );
    }

    #[test]
    fn app_names_never_escape_or_collide() {
        let dir = Path::new("/data");
        let names = [
            "",
            ".",
            "..",
            "../x",
            "a/b",
            "a.2f",
            "a\0b",
            "ünï",
            "ok_name-1",
        ];
        let mut seen = std::collections::HashSet::new();
        for name in names {
            let file = state_file(dir, name).unwrap();
            assert_eq!(file.parent(), Some(Path::new("/data/kv")), "{name:?}");
            let base = file.file_name().unwrap().to_str().unwrap();
            assert!(
                base.starts_with("app-") && base.ends_with(".redb"),
                "{base}"
            );
            assert!(!base.contains('/') && !base.contains('\0'), "{base}");
            assert!(seen.insert(file.clone()), "{name:?} collides at {file:?}");
        }
        assert_eq!(encode_app("a/b"), "a.2fb");
        assert!(matches!(
            state_file(dir, &"/".repeat(100)),
            Err(OpenError::NameTooLong { .. })
        ));
    }
}
