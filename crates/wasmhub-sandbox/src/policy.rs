//! What a tenant's worker may keep and use.

use std::os::fd::RawFd;

/// The lock-down of one tenant's workers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The tenant's name: names its cgroup (`wasmhub/<tenant>`), so it must be a file name.
    pub tenant: String,
    /// Memory (RAM, no swap) of all the tenant's workers together; past it the kernel's OOM
    /// killer ends a worker. Not `RLIMIT_AS`: Wasmtime reserves large address ranges.
    pub memory_limit_bytes: u64,
    /// Tasks (processes and threads: a worker is its pid-namespace keeper, its main thread
    /// and its epoch ticker) of all the tenant's workers together.
    pub max_processes: u64,
    /// The descriptors [`crate::enter`] keeps open: the worker's Unix socket(s) and the
    /// read-only code descriptors. All others are closed (0, 1 and 2 not listed here point
    /// at /dev/null).
    pub keep_fds: Vec<RawFd>,
    /// The tenant's granted directories ([`crate::open_granted_dir`]): kept open like
    /// `keep_fds`, each the one place Landlock lets the worker reach by path (read-only or
    /// read-write as granted). Only a worker with some may make file system calls at all.
    pub dirs: Vec<crate::GrantedDir>,
    /// For a tenant granted sockets: the Unix socket (one of `keep_fds`) to send the
    /// worker's socket-call listener on, for its supervisor's [`crate::SocketBroker`].
    /// The worker then may make socket calls, each made (or refused)
    /// by the supervisor; without it any socket call ends the worker.
    pub socket_broker: Option<RawFd>,
    /// The uid and gid the worker runs as on the host (root inside its user namespace).
    /// No other process on the host may use them: whoever owns them outside owns the
    /// worker's namespaces. [`Policy::new`] derives one per tenant above 2^31.
    pub host_id: u32,
}

impl Policy {
    /// A policy for `tenant`: 512 MiB, 64 tasks, no descriptors kept, no directories, a host
    /// id of its own.
    pub fn new(tenant: impl Into<String>) -> Policy {
        let tenant = tenant.into();
        let host_id = host_id_for(&tenant);
        Policy {
            tenant,
            memory_limit_bytes: 512 << 20,
            max_processes: 64,
            keep_fds: Vec::new(),
            dirs: Vec::new(),
            socket_broker: None,
            host_id,
        }
    }

    /// Checks the tenant name is usable as a cgroup directory name.
    pub(crate) fn validate(&self) -> Result<(), crate::SandboxError> {
        let t = &self.tenant;
        let ok = !t.is_empty()
            && t.len() <= 128
            && t != "."
            && t != ".."
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if ok {
            Ok(())
        } else {
            Err(crate::SandboxError::Policy(format!(
                "tenant name {t:?} must be 1-128 characters of letters, digits, '-', '_' or '.'"
            )))
        }
    }
}

/// 2^31 + FNV-1a(tenant) mod 2^30: far above the ids of real users and services.
fn host_id_for(tenant: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in tenant.bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    (1 << 31) + (h % (1 << 30))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenants_get_distinct_stable_host_ids() {
        assert_eq!(Policy::new("a").host_id, Policy::new("a").host_id);
        assert_ne!(Policy::new("a").host_id, Policy::new("b").host_id);
        assert!(Policy::new("a").host_id >= 1 << 31);
    }

    #[test]
    fn tenant_names_that_escape_the_cgroup_dir_are_refused() {
        for bad in ["", "..", "a/b", "a b"] {
            assert!(Policy::new(bad).validate().is_err(), "{bad:?}");
        }
        Policy::new("shop-1.eu_x").validate().unwrap();
    }
}
