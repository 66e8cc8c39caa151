//! The binary's link to NATS: one background runtime that owns every NATS connection of
//! the process, and the `--kv nats` opener it gives wasmhub-state (which does not depend
//! on wasmhub-cluster).

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use wasmhub_cluster::{Access, NatsBackend};
use wasmhub_state::{BackendOpener, KvBackend};

/// How long a verb waits for the first answer from NATS before it gives up.
pub const REACH_WITHIN: Duration = Duration::from_secs(10);

/// The runtime NATS clients live on: their connection tasks outlive any verb's runtime.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("wasmhub-nats")
            .enable_all()
            .build()
            .expect("cannot start the NATS runtime")
    })
}

/// Runs `f` on the NATS runtime and waits for it (callable from any thread, runtime or not).
pub fn on_nats<F>(f: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let (tx, rx) = std::sync::mpsc::channel();
    runtime().spawn(async move {
        let _ = tx.send(f.await);
    });
    rx.recv().expect("the NATS runtime stopped")
}

/// A client of `url` with `access`, made on the NATS runtime, once a server answered.
pub fn client(url: &str, access: &Access, name: &str) -> anyhow::Result<async_nats::Client> {
    let (url, name, access) = (url.to_owned(), name.to_owned(), access.clone());
    Ok(on_nats(async move {
        wasmhub_cluster::connection::connect_reachable(&url, &name, &access, REACH_WITHIN).await
    })?)
}

/// `--kv nats`: every app's stores in JetStream KV buckets of the cluster at `url`, over one
/// connection made on first use.
pub struct NatsOpener {
    url: String,
    access: Access,
    backend: OnceLock<Arc<NatsBackend>>,
}

impl NatsOpener {
    /// Stores on the cluster at `url`, reached with `access`.
    pub fn new(url: &str, access: &Access) -> Self {
        Self {
            url: url.to_owned(),
            access: access.clone(),
            backend: OnceLock::new(),
        }
    }
}

impl std::fmt::Debug for NatsOpener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsOpener")
            .field("url", &self.url)
            .finish()
    }
}

impl BackendOpener for NatsOpener {
    fn describe(&self) -> String {
        format!("NATS server {}", self.url)
    }

    fn open(
        &self,
        _app: &str,
    ) -> Result<Arc<dyn KvBackend>, Box<dyn std::error::Error + Send + Sync>> {
        if let Some(b) = self.backend.get() {
            return Ok(b.clone());
        }
        let (url, access) = (self.url.clone(), self.access.clone());
        // Made on the NATS runtime: a JetStream context needs one.
        let made = on_nats(async move {
            let client = wasmhub_cluster::connection::connect_reachable(
                &url,
                "wasmhub",
                &access,
                REACH_WITHIN,
            )
            .await?;
            Ok::<_, wasmhub_cluster::ConnectError>(NatsBackend::on(client, &url))
        })?;
        let backend = self.backend.get_or_init(|| Arc::new(made));
        Ok(backend.clone())
    }
}

/// How to log in to NATS and secure the connection; shared by every verb that reaches a
/// cluster. A password is better given in `WASMHUB_NATS_PASSWORD` than on the command line
/// (where other users of the machine can see it); it is never printed.
#[derive(clap::Args, Clone, Default)]
pub struct NatsAccessFlags {
    /// NATS user name (with --nats-password).
    #[arg(long, value_name = "USER", requires = "nats_password", global = true)]
    nats_user: Option<String>,
    /// NATS password for --nats-user [env: WASMHUB_NATS_PASSWORD].
    #[arg(
        long,
        value_name = "PASSWORD",
        env = "WASMHUB_NATS_PASSWORD",
        hide_env_values = true,
        hide_env = true,
        requires = "nats_user",
        global = true
    )]
    nats_password: Option<String>,
    /// A NATS credentials file (JWT and nkey seed), instead of --nats-user.
    #[arg(long, value_name = "FILE", conflicts_with = "nats_user", global = true)]
    nats_creds: Option<PathBuf>,
    /// CA certificate (PEM) the NATS servers' certificates must chain to; turns TLS on.
    #[arg(long, value_name = "FILE", global = true)]
    nats_tls_ca: Option<PathBuf>,
    /// Client certificate (PEM) for NATS servers that verify clients (with --nats-tls-key).
    #[arg(long, value_name = "FILE", requires = "nats_tls_key", global = true)]
    nats_tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --nats-tls-cert.
    #[arg(long, value_name = "FILE", requires = "nats_tls_cert", global = true)]
    nats_tls_key: Option<PathBuf>,
}

impl std::fmt::Debug for NatsAccessFlags {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Through `Access`, which hides the password.
        self.access().fmt(f)
    }
}

impl NatsAccessFlags {
    /// The connection settings these flags give.
    pub fn access(&self) -> Access {
        Access {
            user: self.nats_user.clone(),
            password: self.nats_password.clone(),
            creds: self.nats_creds.clone(),
            tls_ca: self.nats_tls_ca.clone(),
            tls_cert: self.nats_tls_cert.clone(),
            tls_key: self.nats_tls_key.clone(),
        }
    }
}
