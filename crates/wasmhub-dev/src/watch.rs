//! The file watcher of `wasmhub dev`: which changed paths matter, and to which components.
//! Build outputs and tool folders never count, so a build never triggers itself.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use notify::{RecursiveMode, Watcher as _};

use crate::Target;

/// Folders whose changes never trigger a build: outputs and installed tools.
pub const IGNORED_DIRS: &[&str] = &["target", "node_modules", ".wasmhub", ".git", "__pycache__"];

/// What a burst of changes calls for.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Changed {
    /// The manifest itself changed: reload everything.
    pub manifest: bool,
    /// Indexes (into the targets) of the components whose watch globs matched.
    pub targets: BTreeSet<usize>,
}

impl Changed {
    /// Whether nothing relevant changed.
    pub fn is_empty(&self) -> bool {
        !self.manifest && self.targets.is_empty()
    }

    /// Adds `other`'s changes to these.
    pub fn merge(&mut self, other: Changed) {
        self.manifest |= other.manifest;
        self.targets.extend(other.targets);
    }
}

/// Matches changed paths against the manifest and each target's globs.
#[derive(Debug)]
pub struct Matcher {
    manifest: PathBuf,
    targets: Vec<(PathBuf, GlobSet, PathBuf)>,
}

impl Matcher {
    /// A matcher for `manifest` and `targets` (their globs are relative to their workdirs;
    /// `*` stays within one folder, `**` crosses folders).
    pub fn new(manifest: &Path, targets: &[Target]) -> Self {
        let targets = targets
            .iter()
            .map(|t| {
                let mut set = GlobSetBuilder::new();
                for g in &t.watch {
                    if let Ok(glob) = GlobBuilder::new(g).literal_separator(true).build() {
                        set.add(glob);
                    }
                }
                let set = set.build().unwrap_or_else(|_| GlobSet::empty());
                (absolute(&t.workdir), set, absolute(&t.output))
            })
            .collect();
        Self {
            manifest: absolute(manifest),
            targets,
        }
    }

    /// What a change of `path` calls for.
    pub fn classify(&self, path: &Path) -> Changed {
        let path = absolute(path);
        let mut changed = Changed::default();
        if path == self.manifest {
            changed.manifest = true;
            return changed;
        }
        for (i, (workdir, globs, output)) in self.targets.iter().enumerate() {
            if path == *output {
                continue;
            }
            let Ok(rel) = path.strip_prefix(workdir) else {
                continue;
            };
            let tool_folder = rel.components().any(|c| match c {
                Component::Normal(n) => IGNORED_DIRS.iter().any(|d| n == *d),
                _ => false,
            });
            if !tool_folder && globs.is_match(rel) {
                changed.targets.insert(i);
            }
        }
        changed
    }
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_owned())
}

/// Watches the app's directory; [`Watch::next`] returns each burst of relevant changes.
pub struct Watch {
    rx: Receiver<PathBuf>,
    _watcher: notify::RecommendedWatcher,
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Watch")
    }
}

/// How long the files must be quiet before a burst of changes is acted on.
pub const DEBOUNCE: Duration = Duration::from_millis(150);

impl Watch {
    /// Starts watching `dir` and everything below it.
    pub fn new(dir: &Path) -> notify::Result<Self> {
        let (tx, rx) = channel();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                if let Ok(event) = event
                    && !matches!(event.kind, notify::EventKind::Access(_))
                {
                    for path in event.paths {
                        let _ = tx.send(path);
                    }
                }
            })?;
        watcher.watch(dir, RecursiveMode::Recursive)?;
        Ok(Self {
            rx,
            _watcher: watcher,
        })
    }

    /// Waits up to `wait` (forever if `None`) for a relevant change, then gathers the
    /// changes that follow until the files are quiet for [`DEBOUNCE`].
    pub fn next(&self, matcher: &Matcher, wait: Option<Duration>) -> Option<Changed> {
        let deadline = wait.map(|w| Instant::now() + w);
        let mut changed = Changed::default();
        loop {
            let got = if changed.is_empty() {
                match deadline {
                    None => self.rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
                    Some(d) => self
                        .rx
                        .recv_timeout(d.saturating_duration_since(Instant::now())),
                }
            } else {
                self.rx.recv_timeout(DEBOUNCE)
            };
            match got {
                Ok(path) => changed.merge(matcher.classify(&path)),
                Err(RecvTimeoutError::Timeout) if !changed.is_empty() => return Some(changed),
                Err(_) => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(dir: &Path, name: &str, watch: &[&str], output: &str) -> Target {
        Target {
            name: name.into(),
            app_dir: dir.to_owned(),
            workdir: dir.join(name),
            command: "true".into(),
            setup: None,
            watch: watch.iter().map(|s| s.to_string()).collect(),
            output: dir.join(name).join(output),
        }
    }

    #[test]
    fn globs_outputs_and_tool_folders() {
        let dir = Path::new("/app");
        let targets = [
            target(dir, "web", &["*.js", "wit/*.wit"], "web.wasm"),
            target(dir, "api", &["src/**/*.rs", "Cargo.toml"], "target/x.wasm"),
        ];
        let m = Matcher::new(&dir.join("wasmhub.toml"), &targets);
        let hit = |p: &str| m.classify(&dir.join(p));
        assert!(hit("wasmhub.toml").manifest);
        assert_eq!(hit("web/app.js").targets, BTreeSet::from([0]));
        assert_eq!(hit("api/src/a/b.rs").targets, BTreeSet::from([1]));
        assert_eq!(hit("api/Cargo.toml").targets, BTreeSet::from([1]));
        for quiet in [
            "web/web.wasm",
            "web/node_modules/x/index.js",
            "web/lib/deep.js",
            "api/target/wasm32-wasip2/release/build/x.rs",
            "api/src/.wasmhub/x.rs",
            ".wasmhub/setup/web.sha256",
            "other/app.js",
        ] {
            assert!(hit(quiet).is_empty(), "{quiet} triggers nothing");
        }
    }
}
