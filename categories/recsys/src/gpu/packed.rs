//! A [`TokenBatch`] with its padding squeezed out on the host: the real tokens' ids, token
//! types and position ids, uploaded, and the [`Padding`] that puts rows back in place.

use crate::bert::{check_batch, position_ids};
use crate::{BertConfig, TokenBatch};
use fk_baselines::ops::{HostPadding, Padding};
use fk_runtime::pinned::I32Upload;
use fk_runtime::{Device, Error, Result, Tensor};

pub struct PackedTokens {
    pub padding: Padding,
    /// i32 `[total]` each: input ids, token type ids (0 when the batch has none) and position
    /// ids of the real tokens, sequence after sequence.
    pub input_ids: Tensor,
    pub token_type_ids: Tensor,
    pub position_ids: Tensor,
}

/// A checked batch's arrays on the host, in the order they are uploaded.
pub struct HostPackedTokens {
    batch: usize,
    seq: usize,
    padding: HostPadding,
    ids: Vec<i32>,
    token_types: Vec<i32>,
    positions: Vec<i32>,
}

impl HostPackedTokens {
    /// Validate `b` against `cfg` (ids, token types, length: named errors) and pack its real
    /// tokens. Position ids are formed on the padded batch first, as HF does (XLM-R counts
    /// real tokens from `pad_token_id + 1`), then packed.
    pub fn new(cfg: &BertConfig, b: &TokenBatch) -> Result<HostPackedTokens> {
        check_batch(cfg, b)?;
        let padding = HostPadding::from_mask(&b.attention_mask, b.batch, b.seq)?;
        let positions = position_ids(cfg, b);
        let real = padding.unpad.iter().map(|&r| r as usize);
        let ids = real.clone().map(|r| b.input_ids[r] as i32).collect();
        let token_types = real.clone().map(|r| b.token_type_ids.as_ref().map_or(0, |v| v[r] as i32)).collect();
        let positions = real.map(|r| positions[r] as i32).collect();
        Ok(HostPackedTokens { batch: b.batch, seq: b.seq, padding, ids, token_types, positions })
    }

    /// Real tokens per sequence.
    pub fn lens(&self) -> &[usize] {
        &self.padding.lens
    }

    fn parts(&self) -> [&[i32]; 6] {
        let p = &self.padding;
        [&p.cu_seqlens, &p.unpad, &p.pad, &self.ids, &self.token_types, &self.positions]
    }

    /// The device side from views of the uploaded parts (in `parts` order).
    fn on_device(&self, views: Vec<Tensor>) -> Result<PackedTokens> {
        let [cu, unpad, pad, ids, tt, pos]: [Tensor; 6] = views.try_into().map_err(|v: Vec<Tensor>| Error::shape("PackedTokens", format!("{} uploaded parts, expected 6", v.len())))?;
        Ok(PackedTokens { padding: Padding::from_host(self.padding.clone(), self.batch, self.seq, [cu, unpad, pad])?, input_ids: ids, token_type_ids: tt, position_ids: pos })
    }

    /// Stage the arrays into `upload`'s page-locked memory (host work only).
    pub fn stage(&self, dev: &Device, upload: &mut I32Upload) -> Result<()> {
        upload.write(dev, &self.parts())
    }

    /// Enqueue `upload`'s copy (staged from `self`) and return the device side; no wait.
    pub fn upload_staged(&self, dev: &Device, upload: &mut I32Upload) -> Result<PackedTokens> {
        self.on_device(upload.upload(dev)?)
    }
}

impl PackedTokens {
    /// Validate `b` against `cfg` and upload its real tokens (synchronously; the embedding
    /// engine's pipelined path stages them instead, see [`HostPackedTokens`]).
    pub fn new(dev: &Device, cfg: &BertConfig, b: &TokenBatch) -> Result<PackedTokens> {
        let h = HostPackedTokens::new(cfg, b)?;
        let views = h.parts().iter().map(|p| Tensor::from_i32(dev, p, &[p.len()])).collect::<Result<Vec<_>>>()?;
        h.on_device(views)
    }

    pub fn total(&self) -> usize {
        self.padding.total
    }
}
