//! One NATS client per process, set up the same way for every use (stores, deploys, hosts):
//! several servers, reconnecting forever, pings every [`PING_INTERVAL`].

use std::time::{Duration, Instant};

use async_nats::connection::State;

/// Longest one NATS request (a read, or a write's acknowledgement) may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// How often the client pings its server; after [`MAX_PINGS_OUT`] unanswered pings it
/// drops the connection and tries the cluster's other servers (a dead server is noticed
/// within about 6 s).
pub const PING_INTERVAL: Duration = Duration::from_secs(2);

/// Unanswered pings before the client reconnects.
pub const MAX_PINGS_OUT: usize = 2;

/// Why connecting to NATS failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The URL is not a NATS server address.
    #[error(
        "{url:?} is not a NATS server address; pass nats://HOST:PORT (several: comma-separated)"
    )]
    Url {
        /// What was passed.
        url: String,
        /// Why it was refused.
        #[source]
        source: std::io::Error,
    },
    /// The URL or options were refused before any connection was tried.
    #[error("cannot use NATS server {url}; pass nats://HOST:PORT (several: comma-separated)")]
    Connect {
        /// The server.
        url: String,
        /// What the client said.
        #[source]
        source: async_nats::ConnectError,
    },
    /// No server answered in time.
    #[error(
        "cannot reach NATS server {url} within {}s; check that it is running and that --cluster names it",
        within.as_secs()
    )]
    Unreachable {
        /// The server.
        url: String,
        /// How long it was tried.
        within: Duration,
    },
}

/// A client of the NATS servers at `url` (`nats://HOST:PORT`, several comma-separated).
/// Returns at once even if they are down: the client reconnects forever in the background.
pub async fn connect(url: &str, name: &str) -> Result<async_nats::Client, ConnectError> {
    let addrs = url
        .split(',')
        .map(|u| u.trim().parse::<async_nats::ServerAddr>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ConnectError::Url {
            url: url.to_owned(),
            source: e,
        })?;
    async_nats::ConnectOptions::new()
        .name(name)
        .retry_on_initial_connect()
        .max_reconnects(None)
        .ping_interval(PING_INTERVAL)
        .connection_timeout(REQUEST_TIMEOUT)
        .request_timeout(Some(REQUEST_TIMEOUT))
        .connect(addrs)
        .await
        .map_err(|source| ConnectError::Connect {
            url: url.to_owned(),
            source,
        })
}

/// [`connect`], then waits up to `within` for a server to answer.
pub async fn connect_reachable(
    url: &str,
    name: &str,
    within: Duration,
) -> Result<async_nats::Client, ConnectError> {
    let client = connect(url, name).await?;
    let deadline = Instant::now() + within;
    while client.connection_state() != State::Connected {
        if Instant::now() >= deadline {
            return Err(ConnectError::Unreachable {
                url: url.to_owned(),
                within,
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(client)
}

/// The replicas of a new bucket or object store: 3 when the server is in a cluster of 3 or
/// more, else 1.
pub fn replicas(client: &async_nats::Client) -> usize {
    // The INFO's connect URLs list every server of the cluster the client knows.
    let servers = client.server_info().connect_urls.len();
    if servers >= 3 { 3 } else { 1 }
}

/// How long a just-made bucket may take to answer (its replicas electing a leader).
pub const SETTLE_WITHIN: Duration = Duration::from_secs(10);

/// Waits until `ready` answers `true` (a just-made bucket answers reads; until its leader
/// is elected the server says "no responders"), for at most [`SETTLE_WITHIN`].
pub async fn settle<F, Fut>(mut ready: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + SETTLE_WITHIN;
    while !ready().await && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
