//! Accepting connections and waiting for a client's first byte, for both listeners.

use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};

/// Whether the client sent its first byte within `limit`. hyper's header timeout starts at
/// a request's first byte: a client that sends nothing at all is cut here, after the same time.
pub(crate) async fn spoke_within(stream: &TcpStream, limit: Duration) -> bool {
    let mut first = [0u8; 1];
    matches!(
        tokio::time::timeout(limit, stream.peek(&mut first)).await,
        Ok(Ok(n)) if n > 0
    )
}

/// Accepts the next connection; on an error (out of file descriptors and the like) backs
/// off briefly and says so, so a failing accept never spins.
pub(crate) async fn accept(listener: &TcpListener) -> Option<TcpStream> {
    match listener.accept().await {
        Ok((stream, _peer)) => Some(stream),
        Err(e) => {
            tracing::warn!(error = %e, "accept failed; retrying in 10 ms");
            tokio::time::sleep(Duration::from_millis(10)).await;
            None
        }
    }
}
