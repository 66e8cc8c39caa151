//! The second wall: a tenant's worker process locked down as if its Wasm sandbox were broken.
//!
//! The supervisor calls [`configure`] on the worker's [`std::process::Command`] so it
//! starts in new user, pid, net, mount, ipc, uts and cgroup namespaces, as an unprivileged
//! uid outside, inside the tenant's [`TenantCgroup`] (memory and task limits). The worker
//! sets up its Wasmtime engine and memory pools, then calls [`enter`] before it starts
//! any thread: an empty read-only root, every descriptor but [`Policy::keep_fds`] closed,
//! `no_new_privs`, Landlock with no rules and a seccomp allowlist that kills the process
//! on any other system call. Linux only; [`configure`] and [`TenantCgroup`] need root.
//!
//! For the worker that uses it (what `tests/escape.rs` does):
//! - Build the `Engine` (pooling allocator) before [`enter`]; build the tokio runtime
//!   (current-thread), spawn the epoch ticker and load code after it: [`enter`] closes
//!   descriptors made before it and refuses to run with a second thread.
//! - Receive compiled code as descriptors over the worker's socket (`recvmsg`, SCM_RIGHTS),
//!   `mmap` it and load it with `Component::deserialize` (it copies). Not
//!   `deserialize_file`: it needs a path, and there are none in the empty root.
//! - Anything outside the allowlist ends the worker by SIGSYS, including what a panic's
//!   backtrace printer would open; exit with a code instead where you can.
//! - The worker is pid 1 of its pid namespace, so it ignores signals it has no handler for
//!   (SIGTERM included). Stop it by closing its socket or with `Child::kill` (SIGKILL to
//!   the keeper, whose death kills the worker). The `Child`'s status is the worker's.

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
