//! The worker's side of its key-value calls: a backend whose every call the server makes.

use std::sync::{Arc, OnceLock};

use http_body_util::BodyExt;
use hyper::Request;
use hyper::client::conn::http2::SendRequest;
use wasmhub_state::{
    BackendError, BackendInfo, BackendOpener, BatchOp, Condition, Entry, KvBackend, Page, StoreId,
    StoreQuota, Usage, Written,
};
use wasmtime_wasi_http::WasiBody;

use super::{Call, KV_HEADER, Reply, body};

/// The worker's connection to its server's stores (set once its outbound socket is up).
static SERVER: OnceLock<SendRequest<WasiBody>> = OnceLock::new();

/// What the server said its backend is (see [`learn_backend`]).
static LEARNED: OnceLock<BackendInfo> = OnceLock::new();

/// Where a [`Remote`] finds its connection.
type Server = &'static OnceLock<SendRequest<WasiBody>>;

/// Where a [`Remote`] finds what the server said its backend is.
type Learned = &'static OnceLock<BackendInfo>;

/// The worker's side: its stores' calls go to the server on `sender`.
pub(in crate::worker) fn connect(sender: SendRequest<WasiBody>) {
    let _ = SERVER.set(sender);
}

/// Asks the server once what its backend is (kind, location, durability), for
/// [`KvBackend::info`]; a tenant granted no store learns nothing (the server does not open
/// a backend to answer). Spawn it: the answer may wait for the server to open its backend.
pub(in crate::worker) async fn learn_backend() {
    learn(&SERVER, &LEARNED).await;
}

/// [`learn_backend`] on `server`, into `learned`.
pub(super) async fn learn(server: Server, learned: Learned) {
    let store = StoreId::new("", "");
    match request(server, &store, &Call::Info).await {
        Ok(Reply::Info(Some((kind, location, durable)))) => {
            let _ = learned.set(BackendInfo {
                kind: known_kind(&kind),
                location: format!("{location} (the server's, through the worker's socket)"),
                durable,
            });
        }
        Ok(_) => {}
        Err(e) => tracing::debug!(error = %e, "the server's key-value backend is not known"),
    }
}

/// A backend kind as the static name [`BackendInfo`] holds.
fn known_kind(kind: &str) -> &'static str {
    match kind {
        "embedded" => "embedded",
        "memory" => "memory",
        "nats" => "nats",
        _ => "server",
    }
}

/// Sends `call` (about `store`, for errors) to the server on `server` and reads the reply.
async fn request(server: Server, store: &StoreId, call: &Call) -> Result<Reply, BackendError> {
    let failed = |message: String| BackendError::Failed {
        store: store.clone(),
        message,
        source: None,
    };
    let mut sender = server
        .get()
        .cloned()
        .ok_or_else(|| failed("the worker is not connected to its server yet".into()))?;
    let req = Request::builder()
        .method(hyper::Method::POST)
        .uri("http://wasmhub-server/kv")
        .header(KV_HEADER, "1")
        .body(body(call))
        .map_err(|e| failed(e.to_string()))?;
    let lost = |e: hyper::Error| failed(format!("the server's stores cannot be reached: {e}"));
    sender.ready().await.map_err(lost)?;
    let resp = sender.send_request(req).await.map_err(lost)?;
    let bytes = resp.into_body().collect().await.map_err(lost)?.to_bytes();
    match postcard::from_bytes(&bytes) {
        Ok(Reply::Quota(what, limit, asked)) => Err(BackendError::Quota {
            store: store.clone(),
            what: if what == "keys" { "keys" } else { "bytes" },
            limit,
            asked,
        }),
        Ok(Reply::Failed(message)) => Err(failed(message)),
        Ok(reply) => Ok(reply),
        Err(e) => Err(failed(format!("an unreadable reply from the server: {e}"))),
    }
}

/// The key-value backend of a worker: the server's stores, through its socket.
#[derive(Debug)]
pub struct ServerStores;

impl BackendOpener for ServerStores {
    fn describe(&self) -> String {
        "the server's stores (through the worker's socket)".into()
    }

    fn open(
        &self,
        app: &str,
    ) -> Result<Arc<dyn KvBackend>, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Arc::new(Remote {
            app: app.to_owned(),
            server: &SERVER,
            learned: &LEARNED,
        }))
    }
}

/// Backend calls made by the server, for one app (the server's: it names the app itself).
pub(super) struct Remote {
    pub(super) app: String,
    pub(super) server: Server,
    pub(super) learned: Learned,
}

impl Remote {
    /// Sends `call` about `store` and reads the reply.
    async fn call(&self, store: &StoreId, call: &Call) -> Result<Reply, BackendError> {
        if store.app != self.app {
            return Err(BackendError::Failed {
                store: store.clone(),
                message: format!(
                    "a worker of app {:?} reaches only that app's stores",
                    self.app
                ),
                source: None,
            });
        }
        request(self.server, store, call).await
    }
}

/// A reply of another kind than the call's.
fn mismatch(store: &StoreId, reply: &Reply) -> BackendError {
    BackendError::Failed {
        store: store.clone(),
        message: format!("the server answered a key-value call with {reply:?}"),
        source: None,
    }
}

#[async_trait::async_trait]
impl KvBackend for Remote {
    /// The server's backend, as it said when the worker connected; until then (or for a
    /// tenant granted no store) durability is not promised.
    fn info(&self) -> BackendInfo {
        self.learned.get().cloned().unwrap_or_else(|| BackendInfo {
            kind: "server",
            location: ServerStores.describe(),
            durable: false,
        })
    }

    async fn get(&self, store: &StoreId, key: &str) -> Result<Option<Entry>, BackendError> {
        let call = Call::Get {
            label: store.label.clone(),
            key: key.to_owned(),
        };
        match self.call(store, &call).await? {
            Reply::Entry(e) => Ok(e),
            r => Err(mismatch(store, &r)),
        }
    }

    async fn put(
        &self,
        store: &StoreId,
        key: &str,
        value: Vec<u8>,
        condition: Condition,
        quota: StoreQuota,
    ) -> Result<Written, BackendError> {
        let call = Call::Put {
            label: store.label.clone(),
            key: key.to_owned(),
            value,
            condition,
            quota,
        };
        match self.call(store, &call).await? {
            Reply::Written(w) => Ok(w),
            r => Err(mismatch(store, &r)),
        }
    }

    async fn delete(
        &self,
        store: &StoreId,
        key: &str,
        condition: Condition,
    ) -> Result<Written, BackendError> {
        let call = Call::Delete {
            label: store.label.clone(),
            key: key.to_owned(),
            condition,
        };
        match self.call(store, &call).await? {
            Reply::Written(w) => Ok(w),
            r => Err(mismatch(store, &r)),
        }
    }

    async fn batch(
        &self,
        store: &StoreId,
        ops: Vec<BatchOp>,
        quota: StoreQuota,
    ) -> Result<(), BackendError> {
        let call = Call::Batch {
            label: store.label.clone(),
            ops,
            quota,
        };
        match self.call(store, &call).await? {
            Reply::Done => Ok(()),
            r => Err(mismatch(store, &r)),
        }
    }

    fn atomic_batches(&self) -> bool {
        // Not promised here: the server's backend decides (NATS does not).
        false
    }

    async fn list(
        &self,
        store: &StoreId,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page, BackendError> {
        let call = Call::List {
            label: store.label.clone(),
            after: after.map(str::to_owned),
            limit: limit as u64,
        };
        match self.call(store, &call).await? {
            Reply::Page(p) => Ok(p),
            r => Err(mismatch(store, &r)),
        }
    }

    async fn usage(&self, store: &StoreId) -> Result<Usage, BackendError> {
        let call = Call::Usage {
            label: store.label.clone(),
        };
        match self.call(store, &call).await? {
            Reply::Usage(u) => Ok(u),
            r => Err(mismatch(store, &r)),
        }
    }

    async fn stores(&self, app: &str) -> Result<Vec<String>, BackendError> {
        let store = StoreId::new(app, "");
        match self.call(&store, &Call::Stores).await? {
            Reply::Stores(s) => Ok(s),
            r => Err(mismatch(&store, &r)),
        }
    }
}
