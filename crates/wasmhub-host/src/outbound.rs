//! The outgoing-HTTP hook: requests leave only for destinations the component was granted.

use std::sync::Arc;

use wasmhub_app::OutboundRule;
use wasmtime_wasi_http::WasiHttpHooks;

/// Sends outgoing requests only to destinations the component was granted.
pub struct Outbound {
    /// The granted destinations.
    pub rules: Arc<[OutboundRule]>,
    /// The component's name, for the denial's log line.
    pub component: Arc<str>,
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
        tracing::warn!(
            component = %self.component,
            destination = %format!("{scheme}://{host}:{port}"),
            "outbound request denied: not granted; add it to outbound = [...] under [component.{}.grant]",
            self.component
        );
        Box::new(async move { Err(wasmtime_wasi_http::Error::HttpRequestDenied) })
    }
}
