//! The engine on its own thread, for servers: callers submit requests from any thread and
//! read each request's tokens from its own stream as they are produced. The engine thread
//! steps while there is work and sleeps on its command channel when idle.
//!
//! Backpressure: at most `max_inflight` requests (queued + running) are accepted; beyond that
//! `submit` answers [`SubmitError::Busy`] at once (a server turns it into 503), so memory is
//! bounded however fast clients arrive. Dropping a [`RequestStream`] before its end aborts the
//! request and frees its KV blocks.

use super::core::{validate_request, Engine};
use super::metrics::RequestMetrics;
use super::runner::{RunnerLimits, StepRunner};
use crate::kv_blocks::SeqId;
use crate::scheduler::{FinishReason, RequestParams};
use fk_runtime::{Error, Result};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

#[derive(Clone, Debug)]
pub enum StreamEvent {
    Token { token: u32, finished: Option<FinishReason>, metrics: Option<RequestMetrics> },
    /// The request cannot continue (the engine failed or is shutting down).
    Error(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    #[error("invalid request: {0}")]
    Invalid(String),
    #[error("the engine is busy: {0} requests in flight (the limit)")]
    Busy(usize),
    #[error("the engine has shut down")]
    ShutDown,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct ServiceInfo {
    /// What the model is called in reports and on `/v1/models`.
    pub model: String,
    pub runner: String,
    pub limits: RunnerLimits,
    pub eos_token_ids: Vec<u32>,
}

#[derive(Clone, Copy, Debug)]
pub struct ServiceOptions {
    pub max_inflight: usize,
}

impl Default for ServiceOptions {
    fn default() -> Self {
        ServiceOptions { max_inflight: 4096 }
    }
}

enum Command {
    Submit { ticket: u64, prompt: Vec<u32>, params: RequestParams, events: Sender<StreamEvent> },
    Abort(u64),
    Shutdown { drain: bool },
}

struct Shared {
    inflight: AtomicUsize,
    closed: AtomicBool,
}

pub struct EngineService {
    tx: Sender<Command>,
    info: ServiceInfo,
    opts: ServiceOptions,
    shared: Arc<Shared>,
    next_ticket: AtomicU64,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// One request's token stream. Dropping it before the last token aborts the request.
pub struct RequestStream {
    ticket: u64,
    rx: Receiver<StreamEvent>,
    tx: Sender<Command>,
    ended: bool,
}

impl RequestStream {
    /// The next event, blocking; `None` after the last token or an error.
    pub fn recv(&mut self) -> Option<StreamEvent> {
        self.recv_inner(None).ok().flatten()
    }

    /// Like [`RequestStream::recv`] with a deadline: `Err(())` on timeout.
    #[allow(clippy::result_unit_err)]
    pub fn recv_timeout(&mut self, timeout: Duration) -> std::result::Result<Option<StreamEvent>, ()> {
        self.recv_inner(Some(timeout))
    }

    fn recv_inner(&mut self, timeout: Option<Duration>) -> std::result::Result<Option<StreamEvent>, ()> {
        if self.ended {
            return Ok(None);
        }
        let ev = match timeout {
            None => self.rx.recv().ok(),
            Some(t) => match self.rx.recv_timeout(t) {
                Ok(ev) => Some(ev),
                Err(mpsc::RecvTimeoutError::Timeout) => return Err(()),
                Err(mpsc::RecvTimeoutError::Disconnected) => None,
            },
        };
        let ev = ev.unwrap_or_else(|| StreamEvent::Error("the engine thread stopped".into()));
        self.ended = matches!(ev, StreamEvent::Error(_) | StreamEvent::Token { finished: Some(_), .. });
        Ok(Some(ev))
    }

    /// Read every event to the end: the tokens, and the metrics if it finished normally.
    pub fn collect(mut self) -> Result<(Vec<u32>, RequestMetrics)> {
        let mut tokens = Vec::new();
        loop {
            match self.recv() {
                Some(StreamEvent::Token { token, metrics, .. }) => {
                    tokens.push(token);
                    if let Some(m) = metrics {
                        return Ok((tokens, m));
                    }
                }
                Some(StreamEvent::Error(e)) => return Err(Error::config(e)),
                None => return Err(Error::config("the stream ended without a last token")),
            }
        }
    }
}

impl Drop for RequestStream {
    fn drop(&mut self) {
        if !self.ended {
            let _ = self.tx.send(Command::Abort(self.ticket));
        }
    }
}

impl EngineService {
    /// Build the engine on a new thread with `make` (GPU contexts and graphs then belong to
    /// that thread) and start serving. `model` names it in [`ServiceInfo`].
    pub fn spawn<R, F>(model: String, eos_token_ids: Vec<u32>, opts: ServiceOptions, make: F) -> Result<EngineService>
    where
        R: StepRunner + 'static,
        F: FnOnce() -> Result<Engine<R>> + Send + 'static,
    {
        if opts.max_inflight == 0 {
            return Err(Error::config("max_inflight must be >= 1"));
        }
        let (tx, rx) = mpsc::channel::<Command>();
        let (ready_tx, ready_rx) = mpsc::channel::<std::result::Result<(RunnerLimits, String), String>>();
        let shared = Arc::new(Shared { inflight: AtomicUsize::new(0), closed: AtomicBool::new(false) });
        let thread_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("fk-engine".into())
            .spawn(move || match make() {
                Ok(engine) => {
                    let _ = ready_tx.send(Ok((engine.limits(), engine.runner().describe())));
                    engine_loop(engine, rx, &thread_shared);
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e.to_string()));
                }
            })
            .map_err(|e| Error::config(format!("cannot start the engine thread: {e}")))?;
        let (limits, runner) = match ready_rx.recv() {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => {
                let _ = thread.join();
                return Err(Error::config(format!("building the engine failed: {e}")));
            }
            Err(_) => {
                let _ = thread.join();
                return Err(Error::config("the engine thread died while building the engine"));
            }
        };
        Ok(EngineService {
            tx,
            info: ServiceInfo { model, runner, limits, eos_token_ids },
            opts,
            shared,
            next_ticket: AtomicU64::new(0),
            thread: Mutex::new(Some(thread)),
        })
    }

    pub fn info(&self) -> &ServiceInfo {
        &self.info
    }

    /// Requests accepted and not yet finished.
    pub fn inflight(&self) -> usize {
        self.shared.inflight.load(Ordering::SeqCst)
    }

    pub fn validate(&self, prompt: &[u32], params: &RequestParams) -> std::result::Result<(), SubmitError> {
        validate_request(&self.info.limits, prompt, params).map_err(|e| SubmitError::Invalid(e.to_string()))
    }

    /// Queue a request; its tokens arrive on the returned stream.
    pub fn submit(&self, prompt: Vec<u32>, params: RequestParams) -> std::result::Result<RequestStream, SubmitError> {
        if self.shared.closed.load(Ordering::SeqCst) {
            return Err(SubmitError::ShutDown);
        }
        self.validate(&prompt, &params)?;
        let n = self.shared.inflight.fetch_add(1, Ordering::SeqCst);
        if n >= self.opts.max_inflight {
            self.shared.inflight.fetch_sub(1, Ordering::SeqCst);
            return Err(SubmitError::Busy(n));
        }
        let ticket = self.next_ticket.fetch_add(1, Ordering::SeqCst);
        let (etx, erx) = mpsc::channel();
        if self.tx.send(Command::Submit { ticket, prompt, params, events: etx }).is_err() {
            self.shared.inflight.fetch_sub(1, Ordering::SeqCst);
            return Err(SubmitError::ShutDown);
        }
        Ok(RequestStream { ticket, rx: erx, tx: self.tx.clone(), ended: false })
    }

    /// Stop: with `drain`, finish every accepted request first; without, end them with an
    /// error. Blocks until the engine thread has exited. Idempotent.
    pub fn shutdown(&self, drain: bool) {
        self.shared.closed.store(true, Ordering::SeqCst);
        let _ = self.tx.send(Command::Shutdown { drain });
        if let Some(t) = self.thread.lock().map(|mut g| g.take()).unwrap_or(None) {
            let _ = t.join();
        }
    }
}

impl Drop for EngineService {
    fn drop(&mut self) {
        self.shutdown(false);
    }
}

fn engine_loop<R: StepRunner>(mut engine: Engine<R>, rx: Receiver<Command>, shared: &Shared) {
    let mut streams: HashMap<SeqId, (u64, Sender<StreamEvent>)> = HashMap::new();
    let mut by_ticket: HashMap<u64, SeqId> = HashMap::new();
    let mut draining = false;
    let mut failed: Option<String> = None;
    let finish = |shared: &Shared| {
        shared.inflight.fetch_sub(1, Ordering::SeqCst);
    };
    loop {
        // Block for a command only when idle; otherwise take what has arrived and step.
        let mut cmds = Vec::new();
        if !engine.has_unfinished() {
            if draining {
                return;
            }
            match rx.recv() {
                Ok(c) => cmds.push(c),
                Err(_) => return, // every handle is gone
            }
        }
        cmds.extend(rx.try_iter());
        for cmd in cmds {
            match cmd {
                Command::Submit { ticket, prompt, params, events } => {
                    let refuse = if let Some(why) = &failed {
                        Some(format!("the engine failed earlier: {why}"))
                    } else if draining {
                        Some("the engine is shutting down".to_string())
                    } else {
                        None
                    };
                    if let Some(why) = refuse {
                        let _ = events.send(StreamEvent::Error(why));
                        finish(shared);
                        continue;
                    }
                    match engine.add_request(prompt, params) {
                        Ok(id) => {
                            streams.insert(id, (ticket, events));
                            by_ticket.insert(ticket, id);
                        }
                        Err(e) => {
                            let _ = events.send(StreamEvent::Error(e.to_string()));
                            finish(shared);
                        }
                    }
                }
                Command::Abort(ticket) => {
                    if let Some(id) = by_ticket.remove(&ticket) {
                        engine.abort(id);
                        streams.remove(&id);
                        finish(shared);
                    }
                }
                Command::Shutdown { drain } => {
                    draining = true;
                    if !drain {
                        for (id, (ticket, tx)) in streams.drain() {
                            engine.abort(id);
                            by_ticket.remove(&ticket);
                            let _ = tx.send(StreamEvent::Error("the server is shutting down".into()));
                            finish(shared);
                        }
                    }
                }
            }
        }
        if !engine.has_unfinished() {
            continue;
        }
        match engine.step() {
            Ok(outputs) => {
                for o in outputs {
                    let Some((ticket, tx)) = streams.get(&o.id) else { continue };
                    let ticket = *ticket;
                    let last = o.finished.is_some();
                    if last {
                        // Released before the last token is sent, so a client that has read
                        // it never sees its own request still counted in flight.
                        let (_, tx) = streams.remove(&o.id).expect("present");
                        by_ticket.remove(&ticket);
                        finish(shared);
                        let _ = tx.send(StreamEvent::Token { token: o.token, finished: o.finished, metrics: o.metrics });
                    } else if tx.send(StreamEvent::Token { token: o.token, finished: None, metrics: None }).is_err() {
                        engine.abort(o.id); // the client went away
                        streams.remove(&o.id);
                        by_ticket.remove(&ticket);
                        finish(shared);
                    }
                }
            }
            Err(e) => {
                let why = e.to_string();
                for (id, (_, tx)) in streams.drain() {
                    engine.abort(id);
                    let _ = tx.send(StreamEvent::Error(why.clone()));
                    finish(shared);
                }
                by_ticket.clear();
                failed = Some(why);
            }
        }
    }
}
