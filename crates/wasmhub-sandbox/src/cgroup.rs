//! A tenant's cgroup v1 `memory` and `pids` groups: `/sys/fs/cgroup/{memory,pids}/wasmhub/<policy's tenant name>`.

use std::fs;
use std::path::{Path, PathBuf};

use crate::{Policy, SandboxError};

/// Where cgroup v1 controllers are mounted.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// The memory and task limits of one tenant's workers, shared by all of them.
#[derive(Debug)]
pub struct TenantCgroup {
    memory: PathBuf,
    pids: PathBuf,
}

impl TenantCgroup {
    /// Creates (or reuses) the tenant's groups and sets the policy's limits.
    pub fn create(policy: &Policy) -> Result<TenantCgroup, SandboxError> {
        policy.validate()?;
        let dir = |controller: &str| {
            Path::new(CGROUP_ROOT)
                .join(controller)
                .join("wasmhub")
                .join(&policy.tenant)
        };
        let cg = TenantCgroup {
            memory: dir("memory"),
            pids: dir("pids"),
        };
        for d in [&cg.memory, &cg.pids] {
            fs::create_dir_all(d).map_err(|source| SandboxError::Cgroup {
                path: d.clone(),
                action: "created",
                source,
            })?;
        }
        cg.limit(policy)?;
        Ok(cg)
    }

    /// Sets the policy's memory (RAM and RAM+swap) and task limits.
    pub fn limit(&self, policy: &Policy) -> Result<(), SandboxError> {
        let bytes = policy.memory_limit_bytes.to_string();
        // memsw must stay >= the RAM limit: raise it first when growing, lower it after.
        let memsw = self.memory.join("memory.memsw.limit_in_bytes");
        let has_memsw = memsw.exists();
        if has_memsw {
            let _ = fs::write(&memsw, &bytes);
        }
        write(&self.memory.join("memory.limit_in_bytes"), &bytes)?;
        if has_memsw {
            write(&memsw, &bytes)?;
        }
        write(
            &self.pids.join("pids.max"),
            &policy.max_processes.to_string(),
        )
    }

    /// Moves the process `pid` (with its threads) into the tenant's groups.
    pub fn add_pid(&self, pid: u32) -> Result<(), SandboxError> {
        for p in self.procs_files() {
            write(&p, &pid.to_string())?;
        }
        Ok(())
    }

    /// How many times the kernel's OOM killer has ended a process of this tenant.
    pub fn oom_kills(&self) -> Result<u64, SandboxError> {
        let path = self.memory.join("memory.oom_control");
        let text = fs::read_to_string(&path).map_err(|source| SandboxError::Cgroup {
            path: path.clone(),
            action: "read",
            source,
        })?;
        Ok(text
            .lines()
            .find_map(|l| l.strip_prefix("oom_kill "))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0))
    }

    /// True when no process is left in the groups (unreadable counts as not empty).
    pub fn is_empty(&self) -> bool {
        self.procs_files()
            .iter()
            .all(|p| fs::read_to_string(p).is_ok_and(|procs| procs.trim().is_empty()))
    }

    /// Removes the groups; every worker of the tenant must have ended.
    pub fn remove(self) -> Result<(), SandboxError> {
        for d in [&self.memory, &self.pids] {
            fs::remove_dir(d).map_err(|source| SandboxError::Cgroup {
                path: d.clone(),
                action: "removed",
                source,
            })?;
        }
        Ok(())
    }

    /// The `cgroup.procs` files a new worker writes itself into before it forks.
    pub(crate) fn procs_files(&self) -> [PathBuf; 2] {
        [
            self.memory.join("cgroup.procs"),
            self.pids.join("cgroup.procs"),
        ]
    }
}

fn write(path: &Path, value: &str) -> Result<(), SandboxError> {
    fs::write(path, value).map_err(|source| SandboxError::Cgroup {
        path: path.to_path_buf(),
        action: "written",
        source,
    })
}
