//! `cargo fastkernels serve`: an OpenAI-compatible HTTP server over the LLM engine.
//!
//! Routes: `GET /health`, `GET /v1/models`, `POST /v1/completions` (with SSE streaming).
//! The server runs over any [`EngineService`] — the GPU engine from the CLI, or the CPU
//! `HashRunner` in the tests — through [`ServerState::new`], [`router`] and [`run`].
//!
//! Robustness, in the order a request meets it: a body limit (413), strict parsing and
//! checking of every field (400 naming the field), the served-model check (404), the engine's
//! in-flight bound (503 at once rather than an unbounded queue), and per-request streams that
//! abort their engine request when the client disconnects. Shutdown stops accepting
//! connections, answers new requests with 503, lets running ones finish for a grace period,
//! then ends the rest with an error and stops the engine.

mod args;
mod error;
mod handlers;
mod openai;
mod stream;
mod text;
#[cfg(test)]
mod tests;

pub use args::{run_cli, ServeArgs};
pub use text::Codec;

use axum::routing::{get, post};
use axum::serve::ListenerExt;
use axum::Router;
use fk_llm::engine::{EngineService, ServiceInfo};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::net::TcpListener;

#[derive(Clone, Copy, Debug)]
pub struct ServerConfig {
    /// Largest request body accepted (413 beyond).
    pub max_body_bytes: usize,
    /// On shutdown, how long running requests may take to finish before they are ended.
    pub shutdown_grace: Duration,
}

impl ServerConfig {
    /// A body limit that fits a prompt of the whole context however it is written (token ids
    /// or text, even with every character escaped), and no more.
    pub fn for_engine(info: &ServiceInfo) -> ServerConfig {
        ServerConfig { max_body_bytes: (info.limits.max_model_len * 32).max(1 << 20), shutdown_grace: Duration::from_secs(30) }
    }
}

pub struct ServerState {
    service: Arc<EngineService>,
    info: ServiceInfo,
    codec: Codec,
    config: ServerConfig,
    /// Unix time the server started: `created` of the model object.
    created: u64,
    closing: AtomicBool,
    /// Why the engine stopped working, once a request has failed in it (outside shutdown):
    /// the engine refuses every later step, so `/health` turns unhealthy for the supervisor.
    engine_error: Mutex<Option<String>>,
}

impl ServerState {
    pub fn new(service: Arc<EngineService>, codec: Codec, config: ServerConfig) -> Arc<ServerState> {
        let info = service.info().clone();
        Arc::new(ServerState { service, info, codec, config, created: unix_now(), closing: AtomicBool::new(false), engine_error: Mutex::new(None) })
    }

    fn is_closing(&self) -> bool {
        self.closing.load(Ordering::SeqCst)
    }

    fn engine_failed(&self, why: &str) {
        eprintln!("error: a request failed in the engine: {why}");
        if let Ok(mut e) = self.engine_error.lock() {
            e.get_or_insert_with(|| why.to_string());
        }
    }

    fn engine_error(&self) -> Option<String> {
        self.engine_error.lock().ok().and_then(|e| e.clone())
    }
}

pub fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

pub fn router(state: Arc<ServerState>) -> Router {
    Router::new()
        .route("/health", get(handlers::health))
        .route("/v1/models", get(handlers::models))
        .route("/v1/completions", post(handlers::completions))
        .fallback(handlers::not_found)
        .method_not_allowed_fallback(handlers::method_not_allowed)
        .with_state(state)
}

/// Serve on `listener` until `shutdown` resolves, then shut down gracefully (see the module
/// docs) and stop the engine. Returns once every connection has closed.
pub async fn run(listener: TcpListener, state: Arc<ServerState>, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
    // Streamed tokens are small writes that must leave at once.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let st = state.clone();
    let signal = async move {
        shutdown.await;
        st.closing.store(true, Ordering::SeqCst);
        tokio::spawn(finish_or_end(st));
    };
    axum::serve(listener, router(state.clone())).with_graceful_shutdown(signal).await?;
    // Idempotent: normally already done by `finish_or_end`; joins the engine thread.
    let service = state.service.clone();
    let _ = tokio::task::spawn_blocking(move || service.shutdown(false)).await;
    Ok(())
}

/// Let running requests finish within the grace period, then end what is left (their
/// streams get an error event, so their connections close and the server can stop).
async fn finish_or_end(state: Arc<ServerState>) {
    let deadline = Instant::now() + state.config.shutdown_grace;
    while state.service.inflight() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let service = state.service.clone();
    let _ = tokio::task::spawn_blocking(move || service.shutdown(false)).await;
}
