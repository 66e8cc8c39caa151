//! Serving limits and their defaults.

use std::net::SocketAddr;
use std::time::Duration;

/// How the server listens and what it allows each request.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Address to bind; port 0 picks a free one.
    pub addr: SocketAddr,
    /// Instances alive at once; requests beyond it get 503 with `Retry-After`.
    pub max_instances: u32,
    /// Instances of one component alive at once, where its budget sets no `instances`;
    /// `None`: all of `max_instances` for a lone routed component, half when there are more.
    pub max_component_instances: Option<u32>,
    /// Wall-clock limit for a request, from arrival until its instance ends (body included).
    pub request_timeout: Duration,
    /// How long shutdown waits for in-flight requests.
    pub drain_timeout: Duration,
    /// Largest request body; larger ones get 413 before the guest reads past it.
    pub max_body_bytes: u64,
    /// Largest request head (HTTP/1 buffer, HTTP/2 header list); larger ones get 431.
    pub max_header_bytes: usize,
    /// Where to serve Prometheus `/metrics`, if anywhere (never on the app's address).
    pub metrics_addr: Option<SocketAddr>,
    /// Where to serve the admin routes (`POST /-/reload`), if anywhere.
    pub admin_addr: Option<SocketAddr>,
    /// Whether the admin address may be other than loopback.
    pub admin_remote: bool,
    /// How long a connection may go with no request in flight (a slow first head, HTTP/1
    /// keep-alive or an idle HTTP/2 connection); past it the connection is closed.
    pub header_timeout: Duration,
    /// Open connections at once; the next client waits in the listen backlog until one ends.
    pub max_connections: usize,
    /// How to start a tenant's worker process (`isolation = "process"`); `None` runs every
    /// component in this process.
    pub workers: Option<crate::Launcher>,
    /// Restart a worker after it has been sent this many requests.
    pub recycle_after: Option<u64>,
    /// This process is a tenant's worker: request ids come from the server.
    pub worker: bool,
    /// How long an idle instance of a component with `reuse` is kept for its next request.
    pub reuse_idle: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_instances: 1000,
            max_component_instances: None,
            request_timeout: Duration::from_secs(30),
            drain_timeout: Duration::from_secs(10),
            max_body_bytes: 1 << 30,
            max_header_bytes: 64 << 10,
            metrics_addr: None,
            admin_addr: None,
            admin_remote: false,
            header_timeout: Duration::from_secs(10),
            max_connections: 10_000,
            workers: None,
            recycle_after: None,
            worker: false,
            reuse_idle: crate::reuse::IDLE,
        }
    }
}
