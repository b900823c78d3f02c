//! From the engine's blocking token stream to the async HTTP side. Each request gets a
//! blocking-pool thread that reads its [`RequestStream`], turns tokens into text deltas
//! (decoding is CPU work that has no place on the async workers) and forwards them over a
//! bounded tokio channel. When the HTTP side goes away (the client disconnected, so hyper
//! dropped the response body or the handler's future) the channel closes, the thread returns
//! and drops the `RequestStream`, and that aborts the request in the engine, freeing its KV
//! blocks for others.
//!
//! The SSE body is a [`Stream`] over that channel: one OpenAI chunk per delta, an error
//! event if the request fails midway (the status line has gone out by then), and `[DONE]`.

use super::openai::{finish_reason, Choice, Completion, Usage};
use super::text::TextDecoder;
use super::ServerState;
use axum::response::sse::Event;
use fk_llm::engine::{RequestStream, StreamEvent};
use fk_llm::FinishReason;
use futures_core::Stream;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::mpsc;

/// Deltas buffered per request between the engine thread and a slow client; beyond this the
/// bridge waits (the engine itself never blocks on a client).
const CHANNEL_DEPTH: usize = 64;

/// How often a bridge waiting for the engine (a long prefill, a busy batch) checks whether
/// its client is still there.
const CLIENT_POLL: Duration = Duration::from_millis(50);

#[derive(Debug)]
pub enum Piece {
    /// Output since the last piece: its tokens and their text.
    Delta { text: String, token_ids: Vec<u32>, finish: Option<FinishReason> },
    /// The request cannot complete (the engine failed, or the server is stopping).
    Failed(String),
}

/// Start forwarding `stream`'s output; the receiver ends after a `finish` or a `Failed`.
pub fn bridge(stream: RequestStream, decoder: TextDecoder) -> mpsc::Receiver<Piece> {
    let (tx, rx) = mpsc::channel(CHANNEL_DEPTH);
    tokio::task::spawn_blocking(move || forward(stream, decoder, tx));
    rx
}

fn forward(mut stream: RequestStream, mut decoder: TextDecoder, tx: mpsc::Sender<Piece>) {
    loop {
        if tx.is_closed() {
            return; // the client left: dropping `stream` aborts the request
        }
        let piece = match stream.recv_timeout(CLIENT_POLL) {
            Err(()) => continue,
            Ok(None) => Piece::Failed("the request's stream ended without its last token".into()),
            Ok(Some(StreamEvent::Error(e))) => Piece::Failed(e),
            Ok(Some(StreamEvent::Token { token, finished, .. })) => {
                let text = match finished {
                    None => decoder.push(token),
                    // The stop token's text is not output (see `text`).
                    Some(FinishReason::Stop) => decoder.finish(),
                    Some(FinishReason::Length) => decoder.push(token) + &decoder.finish(),
                };
                Piece::Delta { text, token_ids: vec![token], finish: finished }
            }
        };
        let last = !matches!(piece, Piece::Delta { finish: None, .. });
        if tx.blocking_send(piece).is_err() || last {
            return;
        }
    }
}

/// What an SSE chunk needs besides the delta.
pub struct ChunkMeta {
    pub id: String,
    pub created: u64,
    pub model: String,
    pub prompt_tokens: usize,
    pub include_usage: bool,
}

/// The `text/event-stream` body of a streaming completion.
pub struct SseChunks {
    rx: mpsc::Receiver<Piece>,
    meta: ChunkMeta,
    completion_tokens: usize,
    queued: VecDeque<Event>,
    done: bool,
    /// To report an engine failure (see [`ServerState::engine_failed`]).
    state: Arc<ServerState>,
}

impl SseChunks {
    pub fn new(rx: mpsc::Receiver<Piece>, meta: ChunkMeta, state: Arc<ServerState>) -> SseChunks {
        SseChunks { rx, meta, completion_tokens: 0, queued: VecDeque::new(), done: false, state }
    }

    fn json_event(v: &impl serde::Serialize) -> Event {
        // Serializing our own plain structs cannot fail; an empty event would be harmless.
        Event::default().data(serde_json::to_string(v).unwrap_or_default())
    }

    fn on_piece(&mut self, piece: Option<Piece>) {
        let m = &self.meta;
        match piece {
            Some(Piece::Delta { text, token_ids, finish }) => {
                self.completion_tokens += token_ids.len();
                let choice = Choice { index: 0, text, logprobs: None, finish_reason: finish.map(finish_reason), token_ids };
                self.queued.push_back(Self::json_event(&Completion::new(&m.id, m.created, &m.model, vec![choice], None)));
                if finish.is_none() {
                    return;
                }
                if m.include_usage {
                    let usage = Usage::new(m.prompt_tokens, self.completion_tokens);
                    self.queued.push_back(Self::json_event(&Completion::new(&m.id, m.created, &m.model, Vec::new(), Some(usage))));
                }
            }
            Some(Piece::Failed(why)) => {
                if !self.state.is_closing() {
                    self.state.engine_failed(&why);
                }
                // As vLLM does: the error object as an event, then the usual end.
                let err = super::error::ApiError::internal(why);
                self.queued.push_back(Self::json_event(&err.body()));
            }
            None => {
                let err = super::error::ApiError::internal("the request's stream stopped unexpectedly");
                self.queued.push_back(Self::json_event(&err.body()));
            }
        }
        self.queued.push_back(Event::default().data("[DONE]"));
        self.done = true;
    }
}

impl Stream for SseChunks {
    type Item = Result<Event, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Some(ev) = self.queued.pop_front() {
                return Poll::Ready(Some(Ok(ev)));
            }
            if self.done {
                return Poll::Ready(None);
            }
            match self.rx.poll_recv(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(piece) => self.on_piece(piece),
            }
        }
    }
}
