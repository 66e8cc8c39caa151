//! The worker side: what a real worker does (engine and pools, `enter`, then a component
//! from mapped precompiled code on a current-thread runtime with an epoch ticker), then
//! one escape attempt, reported on stdout as `RESULT ok` or `RESULT errno N`.

use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::attempts;
use super::driver::Mode;

/// The engine of both the test's compiler and its workers (same settings as `serve`'s pool).
pub fn engine() -> Engine {
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(4);
    pool.total_core_instances(32);
    pool.total_memories(8);
    pool.total_tables(32);
    pool.max_memory_size(64 << 20);
    pool.pagemap_scan(wasmtime::Enabled::Auto);
    pool.linear_memory_keep_resident(8 << 20);
    let mut config = Config::new();
    config.epoch_interruption(true);
    config.memory_init_cow(true);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&config).expect("engine")
}

struct State {
    wasi: WasiCtx,
    table: ResourceTable,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// The worker process: `--child CASE MODE SOCKET_FD`.
pub fn main(case: &str, mode: Mode, sock: RawFd) -> ! {
    let engine = engine();
    let tenant = std::env::var("ESCAPE_TENANT");
    let mut policy = wasmhub_sandbox::Policy::new(tenant.unwrap_or_default());
    // The `files-*` cases hold two granted directories, opened before `enter` as a
    // worker opens them (outside the sandbox: plainly, as any process could).
    let grants = case
        .starts_with("files-")
        .then(|| open_grants(mode, policy.host_id));
    if let Some((rw, ro)) = &grants {
        policy.dirs = vec![
            wasmhub_sandbox::GrantedDir {
                fd: rw.as_raw_fd(),
                writable: true,
            },
            wasmhub_sandbox::GrantedDir {
                fd: ro.as_raw_fd(),
                writable: false,
            },
        ];
    }
    if mode == Mode::Inside {
        policy.keep_fds = vec![1, 2, sock];
        // The `net-*` cases: socket calls go to the driver's broker.
        if case.starts_with("net-") {
            policy.socket_broker = Some(sock);
        }
        if let Err(e) = wasmhub_sandbox::enter(&policy) {
            eprintln!("enter failed: {e}: {:?}", std::error::Error::source(&e));
            std::process::exit(3);
        }
    }
    let code_fd = wasmhub_sandbox::recv_fd(sock).expect("receive the code descriptor");
    let sock = run_component(&engine, code_fd, sock);
    let fds = grants.as_ref().map(|(rw, ro)| attempts::Grants {
        rw: rw.as_raw_fd(),
        ro: ro.as_raw_fd(),
    });
    let result = attempts::attempt(case, sock, fds.as_ref());
    match result {
        Ok(()) => println!("RESULT ok"),
        Err(e) => println!("RESULT errno {}", e.raw_os_error().unwrap_or(-1)),
    }
    std::process::exit(0)
}

/// The read-write and read-only granted directories: idmapped to the tenant's `host_id`
/// inside the sandbox, plainly opened outside it.
fn open_grants(mode: Mode, host_id: u32) -> (OwnedFd, OwnedFd) {
    let open = |var: &str, writable: bool| {
        let path = std::path::PathBuf::from(std::env::var(var).expect(var));
        if mode == Mode::Inside {
            wasmhub_sandbox::open_granted_dir(&path, writable, host_id).unwrap_or_else(|e| {
                panic!(
                    "open {}: {e}: {:?}",
                    path.display(),
                    std::error::Error::source(&e)
                )
            })
        } else {
            OwnedFd::from(std::fs::File::open(&path).expect("open the granted directory"))
        }
    };
    (
        open("ESCAPE_GRANT_RW", true),
        open("ESCAPE_GRANT_RO", false),
    )
}

/// Loads the precompiled component from a mapping of `code_fd`, reads a name from the
/// socket, answers with the component's greeting, then makes the guest trap.
/// Returns the socket, blocking again.
fn run_component(engine: &Engine, code_fd: RawFd, sock: RawFd) -> RawFd {
    // SAFETY: fstat into a local struct.
    let len = unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        assert_eq!(libc::fstat(code_fd, &mut st), 0, "fstat code fd");
        st.st_size as usize
    };
    // SAFETY: a private read-only mapping of the whole file, unmapped below.
    let code = unsafe {
        let p = libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ,
            libc::MAP_PRIVATE,
            code_fd,
            0,
        );
        assert_ne!(p, libc::MAP_FAILED, "mmap code fd");
        std::slice::from_raw_parts(p.cast::<u8>(), len)
    };
    let ticker = engine.clone();
    std::thread::Builder::new()
        .name("epoch".into())
        .spawn(move || {
            loop {
                std::thread::sleep(Duration::from_millis(10));
                ticker.increment_epoch();
            }
        })
        .expect("epoch ticker thread");
    // Wasmtime copies the code out of the mapping (`deserialize_file` would keep a
    // descriptor of its own, which `enter` closes; `deserialize_raw` needs a target
    // without virtual memory).
    // SAFETY: the mapping holds what `Engine::precompile_component` wrote.
    let component = unsafe { Component::deserialize(engine, code) }.expect("deserialize");
    // SAFETY: the mapping made above, no longer used.
    unsafe {
        libc::munmap(code.as_ptr().cast_mut().cast(), len);
        libc::close(code_fd);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("current-thread runtime");
    let (greeting, sock) = rt.block_on(async {
        // SAFETY: the socket descriptor is ours alone.
        let sock = unsafe { std::os::unix::net::UnixStream::from_raw_fd(sock) };
        sock.set_nonblocking(true).expect("nonblocking socket");
        let mut sock = tokio::net::UnixStream::from_std(sock).expect("tokio socket");
        let mut name = Vec::new();
        while !name.ends_with(b"\n") {
            let mut buf = [0u8; 64];
            let n = sock.read(&mut buf).await.expect("read the request");
            assert_ne!(n, 0, "the driver closed the socket");
            name.extend_from_slice(&buf[..n]);
        }
        let name = String::from_utf8(name).unwrap().trim().to_string();
        let mut linker = Linker::new(engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).expect("wasi linker");
        let state = State {
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
        };
        let mut store = Store::new(engine, state);
        store.set_epoch_deadline(1000);
        store.epoch_deadline_async_yield_and_update(1000);
        let instance = linker
            .instantiate_async(&mut store, &component)
            .await
            .expect("instantiate");
        let greet = instance
            .get_typed_func::<(String,), (String,)>(&mut store, "greet")
            .expect("greet export");
        let (out,) = greet
            .call_async(&mut store, (name,))
            .await
            .expect("call greet");
        sock.write_all(format!("{out}\n").as_bytes())
            .await
            .expect("write the answer");
        // A guest trap (Wasmtime's signal handlers) still works in the sandbox.
        let iface = instance
            .get_export_index(&mut store, None, "wasmhub:demo/greeter")
            .expect("greeter export");
        let fail = instance
            .get_export_index(&mut store, Some(&iface), "fail")
            .expect("fail export");
        let fail = instance
            .get_typed_func::<(String,), ()>(&mut store, &fail)
            .expect("fail type");
        let trap = fail
            .call_async(&mut store, ("on purpose".to_string(),))
            .await;
        assert!(trap.is_err(), "the guest's fail() must trap");
        let sock = sock.into_std().expect("socket back from tokio");
        sock.set_nonblocking(false).expect("blocking socket");
        (out, sock.into_raw_fd())
    });
    println!("component: {greeting}");
    sock
}
