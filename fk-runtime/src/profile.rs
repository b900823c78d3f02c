//! Opt-in per-op GPU time: where a forward, a decode step or a whole workload spends the
//! device's time, measured by CUDA events around every launch that goes through the library
//! (each baseline or candidate op, each cuBLASLt GEMM, each CUDA-graph replay). Copies and
//! allocations are not spans: their host time shows as the gap between the spans and the wall.
//!
//! Off, it costs one relaxed atomic load per launch. On ([`start`]), each span adds two event
//! records (~2-4 µs of host time), so the wall time of a profiled run is not the number to
//! report; the per-op GPU times are. Spans bracket their launch on the stream: when the GPU
//! idles waiting for the host (a host-bound loop), a span also holds that one launch's latency,
//! and the gap between the sum of the spans and the wall time is host time the GPU waited for.
//!
//! Each span also records the host time of its body (argument checks, allocations, the
//! launch call itself): in a host-bound loop that column says which ops cost the host most.
//!
//! Nothing is recorded while a CUDA graph is being captured (events there would become graph
//! nodes); the replay is then one span, `graph replay`.

use crate::device::Device;
use crate::error::Result;
use crate::event::Event;
use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

static ACTIVE: AtomicBool = AtomicBool::new(false);
static STATE: Mutex<Option<State>> = Mutex::new(None);
/// Spans begun since [`start`] (timed or not).
static SPANS: AtomicUsize = AtomicUsize::new(0);
/// At most this many spans are kept (two live CUDA events each, until `finish`); later ones are
/// counted, not timed. A whole `LLM.mixed` run launches millions of kernels: profile a shorter
/// workload (or accept the first 262k launches) rather than hold millions of events.
const MAX_SPANS: usize = 1 << 18;

thread_local! {
    static CAPTURING: Cell<bool> = const { Cell::new(false) };
}

struct State {
    started: Instant,
    spans: Vec<(String, Event, Event, f64)>,
}

/// Start recording (clears what an earlier [`start`] recorded).
pub fn start() {
    *STATE.lock().unwrap_or_else(|e| e.into_inner()) = Some(State {
        started: Instant::now(),
        spans: Vec::new(),
    });
    SPANS.store(0, Ordering::Relaxed);
    ACTIVE.store(true, Ordering::Release);
}

/// Whether spans are being recorded.
pub fn active() -> bool {
    ACTIVE.load(Ordering::Relaxed)
}

/// Run `body` (which enqueues work on `device`'s stream) as the span `name()`. The name is
/// only built when recording.
pub fn span<R>(
    device: &Device,
    name: impl FnOnce() -> String,
    body: impl FnOnce() -> Result<R>,
) -> Result<R> {
    if !active() || CAPTURING.with(Cell::get) {
        return body();
    }
    if SPANS.fetch_add(1, Ordering::Relaxed) >= MAX_SPANS {
        // Past the cap: counted (in `finish`), not timed, no events made.
        return body();
    }
    let begin = Event::new(device)?;
    begin.record()?;
    let host = Instant::now();
    let r = body()?;
    let host_ms = host.elapsed().as_secs_f64() * 1e3;
    let end = Event::new(device)?;
    end.record()?;
    let mut guard = STATE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(s) = guard.as_mut() {
        s.spans.push((name(), begin, end, host_ms));
    }
    Ok(r)
}

/// Mark the calling thread as capturing a CUDA graph for the duration of `body`.
pub(crate) fn capturing<R>(body: impl FnOnce() -> R) -> R {
    let was = CAPTURING.with(|c| c.replace(true));
    let r = body();
    CAPTURING.with(|c| c.set(was));
    r
}

/// One row of a [`Report`]: every span of one name.
#[derive(Clone, Debug, PartialEq)]
pub struct ProfileRow {
    pub name: String,
    pub calls: usize,
    pub gpu_ms: f64,
    /// Host time inside the spans' bodies (checks, allocations, the launch calls).
    pub host_ms: f64,
}

/// What [`finish`] returns: per-name GPU time, slowest first.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Host wall time from [`start`] to [`finish`] (inflated by the profiling itself).
    pub wall_ms: f64,
    pub rows: Vec<ProfileRow>,
    /// Spans past the cap, not timed.
    pub dropped: usize,
}

impl Report {
    pub fn gpu_ms(&self) -> f64 {
        self.rows.iter().map(|r| r.gpu_ms).sum()
    }

    pub fn host_ms(&self) -> f64 {
        self.rows.iter().map(|r| r.host_ms).sum()
    }

    /// Group spans `(name, GPU ms, host ms)` by name (first-seen order breaks ties) and sort
    /// by GPU time.
    pub fn from_spans(
        wall_ms: f64,
        spans: impl IntoIterator<Item = (String, f64, f64)>,
        dropped: usize,
    ) -> Report {
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut rows: Vec<ProfileRow> = Vec::new();
        for (name, ms, host_ms) in spans {
            let i = *index.entry(name.clone()).or_insert_with(|| {
                rows.push(ProfileRow {
                    name,
                    calls: 0,
                    gpu_ms: 0.0,
                    host_ms: 0.0,
                });
                rows.len() - 1
            });
            rows[i].calls += 1;
            rows[i].gpu_ms += ms;
            rows[i].host_ms += host_ms;
        }
        rows.sort_by(|a, b| b.gpu_ms.total_cmp(&a.gpu_ms));
        Report {
            wall_ms,
            rows,
            dropped,
        }
    }

    /// A text table of the `top` slowest rows and the rest summed: GPU ms, share, calls,
    /// µs per call, host µs per call.
    pub fn table(&self, top: usize) -> String {
        let total = self.gpu_ms().max(f64::MIN_POSITIVE);
        let mut out = format!(
            "{:<48} {:>10} {:>7} {:>8} {:>10} {:>10}\n",
            "op", "GPU ms", "share", "calls", "µs/call", "host µs"
        );
        let line = |name: &str, ms: f64, host_ms: f64, calls: usize| {
            format!(
                "{name:<48} {ms:>10.3} {:>6.1}% {calls:>8} {:>10.1} {:>10.1}\n",
                100.0 * ms / total,
                1e3 * ms / calls.max(1) as f64,
                1e3 * host_ms / calls.max(1) as f64
            )
        };
        for r in self.rows.iter().take(top) {
            out += &line(&r.name, r.gpu_ms, r.host_ms, r.calls);
        }
        if self.rows.len() > top {
            let rest = &self.rows[top..];
            out += &line(
                &format!("({} more)", rest.len()),
                rest.iter().map(|r| r.gpu_ms).sum(),
                rest.iter().map(|r| r.host_ms).sum(),
                rest.iter().map(|r| r.calls).sum(),
            );
        }
        out += &format!("host time inside the spans {:.3} ms\n", self.host_ms());
        out += &format!(
            "GPU time in spans {:.3} ms of {:.3} ms wall ({:.0}%: the rest is host time the GPU waited for, inflated by profiling){}\n",
            self.gpu_ms(),
            self.wall_ms,
            100.0 * self.gpu_ms() / self.wall_ms.max(f64::MIN_POSITIVE),
            if self.dropped > 0 { format!("; {} spans past the cap not timed", self.dropped) } else { String::new() }
        );
        out
    }
}

/// Stop recording and return the report (waits for the last span's work); `None` if
/// [`start`] was not called.
pub fn finish() -> Result<Option<Report>> {
    ACTIVE.store(false, Ordering::Release);
    let Some(state) = STATE.lock().unwrap_or_else(|e| e.into_inner()).take() else {
        return Ok(None);
    };
    let wall_ms = state.started.elapsed().as_secs_f64() * 1e3;
    let mut spans = Vec::with_capacity(state.spans.len());
    for (name, begin, end, host_ms) in &state.spans {
        spans.push((name.clone(), begin.elapsed_ms(end)?, *host_ms));
    }
    let dropped = SPANS.load(Ordering::Relaxed).saturating_sub(MAX_SPANS);
    Ok(Some(Report::from_spans(wall_ms, spans, dropped)))
}

#[cfg(test)]
mod tests {
    use super::Report;

    #[test]
    fn report_groups_by_name_and_sorts_by_time() {
        let spans = [
            ("gemm 8x8x8", 1.0, 0.01),
            ("gelu", 0.5, 0.02),
            ("gemm 8x8x8", 2.0, 0.03),
            ("layer_norm", 0.25, 0.0),
        ];
        let r = Report::from_spans(10.0, spans.iter().map(|(n, t, h)| (n.to_string(), *t, *h)), 0);
        let names: Vec<&str> = r.rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["gemm 8x8x8", "gelu", "layer_norm"]);
        assert_eq!((r.rows[0].calls, r.rows[0].gpu_ms), (2, 3.0));
        assert_eq!(r.gpu_ms(), 3.75);
        assert!((r.rows[0].host_ms - 0.04).abs() < 1e-12);
        let t = r.table(2);
        assert!(
            t.contains("gemm 8x8x8")
                && t.contains("(1 more)")
                && t.contains("3.750 ms of 10.000 ms wall"),
            "{t}"
        );
        assert!(!super::active());
    }
}
