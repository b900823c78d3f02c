//! The check every encoder's GPU engine test runs: a mix of requests through the engine's
//! batches gives each request what it gets alone (batch of one), within a tolerance.

use super::{BatchPolicy, EmbedEngine, EmbedInput, Embedding, Encoder};
use crate::compare::{compare, Tolerance};

/// Run `inputs` batched (the engine's policy), then each alone; compare pooled and token
/// vectors per request. Returns a one-line report, or what differed.
pub fn batched_matches_alone<E: Encoder>(engine: &mut EmbedEngine<E>, inputs: &[EmbedInput], tol: Tolerance) -> Result<String, String> {
    let batched_policy = engine.policy;
    engine.submit_all(inputs.iter().cloned()).map_err(|e| e.to_string())?;
    let (batched, stats) = engine.run().map_err(|e| e.to_string())?;
    if stats.batches >= inputs.len() && inputs.len() > 1 {
        return Err(format!("{} requests ran in {} batches: nothing was batched", inputs.len(), stats.batches));
    }
    engine.policy = BatchPolicy { max_batch: 1, ..batched_policy };
    let alone: Result<Vec<Embedding>, String> = inputs.iter().map(|x| engine.embed(vec![x.clone()]).map(|mut v| v.remove(0)).map_err(|e| e.to_string())).collect();
    engine.policy = batched_policy;
    let alone = alone?;
    let mut worst = 0.0f64;
    for (i, ((_, b), a)) in batched.iter().zip(&alone).enumerate() {
        for (what, got, want) in [("pooled", &b.pooled, &a.pooled), ("tokens", &b.tokens, &a.tokens)] {
            match (got, want) {
                (None, None) => {}
                (Some(g), Some(w)) if g.len() == w.len() => {
                    let want64: Vec<f64> = w.iter().map(|&x| x as f64).collect();
                    let c = compare(g, &want64, tol);
                    c.check(&format!("request {i} {what}, batched vs alone"))?;
                    worst = worst.max(c.rel_l2);
                }
                _ => return Err(format!("request {i} {what}: batched and alone differ in presence or length")),
            }
        }
    }
    Ok(format!("{} requests in {} batches == each alone (worst rel_l2 {worst:.1e})", inputs.len(), stats.batches))
}
