//! A one-line progress display on stderr: redrawn in place on a terminal (at most ten times a
//! second), or printed at every tenth of the work when stderr is a file or a pipe (GPU-machine
//! logs), so logs stay short.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

pub struct Progress {
    label: String,
    tty: bool,
    start: Instant,
    last_draw: Option<Instant>,
    last_tenth: usize,
}

impl Progress {
    pub fn new(label: impl Into<String>) -> Progress {
        Progress { label: label.into(), tty: std::io::stderr().is_terminal(), start: Instant::now(), last_draw: None, last_tenth: 0 }
    }

    pub fn update(&mut self, done: usize, total: usize) {
        let total = total.max(1);
        let secs = self.start.elapsed().as_secs_f64();
        let line = format!("{} {done}/{total} requests  {secs:.1} s", self.label);
        if self.tty {
            let due = self.last_draw.is_none_or(|t| t.elapsed() >= Duration::from_millis(100));
            if due || done == total {
                let width = 30;
                let filled = done * width / total;
                eprint!("\r[{}{}] {line}\x1b[K", "#".repeat(filled), ".".repeat(width - filled));
                let _ = std::io::stderr().flush();
                self.last_draw = Some(Instant::now());
            }
            if done == total {
                eprintln!();
            }
        } else {
            let tenth = done * 10 / total;
            if tenth > self.last_tenth || done == total {
                self.last_tenth = tenth;
                eprintln!("{line}");
            }
        }
    }
}
