//! The OpenAI completions API as this server speaks it: the request parsed and checked field
//! by field (so an error names the field, as OpenAI's do), and the response and stream-chunk
//! objects. Extensions follow vLLM: `top_k`, `seed`, `stop_token_ids`, `ignore_eos`, and
//! `token_ids` on each choice.
//!
//! Fields a client library sends with their neutral value (`n: 1`, `echo: false`,
//! `logprobs: null`, `presence_penalty: 0`, …) are accepted; asking for what the engine does
//! not do (several choices, log-probabilities, stop strings, penalties) is a 400 that says
//! so, rather than a silent ignore that would return something other than what was asked.

use super::error::ApiError;
use fk_llm::FinishReason;
use serde::Serialize;
use serde_json::{Map, Value};

/// OpenAI's default for `max_tokens` on completions.
pub const DEFAULT_MAX_TOKENS: usize = 16;

#[derive(Debug, Clone, PartialEq)]
pub enum Prompt {
    /// Needs the model's tokenizer.
    Text(String),
    Ids(Vec<u32>),
}

#[derive(Debug, Clone)]
pub struct CompletionRequest {
    pub model: Option<String>,
    pub prompt: Prompt,
    pub max_tokens: usize,
    /// OpenAI's default is 1 (sampling); 0 is greedy.
    pub temperature: f32,
    pub top_p: f32,
    /// 0 = off (vLLM's -1 is accepted as off too).
    pub top_k: u32,
    /// `None`: the server draws one, so unseeded sampled requests differ.
    pub seed: Option<u64>,
    pub stop_token_ids: Vec<u32>,
    pub ignore_eos: bool,
    pub stream: bool,
    /// `stream_options.include_usage`: one more chunk, with the usage and no choices.
    pub include_usage: bool,
}

/// Parse and check a request body (already read within the size limit).
pub fn parse_completion_request(body: &[u8]) -> Result<CompletionRequest, ApiError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("the body is not valid JSON: {e}")).with_code("invalid_json"))?;
    let Value::Object(obj) = v else {
        return Err(ApiError::bad_request("the body must be a JSON object"));
    };
    let mut req = CompletionRequest {
        model: None,
        prompt: Prompt::Ids(Vec::new()),
        max_tokens: DEFAULT_MAX_TOKENS,
        temperature: 1.0,
        top_p: 1.0,
        top_k: 0,
        seed: None,
        stop_token_ids: Vec::new(),
        ignore_eos: false,
        stream: false,
        include_usage: false,
    };
    let mut prompt = None;
    let mut stream_options = None;
    for (key, value) in &obj {
        // OpenAI clients send `null` for what they leave unset: the same as absent.
        if value.is_null() {
            continue;
        }
        match key.as_str() {
            "model" => req.model = Some(string(key, value)?.to_string()),
            "prompt" => prompt = Some(parse_prompt(value)?),
            "max_tokens" => {
                let n = uint(key, value)?;
                if n == 0 {
                    return Err(ApiError::bad_param(key, "max_tokens must be >= 1"));
                }
                req.max_tokens = usize::try_from(n).unwrap_or(usize::MAX);
            }
            "temperature" => {
                let t = number(key, value)?;
                if !(t >= 0.0 && t.is_finite()) {
                    return Err(ApiError::bad_param(key, format!("temperature must be >= 0, got {t}")));
                }
                req.temperature = t as f32;
            }
            "top_p" => {
                let p = number(key, value)?;
                if !(p > 0.0 && p <= 1.0) {
                    return Err(ApiError::bad_param(key, format!("top_p must be in (0, 1], got {p}")));
                }
                req.top_p = p as f32;
            }
            "top_k" => {
                let k = int(key, value)?;
                req.top_k = match k {
                    -1 | 0 => 0,
                    k if k > 0 && k <= i32::MAX as i64 => k as u32,
                    k => return Err(ApiError::bad_param(key, format!("top_k must be -1 or 0 (off) or in [1, {}], got {k}", i32::MAX))),
                };
            }
            "seed" => {
                // Any 64-bit integer, as in vLLM; a negative one keeps its bits.
                req.seed = Some(match value.as_u64() {
                    Some(s) => s,
                    None => int(key, value)? as u64,
                });
            }
            "stop_token_ids" => {
                let Value::Array(items) = value else {
                    return Err(ApiError::bad_param(key, "stop_token_ids must be an array of token ids"));
                };
                req.stop_token_ids = items.iter().map(|t| token_id(key, t)).collect::<Result<_, _>>()?;
            }
            "ignore_eos" => req.ignore_eos = boolean(key, value)?,
            "stream" => req.stream = boolean(key, value)?,
            "stream_options" => stream_options = Some(value),
            "n" | "best_of" => {
                if uint(key, value)? != 1 {
                    return Err(ApiError::bad_param(key, format!("{key} must be 1: this server returns one choice per request")));
                }
            }
            "echo" => {
                if boolean(key, value)? {
                    return Err(ApiError::bad_param(key, "echo is not supported"));
                }
            }
            "logprobs" => {
                // `0` would still ask for the sampled token's log-probability.
                return Err(ApiError::bad_param(key, "logprobs is not supported by this server"));
            }
            "presence_penalty" | "frequency_penalty" => {
                if number(key, value)? != 0.0 {
                    return Err(ApiError::bad_param(key, format!("{key} is not supported (only 0)")));
                }
            }
            "repetition_penalty" => {
                if number(key, value)? != 1.0 {
                    return Err(ApiError::bad_param(key, "repetition_penalty is not supported (only 1)"));
                }
            }
            "stop" => {
                let empty = match value {
                    Value::String(s) => s.is_empty(),
                    Value::Array(a) => a.is_empty(),
                    _ => return Err(ApiError::bad_param(key, "stop must be a string or an array of strings")),
                };
                if !empty {
                    return Err(ApiError::bad_param(key, "stop strings are not supported; use stop_token_ids"));
                }
            }
            "logit_bias" => {
                if !value.as_object().is_some_and(Map::is_empty) {
                    return Err(ApiError::bad_param(key, "logit_bias is not supported"));
                }
            }
            "suffix" => {
                if !string(key, value)?.is_empty() {
                    return Err(ApiError::bad_param(key, "suffix is not supported"));
                }
            }
            // Accepted for compatibility; it has no effect here.
            "user" => {
                string(key, value)?;
            }
            other => return Err(ApiError::bad_param(other, format!("unknown or unsupported parameter `{other}`"))),
        }
    }
    req.prompt = prompt.ok_or_else(|| ApiError::bad_param("prompt", "prompt is required"))?;
    if let Some(so) = stream_options {
        let Value::Object(so) = so else {
            return Err(ApiError::bad_param("stream_options", "stream_options must be an object"));
        };
        if !req.stream {
            return Err(ApiError::bad_param("stream_options", "stream_options is only allowed with stream: true"));
        }
        for (k, v) in so {
            match k.as_str() {
                "include_usage" => req.include_usage = !v.is_null() && boolean("stream_options.include_usage", v)?,
                other => return Err(ApiError::bad_param("stream_options", format!("unknown stream option `{other}`"))),
            }
        }
    }
    Ok(req)
}

/// A string, an array of token ids, or a batch of exactly one of either (what client
/// libraries send when they wrap a single prompt in a list).
fn parse_prompt(v: &Value) -> Result<Prompt, ApiError> {
    const P: &str = "prompt";
    match v {
        Value::String(s) => Ok(Prompt::Text(s.clone())),
        Value::Array(items) if items.is_empty() => Err(ApiError::bad_param(P, "prompt is empty")),
        Value::Array(items) if items.iter().all(|i| i.is_number()) => Ok(Prompt::Ids(items.iter().map(|t| token_id(P, t)).collect::<Result<_, _>>()?)),
        Value::Array(items) if items.len() == 1 && (items[0].is_string() || items[0].is_array()) => match &items[0] {
            Value::Array(inner) if !inner.iter().all(|i| i.is_number()) => Err(ApiError::bad_param(P, "a token-id prompt must hold only integers")),
            inner => parse_prompt(inner),
        },
        Value::Array(items) if items.iter().all(|i| i.is_string() || i.is_array()) => Err(ApiError::bad_param(
            P,
            format!("batched prompts ({} in one request) are not supported: send one request per prompt", items.len()),
        )),
        _ => Err(ApiError::bad_param(P, "prompt must be a string, an array of token ids, or a list holding one of those")),
    }
}

fn token_id(key: &str, v: &Value) -> Result<u32, ApiError> {
    v.as_u64()
        .and_then(|t| u32::try_from(t).ok())
        .ok_or_else(|| ApiError::bad_param(key, format!("{key}: token ids must be integers in [0, 2^32), got {v}")))
}

fn string<'a>(key: &str, v: &'a Value) -> Result<&'a str, ApiError> {
    v.as_str().ok_or_else(|| ApiError::bad_param(key, format!("{key} must be a string, got {}", type_name(v))))
}

fn boolean(key: &str, v: &Value) -> Result<bool, ApiError> {
    v.as_bool().ok_or_else(|| ApiError::bad_param(key, format!("{key} must be a boolean, got {}", type_name(v))))
}

fn number(key: &str, v: &Value) -> Result<f64, ApiError> {
    v.as_f64().ok_or_else(|| ApiError::bad_param(key, format!("{key} must be a number, got {}", type_name(v))))
}

fn int(key: &str, v: &Value) -> Result<i64, ApiError> {
    v.as_i64().ok_or_else(|| ApiError::bad_param(key, format!("{key} must be an integer, got {}", describe(v))))
}

fn uint(key: &str, v: &Value) -> Result<u64, ApiError> {
    v.as_u64().ok_or_else(|| ApiError::bad_param(key, format!("{key} must be a non-negative integer, got {}", describe(v))))
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Numbers are shown (a client that sent `-3` or `2.5` sees why it is refused); other
/// values only by type, so a huge string is not echoed back.
fn describe(v: &Value) -> String {
    match v {
        Value::Number(n) => n.to_string(),
        other => type_name(other).to_string(),
    }
}

pub fn finish_reason(f: FinishReason) -> &'static str {
    match f {
        FinishReason::Length => "length",
        FinishReason::Stop => "stop",
    }
}

#[derive(Serialize, Debug, Clone, Copy)]
pub struct Usage {
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    pub total_tokens: usize,
}

impl Usage {
    pub fn new(prompt_tokens: usize, completion_tokens: usize) -> Usage {
        Usage { prompt_tokens, completion_tokens, total_tokens: prompt_tokens + completion_tokens }
    }
}

#[derive(Serialize, Debug)]
pub struct Choice {
    pub index: u32,
    pub text: String,
    pub logprobs: Option<()>,
    /// `None` in stream chunks before the last.
    pub finish_reason: Option<&'static str>,
    /// vLLM's extension: the generated ids (in a chunk, those of this chunk).
    pub token_ids: Vec<u32>,
}

/// The non-streaming response and every stream chunk: OpenAI uses one object type for both.
#[derive(Serialize, Debug)]
pub struct Completion {
    pub id: String,
    pub object: &'static str,
    pub created: u64,
    pub model: String,
    pub choices: Vec<Choice>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

impl Completion {
    pub fn new(id: &str, created: u64, model: &str, choices: Vec<Choice>, usage: Option<Usage>) -> Completion {
        Completion { id: id.to_string(), object: "text_completion", created, model: model.to_string(), choices, usage }
    }
}
