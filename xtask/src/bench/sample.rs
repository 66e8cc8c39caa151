//! One load run's figures: wrk's report and the server's CPU and page faults from
//! `/proc`, and medians over rounds.

use std::process::Command;

use crate::util::{self, Result};

/// One wrk run's figures.
#[derive(Default, Clone)]
pub(crate) struct Sample {
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub cpu_us_per_req: f64,
    /// User-mode CPU per request.
    pub user_us_per_req: f64,
    /// Kernel CPU per request.
    pub sys_us_per_req: f64,
    /// Page faults (minor and major) per request.
    pub faults_per_req: f64,
}

/// utime + stime of `pid`, in seconds.
pub(crate) fn cpu_seconds(pid: u32) -> Result<f64> {
    Ok(ProcStat::of(pid)?.cpu())
}

/// A process's CPU time (seconds) and page faults so far, from `/proc/PID/stat`.
pub(crate) struct ProcStat {
    pub user: f64,
    pub sys: f64,
    pub faults: f64,
}

impl ProcStat {
    /// `pid`'s figures now.
    pub fn of(pid: u32) -> Result<Self> {
        let stat =
            std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|e| e.to_string())?;
        // Fields after the command name, from `state` (field 3 of proc(5)) on.
        let fields: Vec<f64> = stat[stat.rfind(')').unwrap_or(0) + 2..]
            .split_whitespace()
            .map(|f| f.parse().unwrap_or(0.0))
            .collect();
        let hz = util::output(Command::new("getconf").arg("CLK_TCK"))
            .and_then(|s| s.trim().parse::<f64>().ok())
            .unwrap_or(100.0);
        Ok(Self {
            user: fields[11] / hz,
            sys: fields[12] / hz,
            faults: fields[7] + fields[9],
        })
    }

    /// `pid`'s figures plus its live descendants' (a server's worker processes, which run
    /// under a keeper process of their own).
    pub fn of_tree(pid: u32) -> Result<Self> {
        let mut all = Self::of(pid)?;
        for d in descendants(pid) {
            if let Ok(c) = Self::of(d) {
                all.user += c.user;
                all.sys += c.sys;
                all.faults += c.faults;
            }
        }
        Ok(all)
    }

    /// User plus kernel seconds.
    pub fn cpu(&self) -> f64 {
        self.user + self.sys
    }
}

/// Every live process below `pid` (children, their children, ...).
pub(crate) fn descendants(pid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    let mut next = vec![pid];
    while let Some(p) = next.pop() {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) else {
            continue;
        };
        for t in tasks.flatten() {
            let children = std::fs::read_to_string(t.path().join("children")).unwrap_or_default();
            for c in children
                .split_whitespace()
                .filter_map(|c| c.parse::<u32>().ok())
            {
                found.push(c);
                next.push(c);
            }
        }
    }
    found
}

/// `pid`'s resident memory in MiB (`VmRSS`), 0 if it is gone.
pub(crate) fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

pub(crate) fn parse_wrk(out: &str, cpu_seconds: f64) -> Result<Sample> {
    let mut s = Sample::default();
    let mut requests = 0.0;
    for line in out.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", n] => s.rps = n.parse().unwrap_or(0.0),
            ["50%", v] => s.p50_ms = ms(v),
            ["99%", v] => s.p99_ms = ms(v),
            [n, "requests", "in", ..] => requests = n.parse().unwrap_or(0.0),
            _ => {}
        }
    }
    if requests == 0.0 {
        return Err(format!("wrk reported no requests:\n{out}"));
    }
    s.cpu_us_per_req = cpu_seconds * 1e6 / requests;
    Ok(s)
}

fn ms(v: &str) -> f64 {
    let split = v.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(v.len());
    let (n, unit) = v.split_at(split);
    let n: f64 = n.parse().unwrap_or(f64::NAN);
    match unit {
        "us" => n / 1e3,
        "ms" => n,
        "s" => n * 1e3,
        _ => f64::NAN,
    }
}

/// The middle value of `v` (sorted in place).
pub(crate) fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Field-by-field medians of `samples`.
pub(crate) fn median_sample(samples: &[Sample]) -> Sample {
    let pick = |f: fn(&Sample) -> f64| median(&mut samples.iter().map(f).collect::<Vec<_>>());
    Sample {
        rps: pick(|s| s.rps),
        p50_ms: pick(|s| s.p50_ms),
        p99_ms: pick(|s| s.p99_ms),
        cpu_us_per_req: pick(|s| s.cpu_us_per_req),
        user_us_per_req: pick(|s| s.user_us_per_req),
        sys_us_per_req: pick(|s| s.sys_us_per_req),
        faults_per_req: pick(|s| s.faults_per_req),
    }
}
