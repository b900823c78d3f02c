//! What the BERT-family architecture crates' golden tests share: the padded token batch of a
//! golden case, and the padding-invariance check (each sequence alone vs its rows of the
//! padded batch).

use crate::batch::TokenBatch;
use crate::bert::BertModel;
pub use fk_baselines::fixtures::expect_err;
use fk_baselines::fixtures::GoldenCase;
use fk_runtime::Result;

/// `input_ids`, `attention_mask` and (if present) `token_type_ids` of a golden case.
pub fn token_batch(g: &GoldenCase) -> Result<TokenBatch> {
    let shape = g.shape("input_ids")?;
    let ids = g.ints("input_ids")?.into_iter().map(|x| x as u32).collect();
    let mask = g.ints("attention_mask")?.into_iter().map(|x| x != 0).collect();
    let tt = if g.golden.contains("token_type_ids") { Some(g.ints("token_type_ids")?.into_iter().map(|x| x as u32).collect()) } else { None };
    TokenBatch::new(shape[0], shape[1], ids, mask, tt)
}

/// The largest |difference| between sequence s's real rows of `last_hidden_state` for the
/// padded batch and for s alone (its real tokens only), over all s. 0 when padding leaks
/// nowhere; anything above summation-order noise means it does.
pub fn max_padding_drift(model: &BertModel, b: &TokenBatch) -> Result<f32> {
    let batched = model.forward(b)?;
    let h = batched.hidden;
    let mut max = 0f32;
    for s in 0..b.batch {
        let real: Vec<usize> = (0..b.seq).filter(|&t| b.attention_mask[s * b.seq + t]).collect();
        let tt = b.token_type_ids.as_ref().map(|t| real.iter().map(|&i| t[s * b.seq + i]).collect());
        let alone = model.forward(&TokenBatch::new(1, real.len(), b.real_ids(s), vec![true; real.len()], tt)?)?;
        for (n, &t) in real.iter().enumerate() {
            let row = &batched.last_hidden_state[(s * b.seq + t) * h..][..h];
            let one = &alone.last_hidden_state[n * h..][..h];
            max = row.iter().zip(one).map(|(a, b)| (a - b).abs()).fold(max, f32::max);
        }
    }
    Ok(max)
}

/// The rows of `x` `[batch·seq, width]` whose mask entry is true: goldens hold HF's values on
/// padding rows (computed, then ignored by every consumer), the GPU model writes zeros there,
/// so hidden states are compared on real rows only.
pub fn real_rows<T: Copy>(x: &[T], mask: &[bool], width: usize) -> Vec<T> {
    x.chunks_exact(width).zip(mask).filter(|(_, &m)| m).flat_map(|(r, _)| r.iter().copied()).collect()
}

/// How far the GPU model's padded batch is from each sequence run alone.
#[derive(Clone, Copy, Debug)]
pub struct PaddingDrift {
    /// Largest |difference| over the real rows of `last_hidden_state`.
    pub max_abs: f32,
    /// Relative L2 of the difference over the real rows (bf16 rounds a summation-order
    /// change to whole ulps, so its bound is relative).
    pub rel_l2: f64,
    /// Largest |value| on a padding row (must be exactly 0).
    pub pad_max: f32,
}

/// The GPU model's padding drift: sequence s's real rows of `last_hidden_state` in the padded
/// batch vs s alone, over all s, and what sits on the padding rows.
pub fn gpu_padding_drift(model: &crate::gpu::BertModel, ctx: &fk_baselines::Context, b: &TokenBatch) -> Result<PaddingDrift> {
    let batched = model.forward(ctx, b, false)?;
    let h = model.cfg.hidden_size;
    let rows = batched.last_hidden_state.to_f32()?;
    let pad_max = rows.chunks_exact(h).zip(&b.attention_mask).filter(|(_, &m)| !m).flat_map(|(r, _)| r.iter()).fold(0f32, |a, &v| a.max(v.abs()));
    let (mut max, mut diff2, mut ref2) = (0f32, 0f64, 0f64);
    for s in 0..b.batch {
        let real: Vec<usize> = (0..b.seq).filter(|&t| b.attention_mask[s * b.seq + t]).collect();
        let tt = b.token_type_ids.as_ref().map(|t| real.iter().map(|&i| t[s * b.seq + i]).collect());
        let alone = model.forward(ctx, &TokenBatch::new(1, real.len(), b.real_ids(s), vec![true; real.len()], tt)?, false)?;
        let alone = alone.last_hidden_state.to_f32()?;
        for (n, &t) in real.iter().enumerate() {
            let row = &rows[(s * b.seq + t) * h..][..h];
            for (&a, &o) in row.iter().zip(&alone[n * h..][..h]) {
                max = max.max((a - o).abs());
                diff2 += (a as f64 - o as f64).powi(2);
                ref2 += (o as f64).powi(2);
            }
        }
    }
    Ok(PaddingDrift { max_abs: max, rel_l2: (diff2 / ref2.max(f64::MIN_POSITIVE)).sqrt(), pad_max })
}

/// `(key, rel_l2)` after comparing `ours` with the golden `key` at the case's tolerance
/// (fp32 rel-L2 1e-4, bf16 2e-2), or a message naming the key.
pub fn check_key(g: &GoldenCase, key: &str, ours: &[f32], expected: &[f64]) -> std::result::Result<(String, f64), String> {
    if ours.len() != expected.len() {
        return Err(format!("{} {key}: {} values, golden has {}", g.name, ours.len(), expected.len()));
    }
    let c = fk_runtime::compare::compare(ours, expected, fk_baselines::fixtures::model_tolerance(g.is_bf16()));
    c.check(&format!("{} {key}", g.name))?;
    Ok((key.to_string(), c.rel_l2))
}

/// The GPU encoder's outputs against a golden case: `embeddings`, every `layer_outputs.<i>`
/// and `last_hidden_state` on real rows (see [`real_rows`]), and `pooler_output`. `out` must
/// come from a forward with `output_hidden_states`.
pub fn check_gpu_encoder(g: &GoldenCase, out: &crate::gpu::BertOutput, b: &TokenBatch) -> std::result::Result<Vec<(String, f64)>, String> {
    let s = |e: fk_runtime::Error| format!("{}: {e}", g.name);
    if out.hidden_states.is_empty() {
        return Err(format!("{}: run the forward with output_hidden_states", g.name));
    }
    let h = out.packed.dim(1);
    let mut tensors = vec![("embeddings".to_string(), &out.hidden_states[0])];
    tensors.extend(out.hidden_states[1..].iter().enumerate().map(|(i, t)| (format!("layer_outputs.{i}"), t)));
    tensors.push(("last_hidden_state".into(), &out.last_hidden_state));
    let mut report = Vec::new();
    for (key, t) in tensors {
        let ours = real_rows(&t.to_f32().map_err(s)?, &b.attention_mask, h);
        report.push(check_key(g, &key, &ours, &real_rows(&g.expected(&key).map_err(s)?, &b.attention_mask, h))?);
    }
    match (&out.pooler_output, g.golden.contains("pooler_output")) {
        (Some(p), true) => report.push(check_key(g, "pooler_output", &p.to_f32().map_err(s)?, &g.expected("pooler_output").map_err(s)?)?),
        (None, true) => return Err(format!("{}: the golden has pooler_output, the model has no pooler", g.name)),
        _ => {}
    }
    Ok(report)
}


/// The batches every BERT-family model must refuse with a named error, given its `forward`:
/// a sequence past the position table, an id past the vocabulary, a token type past
/// `type_vocab_size`, and a mask of the wrong size (the fields are public, so a batch need not
/// come through `TokenBatch::new`). `pad_id` pads nothing here; it only fills the batches.
pub fn check_bad_batches(cfg: &crate::BertConfig, pad_id: u32, forward: impl Fn(&TokenBatch) -> Result<()>) -> std::result::Result<(), String> {
    let s = |e: fk_runtime::Error| e.to_string();
    let n = cfg.max_sequence_length() + 1;
    let too_long = TokenBatch::from_sequences(&[vec![5; n]], pad_id).map_err(s)?;
    expect_err(forward(&too_long), "too long", &["max_position_embeddings", &n.to_string()])?;
    let bad_id = TokenBatch::from_sequences(&[vec![5, cfg.vocab_size as u32]], pad_id).map_err(s)?;
    expect_err(forward(&bad_id), "id out of range", &["vocab_size", &cfg.vocab_size.to_string()])?;
    let bad_tt = TokenBatch::new(1, 2, vec![5, 6], vec![true, true], Some(vec![0, cfg.type_vocab_size as u32])).map_err(s)?;
    expect_err(forward(&bad_tt), "token type out of range", &["type_vocab_size"])?;
    let wrong_mask = TokenBatch { attention_mask: vec![true; 3], ..TokenBatch::from_sequences(&[vec![5, 6]], pad_id).map_err(s)? };
    expect_err(forward(&wrong_mask), "wrong mask shape", &["attention_mask", "2 entries"])?;
    // Still usable after every refusal.
    forward(&TokenBatch::from_sequences(&[vec![5, 6, 7]], pad_id).map_err(s)?).map_err(s)
}
