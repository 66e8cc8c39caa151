//! Building the JavaScript (componentize-js) and Python (componentize-py) guests.
//!
//! A guest lives in `crates/test-programs/{js,python}/NAME/` with its module `app.js` or
//! `app.py`; it implements world `NAME`, found in `wit/NAME/` or else `wit/demo/`. The wasi
//! packages a world uses come from jco's bundled WIT (0.2.12) and, for the ones jco lacks
//! (`wasi:keyvalue`, `wasi:config`), from `wit/deps/`, staged beside it. Outputs are
//! `target/guests/js-NAME.wasm` and `py-NAME.wasm`, rebuilt when a source is newer.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use crate::util::{self, Result};

/// The languages, their output prefix and the build command for one guest.
const LANGUAGES: &[(&str, &str)] = &[("js", "js-"), ("python", "py-")];

/// Builds every JS and Python guest that is missing or older than its sources.
pub fn build(out: &Path) -> Result<usize> {
    let root = util::root();
    let mut count = 0;
    for (language, prefix) in LANGUAGES {
        let Ok(entries) = std::fs::read_dir(root.join("crates/test-programs").join(language))
        else {
            continue;
        };
        for entry in entries.flatten() {
            let src = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let wasm = out.join(format!("{prefix}{name}.wasm"));
            let wit = root.join("wit").join(&name);
            let wit = if wit.is_dir() {
                wit
            } else {
                root.join("wit/demo")
            };
            count += 1;
            let world = std::fs::read_to_string(wit.join("world.wit")).unwrap_or_default();
            let deps = used_deps(&world)?;
            let mut inputs: Vec<&Path> = vec![&src, &wit];
            inputs.extend(deps.iter().map(PathBuf::as_path));
            if newest(&inputs) <= modified(&wasm) {
                continue;
            }
            let staged = stage_wit(&wit, &name, &deps)?;
            let started = std::time::Instant::now();
            let mut cmd = match *language {
                "js" => js(&src, &staged, &name, &wasm),
                _ => python(&src, &staged, &name, &wasm),
            };
            util::run(&mut cmd)?;
            eprintln!(
                "guests: built {} in {:.1} s",
                wasm.display(),
                started.elapsed().as_secs_f64()
            );
        }
    }
    Ok(count)
}

fn js(src: &Path, wit: &Path, world: &str, out: &Path) -> Command {
    let root = util::root();
    // Its WIT reader runs sandboxed, seeing only the working directory: paths go relative.
    let rel = |p: &Path| p.strip_prefix(&root).unwrap_or(p).to_owned();
    let mut cmd =
        Command::new(root.join("tools/componentize-js/node_modules/.bin/componentize-js"));
    cmd.current_dir(&root)
        .arg(rel(&src.join("app.js")))
        .arg("--wit")
        .arg(rel(wit))
        .args(["--world-name", world])
        // Leave out the engine's own WASI uses (console, random, clocks, fetch): the
        // component then imports only what its world does.
        .args([
            "--disable",
            "stdio",
            "random",
            "clocks",
            "http",
            "fetch-event",
        ])
        .arg("--out")
        .arg(out);
    cmd
}

fn python(src: &Path, wit: &Path, world: &str, out: &Path) -> Command {
    let mut cmd = Command::new(util::root().join("tools/py/venv/bin/componentize-py"));
    cmd.arg("-d").arg(wit).args(["-w", world, "componentize"]);
    // The CPython runtime imports filesystem and sockets whatever the world says; a world
    // without wasi imports can stub all of WASI out, so the component needs no grants.
    if !std::fs::read_to_string(wit.join("world.wit")).is_ok_and(|w| w.contains("wasi:")) {
        cmd.arg("--stub-wasi");
    }
    cmd.arg("app").arg("-p").arg(src).arg("-o").arg(out);
    cmd
}

/// `wit` with the wasi packages it needs beside it (jco's, and `deps` from `wit/deps/`), in
/// `target/guest-wit/NAME/`.
fn stage_wit(wit: &Path, name: &str, deps: &[PathBuf]) -> Result<PathBuf> {
    let staged = util::target_dir().join("guest-wit").join(name);
    let _ = std::fs::remove_dir_all(&staged);
    let copy = |from: &Path, to: &Path| -> Result {
        std::fs::create_dir_all(to.parent().expect("a parent"))
            .and_then(|()| std::fs::copy(from, to).map(drop))
            .map_err(|e| format!("cannot copy {} to {}: {e}", from.display(), to.display()))
    };
    for e in std::fs::read_dir(wit).map_err(|e| e.to_string())?.flatten() {
        if e.path().extension().is_some_and(|x| x == "wit") {
            copy(&e.path(), &staged.join(e.file_name()))?;
        }
    }
    let builtin =
        util::root().join("tools/js/node_modules/@bytecodealliance/jco/lib/wit/builtin/0.2.12");
    let text = std::fs::read_to_string(staged.join("world.wit")).unwrap_or_default();
    if text.contains("wasi:") {
        for e in std::fs::read_dir(&builtin)
            .map_err(|e| format!("cannot read jco's WIT in {}: {e}", builtin.display()))?
            .flatten()
        {
            let pkg = e.file_name();
            copy(
                &e.path().join("package.wit"),
                &staged.join("deps").join(&pkg).join("package.wit"),
            )?;
        }
    }
    for pkg in deps {
        for e in std::fs::read_dir(pkg).map_err(|e| e.to_string())?.flatten() {
            let to = staged.join("deps").join(pkg.file_name().expect("a name"));
            copy(&e.path(), &to.join(e.file_name()))?;
        }
    }
    Ok(staged)
}

/// The folders of `wit/deps/` whose package (`wasi:keyvalue@0.2.0-draft2`) the world text
/// `world` uses (`wasi:keyvalue/store@0.2.0-draft2`).
fn used_deps(world: &str) -> Result<Vec<PathBuf>> {
    let deps = util::root().join("wit/deps");
    let mut used = Vec::new();
    for e in std::fs::read_dir(&deps).map_err(|e| format!("cannot read {}: {e}", deps.display()))? {
        let dir = e.map_err(|e| e.to_string())?.path();
        let Some(package) = package_of(&dir) else {
            continue;
        };
        let Some((name, version)) = package.split_once('@') else {
            continue;
        };
        let uses = world.match_indices(&format!("{name}/")).any(|(i, _)| {
            let rest = &world[i..];
            let item = &rest[..rest.find([';', '\n']).unwrap_or(rest.len())];
            item.rsplit_once('@')
                .is_some_and(|(_, v)| v.trim() == version)
        });
        if uses {
            used.push(dir);
        }
    }
    Ok(used)
}

/// `wasi:keyvalue@0.2.0-draft2`, from the `package` line of a folder's WIT files.
fn package_of(dir: &Path) -> Option<String> {
    std::fs::read_dir(dir).ok()?.flatten().find_map(|e| {
        let text = std::fs::read_to_string(e.path()).ok()?;
        text.lines()
            .find_map(|l| l.trim().strip_prefix("package "))
            .map(|p| p.trim_end_matches(';').trim().to_owned())
    })
}

fn modified(path: &Path) -> SystemTime {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

/// The newest modification time of any file below `dirs`.
fn newest(dirs: &[&Path]) -> SystemTime {
    fn walk(p: &Path, best: &mut SystemTime) {
        *best = (*best).max(modified(p));
        if let Ok(entries) = std::fs::read_dir(p) {
            for e in entries.flatten() {
                walk(&e.path(), best);
            }
        }
    }
    let mut best = SystemTime::UNIX_EPOCH;
    for d in dirs {
        walk(d, &mut best);
    }
    best
}
