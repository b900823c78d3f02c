//! A right-padded batch of token sequences, as a tokenizer with `padding=True` returns it:
//! `input_ids [batch, seq]`, `attention_mask [batch, seq]` (1 = real token) and optional
//! `token_type_ids`.

use fk_runtime::{Error, Result};

#[derive(Clone, Debug, PartialEq)]
pub struct TokenBatch {
    pub batch: usize,
    pub seq: usize,
    pub input_ids: Vec<u32>,
    pub attention_mask: Vec<bool>,
    /// `None` = all zeros (what BERT does when none are given).
    pub token_type_ids: Option<Vec<u32>>,
}

impl TokenBatch {
    /// Right-pad `sequences` with `pad_id` to the longest one.
    pub fn from_sequences(sequences: &[Vec<u32>], pad_id: u32) -> Result<TokenBatch> {
        let seq = sequences.iter().map(Vec::len).max().unwrap_or(0);
        if sequences.is_empty() || seq == 0 {
            return Err(Error::bad_input("TokenBatch", "empty batch: give at least one non-empty sequence"));
        }
        let (mut input_ids, mut attention_mask) = (Vec::with_capacity(sequences.len() * seq), Vec::with_capacity(sequences.len() * seq));
        for s in sequences {
            input_ids.extend(s.iter().copied().chain(std::iter::repeat_n(pad_id, seq - s.len())));
            attention_mask.extend((0..seq).map(|t| t < s.len()));
        }
        TokenBatch::new(sequences.len(), seq, input_ids, attention_mask, None)
    }

    /// A batch from its flat tensors, checking that the sizes agree and every sequence has at
    /// least one real token (an all-padding row has nothing to attend to).
    pub fn new(batch: usize, seq: usize, input_ids: Vec<u32>, attention_mask: Vec<bool>, token_type_ids: Option<Vec<u32>>) -> Result<TokenBatch> {
        let n = batch * seq;
        if batch == 0 || seq == 0 {
            return Err(Error::bad_input("TokenBatch", format!("empty batch {batch}×{seq}")));
        }
        if input_ids.len() != n || attention_mask.len() != n || token_type_ids.as_ref().is_some_and(|t| t.len() != n) {
            return Err(Error::shape("TokenBatch", format!("input_ids/attention_mask/token_type_ids must all have {batch}×{seq} entries")));
        }
        if let Some(b) = (0..batch).find(|&b| !attention_mask[b * seq..(b + 1) * seq].iter().any(|&m| m)) {
            return Err(Error::bad_input("TokenBatch", format!("sequence {b} has no real token (attention_mask all 0)")));
        }
        Ok(TokenBatch { batch, seq, input_ids, attention_mask, token_type_ids })
    }

    /// The real tokens of sequence `b` (mask = 1), in order.
    pub fn real_ids(&self, b: usize) -> Vec<u32> {
        (0..self.seq).filter(|&t| self.attention_mask[b * self.seq + t]).map(|t| self.input_ids[b * self.seq + t]).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_right_and_rejects_empty_rows() {
        let b = TokenBatch::from_sequences(&[vec![5, 6, 7], vec![8]], 0).unwrap();
        assert_eq!((b.batch, b.seq), (2, 3));
        assert_eq!(b.input_ids, [5, 6, 7, 8, 0, 0]);
        assert_eq!(b.attention_mask, [true, true, true, true, false, false]);
        assert_eq!(b.real_ids(1), [8]);
        assert!(TokenBatch::from_sequences(&[], 0).is_err());
        let e = TokenBatch::new(2, 1, vec![1, 2], vec![true, false], None).unwrap_err().to_string();
        assert!(e.contains("sequence 1 has no real token"), "{e}");
        assert!(TokenBatch::new(1, 2, vec![1], vec![true, true], None).is_err());
    }
}
