//! Outgoing HTTP of a worker's guests, performed by its server: the worker holds no network
//! (its namespace has none), so a granted request travels on a second socket to the server,
//! which checks it against the tenant's grants again and sends it.
//!
//! Over that socket (HTTP/2, the worker is the client) a request keeps its absolute URI; its
//! timeouts travel as headers; a failure comes back as a 502 naming its kind in
//! [`ERROR_HEADER`], which the worker turns back into the guest's error code.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use wasmhub_app::OutboundRule;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody};

/// The descriptor a worker finds its outbound socket on.
pub const WORKER_OUTBOUND_FD: i32 = 4;

/// The most requests (outgoing HTTP and key-value calls together) one worker may have in
/// flight on its outbound socket at once: the server's `SETTINGS_MAX_CONCURRENT_STREAMS` on
/// that connection.
///
/// Each one holds a task in the server, and an outgoing connection or a store call there,
/// so without a bound a compromised worker could pin as many as it likes (hyper's default,
/// 200 today, is not promised). A well-behaved worker's HTTP/2 client honours the setting:
/// past it its calls wait their turn rather than fail; streams opened past it anyway are
/// refused (`REFUSED_STREAM`). At 128 a busy worker's calls rarely wait; when they do, it
/// costs them latency, not an error.
pub(crate) const BROKER_MAX_STREAMS: u32 = 128;

/// The response header naming why the server did not send a request.
const ERROR_HEADER: &str = "x-wasmhub-outbound-error";

/// The request headers carrying its timeouts, in milliseconds.
const TIMEOUT_HEADERS: [&str; 3] = [
    "x-wasmhub-connect-timeout-ms",
    "x-wasmhub-first-byte-timeout-ms",
    "x-wasmhub-between-bytes-timeout-ms",
];

/// The worker's side: from now on its guests' granted requests go through `socket`.
pub async fn connect(socket: std::os::unix::net::UnixStream) -> anyhow::Result<()> {
    socket.set_nonblocking(true)?;
    let io = TokioIo::new(tokio::net::UnixStream::from_std(socket)?);
    let (sender, connection) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .handshake::<_, WasiBody>(io)
        .await?;
    super::kv::connect(sender.clone());
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(error = %e, "the outbound connection to the server ended");
        }
    });
    tokio::spawn(super::kv::learn_backend());
    wasmhub_host::send_through(Arc::new(move |mut req, options| {
        let mut sender = sender.clone();
        // The server would take it for one of the worker's own key-value calls.
        req.headers_mut().remove(super::kv::KV_HEADER);
        Box::pin(async move {
            if let Some(o) = options {
                let timeouts = [
                    o.connect_timeout,
                    o.first_byte_timeout,
                    o.between_bytes_timeout,
                ];
                for (name, t) in TIMEOUT_HEADERS.into_iter().zip(timeouts) {
                    if let Some(t) = t {
                        req.headers_mut().insert(
                            name,
                            u64::try_from(t.as_millis()).unwrap_or(u64::MAX).into(),
                        );
                    }
                }
            }
            sender.ready().await?;
            let resp = sender.send_request(req).await?;
            if let Some(kind) = resp.headers().get(ERROR_HEADER) {
                return Err(error_of(kind.to_str().unwrap_or_default()));
            }
            Ok(resp.map(|b| b.map_err(Error::from).boxed_unsync()))
        })
    }));
    Ok(())
}

/// What one tenant's worker may ask its server for: the union of its components' grants
/// (they share the worker). The default: nothing.
#[derive(Default)]
pub(crate) struct Reach {
    /// Destinations of outgoing requests.
    pub(crate) rules: Box<[OutboundRule]>,
    /// Key-value stores.
    pub(crate) stores: super::kv::TenantStores,
    /// Whether one of its components is granted the server's own stdio: then the worker
    /// starts with the server's stdin and stdout (see `spawn`).
    pub(crate) stdio: bool,
    /// Sockets, if one of its components is granted some: then the worker hands its
    /// socket calls to the server (see `sockets`).
    pub(crate) sockets: Option<wasmhub_caps::SocketPolicy>,
}

/// The server's side: sends the requests `tenant`'s worker asks for on `socket`, and makes
/// its key-value calls, each only if `reach` allows it.
pub(crate) async fn serve(
    socket: std::os::unix::net::UnixStream,
    reach: Arc<Reach>,
    tenant: Arc<str>,
) {
    let stream = match tokio::net::UnixStream::from_std(socket) {
        Ok(s) => s,
        Err(e) => return tracing::error!(%tenant, error = %e, "the worker's outbound socket"),
    };
    if let Some(policy) = &reach.sockets
        && let Err(e) = super::sockets::broker(&stream, policy.clone(), tenant.clone()).await
    {
        return tracing::error!(%tenant, error = %e, "the worker's socket calls");
    }
    let service = hyper::service::service_fn(move |req| {
        let (reach, tenant) = (reach.clone(), tenant.clone());
        async move {
            if req.headers().contains_key(super::kv::KV_HEADER) {
                return Ok::<_, Infallible>(super::kv::answer(req, &reach.stores).await);
            }
            Ok(send(req, &reach.rules, &tenant).await)
        }
    });
    let served = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .max_concurrent_streams(BROKER_MAX_STREAMS)
        .serve_connection(TokioIo::new(stream), service)
        .await;
    if let Err(e) = served {
        tracing::debug!(error = %e, "a worker's outbound connection ended");
    }
}

type Answer = Response<UnsyncBoxBody<Bytes, Error>>;

/// Sends one request for a worker, if granted.
async fn send(mut req: Request<Incoming>, rules: &[OutboundRule], tenant: &str) -> Answer {
    if !wasmhub_host::allows(rules, req.uri()) {
        // The worker checks first: a request that gets here was made past that check.
        tracing::warn!(%tenant, uri = %req.uri(), "a worker asked to reach a destination its tenant is not granted; refused");
        return failure("denied");
    }
    let ms = |name| {
        let v = req.headers_mut().remove(name)?;
        v.to_str().ok()?.parse().ok().map(Duration::from_millis)
    };
    let [connect, first, between] = TIMEOUT_HEADERS.map(ms);
    let options =
        (connect.is_some() || first.is_some() || between.is_some()).then_some(RequestOptions {
            connect_timeout: connect,
            first_byte_timeout: first,
            between_bytes_timeout: between,
        });
    let req = req.map(|b| b.map_err(Error::from).boxed_unsync());
    match wasmtime_wasi_http::default_send_request(req, options).await {
        Ok((resp, io)) => {
            tokio::spawn(async move {
                if let Err(e) = io.await {
                    tracing::debug!(error = %e, "an outgoing connection ended");
                }
            });
            resp.map(BodyExt::boxed_unsync)
        }
        Err(e) => failure(kind_of(&e)),
    }
}

/// A 502 naming why a request was not sent.
fn failure(kind: &'static str) -> Answer {
    let mut resp = Response::new(
        Full::new(Bytes::from(kind))
            .map_err(|e| match e {})
            .boxed_unsync(),
    );
    *resp.status_mut() = StatusCode::BAD_GATEWAY;
    resp.headers_mut()
        .insert(ERROR_HEADER, hyper::header::HeaderValue::from_static(kind));
    resp
}

/// The kind of a send failure, as the worker learns it.
fn kind_of(e: &Error) -> &'static str {
    match e {
        Error::Connect(_) | Error::ConnectionRefused => "connection-refused",
        Error::ConnectionTimeout => "connection-timeout",
        Error::ConnectionReadTimeout | Error::HttpResponseTimeout => "read-timeout",
        Error::Tls(_) | Error::TlsProtocolError => "tls",
        Error::InvalidDnsNameError(_) | Error::DnsError { .. } | Error::DnsTimeout => "dns",
        Error::HttpRequestUriInvalid => "uri",
        Error::HttpRequestDenied => "denied",
        _ => "protocol",
    }
}

/// The guest's error for a kind the server named.
fn error_of(kind: &str) -> Error {
    match kind {
        "connection-refused" => Error::ConnectionRefused,
        "connection-timeout" => Error::ConnectionTimeout,
        "read-timeout" => Error::ConnectionReadTimeout,
        "tls" => Error::TlsProtocolError,
        "dns" => Error::DnsError {
            rcode: None,
            info_code: None,
        },
        "uri" => Error::HttpRequestUriInvalid,
        "denied" => Error::HttpRequestDenied,
        _ => Error::HttpProtocolError,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_the_server_names_comes_back_as_itself() {
        let errors = [
            Error::ConnectionRefused,
            Error::ConnectionTimeout,
            Error::ConnectionReadTimeout,
            Error::TlsProtocolError,
            Error::DnsTimeout,
            Error::HttpRequestUriInvalid,
            Error::HttpRequestDenied,
            Error::HttpProtocolError,
        ];
        for e in errors {
            let kind = kind_of(&e);
            assert_eq!(kind_of(&error_of(kind)), kind, "{e:?}");
        }
    }

    /// A plain HTTP/1.1 server on 127.0.0.1 answering every request with "up"; its address.
    async fn upstream() -> std::net::SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let service = hyper::service::service_fn(|_req| async {
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from("up"))))
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service),
                );
            }
        });
        addr
    }

    /// The worker's end of an outbound socket whose server grants `rules`.
    async fn worker_side(rules: &[&str]) -> hyper::client::conn::http2::SendRequest<WasiBody> {
        let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
        ours.set_nonblocking(true).unwrap();
        let reach = Reach {
            rules: rules.iter().map(|r| r.parse().unwrap()).collect(),
            ..Reach::default()
        };
        tokio::spawn(serve(ours, Arc::new(reach), "t".into()));
        theirs.set_nonblocking(true).unwrap();
        let io = TokioIo::new(tokio::net::UnixStream::from_std(theirs).unwrap());
        let (sender, connection) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
            .handshake::<_, WasiBody>(io)
            .await
            .unwrap();
        tokio::spawn(connection);
        sender
    }

    /// An empty `GET` of `addr`.
    fn get(addr: std::net::SocketAddr) -> Request<WasiBody> {
        Request::get(format!("http://{addr}/"))
            .body(
                http_body_util::Empty::new()
                    .map_err(|e| match e {})
                    .boxed_unsync(),
            )
            .unwrap()
    }

    /// A worker's outgoing request to `addr`, sent to a server granting `rules`.
    async fn through_server(rules: &[&str], addr: std::net::SocketAddr) -> Result<String, Error> {
        let mut sender = worker_side(rules).await;
        let resp = sender.send_request(get(addr)).await.unwrap();
        if let Some(kind) = resp.headers().get(ERROR_HEADER) {
            return Err(error_of(kind.to_str().unwrap()));
        }
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        Ok(String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn the_server_sends_only_what_the_tenant_is_granted_whatever_the_worker_asks() {
        let addr = upstream().await;
        let granted = format!("http://127.0.0.1:{}", addr.port());
        assert_eq!(through_server(&[&granted], addr).await.unwrap(), "up");
        let other_port = format!("http://127.0.0.1:{}", addr.port() + 1);
        for rules in [&[][..], &[other_port.as_str()], &["https://127.0.0.1:*"]] {
            let e = through_server(rules, addr).await.unwrap_err();
            assert!(matches!(e, Error::HttpRequestDenied), "{rules:?}: {e:?}");
        }
    }

    #[tokio::test]
    async fn a_refused_connection_comes_back_as_one() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let e = through_server(&["http://*:*"], closed).await.unwrap_err();
        assert!(matches!(e, Error::ConnectionRefused), "{e:?}");
    }

    /// An HTTP/1.1 server on 127.0.0.1 that holds every request until `release` turns
    /// true; its address, and its requests in flight now and at most.
    async fn holding(
        release: tokio::sync::watch::Receiver<bool>,
    ) -> (std::net::SocketAddr, Arc<[std::sync::atomic::AtomicU32; 2]>) {
        use std::sync::atomic::Ordering::SeqCst;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let counts: Arc<[std::sync::atomic::AtomicU32; 2]> = Arc::default();
        let held = counts.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (held, release) = (held.clone(), release.clone());
                let service = hyper::service::service_fn(move |_req| {
                    let (held, mut release) = (held.clone(), release.clone());
                    async move {
                        let now = held[0].fetch_add(1, SeqCst) + 1;
                        held[1].fetch_max(now, SeqCst);
                        let _ = release.wait_for(|r| *r).await;
                        held[0].fetch_sub(1, SeqCst);
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from("up"))))
                    }
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service),
                );
            }
        });
        (addr, counts)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_worker_has_at_most_the_brokers_limit_of_calls_in_flight_and_the_rest_wait() {
        use std::sync::atomic::Ordering::SeqCst;
        let (release, released) = tokio::sync::watch::channel(false);
        let (addr, counts) = holding(released).await;
        let sender = worker_side(&["http://127.0.0.1:*"]).await;
        let limit = BROKER_MAX_STREAMS;
        let calls: Vec<_> = (0..limit + 8)
            .map(|_| {
                let mut sender = sender.clone();
                tokio::spawn(async move {
                    sender.ready().await?;
                    sender.send_request(get(addr)).await.map(|r| r.status())
                })
            })
            .collect();
        let until = std::time::Instant::now() + Duration::from_secs(20);
        while counts[0].load(SeqCst) < limit && std::time::Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // Time for any call past the limit to reach the upstream, were it let through.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(counts[1].load(SeqCst), limit, "at most the limit in flight");
        release.send(true).unwrap();
        for call in calls {
            let status = tokio::time::timeout(Duration::from_secs(20), call)
                .await
                .expect("every call ends once the upstream answers")
                .unwrap();
            assert_eq!(
                status.unwrap(),
                StatusCode::OK,
                "the calls past the limit waited"
            );
        }
    }
}
