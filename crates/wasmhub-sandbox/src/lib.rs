//! The second wall: a tenant's worker process locked down as if its Wasm sandbox were broken.
//!
//! The supervisor calls [`configure`] on the worker's [`std::process::Command`] so it
//! starts in new user, pid, net, mount, ipc, uts and cgroup namespaces, as an unprivileged
//! uid outside, inside the tenant's [`TenantCgroup`] (memory and task limits). The worker
//! sets up its Wasmtime engine and memory pools, then calls [`enter`] before it starts
//! any thread: an empty read-only root, every descriptor but [`Policy::keep_fds`] closed,
//! `no_new_privs`, Landlock with no rules and a seccomp allowlist that kills the process
//! on any other system call. Linux only; [`configure`] and [`TenantCgroup`] need root.

mod cgroup;
mod enter;
mod error;
mod policy;
mod seccomp;
mod spawn;

pub use cgroup::TenantCgroup;
pub use enter::enter;
pub use error::SandboxError;
pub use policy::Policy;
pub use spawn::configure;
