//! [`EmbedEngine`]: a queue of checked requests, run in batches the batcher plans, results
//! handed back in submission order with per-request latencies.

use super::{plan_batches, BatchPolicy, EmbedInput, Embedding, Encoder, Launched, PIPELINE_SLOTS};
use crate::{Error, Result};
use std::sync::mpsc;
use std::time::Instant;

/// What one [`EmbedEngine::run`] did.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct EmbedStats {
    pub requests: usize,
    pub batches: usize,
    /// Real tokens (text) or images.
    pub items: usize,
    /// Text: `Σ count × longest` over batches (what the batches were sized for).
    pub padded_tokens: usize,
    /// From the start of the run to the end of the last batch.
    pub wall_s: f64,
    /// Per request, in submission order: from the start of the run to the end of its batch
    /// (every request is queued when the run starts, as in an offline embedding job).
    pub latencies_s: Vec<f64>,
    /// Where the run's host time went, phase by phase (sums over batches, seconds):
    /// `prepare` (check and pack a batch), `launch` (upload and enqueue its kernels),
    /// `collect` (wait for a batch's results, copy and convert them: on the collector thread
    /// for a pipelined encoder), `wait` (the engine's thread waiting for the collector),
    /// `finish` (hand results to their requests).
    pub host: HostPhases,
}

/// Host seconds per phase of an [`EmbedEngine::run`] (see [`EmbedStats::host`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct HostPhases {
    pub prepare_s: f64,
    pub launch_s: f64,
    pub collect_s: f64,
    pub wait_s: f64,
    pub finish_s: f64,
}

impl HostPhases {
    pub fn add(&mut self, o: &HostPhases) {
        self.prepare_s += o.prepare_s;
        self.launch_s += o.launch_s;
        self.collect_s += o.collect_s;
        self.wait_s += o.wait_s;
        self.finish_s += o.finish_s;
    }
}

/// Seconds `f` took, added to `acc`.
fn timed<T>(acc: &mut f64, f: impl FnOnce() -> T) -> T {
    let t = Instant::now();
    let r = f();
    *acc += t.elapsed().as_secs_f64();
    r
}

pub struct EmbedEngine<E: Encoder> {
    pub encoder: E,
    pub policy: BatchPolicy,
    queue: Vec<(u64, EmbedInput)>,
    next_id: u64,
}

impl<E: Encoder> EmbedEngine<E> {
    /// A token budget below the model's positions is allowed (a batch-1 workload of short
    /// texts needs no 8K budget); a request over the budget is refused at submit.
    pub fn new(encoder: E, policy: BatchPolicy) -> Result<EmbedEngine<E>> {
        policy.check()?;
        Ok(EmbedEngine { encoder, policy, queue: Vec::new(), next_id: 0 })
    }

    /// Queue `input` after checking it against the model; the id orders the results.
    pub fn submit(&mut self, input: EmbedInput) -> Result<u64> {
        let m = self.encoder.modality();
        if input.modality() != m {
            return Err(Error::bad_input("embed", format!("the request is {}, the encoder takes {m}", input.modality())));
        }
        input.check_shape()?;
        if let (EmbedInput::Text { input_ids, .. }, Some(max)) = (&input, self.encoder.max_len()) {
            if input_ids.len() > max {
                return Err(Error::bad_input("embed", format!("{} tokens exceed the model's {max} positions", input_ids.len())));
            }
        }
        if let EmbedInput::Text { input_ids, .. } = &input {
            if input_ids.len() > self.policy.max_batched_tokens {
                return Err(Error::bad_input("embed", format!("{} tokens exceed the batch token budget max_batched_tokens = {}", input_ids.len(), self.policy.max_batched_tokens)));
            }
        }
        self.encoder.check(&input)?;
        let id = self.next_id;
        self.next_id += 1;
        self.queue.push((id, input));
        Ok(id)
    }

    pub fn pending(&self) -> usize {
        self.queue.len()
    }

    /// Run everything queued; `(id, embedding)` in submission order. On an error the queue
    /// is emptied (the requests of a failed run are not retried behind the caller's back).
    pub fn run(&mut self) -> Result<(Vec<(u64, Embedding)>, EmbedStats)> {
        let queue = std::mem::take(&mut self.queue);
        let inputs: Vec<&EmbedInput> = queue.iter().map(|(_, x)| x).collect();
        let plan = plan_batches(&inputs, &self.policy)?;
        let start = Instant::now();
        let mut out: Vec<Option<Embedding>> = vec![None; queue.len()];
        let mut stats = EmbedStats { requests: queue.len(), batches: plan.len(), latencies_s: vec![0.0; queue.len()], ..Default::default() };
        let members = |batch: &[usize]| -> Vec<&EmbedInput> { batch.iter().map(|&i| inputs[i]).collect() };
        // A finished batch: its embeddings to their requests, its time to their latencies.
        let mut finish = |batch: &[usize], embeddings: Vec<Embedding>| -> Result<()> {
            if embeddings.len() != batch.len() {
                return Err(Error::shape("embed", format!("the encoder returned {} embeddings for a batch of {}", embeddings.len(), batch.len())));
            }
            let done = start.elapsed().as_secs_f64();
            let m = members(batch);
            let longest = m.iter().map(|x| x.len()).max().unwrap_or(0);
            match m[0] {
                EmbedInput::Text { .. } => {
                    stats.items += m.iter().map(|x| x.len()).sum::<usize>();
                    stats.padded_tokens += batch.len() * longest;
                }
                EmbedInput::Image { .. } => stats.items += batch.len(),
            }
            for (&i, e) in batch.iter().zip(embeddings) {
                out[i] = Some(e);
                stats.latencies_s[i] = done;
            }
            Ok(())
        };
        let mut host = HostPhases::default();
        match self.encoder.pipelined() {
            None => {
                for batch in &plan {
                    let e = timed(&mut host.collect_s, || self.encoder.embed_batch(&members(batch)))?;
                    timed(&mut host.finish_s, || finish(batch, e))?;
                }
            }
            Some(p) if plan.len() == 1 => {
                // One batch has nothing to overlap with: no collector thread, whose hand-offs
                // would only add latency (run 32: batch-1 ColBERTv2 1.6 vs 1.2 ms per request).
                let m = members(&plan[0]);
                timed(&mut host.prepare_s, || p.prepare(0, &m))?;
                let launched = timed(&mut host.launch_s, || p.launch(0, &m))?;
                let e = timed(&mut host.collect_s, launched)?;
                timed(&mut host.finish_s, || finish(&plan[0], e))?;
            }
            Some(p) => {
                // This thread prepares and launches batch k while a collector thread waits
                // for and converts batch k-1 (and the GPU runs it): see PipelinedEncoder.
                // Results come back in launch order; slot k % PIPELINE_SLOTS is reused only
                // once the batch launched from it PIPELINE_SLOTS batches ago is back.
                std::thread::scope(|scope| -> Result<()> {
                    let (jobs_tx, jobs_rx) = mpsc::channel::<Launched<'_>>();
                    let (done_tx, done_rx) = mpsc::channel::<(f64, Result<Vec<Embedding>>)>();
                    scope.spawn(move || {
                        for job in jobs_rx {
                            let t = Instant::now();
                            let r = job();
                            let failed = r.is_err();
                            if done_tx.send((t.elapsed().as_secs_f64(), r)).is_err() || failed {
                                break;
                            }
                        }
                    });
                    let mut back = 0;
                    let mut receive = |back: &mut usize, host: &mut HostPhases| -> Result<()> {
                        let t = Instant::now();
                        let (secs, r) = done_rx.recv().map_err(|_| Error::bad_input("embed", "the collector thread stopped"))?;
                        host.wait_s += t.elapsed().as_secs_f64();
                        host.collect_s += secs;
                        let e = r?;
                        let b = &plan[*back];
                        timed(&mut host.finish_s, || finish(b, e))?;
                        *back += 1;
                        Ok(())
                    };
                    for (k, batch) in plan.iter().enumerate() {
                        while back + PIPELINE_SLOTS <= k {
                            receive(&mut back, &mut host)?;
                        }
                        let m = members(batch);
                        timed(&mut host.prepare_s, || p.prepare(k % PIPELINE_SLOTS, &m))?;
                        let launched = timed(&mut host.launch_s, || p.launch(k % PIPELINE_SLOTS, &m))?;
                        jobs_tx.send(launched).map_err(|_| Error::bad_input("embed", "the collector thread stopped"))?;
                    }
                    drop(jobs_tx);
                    while back < plan.len() {
                        receive(&mut back, &mut host)?;
                    }
                    Ok(())
                })?;
            }
        }
        stats.host = host;
        stats.wall_s = start.elapsed().as_secs_f64();
        let results = queue.iter().zip(out).map(|((id, _), e)| (*id, e.expect("the plan covers every request"))).collect();
        Ok((results, stats))
    }

    /// Queue all of `inputs` or none: the first bad one is an error naming its index, and
    /// nothing is queued. Only into an empty queue (so indices are the requests' ids).
    pub fn submit_all(&mut self, inputs: impl IntoIterator<Item = EmbedInput>) -> Result<()> {
        if !self.queue.is_empty() {
            return Err(Error::bad_input("embed", format!("{} requests are already queued: run them first", self.queue.len())));
        }
        for (i, x) in inputs.into_iter().enumerate() {
            if let Err(e) = self.submit(x) {
                self.queue.clear();
                return Err(Error::bad_input("embed", format!("request {i}: {e}")));
            }
        }
        Ok(())
    }

    /// Queue `inputs`, run them, return their embeddings in order.
    pub fn embed(&mut self, inputs: Vec<EmbedInput>) -> Result<Vec<Embedding>> {
        self.submit_all(inputs)?;
        Ok(self.run()?.0.into_iter().map(|(_, e)| e).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embed::{Modality, PipelinedEncoder};
    use std::sync::Mutex;

    /// A stand-in text encoder: the pooled vector is a hash of the sequence alone (so a
    /// batch gives each request exactly what it gets alone only if the engine keeps the
    /// rows straight), tokens are `id·10` per token; it records the batches it saw.
    struct Fake {
        vocab: u32,
        seen: Mutex<Vec<Vec<usize>>>,
    }

    impl Encoder for Fake {
        fn modality(&self) -> Modality {
            Modality::Text
        }
        fn max_len(&self) -> Option<usize> {
            Some(512)
        }
        fn check(&self, input: &EmbedInput) -> Result<()> {
            match input {
                EmbedInput::Text { input_ids, .. } => match input_ids.iter().find(|&&id| id >= self.vocab) {
                    Some(id) => Err(Error::bad_input("Fake", format!("id {id} out of range"))),
                    None => Ok(()),
                },
                _ => unreachable!("the engine checks the modality first"),
            }
        }
        fn embed_batch(&self, inputs: &[&EmbedInput]) -> Result<Vec<Embedding>> {
            self.seen.lock().unwrap().push(inputs.iter().map(|x| x.len()).collect());
            Ok(inputs
                .iter()
                .map(|x| match x {
                    EmbedInput::Text { input_ids, .. } => Embedding {
                        pooled: Some(vec![input_ids.iter().fold(17u64, |h, &i| h.wrapping_mul(31).wrapping_add(i as u64)) as f32, input_ids.len() as f32]),
                        tokens: Some(input_ids.iter().map(|&i| i as f32 * 10.0).collect()),
                        token_dim: 1,
                    },
                    _ => unreachable!(),
                })
                .collect())
        }
    }

    /// A pipelined stand-in: the same embeddings as `Fake`, and a log of the calls, with
    /// each slot's state checked (prepared before launch; not prepared again while the batch
    /// launched from it is still uncollected). Collects run on the engine's collector thread.
    struct Piped {
        inner: Fake,
        log: Mutex<Vec<String>>,
        /// Per slot: the batch staged there, and whether its launch is still uncollected.
        slots: Mutex<[(Option<Vec<usize>>, bool); PIPELINE_SLOTS]>,
    }

    impl Encoder for Piped {
        fn modality(&self) -> Modality {
            Modality::Text
        }
        fn max_len(&self) -> Option<usize> {
            self.inner.max_len()
        }
        fn check(&self, input: &EmbedInput) -> Result<()> {
            self.inner.check(input)
        }
        fn embed_batch(&self, _: &[&EmbedInput]) -> Result<Vec<Embedding>> {
            panic!("a pipelined encoder is run through prepare/launch")
        }
        fn pipelined(&self) -> Option<&dyn PipelinedEncoder> {
            Some(self)
        }
    }

    impl PipelinedEncoder for Piped {
        fn prepare(&self, slot: usize, inputs: &[&EmbedInput]) -> Result<()> {
            let mut slots = self.slots.lock().unwrap();
            assert!(!slots[slot].1, "slot {slot} prepared while its launched batch is uncollected");
            slots[slot].0 = Some(inputs.iter().map(|x| x.len()).collect());
            self.log.lock().unwrap().push(format!("prepare {slot}"));
            Ok(())
        }
        fn launch<'a>(&'a self, slot: usize, inputs: &[&EmbedInput]) -> Result<Launched<'a>> {
            let lens: Vec<usize> = inputs.iter().map(|x| x.len()).collect();
            let mut slots = self.slots.lock().unwrap();
            assert_eq!(slots[slot].0.as_ref(), Some(&lens), "launch of another batch than slot {slot} holds");
            slots[slot].1 = true;
            self.log.lock().unwrap().push(format!("launch {slot}"));
            let result = self.inner.embed_batch(inputs);
            Ok(Box::new(move || {
                self.slots.lock().unwrap()[slot].1 = false;
                self.log.lock().unwrap().push(format!("collect {slot}"));
                result
            }))
        }
    }

    #[test]
    fn pipelined_encoders_overlap_prepare_with_the_previous_batch_and_give_the_same_results() {
        let mut rng = crate::rng::Rng::new(5);
        let inputs: Vec<EmbedInput> = (0..300).map(|_| EmbedInput::text((0..rng.range(1, 300)).map(|_| rng.range(0, 1000) as u32).collect())).collect();
        let policy = BatchPolicy { max_batch: 16, max_batched_tokens: 2048 };
        let piped = Piped { inner: Fake { vocab: 1000, seen: Mutex::new(Vec::new()) }, log: Mutex::new(Vec::new()), slots: Mutex::new(Default::default()) };
        let mut p = EmbedEngine::new(piped, policy).unwrap();
        let (got, stats) = p.run_inputs(inputs.clone());
        let (want, _) = engine(policy).run_inputs(inputs);
        assert_eq!(got, want);
        assert!(stats.batches > 3 && stats.latencies_s.iter().all(|&l| l > 0.0));
        // The engine's thread: prepare k%S, launch k%S for each batch k; the collector: collect
        // k%S in batch order (interleaved with the former as the threads run).
        let log = p.encoder.log.lock().unwrap();
        let mine: Vec<&String> = log.iter().filter(|l| !l.starts_with("collect")).collect();
        let collected: Vec<&String> = log.iter().filter(|l| l.starts_with("collect")).collect();
        let k_of = |k: usize| k % PIPELINE_SLOTS;
        let want_mine: Vec<String> = (0..stats.batches).flat_map(|k| [format!("prepare {}", k_of(k)), format!("launch {}", k_of(k))]).collect();
        let want_collected: Vec<String> = (0..stats.batches).map(|k| format!("collect {}", k_of(k))).collect();
        assert_eq!(mine, want_mine.iter().collect::<Vec<_>>());
        assert_eq!(collected, want_collected.iter().collect::<Vec<_>>());
    }

    #[test]
    fn a_single_batch_gives_the_same_result_through_the_inline_path() {
        let x = EmbedInput::text(vec![3, 1, 4, 1, 5]);
        let piped = Piped { inner: Fake { vocab: 1000, seen: Mutex::new(Vec::new()) }, log: Mutex::new(Vec::new()), slots: Mutex::new(Default::default()) };
        let policy = BatchPolicy { max_batch: 1, max_batched_tokens: 512 };
        let mut p = EmbedEngine::new(piped, policy).unwrap();
        let (got, stats) = p.run_inputs(vec![x.clone()]);
        assert_eq!(got, engine(policy).run_inputs(vec![x]).0);
        assert_eq!(stats.batches, 1);
        assert_eq!(*p.encoder.log.lock().unwrap(), ["prepare 0", "launch 0", "collect 0"]);
    }

    impl<E: Encoder> EmbedEngine<E> {
        fn run_inputs(&mut self, inputs: Vec<EmbedInput>) -> (Vec<Embedding>, EmbedStats) {
            self.submit_all(inputs).unwrap();
            let (r, s) = self.run().unwrap();
            (r.into_iter().map(|(_, e)| e).collect(), s)
        }
    }

    fn engine(policy: BatchPolicy) -> EmbedEngine<Fake> {
        EmbedEngine::new(Fake { vocab: 1000, seen: Mutex::new(Vec::new()) }, policy).unwrap()
    }

    #[test]
    fn batched_results_come_back_in_request_order_and_equal_alone() {
        let mut rng = crate::rng::Rng::new(3);
        let inputs: Vec<EmbedInput> = (0..500).map(|_| EmbedInput::text((0..rng.range(1, 513)).map(|_| rng.range(0, 1000) as u32).collect())).collect();
        let mut e = engine(BatchPolicy { max_batch: 64, max_batched_tokens: 8192 });
        let batched = e.embed(inputs.clone()).unwrap();
        let mut alone = engine(BatchPolicy { max_batch: 1, max_batched_tokens: 512 });
        for (x, b) in inputs.iter().zip(&batched) {
            assert_eq!(&alone.embed(vec![x.clone()]).unwrap()[0], b);
        }
        let seen = e.encoder.seen.lock().unwrap();
        assert!(seen.len() < 500 && seen.iter().all(|b| b.len() <= 64 && b.len() * b.iter().max().unwrap() <= 8192), "{} batches", seen.len());
    }

    #[test]
    fn ids_and_stats() {
        let mut e = engine(BatchPolicy { max_batch: 2, max_batched_tokens: 1024 });
        for n in [3usize, 1, 2] {
            e.submit(EmbedInput::text(vec![1; n])).unwrap();
        }
        assert_eq!(e.pending(), 3);
        let (r, s) = e.run().unwrap();
        assert_eq!(r.iter().map(|x| x.0).collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!((s.requests, s.batches, s.items, s.padded_tokens), (3, 2, 6, 2 * 2 + 3));
        assert!(s.latencies_s.iter().all(|&l| l > 0.0 && l <= s.wall_s));
        assert_eq!(e.pending(), 0);
    }

    #[test]
    fn bad_requests_are_named_errors_and_leave_nothing_queued() {
        let mut e = engine(BatchPolicy::default());
        let err = e.embed(vec![EmbedInput::text(vec![1, 2]), EmbedInput::text(vec![5, 1000])]).unwrap_err().to_string();
        assert!(err.contains("request 1") && err.contains("id 1000 out of range"), "{err}");
        assert_eq!(e.pending(), 0);
        let err = e.submit(EmbedInput::text(vec![1; 513])).unwrap_err().to_string();
        assert!(err.contains("513 tokens exceed the model's 512 positions"), "{err}");
        let err = e.submit(EmbedInput::text(vec![])).unwrap_err().to_string();
        assert!(err.contains("empty text"), "{err}");
        let img = EmbedInput::Image { channels: 3, height: 1, width: 1, pixels: vec![0.0; 3] };
        assert!(e.submit(img).unwrap_err().to_string().contains("the request is image, the encoder takes text"));
        let mut small = EmbedEngine::new(Fake { vocab: 10, seen: Mutex::new(Vec::new()) }, BatchPolicy { max_batch: 8, max_batched_tokens: 100 }).unwrap();
        let err = small.submit(EmbedInput::text(vec![1; 101])).unwrap_err().to_string();
        assert!(err.contains("101 tokens exceed the batch token budget max_batched_tokens = 100"), "{err}");
        assert!(small.submit(EmbedInput::text(vec![1; 100])).is_ok());
        assert!(e.embed(Vec::new()).unwrap().is_empty());
    }
}
