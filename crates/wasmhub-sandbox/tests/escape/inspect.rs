//! The `inspect` case: the driver looks at a running worker from outside (/proc) and lists
//! which lock-down properties it shows, so each layer of `configure` and `enter` is seen
//! directly, not only through the attempts it stops. (Landlock shows nothing in /proc.)

use std::fs;
use std::path::Path;

use wasmhub_sandbox::Policy;

use super::driver::Mode;

/// Every property, in the order reported.
const ALL: &[&str] = &[
    "namespaces",
    "tenant-cgroup",
    "keeper-holds-nothing",
    "user-mount-namespaces",
    "host-uid",
    "empty-root",
    "descriptors-closed",
    "no-capabilities",
    "no-new-privs",
    "seccomp",
];

/// The properties a worker started in `mode` must show.
pub fn expected(mode: Mode) -> Vec<&'static str> {
    match mode {
        Mode::Outside => Vec::new(),
        Mode::Namespaces => ALL[..3].to_vec(),
        Mode::Inside => ALL.to_vec(),
    }
}

/// The properties the worker started as `child` (its keeper when sandboxed) shows.
pub fn properties(child: u32, mode: Mode, policy: Option<&Policy>) -> Vec<&'static str> {
    let worker = if mode == Mode::Outside {
        child
    } else {
        child_of(child).expect("the keeper's worker")
    };
    let proc = Path::new("/proc").join(worker.to_string());
    let status = fs::read_to_string(proc.join("status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.split_whitespace().collect::<Vec<_>>())
            .unwrap_or_default()
    };
    let link = |p: &Path| {
        fs::read_link(p)
            .map(|t| t.display().to_string())
            .unwrap_or_default()
    };
    let mut shown = Vec::new();
    let own = |kinds: &[&str]| {
        kinds
            .iter()
            .all(|ns| link(&proc.join("ns").join(ns)) != link(&Path::new("/proc/self/ns").join(ns)))
    };
    // configure's namespaces.
    if own(&["pid", "net", "ipc", "uts", "cgroup"]) {
        shown.push("namespaces");
    }
    if let Some(p) = policy {
        let cgroups = fs::read_to_string(proc.join("cgroup")).unwrap();
        let tenant = format!("/wasmhub/{}", p.tenant);
        if ["memory", "pids"].iter().all(|c| {
            cgroups
                .lines()
                .any(|l| l.ends_with(&format!(":{c}:{tenant}")))
        }) {
            shown.push("tenant-cgroup");
        }
    }
    if mode != Mode::Outside
        && fs::read_dir(Path::new("/proc").join(child.to_string()).join("fd"))
            .unwrap()
            .next()
            .is_none()
    {
        shown.push("keeper-holds-nothing");
    }
    // enter's namespaces and identity.
    if own(&["user", "mnt"]) {
        shown.push("user-mount-namespaces");
    }
    if let Some(p) = policy
        && field("Uid:").iter().all(|u| *u == p.host_id.to_string())
        && field("Gid:").iter().all(|g| *g == p.host_id.to_string())
    {
        shown.push("host-uid");
    }
    if fs::read_dir(proc.join("root")).unwrap().next().is_none() {
        shown.push("empty-root");
    }
    // Only the worker's own kinds of descriptor: no file of the supervisor's.
    let pagemap = proc.join("pagemap").display().to_string();
    let targets: Vec<String> = fs::read_dir(proc.join("fd"))
        .unwrap()
        .map(|e| link(&e.unwrap().path()))
        .collect();
    let own = |t: &String| {
        ["pipe:", "socket:", "anon_inode:", "/memfd:", "/null"]
            .iter()
            .any(|k| t.starts_with(k))
            || t.ends_with("/dev/null")
            || *t == pagemap
    };
    if targets.iter().all(own) {
        shown.push("descriptors-closed");
    }
    let zero = |name| field(name).iter().all(|v| v.chars().all(|c| c == '0'));
    if zero("CapEff:") && zero("CapPrm:") && zero("CapBnd:") {
        shown.push("no-capabilities");
    }
    if field("NoNewPrivs:") == ["1"] {
        shown.push("no-new-privs");
    }
    if field("Seccomp:") == ["2"] {
        shown.push("seccomp");
    }
    shown
}

/// The one child of `parent`.
fn child_of(parent: u32) -> Option<u32> {
    fs::read_dir("/proc").ok()?.find_map(|e| {
        let pid: u32 = e.ok()?.file_name().to_str()?.parse().ok()?;
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let ppid: u32 = stat
            .rsplit_once(')')?
            .1
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()?;
        (ppid == parent).then_some(pid)
    })
}
