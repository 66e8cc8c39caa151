//! The binary's link to NATS: one background runtime that owns every NATS connection of
//! the process, and the `--kv nats` opener it gives wasmhub-state (which does not depend
//! on wasmhub-cluster).

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use wasmhub_cluster::NatsBackend;
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

/// A client of `url` made on the NATS runtime, once a server answered.
pub fn client(url: &str, name: &str) -> anyhow::Result<async_nats::Client> {
    let (url, name) = (url.to_owned(), name.to_owned());
    Ok(on_nats(async move {
        wasmhub_cluster::connection::connect_reachable(&url, &name, REACH_WITHIN).await
    })?)
}

/// `--kv nats`: every app's stores in JetStream KV buckets of the cluster at `url`, over one
/// connection made on first use.
pub struct NatsOpener {
    url: String,
    backend: OnceLock<Arc<NatsBackend>>,
}

impl NatsOpener {
    /// Stores on the cluster at `url`.
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
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
        let url = self.url.clone();
        // Made on the NATS runtime: a JetStream context needs one.
        let made = on_nats(async move {
            let client =
                wasmhub_cluster::connection::connect_reachable(&url, "wasmhub", REACH_WITHIN)
                    .await?;
            Ok::<_, wasmhub_cluster::ConnectError>(NatsBackend::on(client, &url))
        })?;
        let backend = self.backend.get_or_init(|| Arc::new(made));
        Ok(backend.clone())
    }
}
