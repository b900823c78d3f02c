//! Safe wrappers: validate shapes, dtypes, devices and layout, fill the params struct, call
//! the launcher from the op table on the device's stream, and turn its code into `Result`.

mod attention;
mod conv1d;
mod embedding;
mod gated;
mod linear;
mod linear_conv;
mod mamba_decode;
mod moe;
mod norm;
mod paged;
mod rotary;
mod sampling;
mod scan;
mod seqlens;
mod ssd;
mod state_slots;
mod status;
// Encoder ops (issue 6).
mod gelu;
mod interpolate;
mod layer_norm;
mod packed_attention;
mod padding;
mod patch_embed;
mod pool;
mod rope_2d;

pub use attention::{prefill_attention, prefill_attention_checked, prefill_attention_with_status, PrefillKv, PrefillParams, PREFILL_HEAD_DIMS};
pub(crate) use attention::{prefill_attention_impl, PrefillKernel};
pub use embedding::{embedding, embedding_checked};
pub use gated::{gelu_and_mul, silu_and_mul, GeluApprox};
pub use linear::{linear, linear_gelu_tanh, linear_streamed, skinny_gemm, skinny_gemm_with, takes_skinny_path, WeightSource};
pub use linear_conv::{linear_conv1d_update, ConvStep};
pub use mamba_decode::{mamba_decode_acc_shape, mamba_decode_layers, mamba_decode_layers_supported, mamba_decode_tolerance, x_proj_transposed, MambaDecodeBlock, MambaDecodeScratch};
pub use moe::{
    fused_experts, fused_moe, fused_moe_block_size, moe_align_block_size, moe_align_block_size_checked, moe_sum, topk_softmax, MoeAlignment, MoeGemm,
    MoeWorkspace,
};
pub use conv1d::{causal_conv1d, causal_conv1d_update, causal_conv1d_update_slots, CausalConv1d, PrefillStates};
pub use norm::{fused_add_rms_norm, rms_norm, rms_norm_gated};
pub use paged::{paged_attention_decode, reshape_and_cache, DecodeSplits, PagedKv};
pub use rotary::{rotary_embedding, Rotary};
pub use sampling::{sample, sample_checked, sample_with_status, sample_workspace_bytes, SamplingInputs, SAMPLE_MAX_VOCAB};
pub use scan::{selective_scan, selective_state_update, selective_state_update_slots, DecodeTokens, ScanTokens, SelectiveScan, StateUpdate};
pub use seqlens::SeqLens;
pub use ssd::{ssd_chunk_scan, SsdScan, SsdTokens};
pub use state_slots::StateSlots;
pub use status::DeviceStatus;
pub use gelu::{gelu, GeluMode};
pub use interpolate::{interpolate_pos_embed, PosEmbedResize};
pub use layer_norm::{fused_add_layer_norm, layer_norm};
pub use packed_attention::{PackedAttention, PackedAttentionKernel, DECODE_VIEW_HEAD_DIMS};
pub use padding::{gather_rows, padded_attention, HostPadding, PaddedAttentionBuffers, Padding};
pub use patch_embed::{patch_embed_im2col, PatchEmbed};
pub use pool::{pool, Pooling};
pub use rope_2d::{rope_2d, rope_2d_cache, Rope2d};

use crate::table::{OpId, OpTable};
use fk_runtime::{DType, Device, Error, Result, Tensor};
use std::ffi::c_void;

/// Call `op`'s launcher from `table` with `params` on `device`'s stream.
pub(crate) fn launch<P>(table: &OpTable, op: OpId, device: &Device, params: &P, ctx: impl FnOnce() -> String) -> Result<()> {
    device.bind()?;
    let f = table.launcher(op);
    fk_runtime::profile::span(device, || op.name().to_string(), || {
        // SAFETY: `P` is the #[repr(C)] params struct of `op` (each wrapper passes its own), the
        // pointers inside it were validated against live tensors on `device`, and the launcher
        // only enqueues work on the stream we pass.
        let code = unsafe { f(params as *const P as *const c_void, device.stream()) };
        Device::check_launch(op.name(), code, ctx)
    })
}

/// A tensor seen as `rows` rows of `cols` contiguous elements, `stride` apart. 2-D tensors
/// may be row-strided views; others must be contiguous (all leading dims become rows).
pub(crate) fn as_rows(op: &str, what: &str, t: &Tensor) -> Result<(usize, usize, usize)> {
    if t.rank() == 0 {
        return Err(Error::shape(op, format!("{what} is a scalar, expected [..., n]")));
    }
    let cols = t.shape()[t.rank() - 1];
    if t.rank() == 2 {
        let stride = t.row_stride(op).map_err(|_| Error::shape(op, format!("{what} {t:?}: rows must be contiguous")))?;
        return Ok((t.shape()[0], cols, stride));
    }
    if !t.is_contiguous() {
        return Err(Error::shape(op, format!("{what} {t:?} must be contiguous")));
    }
    Ok((t.numel() / cols.max(1), cols, cols))
}

pub(crate) fn require_float(op: &str, what: &str, t: &Tensor) -> Result<()> {
    if DType::FLOATS.contains(&t.dtype()) {
        Ok(())
    } else {
        Err(Error::dtype(op, format!("{what} is {}, expected one of f32, f16, bf16", t.dtype())))
    }
}

pub(crate) fn require_same_dtype(op: &str, what: &str, t: &Tensor, dtype: DType) -> Result<()> {
    if t.dtype() == dtype {
        Ok(())
    } else {
        Err(Error::dtype(op, format!("{what} is {}, expected {dtype} (same as the input)", t.dtype())))
    }
}

pub(crate) fn require_same_device(op: &str, tensors: &[(&str, &Tensor)]) -> Result<()> {
    let first = tensors[0].1.device();
    for (what, t) in &tensors[1..] {
        if !t.device().same_as(first) {
            return Err(Error::shape(op, format!("{what} is on {:?}, the input on {first:?}", t.device())));
        }
    }
    Ok(())
}

pub(crate) fn require_no_overlap(op: &str, a: (&str, &Tensor), b: (&str, &Tensor)) -> Result<()> {
    if a.1.overlaps(b.1) {
        return Err(Error::shape(op, format!("{} and {} overlap in memory", a.0, b.0)));
    }
    Ok(())
}
