//! The encoder workloads of `cargo fastkernels eval` (and of `scripts/peer_hf_encoders.py`,
//! which reproduces the same request sizes from the generator documented here):
//!
//! - `Embed.batch1`: 128 texts or 64 images, each run alone (batch 1): latency.
//! - `Embed.throughput`: 2048 texts (batches of ≤ 64 sequences, ≤ 64·512 padded tokens) or
//!   512 images (batches of 32), all queued at once: sequences/s or images/s.
//!
//! Text lengths are uniform in `16..=min(512, max positions)`: request `i` has length
//! `lo + splitmix64(seed · 1_000_003 + i) mod (hi − lo + 1)`. Token ids (which change no
//! amount of work) are `5 + splitmix64(…) mod (vocab − 5)`, clear of the special ids below 5
//! (XLM-R derives positions from where the pad id 1 sits). Images are at the model's native
//! resolution, pixel values in [-1, 1] from the same generator.

use super::{BatchPolicy, EmbedInput, Modality};
use crate::{Error, Result};

pub const WORKLOADS: &[&str] = &["Embed.batch1", "Embed.throughput"];

/// Shortest text of the workloads.
pub const MIN_TEXT_LEN: usize = 16;
/// Longest text (BERT-family max positions).
pub const MAX_TEXT_LEN: usize = 512;
pub const THROUGHPUT_TEXT_BATCH: usize = 64;
pub const THROUGHPUT_IMAGE_BATCH: usize = 32;

/// SplitMix64 (Steele et al.): one multiply-xorshift step, simple to reproduce in Python.
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The workload's text lengths: uniform in `lo..=hi`.
pub fn text_lengths(n: usize, seed: u64, lo: usize, hi: usize) -> Vec<usize> {
    let span = (hi - lo + 1) as u64;
    (0..n).map(|i| lo + (splitmix64(seed.wrapping_mul(1_000_003).wrapping_add(i as u64)) % span) as usize).collect()
}

/// `n` texts of [`text_lengths`] with ids in `5..vocab` (all ids `0..vocab` when the
/// vocabulary is tiny).
pub fn text_requests(n: usize, seed: u64, lo: usize, hi: usize, vocab: usize) -> Vec<EmbedInput> {
    let (first, span) = if vocab > 10 { (5u64, vocab as u64 - 5) } else { (0, vocab as u64) };
    text_lengths(n, seed, lo, hi)
        .into_iter()
        .enumerate()
        .map(|(i, len)| EmbedInput::text((0..len).map(|t| (first + splitmix64(seed ^ ((i as u64) << 32) ^ t as u64 ^ 0x5EED) % span) as u32).collect()))
        .collect()
}

/// `n` CHW images of one size, values in [-1, 1].
pub fn image_requests(n: usize, seed: u64, channels: usize, height: usize, width: usize) -> Vec<EmbedInput> {
    (0..n)
        .map(|i| {
            let base = splitmix64(seed ^ ((i as u64) << 40));
            let pixels = (0..channels * height * width).map(|p| (splitmix64(base ^ p as u64) % 2001) as f32 / 1000.0 - 1.0).collect();
            EmbedInput::Image { channels, height, width, pixels }
        })
        .collect()
}

/// What the model offers the workload generator.
#[derive(Clone, Debug)]
pub enum ModelShape {
    /// Max positions and vocabulary size.
    Text { max_len: usize, vocab: usize },
    /// Channels and native height/width.
    Image { channels: usize, height: usize, width: usize },
}

impl ModelShape {
    pub fn modality(&self) -> Modality {
        match self {
            ModelShape::Text { .. } => Modality::Text,
            ModelShape::Image { .. } => Modality::Image,
        }
    }
}

/// One workload, ready to run.
pub struct EmbedWorkload {
    pub name: &'static str,
    pub requests: Vec<EmbedInput>,
    /// Batch limits the engine runs with.
    pub policy: BatchPolicy,
    /// Run each request alone and time it (latency), instead of queueing all at once.
    pub one_at_a_time: bool,
    /// What was adapted to the model (e.g. lengths capped by its positions).
    pub notes: Vec<String>,
}

/// Build workload `name` for `shape`. `max_batch` overrides the throughput batch size.
pub fn build(name: &str, shape: &ModelShape, seed: u64, max_batch: Option<usize>) -> Result<EmbedWorkload> {
    let Some(&name) = WORKLOADS.iter().find(|w| **w == name) else {
        return Err(Error::bad_input("workload", format!("unknown workload `{name}`; the encoder workloads are {}", WORKLOADS.join(", "))));
    };
    let batch1 = name == "Embed.batch1";
    let mut notes = Vec::new();
    let (requests, policy) = match *shape {
        ModelShape::Text { max_len, vocab } => {
            let hi = MAX_TEXT_LEN.min(max_len);
            if hi < MAX_TEXT_LEN {
                notes.push(format!("lengths capped at the model's {max_len} positions"));
            }
            let lo = MIN_TEXT_LEN.min(hi);
            let n = if batch1 { 128 } else { 2048 };
            let b = if batch1 { 1 } else { max_batch.unwrap_or(THROUGHPUT_TEXT_BATCH) };
            (text_requests(n, seed, lo, hi, vocab), BatchPolicy { max_batch: b, max_batched_tokens: b * hi })
        }
        ModelShape::Image { channels, height, width } => {
            let n = if batch1 { 64 } else { 512 };
            let b = if batch1 { 1 } else { max_batch.unwrap_or(THROUGHPUT_IMAGE_BATCH) };
            (image_requests(n, seed, channels, height, width), BatchPolicy { max_batch: b, max_batched_tokens: usize::MAX })
        }
    };
    if policy.max_batch == 0 {
        return Err(Error::bad_input("workload", "--max-batch must be positive"));
    }
    Ok(EmbedWorkload { name, requests, policy, one_at_a_time: batch1, notes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_matches_the_published_sequence() {
        // SplitMix64 seeded with 0: the reference implementation's first outputs.
        assert_eq!(splitmix64(0), 0xE220_A839_7B1D_CDAF);
        assert_eq!(splitmix64(0x9E37_79B9_7F4A_7C15), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn workloads_are_seeded_and_within_bounds() {
        let shape = ModelShape::Text { max_len: 514 - 2, vocab: 250002 };
        let w = build("Embed.throughput", &shape, 0, None).unwrap();
        assert_eq!((w.requests.len(), w.policy.max_batch, w.policy.max_batched_tokens), (2048, 64, 64 * 512));
        let lens: Vec<usize> = w.requests.iter().map(EmbedInput::len).collect();
        assert!(lens.iter().all(|&l| (16..=512).contains(&l)));
        assert!(lens.iter().any(|&l| l < 40) && lens.iter().any(|&l| l > 490));
        assert_eq!(lens, text_lengths(2048, 0, 16, 512));
        assert_eq!(w.requests[..3], build("Embed.throughput", &shape, 0, None).unwrap().requests[..3]);
        assert_ne!(text_lengths(8, 1, 16, 512), text_lengths(8, 0, 16, 512));
        for x in &w.requests[..50] {
            let EmbedInput::Text { input_ids, .. } = x else { panic!("text") };
            assert!(input_ids.iter().all(|&id| (5..250002).contains(&id)));
        }
        let short = build("Embed.batch1", &ModelShape::Text { max_len: 40, vocab: 100 }, 0, None).unwrap();
        assert!(short.one_at_a_time && short.policy.max_batch == 1 && short.notes[0].contains("40 positions"));
        assert!(short.requests.iter().all(|x| x.len() <= 40));
    }

    #[test]
    fn images_and_bad_names() {
        let w = build("Embed.throughput", &ModelShape::Image { channels: 3, height: 32, width: 16 }, 4, Some(8)).unwrap();
        assert_eq!((w.requests.len(), w.policy.max_batch), (512, 8));
        let EmbedInput::Image { pixels, .. } = &w.requests[0] else { panic!("image") };
        assert!(pixels.len() == 3 * 32 * 16 && pixels.iter().all(|p| (-1.0..=1.0).contains(p)));
        let e = build("LLM.mixed", &ModelShape::Image { channels: 3, height: 16, width: 16 }, 0, None).err().unwrap().to_string();
        assert!(e.contains("Embed.batch1, Embed.throughput"), "{e}");
        assert!(build("Embed.throughput", &ModelShape::Text { max_len: 8, vocab: 8 }, 0, Some(0)).is_err());
    }
}
