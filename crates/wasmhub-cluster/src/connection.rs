//! One NATS client per process, set up the same way for every use (stores, deploys, hosts):
//! several servers, reconnecting forever, pings every [`PING_INTERVAL`].

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::connection::State;
use async_nats::{ClientError, Event};

use crate::access::Access;

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
    /// A file named by a flag could not be read.
    #[error("cannot read {flag} {}; check the path", path.display())]
    File {
        /// The flag.
        flag: &'static str,
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The server refused the credentials.
    #[error("NATS server {url} refused the credentials ({flags}); check them")]
    Refused {
        /// The server.
        url: String,
        /// The flags that gave them.
        flags: &'static str,
    },
    /// Every attempt failed in the TLS handshake.
    #[error(
        "cannot make a TLS connection to NATS server {url} within {}s; check that it is running, that --nats-tls-ca is the CA that signed its certificate, and --nats-tls-cert/--nats-tls-key",
        within.as_secs()
    )]
    Tls {
        /// The server.
        url: String,
        /// How long it was tried.
        within: Duration,
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

/// A client of the NATS servers at `url` (`nats://HOST:PORT`, several comma-separated),
/// with `access`'s credentials and TLS. Returns at once even if they are down: the client
/// reconnects forever in the background.
pub async fn connect(
    url: &str,
    name: &str,
    access: &Access,
) -> Result<async_nats::Client, ConnectError> {
    connect_noting(url, name, access, Arc::default()).await
}

/// [`connect`], keeping the client's last failure to connect in `failure`.
async fn connect_noting(
    url: &str,
    name: &str,
    access: &Access,
    failure: Arc<Mutex<Option<String>>>,
) -> Result<async_nats::Client, ConnectError> {
    let addrs = url
        .split(',')
        .map(|u| u.trim().parse::<async_nats::ServerAddr>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ConnectError::Url {
            url: url.to_owned(),
            source: e,
        })?;
    let options = async_nats::ConnectOptions::new()
        .name(name)
        .retry_on_initial_connect()
        .max_reconnects(None)
        .ping_interval(PING_INTERVAL)
        .connection_timeout(REQUEST_TIMEOUT)
        .request_timeout(Some(REQUEST_TIMEOUT))
        .event_callback(move |event| {
            let failure = failure.clone();
            async move {
                let mut last = failure.lock().unwrap_or_else(|p| p.into_inner());
                match event {
                    Event::ClientError(ClientError::Other(e)) => *last = Some(e),
                    Event::Connected => *last = None,
                    _ => {}
                }
            }
        });
    let options = access
        .apply(options)
        .await
        .map_err(|(flag, path, source)| ConnectError::File { flag, path, source })?;
    options
        .connect(addrs)
        .await
        .map_err(|source| ConnectError::Connect {
            url: url.to_owned(),
            source,
        })
}

/// [`connect`], then waits up to `within` for a server to answer; a server that refuses
/// the credentials or the TLS handshake is an error at once, naming the flags to fix.
pub async fn connect_reachable(
    url: &str,
    name: &str,
    access: &Access,
    within: Duration,
) -> Result<async_nats::Client, ConnectError> {
    let failure: Arc<Mutex<Option<String>>> = Arc::default();
    let client = connect_noting(url, name, access, failure.clone()).await?;
    let deadline = Instant::now() + within;
    while client.connection_state() != State::Connected {
        let last = failure.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(e) = last.as_deref()
            && (e.contains("authorization violation") || e.contains("failed signing nonce"))
        {
            return Err(ConnectError::Refused {
                url: url.to_owned(),
                flags: access.identity_flags(),
            });
        }
        if Instant::now() >= deadline {
            // A failed handshake reaches the client as an I/O error: with TLS on, name
            // its settings too.
            if access.uses_tls() || last.as_deref().is_some_and(|e| e.contains("TLS")) {
                return Err(ConnectError::Tls {
                    url: url.to_owned(),
                    within,
                });
            }
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
