//! `files-http`: an HTTP handler that does one file operation on the paths it is given, to
//! prove a served component reaches its granted directories, every WASI file operation
//! works there, and nothing outside is reached.
//!
//! `.../OP?PATH` or `.../OP?PATH&PATH2`, OP one of `read` (answers the text), `write`
//! (`written by files-http\n`), `list` (names joined by `,`), `stat` (the size), `mkdir`,
//! `rmdir`, `remove`, `rename` (PATH to PATH2), `link` (hard link PATH2 to PATH),
//! `symlink` (PATH2 pointing at PATH), `readlink`, `truncate` (to 3 bytes), `sync` (data
//! and metadata), `touch` (modified time 1 s after the epoch). Success answers 200 with
//! the result (or `done`), a failure 404 with `denied: ERROR`.

use std::fs;
use std::time::{Duration, SystemTime};

use guest_support::answer;
use wasip2::http::types::{IncomingRequest, ResponseOutparam};

struct Files;

/// Runs `op` on `a` (and `b`).
fn run(op: &str, a: &str, b: &str) -> std::io::Result<String> {
    let done = |()| "done".to_string();
    match op {
        "read" => fs::read_to_string(a),
        "write" => fs::write(a, "written by files-http\n").map(|()| "written".into()),
        "list" => fs::read_dir(a).and_then(|d| {
            let mut names = d
                .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
                .collect::<Result<Vec<_>, _>>()?;
            names.sort();
            Ok(names.join(","))
        }),
        "stat" => fs::metadata(a).map(|m| m.len().to_string()),
        "mkdir" => fs::create_dir(a).map(done),
        "rmdir" => fs::remove_dir(a).map(done),
        "remove" => fs::remove_file(a).map(done),
        "rename" => fs::rename(a, b).map(done),
        "link" => fs::hard_link(a, b).map(done),
        "symlink" => symlink(a, b).map(done),
        "readlink" => fs::read_link(a).map(|p| p.display().to_string()),
        "truncate" => fs::OpenOptions::new()
            .write(true)
            .open(a)
            .and_then(|f| f.set_len(3))
            .map(done),
        "sync" => fs::OpenOptions::new()
            .write(true)
            .open(a)
            .and_then(|f| f.sync_data().and_then(|()| f.sync_all()))
            .map(done),
        "touch" => fs::OpenOptions::new()
            .write(true)
            .open(a)
            .and_then(|f| f.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(1)))
            .map(done),
        other => Err(std::io::Error::other(format!("unknown operation {other}"))),
    }
}

/// Makes `link` (an absolute path below a preopen) a symbolic link to `target`, through
/// WASI's own call (std's is unstable on WASI).
fn symlink(target: &str, link: &str) -> std::io::Result<()> {
    for (dir, name) in wasip2::filesystem::preopens::get_directories() {
        let prefix = format!("{}/", name.trim_end_matches('/'));
        if let Some(rel) = link.strip_prefix(&prefix) {
            return dir
                .symlink_at(target, rel)
                .map_err(|e| std::io::Error::other(format!("{e:?}")));
        }
    }
    Err(std::io::ErrorKind::NotFound.into())
}

impl wasip2::exports::http::incoming_handler::Guest for Files {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let path = request.path_with_query().unwrap_or_default();
        let (route, query) = path.split_once('?').unwrap_or((path.as_str(), ""));
        let (a, b) = query.split_once('&').unwrap_or((query, ""));
        // The last segment names the operation, whatever route prefix the app gives.
        let op = route.rsplit('/').next().unwrap_or_default();
        match run(op, a, b) {
            Ok(text) => answer(out, 200, &text),
            Err(e) => answer(out, 404, &format!("denied: {e}")),
        }
    }
}

wasip2::http::proxy::export!(Files);
