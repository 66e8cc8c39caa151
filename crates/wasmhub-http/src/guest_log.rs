//! Guest stdout/stderr as log lines tagged with the request id and component.
//!
//! A guest's write never waits for the log: lines go to a bounded queue that one writer
//! thread drains; when the queue is full (the log's reader is slower than the guests), a
//! line is dropped and counted instead (`wasmhub_guest_log_lines_dropped_total`, and a
//! warning from the writer once it catches up).

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

/// Lines waiting for the writer thread, at most.
const QUEUE: usize = 4096;

/// One guest output line on its way to the log.
struct Line {
    request_id: Arc<str>,
    component: Arc<str>,
    stream: &'static str,
    text: String,
}

/// The queue in front of the log writer, and the lines it had to drop.
struct Sink {
    queue: SyncSender<Line>,
    dropped: AtomicU64,
}

impl Sink {
    fn new(capacity: usize) -> (Self, Receiver<Line>) {
        let (queue, lines) = sync_channel(capacity);
        let sink = Self {
            queue,
            dropped: AtomicU64::new(0),
        };
        (sink, lines)
    }

    /// Queues `line`, or drops and counts it when the queue is full; never waits.
    fn push(&self, line: Line) {
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) =
            self.queue.try_send(line)
        {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The process's sink, its writer thread started on first use.
fn sink() -> &'static Sink {
    static SINK: OnceLock<Sink> = OnceLock::new();
    SINK.get_or_init(|| {
        let (sink, lines) = Sink::new(QUEUE);
        let started = std::thread::Builder::new()
            .name("wasmhub-guest-log".into())
            .spawn(move || write_lines(lines, sink_dropped));
        if let Err(e) = started {
            tracing::error!(error = %e, "cannot start the guest log writer: guest output is dropped");
        }
        sink
    })
}

fn sink_dropped() -> u64 {
    sink().dropped.load(Ordering::Relaxed)
}

/// Guest output lines dropped so far because the log writer was behind.
pub fn dropped() -> u64 {
    sink_dropped()
}

/// The writer thread: logs each line, and says when lines were dropped since last time.
fn write_lines(lines: Receiver<Line>, dropped: impl Fn() -> u64) {
    let mut reported = 0;
    for line in lines {
        tracing::info!(
            target: "wasmhub::guest",
            request_id = %line.request_id,
            component = %line.component,
            stream = line.stream,
            "{}",
            line.text
        );
        let now = dropped();
        if now > reported {
            tracing::warn!(
                dropped = now - reported,
                "guest output lines dropped: the log writer fell behind (see wasmhub_guest_log_lines_dropped_total)"
            );
            reported = now;
        }
    }
}

/// The request id a log line carries: known when the store is made (a fresh WASI 0.2
/// instance), or set as each request reaches an instance made before it (WASI 0.3, reuse).
#[derive(Clone)]
pub enum RequestId {
    Known(Arc<str>),
    /// A reused instance's: the id of the request it took last.
    Current(Arc<std::sync::Mutex<Arc<str>>>),
}

impl RequestId {
    /// The id, or `-` before it is known.
    pub fn get(&self) -> Arc<str> {
        match self {
            Self::Known(id) => id.clone(),
            Self::Current(id) => id
                .lock()
                .map(|id| id.clone())
                .unwrap_or_else(|_| "-".into()),
        }
    }
}

/// One guest stream (`stdout` or `stderr`) of one request.
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
        sink().push(Line {
            request_id: self.log.request_id.get(),
            component: self.log.component.clone(),
            stream: self.log.stream,
            text: String::from_utf8_lossy(line).trim_end().to_owned(),
        });
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

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str) -> Line {
        Line {
            request_id: "1".into(),
            component: "c".into(),
            stream: "stdout",
            text: text.into(),
        }
    }

    #[test]
    fn a_full_queue_drops_and_counts_without_waiting() {
        let (sink, lines) = Sink::new(2);
        let started = std::time::Instant::now();
        for i in 0..5 {
            sink.push(line(&i.to_string()));
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        assert_eq!(sink.dropped.load(Ordering::Relaxed), 3);
        let kept: Vec<String> = lines.try_iter().map(|l| l.text).collect();
        assert_eq!(kept, ["0", "1"]);
    }
}
