//! A one-line progress bar (bytes, percent, rate) on stderr when it is a terminal.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// Progress of one transfer.
pub struct Progress {
    label: String,
    total: u64,
    done: u64,
    started: Instant,
    drawn: Instant,
    shown: bool,
}

impl Progress {
    /// Starts a bar for `total` bytes, drawn only when `enabled` and stderr is a terminal.
    pub fn new(label: impl Into<String>, total: u64, enabled: bool) -> Self {
        Self {
            label: label.into(),
            total,
            done: 0,
            started: Instant::now(),
            drawn: Instant::now(),
            shown: enabled && std::io::stderr().is_terminal(),
        }
    }

    /// Records `n` more bytes.
    pub fn add(&mut self, n: u64) {
        self.done += n;
        if self.shown && self.drawn.elapsed() >= Duration::from_millis(100) {
            self.draw();
        }
    }

    fn draw(&mut self) {
        self.drawn = Instant::now();
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        let width = 24usize;
        let filled = (self.done.min(self.total) * width as u64)
            .checked_div(self.total)
            .map_or(width, |f| f as usize);
        eprint!(
            "\r{} [{}{}] {} / {} {}/s ",
            self.label,
            "#".repeat(filled),
            " ".repeat(width - filled),
            human(self.done),
            human(self.total),
            human((self.done as f64 / secs) as u64)
        );
        let _ = std::io::stderr().flush();
    }

    /// Draws the final state and ends the line.
    pub fn finish(mut self) {
        if self.shown {
            self.draw();
            eprintln!();
        }
    }
}

/// `12.3 MiB`-style sizes.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}
