//! What the BERT-family architecture crates' golden tests share: the padded token batch of a
//! golden case, and the padding-invariance check (each sequence alone vs its rows of the
//! padded batch).

use crate::batch::TokenBatch;
use crate::bert::BertModel;
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
