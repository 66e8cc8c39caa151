//! The second wall: a tenant's worker process locked down as if its Wasm sandbox were broken.
//!
//! The supervisor (root) calls [`configure`] on the worker's [`std::process::Command`] so it
//! starts in new pid, net, ipc, uts and cgroup namespaces, inside the tenant's
//! [`TenantCgroup`] (memory and task limits), behind a keeper process. The worker is still
//! root in the host's user and mount namespaces: it reads its app, code and compile cache
//! (root's, not readable by others), sets up its Wasmtime engine and memory pools and opens
//! what it was granted (its granted directories with [`open_granted_dir`]: idmapped to the
//! tenant's uid), then calls [`enter`] before it starts any thread: it drops to the
//! tenant's own host uid (above 2^31), takes user and mount namespaces of its own (root
//! inside mapped to that uid alone), an empty read-only root, every descriptor but
//! [`Policy::keep_fds`] and [`Policy::dirs`] closed, no capabilities, `no_new_privs`,
//! Landlock with a rule for each granted directory and none else, and a seccomp allowlist
//! that kills the process on any other system call (file system calls only with granted
//! directories). Linux only; both need root ([`require_root`]).
//!
//! For the worker that uses it (what `tests/escape.rs` does):
//! - Build the `Engine` (pooling allocator) and open what it needs before [`enter`]; build
//!   the tokio runtime (current-thread) and spawn the epoch ticker after it: [`enter`]
//!   closes descriptors made before it (but the kept ones) and refuses to run with a
//!   second thread.
//! - Load code before [`enter`] (wasmhub's worker reads its compile cache), or receive it
//!   after as descriptors over the worker's socket (`recvmsg`, SCM_RIGHTS), `mmap` it and
//!   load it with `Component::deserialize` (it copies; what `tests/escape.rs` does). Not
//!   `deserialize_file` after [`enter`]: it needs a path, and there are none in the empty
//!   root.
//! - Anything outside the allowlist ends the worker by SIGSYS, including what a panic's
//!   backtrace printer would open; exit with a code instead where you can.
//! - The worker is pid 1 of its pid namespace, so it ignores signals it has no handler for
//!   (SIGTERM included). Stop it by closing its socket or with `Child::kill` (SIGKILL to
//!   the keeper, whose death kills the worker). The `Child`'s status is the worker's.

mod cgroup;
mod enter;
mod error;
mod fdpass;
mod granted;
mod notify;
mod policy;
mod seccomp;
mod spawn;

pub use cgroup::TenantCgroup;
pub use enter::enter;
pub use error::{SandboxError, require_root};
pub use fdpass::{recv_fd, send_fd};
pub use granted::{GrantedDir, open_granted_dir};
pub use notify::{SocketBroker, SocketOp, SocketUse};
pub use policy::Policy;
pub use spawn::configure;
