//! The log's writer: an access line is appended to a buffer in memory (no system call on
//! the thread that logs it) and one thread writes the buffer out to stderr every few
//! milliseconds, so a line per request costs a copy, not a write to the file. Every other
//! line (start-up, reloads, warnings, errors: rare, and read as they happen) goes out at
//! once, with the access lines before it.
//!
//! Lines reach stderr whole and in order, access lines at most [`FLUSH_EVERY`] late. A buffer past
//! [`HIGH_WATER`] (a disk slower than the log) is written by the thread that fills it, so
//! logging slows down rather than grows without bound or drops lines. [`flush`] writes
//! what is left; the process calls it before it exits and before a panic message.

use std::io::Write;
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// How long a line may wait in the buffer.
pub const FLUSH_EVERY: Duration = Duration::from_millis(10);
/// Buffered bytes past which the logging thread writes them itself.
const HIGH_WATER: usize = 1 << 20;

/// The buffer shared by every logging thread and the writer thread.
struct Shared {
    buffer: Mutex<Vec<u8>>,
    /// Serialises writes to stderr, so lines taken in order are written in order.
    out: Mutex<()>,
    wake: Condvar,
}

static SHARED: OnceLock<Shared> = OnceLock::new();

fn shared() -> &'static Shared {
    SHARED.get_or_init(|| Shared {
        buffer: Mutex::new(Vec::with_capacity(64 << 10)),
        out: Mutex::new(()),
        wake: Condvar::new(),
    })
}

/// The buffered stderr to hand to `tracing_subscriber::fmt().with_writer(..)`; starts the
/// writer thread and makes panics flush the buffer before their message.
pub fn install() -> BufferedStderr {
    let s = shared();
    std::thread::Builder::new()
        .name("wasmhub-log".into())
        .spawn(move || {
            loop {
                // Asleep while there is nothing to write (an idle server never wakes it);
                // once a line arrives, more are gathered for FLUSH_EVERY, then written.
                let mut guard = s.buffer.lock().unwrap_or_else(|e| e.into_inner());
                while guard.is_empty() {
                    guard = s.wake.wait(guard).unwrap_or_else(|e| e.into_inner());
                }
                drop(guard);
                std::thread::sleep(FLUSH_EVERY);
                write_out(s);
            }
        })
        .expect("cannot start the log writer thread");
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        flush();
        previous(info);
    }));
    BufferedStderr
}

/// Writes out every line logged so far.
pub fn flush() {
    if let Some(s) = SHARED.get() {
        write_out(s);
    }
}

/// Takes the buffered lines and writes them to stderr (errors are dropped: there is
/// nowhere left to report them).
fn write_out(s: &Shared) {
    let _out = s.out.lock().unwrap_or_else(|e| e.into_inner());
    let lines = {
        let mut buffer = s.buffer.lock().unwrap_or_else(|e| e.into_inner());
        if buffer.is_empty() {
            return;
        }
        std::mem::replace(&mut *buffer, Vec::with_capacity(64 << 10))
    };
    let _ = std::io::stderr().lock().write_all(&lines);
}

/// A [`MakeWriter`] for the buffer.
#[derive(Clone, Copy)]
pub struct BufferedStderr;

/// One event's writer: appends to the buffer, and writes it out now unless the event is
/// an access line.
pub struct Line {
    now: bool,
}

impl Write for Line {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let s = shared();
        let (first, full) = {
            let mut buffer = s.buffer.lock().unwrap_or_else(|e| e.into_inner());
            let first = buffer.is_empty();
            buffer.extend_from_slice(bytes);
            (first, buffer.len() >= HIGH_WATER)
        };
        if full || self.now {
            write_out(s);
        } else if first {
            s.wake.notify_one();
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BufferedStderr {
    type Writer = Line;

    fn make_writer(&'a self) -> Line {
        Line { now: true }
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> Line {
        Line {
            now: meta.target() != wasmhub_http::ACCESS_TARGET,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_kept_whole_and_in_order_until_written() {
        let s = shared();
        let mut threads = Vec::new();
        for t in 0..4 {
            threads.push(std::thread::spawn(move || {
                for i in 0..1000 {
                    Line { now: false }
                        .write_all(format!("t{t} line {i}\n").as_bytes())
                        .unwrap();
                }
            }));
        }
        for t in threads {
            t.join().unwrap();
        }
        let buffer = s.buffer.lock().unwrap();
        let text = std::str::from_utf8(&buffer).unwrap();
        for t in 0..4 {
            let mine: Vec<usize> = text
                .lines()
                .filter_map(|l| l.strip_prefix(&format!("t{t} line ")))
                .map(|n| n.parse().unwrap())
                .collect();
            assert_eq!(mine, (0..1000).collect::<Vec<_>>(), "thread {t}");
        }
    }
}
