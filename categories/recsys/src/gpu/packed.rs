//! A [`TokenBatch`] with its padding squeezed out on the host: the real tokens' ids, token
//! types and position ids, uploaded, and the [`Padding`] that puts rows back in place.

use crate::bert::{check_batch, position_ids};
use crate::{BertConfig, TokenBatch};
use fk_baselines::ops::Padding;
use fk_runtime::{Device, Result, Tensor};

pub struct PackedTokens {
    pub padding: Padding,
    /// i32 `[total]` each: input ids, token type ids (0 when the batch has none) and position
    /// ids of the real tokens, sequence after sequence.
    pub input_ids: Tensor,
    pub token_type_ids: Tensor,
    pub position_ids: Tensor,
}

impl PackedTokens {
    /// Validate `b` against `cfg` (ids, token types, length: named errors) and upload its
    /// real tokens. Position ids are formed on the padded batch first, as HF does (XLM-R
    /// counts real tokens from `pad_token_id + 1`), then packed.
    pub fn new(dev: &Device, cfg: &BertConfig, b: &TokenBatch) -> Result<PackedTokens> {
        check_batch(cfg, b)?;
        let padding = Padding::from_mask(dev, &b.attention_mask, b.batch, b.seq)?;
        let positions = position_ids(cfg, b);
        let real: Vec<usize> = (0..b.batch * b.seq).filter(|&r| b.attention_mask[r]).collect();
        let t = real.len();
        let ids: Vec<i32> = real.iter().map(|&r| b.input_ids[r] as i32).collect();
        let tt: Vec<i32> = real.iter().map(|&r| b.token_type_ids.as_ref().map_or(0, |v| v[r] as i32)).collect();
        let pos: Vec<i32> = real.iter().map(|&r| positions[r] as i32).collect();
        Ok(PackedTokens {
            padding,
            input_ids: Tensor::from_i32(dev, &ids, &[t])?,
            token_type_ids: Tensor::from_i32(dev, &tt, &[t])?,
            position_ids: Tensor::from_i32(dev, &pos, &[t])?,
        })
    }

    pub fn total(&self) -> usize {
        self.padding.total
    }
}
