//! Grouping requests into batches: text by length (sorted, capped by a padded-token budget
//! and a batch size), images by resolution (capped by a batch size). Pure host logic.

use super::{EmbedInput, Modality};
use crate::{Error, Result};
use std::collections::BTreeMap;

/// Batch limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct BatchPolicy {
    /// Most requests per batch.
    pub max_batch: usize,
    /// Text: most padded tokens per batch (`count × longest`); this is what sizes a batch's
    /// activations, so it is the memory cap. A sequence longer than the budget is rejected.
    pub max_batched_tokens: usize,
}

impl Default for BatchPolicy {
    /// 64 sequences / 32K padded tokens: large enough for full tensor-core GEMMs on BERT-base
    /// to XLM-R-large, small enough that a batch's activations stay well under 1 GB.
    fn default() -> Self {
        BatchPolicy { max_batch: 64, max_batched_tokens: 32768 }
    }
}

impl BatchPolicy {
    pub fn check(&self) -> Result<()> {
        if self.max_batch == 0 || self.max_batched_tokens == 0 {
            return Err(Error::config(format!("batch policy: max_batch ({}) and max_batched_tokens ({}) must be positive", self.max_batch, self.max_batched_tokens)));
        }
        Ok(())
    }
}

/// Batches of indices into `inputs`. Every input appears in exactly one batch; all inputs
/// must be of one modality and pass [`EmbedInput::check_shape`] (errors name the index).
///
/// Text: indices sorted by length (ties by index, so the plan is deterministic), then cut
/// greedily: a batch takes the next sequence while `count ≤ max_batch` and `count × len ≤
/// max_batched_tokens` (the sequence is the batch's longest, since the order is ascending).
/// Images: grouped by `(channels, height, width)` in order of first appearance, each group
/// cut into `max_batch` pieces.
pub fn plan_batches(inputs: &[&EmbedInput], policy: &BatchPolicy) -> Result<Vec<Vec<usize>>> {
    policy.check()?;
    let Some(first) = inputs.first() else {
        return Ok(Vec::new());
    };
    let modality = first.modality();
    for (i, x) in inputs.iter().enumerate() {
        if x.modality() != modality {
            return Err(Error::bad_input("embed", format!("request {i} is {} but request 0 is {modality}: one engine runs one modality", x.modality())));
        }
        x.check_shape().map_err(|e| Error::bad_input("embed", format!("request {i}: {e}")))?;
    }
    match modality {
        Modality::Text => plan_text(inputs, policy),
        Modality::Image => Ok(plan_images(inputs, policy)),
    }
}

fn plan_text(inputs: &[&EmbedInput], policy: &BatchPolicy) -> Result<Vec<Vec<usize>>> {
    let mut order: Vec<usize> = (0..inputs.len()).collect();
    order.sort_by_key(|&i| (inputs[i].len(), i));
    let mut batches: Vec<Vec<usize>> = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    for i in order {
        let len = inputs[i].len();
        if len > policy.max_batched_tokens {
            return Err(Error::bad_input("embed", format!("request {i} has {len} tokens, more than the batch token budget max_batched_tokens = {}", policy.max_batched_tokens)));
        }
        let fits = current.len() < policy.max_batch && (current.len() + 1) * len <= policy.max_batched_tokens;
        if !fits && !current.is_empty() {
            batches.push(std::mem::take(&mut current));
        }
        current.push(i);
    }
    if !current.is_empty() {
        batches.push(current);
    }
    Ok(batches)
}

fn plan_images(inputs: &[&EmbedInput], policy: &BatchPolicy) -> Vec<Vec<usize>> {
    // Key → (first appearance, members), so groups keep arrival order.
    let mut groups: BTreeMap<(usize, usize, usize), (usize, Vec<usize>)> = BTreeMap::new();
    for (i, x) in inputs.iter().enumerate() {
        if let EmbedInput::Image { channels, height, width, .. } = x {
            groups.entry((*channels, *height, *width)).or_insert_with(|| (i, Vec::new())).1.push(i);
        }
    }
    let mut groups: Vec<(usize, Vec<usize>)> = groups.into_values().collect();
    groups.sort_by_key(|g| g.0);
    groups.into_iter().flat_map(|(_, members)| members.chunks(policy.max_batch).map(<[usize]>::to_vec).collect::<Vec<_>>()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(n: usize) -> EmbedInput {
        EmbedInput::text((0..n as u32).collect())
    }

    fn image(h: usize, w: usize) -> EmbedInput {
        EmbedInput::Image { channels: 3, height: h, width: w, pixels: vec![0.0; 3 * h * w] }
    }

    fn plan(xs: &[EmbedInput], p: BatchPolicy) -> Result<Vec<Vec<usize>>> {
        plan_batches(&xs.iter().collect::<Vec<_>>(), &p)
    }

    /// Every index exactly once.
    fn covers(batches: &[Vec<usize>], n: usize) {
        let mut all: Vec<usize> = batches.iter().flatten().copied().collect();
        all.sort();
        assert_eq!(all, (0..n).collect::<Vec<_>>());
    }

    #[test]
    fn text_is_sorted_by_length_and_cut_by_budget_and_batch() {
        let xs: Vec<EmbedInput> = [5, 100, 3, 7, 100, 50, 3, 60].iter().map(|&n| text(n)).collect();
        let p = BatchPolicy { max_batch: 3, max_batched_tokens: 200 };
        let b = plan(&xs, p).unwrap();
        covers(&b, xs.len());
        assert_eq!(b, vec![vec![2, 6, 0], vec![3, 5, 7], vec![1, 4]]);
        for batch in &b {
            let longest = batch.iter().map(|&i| xs[i].len()).max().unwrap();
            assert!(batch.len() <= p.max_batch && batch.len() * longest <= p.max_batched_tokens, "{batch:?}");
        }
    }

    #[test]
    fn budget_is_respected_on_random_mixes() {
        let mut rng = crate::rng::Rng::new(7);
        for _ in 0..200 {
            let n = rng.range(1, 300) as usize;
            let xs: Vec<EmbedInput> = (0..n).map(|_| text(rng.range(1, 513) as usize)).collect();
            let p = BatchPolicy { max_batch: rng.range(1, 80) as usize, max_batched_tokens: rng.range(512, 20000) as usize };
            let b = plan(&xs, p).unwrap();
            covers(&b, n);
            for batch in &b {
                let longest = batch.iter().map(|&i| xs[i].len()).max().unwrap();
                assert!(batch.len() <= p.max_batch && batch.len() * longest <= p.max_batched_tokens);
            }
        }
    }

    #[test]
    fn images_group_by_resolution_in_arrival_order() {
        let xs = vec![image(32, 32), image(16, 48), image(32, 32), image(32, 32), image(16, 48)];
        let b = plan(&xs, BatchPolicy { max_batch: 2, max_batched_tokens: 1 }).unwrap();
        assert_eq!(b, vec![vec![0, 2], vec![3], vec![1, 4]]);
    }

    #[test]
    fn bad_requests_are_named_errors() {
        let p = BatchPolicy::default();
        assert_eq!(plan(&[], p).unwrap(), Vec::<Vec<usize>>::new());
        let e = plan(&[text(3), text(0)], p).unwrap_err().to_string();
        assert!(e.contains("request 1") && e.contains("empty text"), "{e}");
        let e = plan(&[text(3), image(16, 16)], p).unwrap_err().to_string();
        assert!(e.contains("request 1 is image"), "{e}");
        let e = plan(&[text(10)], BatchPolicy { max_batch: 4, max_batched_tokens: 8 }).unwrap_err().to_string();
        assert!(e.contains("request 0 has 10 tokens") && e.contains("max_batched_tokens = 8"), "{e}");
        let bad = EmbedInput::Image { channels: 3, height: 2, width: 2, pixels: vec![0.0; 5] };
        let e = plan(&[bad], p).unwrap_err().to_string();
        assert!(e.contains("5 pixel values"), "{e}");
        let e = plan(&[EmbedInput::Text { input_ids: vec![1, 2], token_type_ids: Some(vec![0]) }], p).unwrap_err().to_string();
        assert!(e.contains("1 token_type_ids for 2"), "{e}");
        assert!(plan(&[text(1)], BatchPolicy { max_batch: 0, max_batched_tokens: 8 }).is_err());
    }
}
