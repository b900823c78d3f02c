//! Padded encoder batches through the varlen kernels: `gather_rows` squeezes the padding out
//! (`unpad`) and puts it back as zeros (`pad`), as FlashAttention's bert_padding does, so
//! bidirectional attention with a key-padding mask is unpad → `prefill_attention` with
//! `causal = false` over `cu_seqlens` → pad, one kernel family with the LLM prefill path.
//! [`padded_attention`] does that per call (4 gathers); an encoder module does better to
//! unpad once after the embeddings, run every layer on the packed `[total, hidden]` rows
//! (norms, MLPs and GEMMs are per-token, attention takes `Padding::cu_seqlens`), and pad once
//! at the end, as FlashAttention's BERT does: padding then costs no FLOPs at all.

use super::{
    as_rows, launch, prefill_attention, require_no_overlap, require_same_device, require_same_dtype, DeviceStatus, PrefillKv, PrefillParams, PREFILL_HEAD_DIMS,
};
use crate::ffi::GatherRowsParams;
use crate::table::{OpId, OpTable};
use fk_runtime::{DType, Device, Error, Result, Tensor};

/// `out[r] = index[r] >= 0 ? input[index[r]] : 0` for 2-D `input` `[in_rows, cols]` and `out`
/// `[rows, cols]` (rows may be strided), `index` i32 `[rows]`. An index past `input` is bad
/// data: that row is zeroed and reported in `status` (if given; check it when you can sync).
pub fn gather_rows(table: &OpTable, input: &Tensor, index: &Tensor, out: &Tensor, status: Option<&DeviceStatus>) -> Result<()> {
    const OP: &str = "gather_rows";
    require_same_dtype(OP, "out", out, input.dtype())?;
    require_same_device(OP, &[("input", input), ("index", index), ("out", out)])?;
    if input.rank() != 2 || out.rank() != 2 {
        return Err(Error::shape(OP, format!("input {input:?} and out {out:?} must be 2-D")));
    }
    let (in_rows, cols, in_stride) = as_rows(OP, "input", input)?;
    let (rows, out_cols, out_stride) = as_rows(OP, "out", out)?;
    if out_cols != cols || cols == 0 {
        return Err(Error::shape(OP, format!("out {out:?} and input {input:?} must have the same (non-zero) width")));
    }
    if index.dtype() != DType::I32 || index.shape() != [rows] || !index.is_contiguous() {
        return Err(Error::dtype(OP, format!("index {index:?} must be a contiguous i32 [{rows}]")));
    }
    if let Some(s) = status {
        if !s.device().same_as(input.device()) {
            return Err(Error::shape(OP, "status is on another device"));
        }
    }
    if rows > i32::MAX as usize || in_rows > i32::MAX as usize {
        return Err(Error::shape(OP, format!("{rows} rows from {in_rows}: at most 2^31 - 1 (i32 indices)")));
    }
    require_no_overlap(OP, ("out", out), ("input", input))?;
    let p = GatherRowsParams {
        out: out.ptr(),
        input: input.ptr(),
        index: index.ptr(),
        status: status.map_or(0, DeviceStatus::ptr),
        rows: rows as i64,
        cols: cols as i64,
        in_rows: in_rows as i64,
        input_stride: in_stride as i64,
        out_stride: out_stride as i64,
        dtype: input.dtype().code(),
        pad_: 0,
    };
    launch(table, OpId::GatherRows, input.device(), &p, || format!("input {input:?}, index {index:?}, out {out:?}"))
}

/// The index arrays of a `[batch, seq]` key-padding mask (true = a real token), on the host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPadding {
    pub lens: Vec<usize>,
    pub cu_seqlens: Vec<i32>,
    pub unpad: Vec<i32>,
    pub pad: Vec<i32>,
}

impl HostPadding {
    /// A sequence without a real token is an error: attention over no key has no defined
    /// value (HF would average the padding).
    pub fn from_mask(mask: &[bool], batch: usize, seq: usize) -> Result<HostPadding> {
        const OP: &str = "padding";
        if mask.len() != batch * seq || seq == 0 || batch == 0 {
            return Err(Error::shape(OP, format!("mask has {} entries, expected batch {batch} × seq {seq} (both > 0)", mask.len())));
        }
        if batch * seq > i32::MAX as usize {
            return Err(Error::shape(OP, format!("{batch}×{seq} tokens: at most 2^31 - 1")));
        }
        let lens: Vec<usize> = mask.chunks_exact(seq).map(|row| row.iter().filter(|&&m| m).count()).collect();
        if let Some(b) = lens.iter().position(|&l| l == 0) {
            return Err(Error::bad_input(OP, format!("sequence {b} has no real token (all padding)")));
        }
        let mut h = HostPadding { lens, cu_seqlens: vec![0], unpad: Vec::new(), pad: vec![-1; batch * seq] };
        for (r, &m) in mask.iter().enumerate() {
            if m {
                h.pad[r] = h.unpad.len() as i32;
                h.unpad.push(r as i32);
            }
            if (r + 1) % seq == 0 {
                h.cu_seqlens.push(h.unpad.len() as i32);
            }
        }
        Ok(h)
    }
}

/// Where the real tokens of a `[batch, seq]` key-padding mask are (any padding side): built
/// once per batch on the host, where HF's `attention_mask` comes from, and uploaded.
pub struct Padding {
    pub batch: usize,
    pub seq: usize,
    /// Real tokens per sequence.
    pub lens: Vec<usize>,
    /// Real tokens in all.
    pub total: usize,
    pub max_len: usize,
    /// i32 `[batch + 1]`: offsets of each sequence in the packed tokens.
    pub cu_seqlens: Tensor,
    /// i32 `[total]`: the padded row of each packed token (`unpad`).
    pub unpad_index: Tensor,
    /// i32 `[batch·seq]`: the packed row of each padded row, -1 for padding (`pad`).
    pub pad_index: Tensor,
}

impl Padding {
    /// `mask` `[batch·seq]`, true = a real token; see [`HostPadding::from_mask`].
    pub fn from_mask(dev: &Device, mask: &[bool], batch: usize, seq: usize) -> Result<Padding> {
        let h = HostPadding::from_mask(mask, batch, seq)?;
        let cu_seqlens = Tensor::from_i32(dev, &h.cu_seqlens, &[batch + 1])?;
        let unpad_index = Tensor::from_i32(dev, &h.unpad, &[h.unpad.len()])?;
        let pad_index = Tensor::from_i32(dev, &h.pad, &[batch * seq])?;
        Padding::from_host(h, batch, seq, [cu_seqlens, unpad_index, pad_index])
    }

    /// `h` with its arrays already on the device (uploaded by the caller, e.g. in one
    /// asynchronous copy with other arrays): `[cu_seqlens, unpad, pad]`, i32, their lengths.
    pub fn from_host(h: HostPadding, batch: usize, seq: usize, device: [Tensor; 3]) -> Result<Padding> {
        let [cu_seqlens, unpad_index, pad_index] = device;
        let want = [batch + 1, h.unpad.len(), batch * seq];
        for (t, n) in [&cu_seqlens, &unpad_index, &pad_index].iter().zip(want) {
            if t.dtype() != fk_runtime::DType::I32 || t.shape() != [n] {
                return Err(Error::shape("padding", format!("{t:?}: expected i32 [{n}]")));
            }
        }
        Ok(Padding {
            batch,
            seq,
            total: h.unpad.len(),
            max_len: h.lens.iter().copied().max().unwrap_or(0),
            cu_seqlens,
            unpad_index,
            pad_index,
            lens: h.lens,
        })
    }

    /// `out` `[total, w]` = the real rows of `x` `[batch·seq, w]`.
    pub fn unpad(&self, table: &OpTable, x: &Tensor, out: &Tensor) -> Result<()> {
        self.check_rows("unpad", x, self.batch * self.seq)?;
        gather_rows(table, x, &self.unpad_index, out, None)
    }

    /// `out` `[batch·seq, w]` = the packed rows of `x` `[total, w]` back in place, zeros on padding.
    pub fn pad(&self, table: &OpTable, x: &Tensor, out: &Tensor) -> Result<()> {
        self.check_rows("pad", x, self.total)?;
        gather_rows(table, x, &self.pad_index, out, None)
    }

    fn check_rows(&self, op: &str, x: &Tensor, rows: usize) -> Result<()> {
        if x.rank() != 2 || x.dim(0) != rows {
            return Err(Error::shape(op, format!("{x:?} must be 2-D with {rows} rows (batch {}, seq {}, {} real tokens)", self.batch, self.seq, self.total)));
        }
        Ok(())
    }
}

/// Packed buffers of [`padded_attention`] for one batch shape.
pub struct PaddedAttentionBuffers {
    pub q: Tensor,
    pub k: Tensor,
    pub v: Tensor,
    pub out: Tensor,
}

impl PaddedAttentionBuffers {
    pub fn new(dev: &Device, total: usize, heads: usize, kv_heads: usize, head_dim: usize, dtype: DType) -> Result<PaddedAttentionBuffers> {
        let (qw, kw) = (heads * head_dim, kv_heads * head_dim);
        Ok(PaddedAttentionBuffers {
            q: Tensor::empty(dev, &[total, qw], dtype)?,
            k: Tensor::empty(dev, &[total, kw], dtype)?,
            v: Tensor::empty(dev, &[total, kw], dtype)?,
            out: Tensor::empty(dev, &[total, qw], dtype)?,
        })
    }
}

/// Bidirectional attention over a padded batch with a key-padding mask (HF BERT/ViT/SigLIP
/// `attention_mask`): `q` `[batch·seq, heads·head_dim]`, `k`/`v` `[batch·seq, kv_heads·head_dim]`
/// (rows may be strided views of a fused qkv), `out` `[batch·seq, heads·head_dim]`. Real rows
/// get exactly what the masked module computes; padding rows are written as zeros (HF computes
/// them and every consumer ignores them). f16/bf16 and the prefill kernel's head dims.
#[allow(clippy::too_many_arguments)]
pub fn padded_attention(table: &OpTable, q: &Tensor, k: &Tensor, v: &Tensor, padding: &Padding, head_dim: usize, scale: f32, buf: &PaddedAttentionBuffers, out: &Tensor) -> Result<()> {
    // Checked before anything is enqueued (prefill_attention would say the same, after the gathers).
    const OP: &str = "padded_attention";
    if !matches!(q.dtype(), DType::F16 | DType::BF16) {
        return Err(Error::dtype(OP, format!("q is {}; the varlen attention kernel supports f16 and bf16", q.dtype())));
    }
    if !PREFILL_HEAD_DIMS.contains(&head_dim) {
        return Err(Error::shape(OP, format!("head_dim {head_dim} is not supported by the prefill kernels ({PREFILL_HEAD_DIMS:?})")));
    }
    let want = |t: &Tensor, b: &Tensor| t.rank() == 2 && b.rank() == 2 && t.dim(1) == b.dim(1) && b.dim(0) == padding.total;
    if !want(q, &buf.q) || !want(k, &buf.k) || !want(v, &buf.v) || !want(out, &buf.out) {
        return Err(Error::shape(
            OP,
            format!("q {q:?}, k {k:?}, v {v:?}, out {out:?} do not match the buffers (q {:?}, k {:?}) for {} real tokens", buf.q, buf.k, padding.total),
        ));
    }
    padding.unpad(table, q, &buf.q)?;
    padding.unpad(table, k, &buf.k)?;
    padding.unpad(table, v, &buf.v)?;
    let p = PrefillParams { head_dim, causal: false, scale, window_left: None, max_seqlen_q: padding.max_len };
    let kv = PrefillKv::Contiguous { key: &buf.k, value: &buf.v, cu_seqlens_k: &padding.cu_seqlens };
    prefill_attention(table, &buf.q, kv, &padding.cu_seqlens, &p, &buf.out)?;
    padding.pad(table, &buf.out, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Left and right padding alike: unpad lists the real rows in order, pad inverts it.
    #[test]
    fn indices_invert_each_other_and_cu_seqlens_count_real_tokens() {
        let mask = [true, true, false, false, true, true, true, true, false];
        let h = HostPadding::from_mask(&mask, 3, 3).unwrap();
        // Rows: right-padded, left-padded, right-padded.
        assert_eq!(h.lens, [2, 2, 2]);
        assert_eq!(h.cu_seqlens, [0, 2, 4, 6]);
        assert_eq!(h.unpad, [0, 1, 4, 5, 6, 7]);
        assert_eq!(h.pad, [0, 1, -1, -1, 2, 3, 4, 5, -1]);
        for (packed, &row) in h.unpad.iter().enumerate() {
            assert_eq!(h.pad[row as usize], packed as i32);
        }
        assert_eq!(cu_from_reference(&mask, 3), h.cu_seqlens);
    }

    fn cu_from_reference(mask: &[bool], seq: usize) -> Vec<i32> {
        crate::reference::cu_seqlens_from_mask(mask, seq).into_iter().map(|x| x as i32).collect()
    }

    #[test]
    fn all_padding_and_bad_sizes_are_named_errors() {
        let e = HostPadding::from_mask(&[true, false, false, false], 2, 2).unwrap_err().to_string();
        assert!(e.contains("sequence 1 has no real token"), "{e}");
        assert!(HostPadding::from_mask(&[true; 5], 2, 3).unwrap_err().to_string().contains("5 entries"));
        assert!(HostPadding::from_mask(&[], 0, 4).is_err());
    }
}
