//! The route handlers. Every failure is an [`ApiError`] response; nothing a client sends can
//! panic a handler or stop the server.

use super::error::ApiError;
use super::openai::{finish_reason, parse_completion_request, Choice, Completion, CompletionRequest, Prompt, Usage};
use super::stream::{bridge, ChunkMeta, Piece, SseChunks};
use super::{unix_now, ServerState};
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::sse::{KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use fk_llm::engine::SubmitError;
use fk_llm::{RequestParams, SamplingParams};
use http_body_util::BodyExt;
use serde_json::json;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Past the body limit the rest of the body is still read, up to this much more, before the
/// 413 goes out: a client that is still writing when the server closes the connection gets
/// a reset instead of the answer.
const DRAIN_BYTES: usize = 16 << 20;

/// A body that trickles in slower than this is dropped (a slow client must not hold a
/// connection and its buffer forever).
const BODY_TIMEOUT: Duration = Duration::from_secs(60);

/// 200 while the server takes requests; 503 while it shuts down; 500 once the engine has
/// failed (it will not recover: restart the process).
pub async fn health(State(s): State<Arc<ServerState>>) -> Response {
    let error = s.engine_error();
    let (status, word) = match (&error, s.is_closing()) {
        (Some(_), _) => (StatusCode::INTERNAL_SERVER_ERROR, "engine_failed"),
        (None, true) => (StatusCode::SERVICE_UNAVAILABLE, "shutting_down"),
        (None, false) => (StatusCode::OK, "ok"),
    };
    let body = json!({
        "status": word,
        "model": s.info.model,
        "runner": s.info.runner,
        "inflight": s.service.inflight(),
        "error": error,
    });
    (status, Json(body)).into_response()
}

pub async fn models(State(s): State<Arc<ServerState>>) -> Json<serde_json::Value> {
    Json(json!({
        "object": "list",
        "data": [{
            "id": s.info.model,
            "object": "model",
            "created": s.created,
            "owned_by": "fastkernels",
            "root": s.info.model,
            "parent": null,
            "max_model_len": s.info.limits.max_model_len,
        }],
    }))
}

pub async fn not_found(uri: Uri) -> ApiError {
    ApiError::not_found(format!("no route for {}", uri.path()))
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::method_not_allowed()
}

pub async fn completions(State(s): State<Arc<ServerState>>, body: Body) -> Response {
    match complete(s, body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn complete(s: Arc<ServerState>, body: Body) -> Result<Response, ApiError> {
    if s.is_closing() {
        return Err(ApiError::unavailable("the server is shutting down", "shutting_down"));
    }
    // The body is read as JSON whatever its content type: `curl -d` labels JSON as a form,
    // and refusing it would only trip up hand-written requests.
    let bytes = read_body(body, s.config.max_body_bytes).await?;
    let mut req = parse_completion_request(&bytes)?;
    if let Some(m) = &req.model {
        if *m != s.info.model {
            return Err(ApiError::model_not_found(m, &s.info.model));
        }
    }
    let prompt = prompt_ids(&s, std::mem::replace(&mut req.prompt, Prompt::Ids(Vec::new()))).await?;
    let params = request_params(&s, &req, prompt.len())?;
    let decoder = s.codec.decoder(&prompt);
    let prompt_tokens = prompt.len();
    let stream = s.service.submit(prompt, params).map_err(|e| match e {
        SubmitError::Invalid(why) => ApiError::bad_request(why),
        SubmitError::Busy(n) => ApiError::unavailable(format!("the engine is at its limit of {n} requests in flight; retry later"), "engine_busy"),
        SubmitError::ShutDown => ApiError::unavailable("the engine has shut down", "shutting_down"),
    })?;
    let rx = bridge(stream, decoder);
    let id = completion_id();
    let created = unix_now();
    if req.stream {
        let meta = ChunkMeta { id, created, model: s.info.model.clone(), prompt_tokens, include_usage: req.include_usage };
        return Ok(Sse::new(SseChunks::new(rx, meta, s.clone())).keep_alive(KeepAlive::default()).into_response());
    }
    collect(&s, rx, id, created, prompt_tokens).await
}

/// Wait for the whole output. If the client disconnects meanwhile, hyper drops this future
/// and with it the receiver, which aborts the request (see `stream`).
async fn collect(s: &ServerState, mut rx: tokio::sync::mpsc::Receiver<Piece>, id: String, created: u64, prompt_tokens: usize) -> Result<Response, ApiError> {
    let mut text = String::new();
    let mut token_ids = Vec::new();
    while let Some(piece) = rx.recv().await {
        match piece {
            Piece::Delta { text: t, token_ids: ids, finish } => {
                text.push_str(&t);
                token_ids.extend(ids);
                if let Some(f) = finish {
                    let usage = Usage::new(prompt_tokens, token_ids.len());
                    let choice = Choice { index: 0, text, logprobs: None, finish_reason: Some(finish_reason(f)), token_ids };
                    return Ok(Json(Completion::new(&id, created, &s.info.model, vec![choice], Some(usage))).into_response());
                }
            }
            Piece::Failed(why) if s.is_closing() => return Err(ApiError::unavailable(format!("the server is shutting down: {why}"), "shutting_down")),
            Piece::Failed(why) => {
                s.engine_failed(&why);
                return Err(ApiError::internal(format!("the engine failed: {why}")));
            }
        }
    }
    Err(ApiError::internal("the request's stream stopped unexpectedly"))
}

async fn prompt_ids(s: &ServerState, prompt: Prompt) -> Result<Vec<u32>, ApiError> {
    let ids = match prompt {
        Prompt::Ids(ids) => ids,
        Prompt::Text(text) => {
            if !s.codec.has_tokenizer() {
                return Err(ApiError::bad_param("prompt", "this server has no tokenizer (no tokenizer.json in the model folder): send the prompt as an array of token ids"));
            }
            // Tokenizing a long prompt takes milliseconds: off the async workers.
            let codec = s.codec.clone();
            tokio::task::spawn_blocking(move || codec.encode(&text))
                .await
                .map_err(|e| ApiError::internal(format!("the tokenizer task failed: {e}")))?
                .map_err(|e| ApiError::bad_param("prompt", e))?
        }
    };
    if ids.is_empty() {
        return Err(ApiError::bad_param("prompt", "the prompt is empty"));
    }
    // The engine checks this too; answered here to name the field.
    let vocab = s.info.limits.vocab_size;
    if let Some((pos, t)) = ids.iter().enumerate().find(|(_, &t)| t as usize >= vocab) {
        return Err(ApiError::bad_param("prompt", format!("prompt token {pos} is {t}, outside the model's vocabulary [0, {vocab})")));
    }
    Ok(ids)
}

fn request_params(s: &ServerState, req: &CompletionRequest, prompt_len: usize) -> Result<RequestParams, ApiError> {
    let l = &s.info.limits;
    // The engine checks this too; answered here to name the field, in vLLM's words.
    if prompt_len.saturating_add(req.max_tokens) > l.max_model_len {
        return Err(ApiError::bad_param(
            "max_tokens",
            format!(
                "This model's maximum context length is {} tokens. However, you requested {} tokens ({prompt_len} in the prompt, {} in the completion). Please reduce the length of the prompt or completion.",
                l.max_model_len,
                prompt_len.saturating_add(req.max_tokens),
                req.max_tokens
            ),
        )
        .with_code("context_length_exceeded"));
    }
    if let Some(t) = req.stop_token_ids.iter().find(|&&t| t as usize >= l.vocab_size) {
        return Err(ApiError::bad_param("stop_token_ids", format!("stop token {t} is outside the vocabulary [0, {})", l.vocab_size)));
    }
    // vLLM's semantics with the engine's one list: `ignore_eos` drops the model's EOS ids,
    // `stop_token_ids` stop in any case.
    let mut stop = if req.ignore_eos { Vec::new() } else { s.info.eos_token_ids.clone() };
    for &t in &req.stop_token_ids {
        if !stop.contains(&t) {
            stop.push(t);
        }
    }
    Ok(RequestParams {
        max_new_tokens: req.max_tokens,
        sampling: SamplingParams { temperature: req.temperature, top_k: req.top_k, top_p: req.top_p, seed: req.seed.unwrap_or_else(random_u64) },
        eos_token_ids: stop,
        ignore_eos: false,
    })
}

/// Read the body within `limit` bytes: 413 beyond it, 400 if it breaks off, 408 if too slow.
async fn read_body(mut body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let cap = limit.saturating_add(DRAIN_BYTES);
    if body.size_hint().lower() as usize > cap {
        return Err(ApiError::too_large(limit)); // declared far too large: not worth reading
    }
    let read = async {
        let mut buf = Vec::new();
        let mut seen = 0usize;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| ApiError::bad_request(format!("the request body could not be read: {e}")))?;
            let Ok(data) = frame.into_data() else { continue };
            seen = seen.saturating_add(data.len());
            if seen <= limit {
                buf.extend_from_slice(&data);
            } else if seen > cap {
                break;
            }
        }
        if seen > limit {
            return Err(ApiError::too_large(limit));
        }
        Ok(Bytes::from(buf))
    };
    match tokio::time::timeout(BODY_TIMEOUT, read).await {
        Ok(r) => r,
        Err(_) => Err(ApiError { status: StatusCode::REQUEST_TIMEOUT, code: Some("request_timeout"), ..ApiError::bad_request("the request body took too long to arrive") }),
    }
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Unpredictable 64 bits (std's randomly keyed hasher over a counter): seeds for unseeded
/// sampled requests and completion ids.
fn random_u64() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.finish()
}

fn completion_id() -> String {
    format!("cmpl-{:016x}{:016x}", random_u64(), random_u64())
}
