//! Guest stdout/stderr as log lines tagged with the request id and component.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

/// One guest stream (`stdout` or `stderr`) of one request.
/// The request id a log line carries: known when the store is made (WASI 0.2), or set when
/// the request reaches an instance made before it (WASI 0.3).
#[derive(Clone)]
pub enum RequestId {
    Known(Arc<str>),
    Later(Arc<std::sync::OnceLock<Arc<str>>>),
}

impl RequestId {
    /// The id, or `-` before it is known.
    pub fn get(&self) -> &str {
        match self {
            Self::Known(id) => id,
            Self::Later(cell) => cell.get().map_or("-", |id| id),
        }
    }
}

#[derive(Clone)]
pub struct GuestLog {
    pub request_id: RequestId,
    pub component: Arc<str>,
    pub stream: &'static str,
}

impl IsTerminal for GuestLog {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestLog {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(LineWriter {
            log: self.clone(),
            partial: Vec::new(),
        })
    }
}

struct LineWriter {
    log: GuestLog,
    partial: Vec<u8>,
}

impl LineWriter {
    fn emit(&self, line: &[u8]) {
        tracing::info!(
            target: "wasmhub::guest",
            request_id = %self.log.request_id.get(),
            component = %self.log.component,
            stream = self.log.stream,
            "{}",
            String::from_utf8_lossy(line).trim_end()
        );
    }
}

impl AsyncWrite for LineWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.partial.extend_from_slice(buf);
        while let Some(i) = self.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=i).collect();
            self.emit(&line);
        }
        // A guest that never ends a line still cannot grow this without bound.
        if self.partial.len() > 16 << 10 {
            let line = std::mem::take(&mut self.partial);
            self.emit(&line);
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        if !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            self.emit(&line);
        }
        Poll::Ready(Ok(()))
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        if !self.partial.is_empty() {
            self.emit(&self.partial);
        }
    }
}
