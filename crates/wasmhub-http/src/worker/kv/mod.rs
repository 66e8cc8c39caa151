//! Key-value stores of a worker's guests, kept by its server: the worker holds no store
//! (the files are the server's, and one process owns each), so every backend call travels
//! on the worker's outbound socket to the server, which makes it on the app's own backend
//! if the tenant is granted that store.
//!
//! A call is one HTTP/2 request marked by [`KV_HEADER`] (a guest's outgoing requests never
//! carry it: the worker removes it from them), its body a [`Call`] and the answer's a
//! [`Reply`], both in postcard. The server names the app and takes the smaller of each
//! quota the worker asks for and the one it granted, so a worker cannot reach another
//! app's stores, a store its tenant is not granted, or past a granted quota.

mod remote;

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};
use serde::{Deserialize, Serialize};
use wasmhub_app::App;
use wasmhub_state::{
    BackendError, BatchOp, Condition, Entry, KvBackend, Page, StoreId, StoreQuota, Usage, Written,
};
use wasmtime_wasi_http::WasiBody;

pub use remote::ServerStores;
pub(super) use remote::{connect, learn_backend};

/// The request header marking a key-value call (never a guest's request).
pub(super) const KV_HEADER: &str = "x-wasmhub-kv";

/// One backend call, as the worker sends it (the app is the server's to name).
#[derive(Debug, Serialize, Deserialize)]
pub(super) enum Call {
    Get {
        label: String,
        key: String,
    },
    Put {
        label: String,
        key: String,
        value: Vec<u8>,
        condition: Condition,
        quota: StoreQuota,
    },
    Delete {
        label: String,
        key: String,
        condition: Condition,
    },
    Batch {
        label: String,
        ops: Vec<BatchOp>,
        quota: StoreQuota,
    },
    List {
        label: String,
        after: Option<String>,
        limit: u64,
    },
    Usage {
        label: String,
    },
    Stores,
    /// What the server's backend is (asked once, when the worker connects).
    Info,
}

/// The server's answer to one [`Call`].
#[derive(Debug, Serialize, Deserialize)]
pub(super) enum Reply {
    Entry(Option<Entry>),
    Written(Written),
    Done,
    Page(Page),
    Usage(Usage),
    Stores(Vec<String>),
    /// The server's backend: kind, location, durable; `None` for a tenant granted no
    /// store (its backend is not opened for the question).
    Info(Option<(String, String, bool)>),
    /// Past a quota: `keys` or `bytes`, the limit, what the write would have made it.
    Quota(String, u64, u64),
    /// Refused or failed, with the message.
    Failed(String),
}

/// The stores one tenant's worker may reach: the app's, by label, with their quotas (the
/// union of its components' grants: they share the worker).
#[derive(Default)]
pub(crate) struct TenantStores {
    app: String,
    granted: BTreeMap<String, StoreQuota>,
    /// The app's backend, opened on the first call.
    backend: OnceLock<Arc<dyn KvBackend>>,
    /// Tests: every label, with the quota the worker asks for.
    #[cfg(test)]
    any_label: bool,
}

impl TenantStores {
    /// The stores granted to `tenant`'s components in `app`.
    pub(crate) fn of(app: &App, tenant: &str) -> Self {
        let mut stores = Self::default();
        for i in app.tenant_members(tenant) {
            let grants = &app.components[i].grants;
            stores.app.clone_from(&grants.app);
            for g in &grants.keyvalue {
                let quota = wasmhub_state::store_limits(&g.value.limits, None).quota();
                stores.granted.insert(g.value.label.to_string(), quota);
            }
        }
        stores
    }

    /// The store `label` and the quota a write may use (the smaller of `asked`'s and the
    /// granted one's), or why not.
    fn store(
        &self,
        label: &str,
        asked: Option<StoreQuota>,
    ) -> Result<(StoreId, StoreQuota), Reply> {
        #[cfg(test)]
        if self.any_label {
            let quota = asked.unwrap_or(StoreQuota {
                max_keys: u64::MAX,
                max_bytes: u64::MAX,
            });
            return Ok((StoreId::new(self.app.clone(), label), quota));
        }
        let Some(granted) = self.granted.get(label) else {
            return Err(Reply::Failed(format!(
                "the tenant is not granted store {label:?} of app {:?}",
                self.app
            )));
        };
        let asked = asked.unwrap_or(*granted);
        let quota = StoreQuota {
            max_keys: asked.max_keys.min(granted.max_keys),
            max_bytes: asked.max_bytes.min(granted.max_bytes),
        };
        Ok((StoreId::new(self.app.clone(), label), quota))
    }

    /// The app's backend (the process's, opened on first use).
    fn backend(&self) -> Result<Arc<dyn KvBackend>, Reply> {
        if let Some(b) = self.backend.get() {
            return Ok(b.clone());
        }
        let b = wasmhub_state::backend_for(&self.app).map_err(|e| Reply::Failed(e.to_string()))?;
        Ok(self.backend.get_or_init(|| b).clone())
    }
}

/// The server's side: makes one call a worker of a tenant with `stores` sent.
pub(super) async fn answer(
    req: Request<hyper::body::Incoming>,
    stores: &TenantStores,
) -> Response<WasiBody> {
    let reply = match req.into_body().collect().await {
        Ok(body) => match postcard::from_bytes::<Call>(&body.to_bytes()) {
            Ok(call) => make(call, stores).await.unwrap_or_else(|r| r),
            Err(e) => Reply::Failed(format!("an unreadable key-value call: {e}")),
        },
        Err(e) => Reply::Failed(format!("a key-value call cut short: {e}")),
    };
    if let Reply::Failed(why) = &reply {
        tracing::warn!(app = %stores.app, "a worker's key-value call failed: {why}");
    }
    Response::new(body(&reply))
}

/// Makes `call` on the app's backend, within `stores`.
async fn make(call: Call, stores: &TenantStores) -> Result<Reply, Reply> {
    if matches!(call, Call::Info) && stores.granted.is_empty() {
        return Ok(Reply::Info(None));
    }
    let backend = stores.backend()?;
    let reply = match call {
        Call::Get { label, key } => {
            let (store, _) = stores.store(&label, None)?;
            backend.get(&store, &key).await.map(Reply::Entry)
        }
        Call::Put {
            label,
            key,
            value,
            condition,
            quota,
        } => {
            let (store, quota) = stores.store(&label, Some(quota))?;
            let done = backend.put(&store, &key, value, condition, quota).await;
            done.map(Reply::Written)
        }
        Call::Delete {
            label,
            key,
            condition,
        } => {
            let (store, _) = stores.store(&label, None)?;
            backend
                .delete(&store, &key, condition)
                .await
                .map(Reply::Written)
        }
        Call::Batch { label, ops, quota } => {
            let (store, quota) = stores.store(&label, Some(quota))?;
            backend
                .batch(&store, ops, quota)
                .await
                .map(|()| Reply::Done)
        }
        Call::List {
            label,
            after,
            limit,
        } => {
            let (store, _) = stores.store(&label, None)?;
            let limit = usize::try_from(limit).unwrap_or(usize::MAX);
            backend
                .list(&store, after.as_deref(), limit)
                .await
                .map(Reply::Page)
        }
        Call::Usage { label } => {
            let (store, _) = stores.store(&label, None)?;
            backend.usage(&store).await.map(Reply::Usage)
        }
        Call::Stores => backend.stores(&stores.app).await.map(|mut all| {
            all.retain(|label| stores.store(label, None).is_ok());
            Reply::Stores(all)
        }),
        Call::Info => {
            let info = backend.info();
            let info = (info.kind.to_owned(), info.location, info.durable);
            Ok(Reply::Info(Some(info)))
        }
    };
    Ok(reply.unwrap_or_else(|e| match e {
        BackendError::Quota {
            what, limit, asked, ..
        } => Reply::Quota(what.to_owned(), limit, asked),
        BackendError::Failed { message, .. } => Reply::Failed(message),
    }))
}

/// `value` as a body.
fn body<T: Serialize>(value: &T) -> WasiBody {
    let bytes = postcard::to_allocvec(value).unwrap_or_default();
    Full::new(Bytes::from(bytes))
        .map_err(|e| match e {})
        .boxed_unsync()
}

#[cfg(test)]
mod tests {
    use std::os::unix::net::UnixStream;

    use hyper_util::rt::{TokioExecutor, TokioIo};
    use wasmhub_state::MemoryBackend;
    use wasmhub_state::conformance::{self, APP};

    use super::remote::{self, Remote};
    use super::*;
    use crate::worker::outbound::{self, Reach};

    /// A worker's backend connected to a server's side holding `stores`, over a socket pair.
    async fn connected(stores: TenantStores) -> Arc<dyn KvBackend> {
        let (worker, server) = UnixStream::pair().unwrap();
        for s in [&worker, &server] {
            s.set_nonblocking(true).unwrap();
        }
        let reach = Reach {
            stores,
            ..Reach::default()
        };
        tokio::spawn(outbound::serve(server, Arc::new(reach), "t".into()));
        let io = TokioIo::new(tokio::net::UnixStream::from_std(worker).unwrap());
        let (sender, connection) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
            .handshake::<_, WasiBody>(io)
            .await
            .unwrap();
        tokio::spawn(connection);
        let server: &'static OnceLock<_> = Box::leak(Box::new(OnceLock::new()));
        let _ = server.set(sender);
        let learned: &'static OnceLock<_> = Box::leak(Box::new(OnceLock::new()));
        remote::learn(server, learned).await;
        Arc::new(Remote {
            app: APP.into(),
            server,
            learned,
        })
    }

    fn on_memory(
        granted: BTreeMap<String, StoreQuota>,
        any_label: bool,
    ) -> (TenantStores, Arc<dyn KvBackend>) {
        let backend: Arc<dyn KvBackend> = Arc::new(MemoryBackend::new());
        let stores = TenantStores {
            app: APP.into(),
            granted,
            backend: OnceLock::from(backend.clone()),
            any_label,
        };
        (stores, backend)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_workers_stores_keep_every_rule_of_a_backend() {
        conformance::run_all(|| {
            tokio::task::block_in_place(|| {
                tokio::runtime::Handle::current()
                    .block_on(connected(on_memory(BTreeMap::new(), true).0))
            })
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_worker_reaches_only_its_tenants_stores_of_its_app_within_their_quotas() {
        let quota = StoreQuota {
            max_keys: 2,
            max_bytes: 1 << 20,
        };
        let (stores, direct) = on_memory(BTreeMap::from([("cart".to_string(), quota)]), false);
        let remote = connected(stores).await;
        let cart = StoreId::new(APP, "cart");
        // The worker asks for far more than granted; the server holds it to the grant.
        let asked = StoreQuota {
            max_keys: u64::MAX,
            max_bytes: u64::MAX,
        };
        for key in ["a", "b"] {
            let done = remote.put(&cart, key, b"1".to_vec(), Condition::Always, asked);
            assert!(matches!(done.await.unwrap(), Written::Done(Some(_))));
        }
        let over = remote.put(&cart, "c", b"1".to_vec(), Condition::Always, asked);
        let err = over.await.unwrap_err().to_string();
        assert_eq!(
            err,
            "store \"cart\" of app \"conformance\" would hold 3 keys, past its limit of 2"
        );
        let entry = remote.get(&cart, "a").await.unwrap().unwrap();
        assert_eq!(entry.value, b"1");

        // A store the tenant is not granted: refused by the server, though it holds data.
        let secrets = StoreId::new(APP, "secrets");
        let put = direct.put(&secrets, "k", b"s".to_vec(), Condition::Always, asked);
        put.await.unwrap();
        let err = remote.get(&secrets, "k").await.unwrap_err().to_string();
        assert_eq!(
            err,
            "store \"secrets\" of app \"conformance\": the tenant is not granted store \"secrets\" of app \"conformance\""
        );
        assert_eq!(remote.stores(APP).await.unwrap(), vec!["cart".to_string()]);

        // Another app: refused in the worker (the server names the app itself anyway).
        let other = StoreId::new("another app", "cart");
        let err = remote.get(&other, "a").await.unwrap_err().to_string();
        assert_eq!(
            err,
            "store \"cart\" of app \"another app\": a worker of app \"conformance\" reaches only that app's stores"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_worker_says_what_its_servers_backend_is() {
        let quota = StoreQuota {
            max_keys: 1,
            max_bytes: 1,
        };
        let (stores, _) = on_memory(BTreeMap::from([("cart".to_string(), quota)]), false);
        let info = connected(stores).await.info();
        assert_eq!((info.kind, info.durable), ("memory", false), "{info:?}");
        assert!(
            info.location
                .starts_with("memory (lost at exit) (the server's")
        );
        // A tenant granted no store: no backend is opened to answer, nothing is promised.
        let info = connected(on_memory(BTreeMap::new(), false).0).await.info();
        assert_eq!((info.kind, info.durable), ("server", false), "{info:?}");
    }
}
