//! The outgoing-HTTP hook: requests leave only for destinations the component was granted.

use std::sync::Arc;

use wasmhub_app::OutboundRule;
use wasmhub_caps::{Denials, Denied};
use wasmtime_wasi_http::WasiHttpHooks;

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
        let scheme = uri.scheme_str().unwrap_or("https").to_owned();
        let host = uri.host().unwrap_or_default().to_owned();
        let port = uri
            .port_u16()
            .unwrap_or(if scheme == "http" { 80 } else { 443 });
        if self.rules.iter().any(|r| r.allows(&scheme, &host, port)) {
            return wasmtime_wasi_http::default_hooks().send_request(request, options, fut);
        }
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
