//! The outgoing-HTTP hook: requests leave only for destinations the component was granted,
//! straight from this process or, in a worker, through its server ([`send_through`]).

use std::pin::Pin;
use std::sync::{Arc, OnceLock};

use wasmhub_app::OutboundRule;
use wasmhub_caps::{Denials, Denied};
use wasmtime_wasi_http::{RequestOptions, WasiBody, WasiHttpHooks};

/// A response to an outgoing request, or why there is none.
pub type Sent = Pin<
    Box<dyn Future<Output = Result<hyper::Response<WasiBody>, wasmtime_wasi_http::Error>> + Send>,
>;

/// Sends a granted outgoing request for this process (a worker's: through its server).
pub type Via = Arc<dyn Fn(hyper::Request<WasiBody>, Option<RequestOptions>) -> Sent + Send + Sync>;

/// Where this process's granted requests go, when not straight out.
static VIA: OnceLock<Via> = OnceLock::new();

/// Sends every granted outgoing request of this process through `via` from now on (a
/// worker: its server performs them). Set once; false if it was set already.
pub fn send_through(via: Via) -> bool {
    VIA.set(via).is_ok()
}

/// The origin a request goes to: scheme, host and port (the scheme's default when none).
pub fn destination(uri: &hyper::Uri) -> (String, String, u16) {
    let scheme = uri.scheme_str().unwrap_or("https").to_owned();
    let host = uri.host().unwrap_or_default().to_owned();
    let port = uri
        .port_u16()
        .unwrap_or(if scheme == "http" { 80 } else { 443 });
    (scheme, host, port)
}

/// Whether `rules` let a request to `uri` leave.
pub fn allows(rules: &[OutboundRule], uri: &hyper::Uri) -> bool {
    let (scheme, host, port) = destination(uri);
    rules.iter().any(|r| r.allows(&scheme, &host, port))
}

/// Sends outgoing requests only to destinations the component was granted.
pub struct Outbound {
    /// The granted destinations.
    pub rules: Arc<[OutboundRule]>,
    /// Where a denied request is reported (once per component, then counted).
    pub denials: Arc<Denials>,
}

impl Outbound {
    /// The hook allowing `rules`, reporting denials to `denials`.
    pub fn new(rules: Arc<[OutboundRule]>, denials: Arc<Denials>) -> Self {
        Self { rules, denials }
    }
}

impl WasiHttpHooks for Outbound {
    fn send_request(
        &mut self,
        request: hyper::Request<wasmtime_wasi_http::WasiBody>,
        options: Option<wasmtime_wasi_http::RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
    ) -> Box<
        dyn Future<
                Output = wasmtime_wasi_http::Result<(
                    hyper::Response<wasmtime_wasi_http::WasiBody>,
                    Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
                )>,
            > + Send,
    > {
        let uri = request.uri();
        if allows(&self.rules, uri) {
            let Some(via) = VIA.get() else {
                return wasmtime_wasi_http::default_hooks().send_request(request, options, fut);
            };
            let sent = via(request, options);
            return Box::new(async move {
                // The server drives the connection: nothing is left to drive here.
                let done: Box<dyn Future<Output = _> + Send> = Box::new(async { Ok(()) });
                Ok((sent.await?, done))
            });
        }
        let (scheme, host, port) = destination(uri);
        let default_port = if scheme == "http" { 80 } else { 443 };
        let origin = if uri.port_u16().is_some() || port != default_port {
            format!("{scheme}://{host}:{port}")
        } else {
            format!("{scheme}://{host}")
        };
        self.denials.deny(&Denied::outbound(&origin));
        Box::new(async move { Err(wasmtime_wasi_http::Error::HttpRequestDenied) })
    }
}
