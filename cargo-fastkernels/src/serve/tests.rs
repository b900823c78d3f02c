//! The server over the CPU stand-in model (`HashRunner`), on loopback, through a real HTTP
//! client: outputs equal the model's reference, streams add up to the same, every kind of
//! bad request gets its 4xx (and the server keeps serving), busy gets 503, a client that
//! leaves mid-stream has its request aborted, many clients at once all get their own output,
//! and shutdown ends running streams and stops.

use super::*;
use fk_llm::engine::{Engine, HashRunner, RunnerLimits, ServiceOptions, StepRunner, StepSeqInput};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::mpsc;
use std::thread::JoinHandle;

const VOCAB: usize = 97;
const EOS: u32 = 3;
const MAX_MODEL_LEN: usize = 128;
const MODEL: &str = "hash-model";
const BODY_LIMIT: usize = 64 << 10;

struct Server {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<std::io::Result<()>>>,
    agent: ureq::Agent,
}

struct Opts {
    step_delay: Duration,
    max_inflight: usize,
    codec: Codec,
    grace: Duration,
    /// Run [`FailingRunner`] instead of the plain stand-in.
    poison: bool,
}

impl Default for Opts {
    fn default() -> Self {
        Opts { step_delay: Duration::ZERO, max_inflight: 256, codec: Codec::Ids, grace: Duration::from_secs(5), poison: false }
    }
}

const POISON: u32 = 66;

/// The stand-in model, except that a step that runs `POISON` fails, as a device fault would.
struct FailingRunner(HashRunner);

impl StepRunner for FailingRunner {
    fn limits(&self) -> RunnerLimits {
        self.0.limits()
    }

    fn execute(&mut self, seqs: &[StepSeqInput<'_>]) -> fk_runtime::Result<Vec<u32>> {
        if seqs.iter().any(|s| s.tokens.contains(&POISON)) {
            return Err(fk_runtime::Error::config("injected device fault"));
        }
        self.0.execute(seqs)
    }

    fn release(&mut self, id: fk_llm::SeqId) {
        self.0.release(id)
    }

    fn describe(&self) -> String {
        "FailingRunner".into()
    }
}

fn start(o: Opts) -> Server {
    let limits = RunnerLimits { num_blocks: 512, block_size: 4, max_model_len: MAX_MODEL_LEN, max_num_seqs: 16, max_batched_tokens: 64, vocab_size: VOCAB };
    let delay = o.step_delay;
    let make = move || {
        let mut r = HashRunner::new(limits);
        r.step_delay = delay;
        r
    };
    let opts = ServiceOptions { max_inflight: o.max_inflight };
    let service = if o.poison {
        EngineService::spawn(MODEL.into(), vec![EOS], opts, move || Engine::new(FailingRunner(make())))
    } else {
        EngineService::spawn(MODEL.into(), vec![EOS], opts, move || Engine::new(make()))
    }
    .expect("engine");
    let mut config = ServerConfig::for_engine(service.info());
    config.max_body_bytes = BODY_LIMIT;
    config.shutdown_grace = o.grace;
    let state = ServerState::new(Arc::new(service), o.codec, config);
    let (addr_tx, addr_rx) = mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
        rt.block_on(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let _ = addr_tx.send(listener.local_addr()?);
            run(listener, state, async move {
                let _ = stop_rx.await;
            })
            .await
        })
    });
    let addr = addr_rx.recv_timeout(Duration::from_secs(10)).expect("the server did not start");
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(Duration::from_secs(60))).build().into();
    Server { addr, stop: Some(stop_tx), thread: Some(thread), agent }
}

impl Server {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn post_raw(&self, path: &str, body: impl Into<Vec<u8>>) -> (u16, Value) {
        let mut r = self.agent.post(self.url(path)).header("content-type", "application/json").send(body.into()).expect("request");
        let status = r.status().as_u16();
        let text = r.body_mut().read_to_string().expect("body");
        (status, serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}")))
    }

    fn post(&self, body: &Value) -> (u16, Value) {
        self.post_raw("/v1/completions", body.to_string())
    }

    fn get(&self, path: &str) -> (u16, Value) {
        let mut r = self.agent.get(self.url(path)).call().expect("request");
        let status = r.status().as_u16();
        let text = r.body_mut().read_to_string().expect("body");
        (status, serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}")))
    }

    /// A streaming request: its events one by one (`None` once the stream ends).
    fn stream(&self, body: &Value) -> SseReader {
        let r = self.agent.post(self.url("/v1/completions")).header("content-type", "application/json").send(body.to_string()).expect("request");
        assert_eq!(r.status().as_u16(), 200);
        let ct = r.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        assert!(ct.starts_with("text/event-stream"), "content-type {ct}");
        SseReader { lines: Box::new(BufReader::new(r.into_body().into_reader())) }
    }

    fn inflight(&self) -> u64 {
        let (status, v) = self.get("/health");
        assert_eq!(status, 200, "{v}");
        v["inflight"].as_u64().expect("inflight")
    }

    fn wait_idle(&self, within: Duration) {
        let deadline = Instant::now() + within;
        while self.inflight() > 0 {
            assert!(Instant::now() < deadline, "requests still in flight after {within:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn shutdown(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let t = self.thread.take().expect("running");
        t.join().expect("the server thread panicked").expect("the server failed");
    }
}

struct SseReader {
    lines: Box<dyn BufRead>,
}

impl SseReader {
    /// The next `data:` payload; `None` at the end of the body.
    fn next_data(&mut self) -> Option<String> {
        loop {
            let mut line = String::new();
            if self.lines.read_line(&mut line).ok()? == 0 {
                return None;
            }
            if let Some(d) = line.trim_end().strip_prefix("data: ") {
                return Some(d.to_string());
            }
        }
    }

    /// Every JSON event up to `[DONE]`, which must come last.
    fn all(mut self) -> Vec<Value> {
        let mut events = Vec::new();
        loop {
            let d = self.next_data().expect("the stream ended without [DONE]");
            if d == "[DONE]" {
                assert!(self.next_data().is_none(), "data after [DONE]");
                return events;
            }
            events.push(serde_json::from_str(&d).unwrap_or_else(|e| panic!("bad chunk ({e}): {d}")));
        }
    }
}

fn ids(v: &Value) -> Vec<u32> {
    v.as_array().expect("ids").iter().map(|t| t.as_u64().expect("id") as u32).collect()
}

fn reference(prompt: &[u32], n: usize, ignore_eos: bool) -> Vec<u32> {
    HashRunner::reference(prompt, n, VOCAB, if ignore_eos { &[] } else { &[EOS] })
}

/// The reference's text without a tokenizer: ids joined by commas, less a final stop token.
fn id_text(out: &[u32], stopped: bool) -> String {
    let shown = if stopped { &out[..out.len() - 1] } else { out };
    shown.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(",")
}

/// A prompt whose greedy continuation reaches EOS within `n` tokens, and one that does not.
fn prompts_with_and_without_eos(n: usize) -> (Vec<u32>, Vec<u32>) {
    let mut with = None;
    let mut without = None;
    for a in 0..VOCAB as u32 {
        let p = vec![a, 7, 11];
        let out = reference(&p, n, false);
        match out.last() == Some(&EOS) {
            true if with.is_none() => with = Some(p),
            false if without.is_none() => without = Some(p),
            _ => {}
        }
    }
    (with.expect("some prompt reaches EOS"), without.expect("some prompt does not"))
}

#[test]
fn completions_match_the_model_and_streams_add_up_to_the_same() {
    let s = start(Opts::default());
    let (stops, runs) = prompts_with_and_without_eos(40);
    for (prompt, ignore_eos) in [(&stops, false), (&stops, true), (&runs, false)] {
        let want = reference(prompt, 40, ignore_eos);
        let stopped = want.len() < 40;
        let body = json!({"model": MODEL, "prompt": prompt, "max_tokens": 40, "temperature": 0, "ignore_eos": ignore_eos});
        let (status, v) = s.post(&body);
        assert_eq!(status, 200, "{v}");
        assert_eq!(v["object"], "text_completion");
        assert_eq!(v["model"], MODEL);
        assert!(v["id"].as_str().is_some_and(|i| i.starts_with("cmpl-")));
        let c = &v["choices"][0];
        assert_eq!(ids(&c["token_ids"]), want);
        assert_eq!(c["text"], id_text(&want, stopped));
        assert_eq!(c["finish_reason"], if stopped { "stop" } else { "length" });
        assert_eq!(v["usage"], json!({"prompt_tokens": 3, "completion_tokens": want.len(), "total_tokens": 3 + want.len()}));

        let mut streamed = body.clone();
        streamed["stream"] = json!(true);
        streamed["stream_options"] = json!({"include_usage": true});
        let events = s.stream(&streamed).all();
        let (usage, chunks) = events.split_last().expect("chunks");
        assert_eq!(usage["usage"], v["usage"]);
        assert_eq!(usage["choices"], json!([]));
        let tokens: Vec<u32> = chunks.iter().flat_map(|e| ids(&e["choices"][0]["token_ids"])).collect();
        let text: String = chunks.iter().map(|e| e["choices"][0]["text"].as_str().expect("text")).collect();
        assert_eq!(tokens, want);
        assert_eq!(text, c["text"]);
        assert!(chunks.iter().all(|e| e["object"] == "text_completion" && e["id"] == chunks[0]["id"]));
        let (last, rest) = chunks.split_last().expect("chunks");
        assert_eq!(last["choices"][0]["finish_reason"], c["finish_reason"]);
        assert!(rest.iter().all(|e| e["choices"][0]["finish_reason"].is_null()));
    }
    // The defaults: 16 tokens; `model` may be left out; a one-prompt batch is a prompt.
    let (status, v) = s.post(&json!({"prompt": [[5, 6]], "temperature": 0.0, "ignore_eos": true}));
    assert_eq!(status, 200, "{v}");
    assert_eq!(ids(&v["choices"][0]["token_ids"]), reference(&[5, 6], 16, true));
    // stop_token_ids stop even with ignore_eos, as in vLLM.
    let want = reference(&[9, 9], 30, true);
    let stop_at = want[5];
    let cut = want.iter().position(|&t| t == stop_at).expect("present") + 1;
    let (status, v) = s.post(&json!({"prompt": [9, 9], "max_tokens": 30, "temperature": 0, "ignore_eos": true, "stop_token_ids": [stop_at]}));
    assert_eq!(status, 200, "{v}");
    assert_eq!(ids(&v["choices"][0]["token_ids"]), want[..cut]);
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    s.shutdown();
}

#[test]
fn sampling_follows_the_seed() {
    let s = start(Opts::default());
    let run = |seed: u64| {
        let (status, v) = s.post(&json!({"prompt": [1, 2, 3], "max_tokens": 20, "temperature": 0.9, "top_p": 0.95, "top_k": 40, "seed": seed, "ignore_eos": true}));
        assert_eq!(status, 200, "{v}");
        ids(&v["choices"][0]["token_ids"])
    };
    assert_eq!(run(7), run(7));
    assert_ne!(run(7), run(8));
    assert_ne!(run(7), reference(&[1, 2, 3], 20, true));
    s.shutdown();
}

/// A word-level tokenizer over the stand-in model's vocabulary: "w0" … "w96", split on
/// whitespace, decoded by joining with spaces.
fn word_tokenizer_dir() -> PathBuf {
    use tokenizers::models::wordlevel::WordLevel;
    use tokenizers::pre_tokenizers::whitespace::Whitespace;
    let model = WordLevel::builder().vocab((0..VOCAB as u32).map(|i| (format!("w{i}"), i)).collect()).unk_token("w0".into()).build().expect("wordlevel");
    let mut tok = tokenizers::Tokenizer::new(model);
    tok.with_pre_tokenizer(Some(Whitespace {}));
    let dir = std::env::temp_dir().join(format!("fk-serve-tokenizer-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    tok.save(dir.join("tokenizer.json"), false).expect("save tokenizer.json");
    dir
}

#[test]
fn text_prompts_and_text_output_with_a_tokenizer() {
    let dir = word_tokenizer_dir();
    let codec = Codec::load(&dir).expect("load tokenizer.json");
    assert!(codec.has_tokenizer());
    let s = start(Opts { codec, ..Opts::default() });
    let (stops, _) = prompts_with_and_without_eos(40);
    let text_prompt = stops.iter().map(|t| format!("w{t}")).collect::<Vec<_>>().join(" ");
    let want = reference(&stops, 40, false);
    assert_eq!(want.last(), Some(&EOS));
    // A completion continues the prompt's text, so it starts with the separator; the stop
    // token's text is left out.
    let want_text: String = want[..want.len() - 1].iter().map(|t| format!(" w{t}")).collect();
    let body = json!({"prompt": text_prompt, "max_tokens": 40, "temperature": 0});
    let (status, v) = s.post(&body);
    assert_eq!(status, 200, "{v}");
    assert_eq!(ids(&v["choices"][0]["token_ids"]), want);
    assert_eq!(v["choices"][0]["text"], want_text);
    assert_eq!(v["usage"]["prompt_tokens"], stops.len());
    let mut streamed = body.clone();
    streamed["stream"] = json!(true);
    let chunks = s.stream(&streamed).all();
    let text: String = chunks.iter().map(|e| e["choices"][0]["text"].as_str().expect("text")).collect();
    assert_eq!(text, want_text);
    // Token-id prompts still work, and decode the same.
    let (status, v) = s.post(&json!({"prompt": stops, "max_tokens": 40, "temperature": 0}));
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["choices"][0]["text"], want_text);
    s.shutdown();
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn bad_requests_get_4xx_with_openai_errors_and_the_server_keeps_serving() {
    let s = start(Opts::default());
    let ok = json!({"prompt": [1, 2], "max_tokens": 4, "temperature": 0, "ignore_eos": true});
    let good = reference(&[1, 2], 4, true);
    let check_ok = |what: &str| {
        let (status, v) = s.post(&ok);
        assert_eq!(status, 200, "after {what}: {v}");
        assert_eq!(ids(&v["choices"][0]["token_ids"]), good, "after {what}");
    };
    let with = |k: &str, val: Value| {
        let mut b = ok.clone();
        b[k] = val;
        b.to_string()
    };
    let huge = format!(r#"{{"prompt": [1], "pad": "{}"}}"#, "x".repeat(BODY_LIMIT * 3));
    let cases: Vec<(&str, String, u16, Option<&str>)> = vec![
        ("malformed JSON", r#"{"prompt": [1, 2"#.into(), 400, None),
        ("not an object", "[1, 2]".into(), 400, None),
        ("empty body", String::new(), 400, None),
        ("no prompt", json!({"max_tokens": 3}).to_string(), 400, Some("prompt")),
        ("empty prompt", with("prompt", json!([])), 400, Some("prompt")),
        ("prompt of the wrong type", with("prompt", json!({"a": 1})), 400, Some("prompt")),
        ("negative token id", with("prompt", json!([1, -2])), 400, Some("prompt")),
        ("fractional token id", with("prompt", json!([1.5])), 400, Some("prompt")),
        ("token id outside the vocabulary", with("prompt", json!([1, VOCAB])), 400, Some("prompt")),
        ("two prompts", with("prompt", json!([[1], [2]])), 400, Some("prompt")),
        ("string prompt without a tokenizer", with("prompt", json!("hello")), 400, Some("prompt")),
        ("max_tokens as a string", with("max_tokens", json!("ten")), 400, Some("max_tokens")),
        ("max_tokens 0", with("max_tokens", json!(0)), 400, Some("max_tokens")),
        ("max_tokens negative", with("max_tokens", json!(-1)), 400, Some("max_tokens")),
        ("prompt + max_tokens over the context", with("max_tokens", json!(MAX_MODEL_LEN)), 400, Some("max_tokens")),
        ("oversize prompt", with("prompt", json!(vec![1; MAX_MODEL_LEN + 1])), 400, Some("max_tokens")),
        ("temperature < 0", with("temperature", json!(-0.5)), 400, Some("temperature")),
        ("temperature as a string", with("temperature", json!("hot")), 400, Some("temperature")),
        ("top_p 0", with("top_p", json!(0.0)), 400, Some("top_p")),
        ("top_p > 1", with("top_p", json!(1.5)), 400, Some("top_p")),
        ("top_k -2", with("top_k", json!(-2)), 400, Some("top_k")),
        ("n 2", with("n", json!(2)), 400, Some("n")),
        ("logprobs", with("logprobs", json!(1)), 400, Some("logprobs")),
        ("echo", with("echo", json!(true)), 400, Some("echo")),
        ("stop strings", with("stop", json!(["\n"])), 400, Some("stop")),
        ("stream as a string", with("stream", json!("yes")), 400, Some("stream")),
        ("stream_options without stream", with("stream_options", json!({"include_usage": true})), 400, Some("stream_options")),
        ("stop token outside the vocabulary", with("stop_token_ids", json!([VOCAB + 5])), 400, Some("stop_token_ids")),
        ("unknown parameter", with("temprature", json!(0.5)), 400, Some("temprature")),
        ("unknown model", with("model", json!("gpt-4")), 404, Some("model")),
        ("body over the limit", huge, 413, None),
    ];
    for (what, body, status, param) in cases {
        let (got, v) = s.post_raw("/v1/completions", body);
        assert_eq!(got, status, "{what}: {v}");
        let e = &v["error"];
        assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{what}: {v}");
        assert!(e["type"].is_string(), "{what}: {v}");
        if let Some(p) = param {
            assert_eq!(e["param"], p, "{what}: {v}");
        }
        check_ok(what);
    }
    // Neutral values of unsupported features, and nulls, are accepted.
    let mut lenient = ok.clone();
    for (k, v) in [("n", json!(1)), ("echo", json!(false)), ("logprobs", Value::Null), ("presence_penalty", json!(0)), ("stop", json!([])), ("user", json!("u")), ("seed", Value::Null), ("top_k", json!(-1))] {
        lenient[k] = v;
    }
    let (status, v) = s.post(&lenient);
    assert_eq!(status, 200, "{v}");
    // Routes and methods.
    let (status, v) = s.get("/v1/nope");
    assert_eq!((status, v["error"]["code"].as_str()), (404, Some("not_found")));
    let (status, v) = s.get("/v1/completions");
    assert_eq!(status, 405, "{v}");
    check_ok("wrong routes");
    s.shutdown();
}

#[test]
fn health_and_models() {
    let s = start(Opts::default());
    let (status, v) = s.get("/health");
    assert_eq!(status, 200);
    assert_eq!((v["status"].as_str(), v["inflight"].as_u64(), v["model"].as_str()), (Some("ok"), Some(0), Some(MODEL)));
    let (status, v) = s.get("/v1/models");
    assert_eq!(status, 200);
    assert_eq!(v["object"], "list");
    let m = &v["data"][0];
    assert_eq!((m["id"].as_str(), m["object"].as_str(), m["max_model_len"].as_u64()), (Some(MODEL), Some("model"), Some(MAX_MODEL_LEN as u64)));
    assert_eq!(v["data"].as_array().map(Vec::len), Some(1));
    s.shutdown();
}

#[test]
fn an_engine_failure_is_a_500_and_turns_health_unhealthy() {
    let s = start(Opts { poison: true, ..Opts::default() });
    let ok = json!({"prompt": [1, 2], "max_tokens": 4, "temperature": 0});
    assert_eq!(s.post(&ok).0, 200);
    let (status, v) = s.post(&json!({"prompt": [1, POISON], "max_tokens": 4}));
    assert_eq!(status, 500, "{v}");
    assert_eq!(v["error"]["type"], "server_error");
    assert!(v["error"]["message"].as_str().is_some_and(|m| m.contains("injected device fault")), "{v}");
    let (status, v) = s.get("/health");
    assert_eq!((status, v["status"].as_str()), (500, Some("engine_failed")), "{v}");
    // The engine refuses to go on (its cache no longer matches its books), and says so; the
    // HTTP side still answers.
    let (status, v) = s.post(&ok);
    assert_eq!(status, 500, "{v}");
    let mut streamed = ok.clone();
    streamed["stream"] = json!(true);
    let events = s.stream(&streamed).all();
    assert!(events.last().is_some_and(|e| e["error"]["type"] == "server_error"), "{events:?}");
    assert_eq!(s.get("/v1/models").0, 200);
    s.shutdown();
}

#[test]
fn a_busy_engine_answers_503_and_recovers() {
    let s = start(Opts { step_delay: Duration::from_millis(20), max_inflight: 2, ..Opts::default() });
    let long = json!({"prompt": [1, 2], "max_tokens": 100, "temperature": 0, "ignore_eos": true, "stream": true});
    let mut a = s.stream(&long);
    let mut b = s.stream(&long);
    assert!(a.next_data().is_some() && b.next_data().is_some());
    let (status, v) = s.post(&json!({"prompt": [1], "max_tokens": 1}));
    assert_eq!(status, 503, "{v}");
    assert_eq!(v["error"]["code"], "engine_busy");
    drop((a, b));
    s.wait_idle(Duration::from_secs(10));
    let (status, v) = s.post(&json!({"prompt": [1], "max_tokens": 3, "temperature": 0}));
    assert_eq!(status, 200, "{v}");
    s.shutdown();
}

#[test]
fn a_client_that_disconnects_has_its_request_aborted() {
    // 100 tokens at 50 ms a step would take 5 s; an aborted request is gone far sooner.
    let s = start(Opts { step_delay: Duration::from_millis(50), ..Opts::default() });
    let long = json!({"prompt": [4, 5], "max_tokens": 100, "temperature": 0, "ignore_eos": true});
    let mut streamed = long.clone();
    streamed["stream"] = json!(true);
    let mut r = s.stream(&streamed);
    assert!(r.next_data().is_some());
    assert_eq!(s.inflight(), 1);
    let t = Instant::now();
    drop(r);
    s.wait_idle(Duration::from_secs(3));
    assert!(t.elapsed() < Duration::from_secs(3));
    // The same for a non-streaming request whose client gives up waiting.
    let impatient: ureq::Agent = ureq::Agent::config_builder().timeout_global(Some(Duration::from_millis(300))).build().into();
    let t = Instant::now();
    let res = impatient.post(s.url("/v1/completions")).send(long.to_string());
    assert!(res.is_err(), "the request should have timed out");
    s.wait_idle(Duration::from_secs(3));
    assert!(t.elapsed() < Duration::from_secs(4));
    s.shutdown();
}

#[test]
fn many_clients_at_once_each_get_their_own_output() {
    let s = start(Opts::default());
    let url = s.url("/v1/completions");
    let threads: Vec<_> = (0..32u32)
        .map(|i| {
            let agent = s.agent.clone();
            let url = url.clone();
            std::thread::spawn(move || {
                for j in 0..3u32 {
                    let prompt: Vec<u32> = (0..(1 + (i + j) % 20)).map(|k| (i * 31 + j * 7 + k * 3) % VOCAB as u32).collect();
                    let n = 1 + ((i * 5 + j) % 40) as usize;
                    let want = reference(&prompt, n, false);
                    let stream = (i + j) % 2 == 0;
                    let body = json!({"prompt": prompt, "max_tokens": n, "temperature": 0, "stream": stream});
                    let mut r = agent.post(&url).send(body.to_string()).expect("request");
                    assert_eq!(r.status().as_u16(), 200);
                    let got = if stream {
                        let events = SseReader { lines: Box::new(BufReader::new(r.into_body().into_reader())) }.all();
                        events.iter().flat_map(|e| ids(&e["choices"][0]["token_ids"])).collect::<Vec<_>>()
                    } else {
                        let v: Value = serde_json::from_str(&r.body_mut().read_to_string().expect("body")).expect("json");
                        ids(&v["choices"][0]["token_ids"])
                    };
                    assert_eq!(got, want, "client {i} request {j}");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("a client failed");
    }
    s.wait_idle(Duration::from_secs(5));
    s.shutdown();
}

#[test]
fn shutdown_lets_short_requests_finish_and_ends_long_ones() {
    // A request that finishes within the grace period completes normally.
    let s = start(Opts { step_delay: Duration::from_millis(10), grace: Duration::from_secs(10), ..Opts::default() });
    let mut short = s.stream(&json!({"prompt": [2], "max_tokens": 20, "temperature": 0, "ignore_eos": true, "stream": true}));
    assert!(short.next_data().is_some());
    let addr = s.addr;
    s.shutdown();
    let mut tokens = 1;
    let mut last = None;
    while let Some(d) = short.next_data() {
        if d != "[DONE]" {
            tokens += 1;
            last = Some(d);
        }
    }
    assert_eq!(tokens, 20, "{last:?}");
    assert!(std::net::TcpStream::connect(addr).is_err(), "the server still accepts connections");

    // One that cannot finish in time is ended with an error event, and the server stops.
    let s = start(Opts { step_delay: Duration::from_millis(50), grace: Duration::from_millis(200), ..Opts::default() });
    let mut long = s.stream(&json!({"prompt": [2], "max_tokens": 100, "temperature": 0, "ignore_eos": true, "stream": true}));
    assert!(long.next_data().is_some());
    let t = Instant::now();
    s.shutdown();
    assert!(t.elapsed() < Duration::from_secs(5));
    let rest: Vec<String> = std::iter::from_fn(|| long.next_data()).collect();
    assert_eq!(rest.last().map(String::as_str), Some("[DONE]"));
    let err: Value = serde_json::from_str(&rest[rest.len() - 2]).expect("json");
    assert!(err["error"]["message"].as_str().is_some_and(|m| m.contains("shutting down")), "{err}");
}
