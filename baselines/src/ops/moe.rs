//! MoE ops (HF `MixtralSparseMoeBlock`, vLLM `fused_moe`): `topk_softmax` (router choice),
//! `moe_align_block_size` (slots grouped by expert, padded to the GEMM tile), `fused_moe` (the
//! grouped expert GEMM, run as gate_up with fused SiLU·mul and as down with the routing weight),
//! `moe_sum` (the combine). [`fused_experts`] chains the last three like vLLM's function of
//! that name. Every buffer is preallocated from host-known sizes ([`MoeWorkspace`]), nothing
//! syncs: a decode step with MoE is graph capturable. Semantics: the contract headers
//! `include/fk/ops/{topk_softmax,moe_align_block_size,fused_moe,moe_sum}.h`; CPU references:
//! [`crate::reference::moe`].

use super::{as_rows, launch, require_float, require_no_overlap, require_same_device, require_same_dtype, DeviceStatus};
use crate::ffi::{FusedMoeParams, MoeAlignBlockSizeParams, MoeSumParams, TopkSoftmaxParams, MOE_ALIGN_MAX_EXPERTS, TOPK_SOFTMAX_MAX_EXPERTS, TOPK_SOFTMAX_MAX_K};
use crate::reference::moe::{max_blocks, max_padded};
use crate::table::{OpId, OpTable};
use fk_runtime::{DType, Device, Error, Result, Tensor};

fn require_i32_f32(op: &str, what: &str, t: &Tensor, dtype: DType, numel: usize) -> Result<()> {
    if t.dtype() != dtype {
        return Err(Error::dtype(op, format!("{what} is {}, expected {dtype}", t.dtype())));
    }
    if !t.is_contiguous() || t.numel() != numel {
        return Err(Error::shape(op, format!("{what} {t:?} must be contiguous with {numel} elements")));
    }
    Ok(())
}

/// Router choice: softmax over `logits` `[T, E]` (f32/f16/bf16, rows may be strided), the
/// top-k experts into `topk_ids` (i32 `[T, k]`) and their probabilities into `topk_weights`
/// (f32 `[T, k]`), renormalised to sum 1 when `renormalize` (Mixtral). Ties go to the lower
/// expert index. E <= 256, k <= 8 and k <= E.
pub fn topk_softmax(table: &OpTable, logits: &Tensor, renormalize: bool, topk_weights: &Tensor, topk_ids: &Tensor) -> Result<()> {
    const OP: &str = "topk_softmax";
    require_float(OP, "logits", logits)?;
    require_same_device(OP, &[("logits", logits), ("topk_weights", topk_weights), ("topk_ids", topk_ids)])?;
    if logits.rank() != 2 {
        return Err(Error::shape(OP, format!("logits {logits:?} must be [tokens, num_experts]")));
    }
    let (tokens, experts, stride) = as_rows(OP, "logits", logits)?;
    if experts == 0 || experts > TOPK_SOFTMAX_MAX_EXPERTS {
        return Err(Error::shape(OP, format!("{experts} experts; this op takes 1..={TOPK_SOFTMAX_MAX_EXPERTS}")));
    }
    if topk_weights.rank() != 2 || topk_weights.dim(0) != tokens {
        return Err(Error::shape(OP, format!("topk_weights {topk_weights:?} must be [{tokens}, k]")));
    }
    let k = topk_weights.dim(1);
    if k == 0 || k > TOPK_SOFTMAX_MAX_K || k > experts {
        return Err(Error::shape(OP, format!("top_k {k} must be in 1..={} (at most {TOPK_SOFTMAX_MAX_K} and at most the {experts} experts)", TOPK_SOFTMAX_MAX_K.min(experts))));
    }
    require_i32_f32(OP, "topk_weights", topk_weights, DType::F32, tokens * k)?;
    require_i32_f32(OP, "topk_ids", topk_ids, DType::I32, tokens * k)?;
    if topk_ids.shape() != topk_weights.shape() {
        return Err(Error::shape(OP, format!("topk_ids {topk_ids:?} must have topk_weights' shape {:?}", topk_weights.shape())));
    }
    for (what, t) in [("topk_weights", topk_weights), ("topk_ids", topk_ids)] {
        require_no_overlap(OP, (what, t), ("logits", logits))?;
    }
    require_no_overlap(OP, ("topk_weights", topk_weights), ("topk_ids", topk_ids))?;
    let p = TopkSoftmaxParams {
        topk_weights: topk_weights.ptr(),
        topk_ids: topk_ids.ptr(),
        logits: logits.ptr(),
        tokens: tokens as i64,
        logits_stride: stride as i64,
        num_experts: experts as i32,
        top_k: k as i32,
        renormalize: renormalize as i32,
        dtype: logits.dtype().code(),
    };
    launch(table, OpId::TopkSoftmax, logits.device(), &p, || format!("logits {logits:?}, topk_weights {topk_weights:?}"))
}

/// The device buffers of `moe_align_block_size` for up to `max_slots` slots (T·k), allocated
/// once at their host-computable worst-case sizes.
pub struct MoeAlignment {
    pub sorted_token_ids: Tensor,
    pub expert_ids: Tensor,
    pub num_tokens_post_padded: Tensor,
    pub num_experts: usize,
    pub block_size: usize,
    pub max_slots: usize,
}

impl MoeAlignment {
    pub fn new(device: &Device, max_slots: usize, num_experts: usize, block_size: usize) -> Result<MoeAlignment> {
        const OP: &str = "moe_align_block_size";
        if num_experts == 0 || num_experts > MOE_ALIGN_MAX_EXPERTS {
            return Err(Error::shape(OP, format!("{num_experts} experts; this op takes 1..={MOE_ALIGN_MAX_EXPERTS}")));
        }
        if block_size == 0 || block_size > 1024 {
            return Err(Error::shape(OP, format!("block_size {block_size} must be in 1..=1024")));
        }
        let cap = max_padded(max_slots, num_experts, block_size);
        if cap >= i32::MAX as usize {
            return Err(Error::shape(OP, format!("{max_slots} slots, {num_experts} experts, block {block_size}: {cap} padded rows overflow i32")));
        }
        Ok(MoeAlignment {
            sorted_token_ids: Tensor::empty(device, &[cap.max(1)], DType::I32)?,
            expert_ids: Tensor::empty(device, &[max_blocks(max_slots, num_experts, block_size).max(1)], DType::I32)?,
            num_tokens_post_padded: Tensor::empty(device, &[1], DType::I32)?,
            num_experts,
            block_size,
            max_slots,
        })
    }

    /// Rows of `sorted_token_ids` that `slots` slots can need: the fused_moe grid size.
    pub fn capacity(&self, slots: usize) -> usize {
        max_padded(slots, self.num_experts, self.block_size)
    }
}

/// Group the slots of `topk_ids` (i32 `[T, k]`, contiguous) by expert into `align` (no
/// sync). Ids outside `[0, E)` are left out of every group and counted in `status` if given.
pub fn moe_align_block_size(table: &OpTable, topk_ids: &Tensor, align: &MoeAlignment, status: Option<&DeviceStatus>) -> Result<()> {
    const OP: &str = "moe_align_block_size";
    require_same_device(OP, &[("topk_ids", topk_ids), ("sorted_token_ids", &align.sorted_token_ids)])?;
    let slots = topk_ids.numel();
    require_i32_f32(OP, "topk_ids", topk_ids, DType::I32, slots)?;
    if slots > align.max_slots {
        return Err(Error::shape(OP, format!("{slots} slots (topk_ids {topk_ids:?}) but the buffers hold {}", align.max_slots)));
    }
    if let Some(s) = status {
        if !s.device().same_as(topk_ids.device()) {
            return Err(Error::shape(OP, "status is on another device than topk_ids"));
        }
    }
    let p = MoeAlignBlockSizeParams {
        sorted_token_ids: align.sorted_token_ids.ptr(),
        expert_ids: align.expert_ids.ptr(),
        num_tokens_post_padded: align.num_tokens_post_padded.ptr(),
        topk_ids: topk_ids.ptr(),
        status: status.map_or(0, |s| s.ptr()),
        slots: slots as i64,
        num_experts: align.num_experts as i32,
        block_size: align.block_size as i32,
    };
    launch(table, OpId::MoeAlignBlockSize, topk_ids.device(), &p, || format!("topk_ids {topk_ids:?}, {} experts, block {}", align.num_experts, align.block_size))
}

/// [`moe_align_block_size`], then wait and fail with `BadInput` naming the first slot whose
/// expert id is outside `[0, E)`.
pub fn moe_align_block_size_checked(table: &OpTable, topk_ids: &Tensor, align: &MoeAlignment, status: &DeviceStatus) -> Result<()> {
    moe_align_block_size(table, topk_ids, align, Some(status))?;
    let k = if topk_ids.rank() == 2 { topk_ids.dim(1) } else { 1 };
    status.check("moe_align_block_size", |slot| {
        let id = topk_ids.reshape(&[topk_ids.numel()]).and_then(|t| t.narrow(0, slot as usize, 1)).and_then(|t| t.to_i64()).ok().and_then(|v| v.first().copied());
        let what = id.map_or_else(|| "an expert id".to_string(), |id| format!("expert id {id}"));
        format!("slot {slot} (token {}, choice {}) has {what}, outside [0, {})", slot as usize / k, slot as usize % k, align.num_experts)
    })
}

/// The M tile block size for `tokens` tokens routed `top_k` ways over `experts`.
/// Built for sm_90a (the default), blocks of 64 and 128 run the TMA-fed wgmma kernel: 64 up to
/// ~96 slots per expert (decode and small batches: the kernel is a weight stream, and its five
/// 40 KB stages keep ~200 KB per SM in flight), 128 above (prefill: half the A re-reads).
/// Run 40 (H200, Mixtral-8x7B experts, same call): block 64 streams the touched experts at
/// 2.8-4.1 TB/s from 1 to 64 tokens (67-98 % of copy) where block 16's mma.sync tiles reached
/// 1.7-3.0 TB/s. Builds for other GPUs keep the portable three-way choice (16 / 64 / 128).
pub fn fused_moe_block_size(tokens: usize, top_k: usize, experts: usize) -> usize {
    let per_expert = (tokens * top_k).div_ceil(experts.max(1));
    if per_expert > 96 {
        128
    } else if per_expert > 32 || crate::COMPUTE_CAP == "90a" {
        64
    } else {
        16
    }
}

/// Which product [`fused_moe`] computes.
#[derive(Clone, Copy, Debug)]
pub enum MoeGemm<'a> {
    /// `out[s] = silu(x[s/k] · w13[e, :I]ᵀ) * (x[s/k] · w13[e, I:]ᵀ)`; `a` is x `[T, H]`.
    GateUp { top_k: usize },
    /// `out[s] = w[s] · (inter[s] · w2[e]ᵀ)`; `a` is inter `[T*k, I]`; w = 1 without weights.
    Down { topk_weights: Option<&'a Tensor> },
}

/// One grouped expert GEMM over the blocks of `align` (which `moe_align_block_size` filled
/// for `out.dim(0)` slots). `weight` is `[E, n_w, K]` (gate_up: `n_w = 2·N`), `a` and `out`
/// 2-D bf16/f16 (rows may be strided); K and N multiples of 8.
pub fn fused_moe(table: &OpTable, a: &Tensor, weight: &Tensor, align: &MoeAlignment, gemm: MoeGemm<'_>, out: &Tensor) -> Result<()> {
    const OP: &str = "fused_moe";
    let dtype = weight.dtype();
    if !matches!(dtype, DType::BF16 | DType::F16) {
        return Err(Error::dtype(OP, format!("weight is {dtype}; fused_moe runs bf16 or f16 (tensor cores)")));
    }
    require_same_dtype(OP, "a", a, dtype)?;
    require_same_dtype(OP, "out", out, dtype)?;
    require_same_device(OP, &[("a", a), ("weight", weight), ("out", out), ("sorted_token_ids", &align.sorted_token_ids)])?;
    if weight.rank() != 3 || !weight.is_contiguous() {
        return Err(Error::shape(OP, format!("weight {weight:?} must be contiguous [num_experts, n, k]")));
    }
    let (experts, n_w, k) = (weight.dim(0), weight.dim(1), weight.dim(2));
    if experts != align.num_experts {
        return Err(Error::shape(OP, format!("weight {weight:?} has {experts} experts, the alignment {}", align.num_experts)));
    }
    if a.rank() != 2 || out.rank() != 2 {
        return Err(Error::shape(OP, format!("a {a:?} and out {out:?} must be 2-D")));
    }
    let (a_rows, ak, a_stride) = as_rows(OP, "a", a)?;
    let (slots, n, out_stride) = as_rows(OP, "out", out)?;
    let (rows_per_slot, activation, n_expect, weights) = match gemm {
        MoeGemm::GateUp { top_k } => (top_k, 1, 2 * n, None),
        MoeGemm::Down { topk_weights } => (1, 0, n, topk_weights),
    };
    if rows_per_slot == 0 || a_rows * rows_per_slot != slots {
        return Err(Error::shape(OP, format!("a {a:?} with {rows_per_slot} slot(s) per row does not give out's {slots} slot rows {out:?}")));
    }
    if ak != k || n_w != n_expect {
        let what = if activation == 1 { "gate_up: weight [E, 2N, K] for out [slots, N]" } else { "down: weight [E, N, K] for out [slots, N]" };
        return Err(Error::shape(OP, format!("{what}, but a {a:?}, weight {weight:?}, out {out:?}")));
    }
    if slots > align.max_slots {
        return Err(Error::shape(OP, format!("{slots} slots but the alignment holds {}", align.max_slots)));
    }
    if align.block_size % 16 != 0 {
        return Err(Error::shape(OP, format!("block_size {} must be a multiple of 16 (the GEMM's M tile)", align.block_size)));
    }
    if k % 8 != 0 || n % 8 != 0 || a_stride % 8 != 0 || out_stride % 8 != 0 || a.ptr() % 16 != 0 || out.ptr() % 16 != 0 || weight.ptr() % 16 != 0 {
        return Err(Error::shape(OP, format!("K {k}, N {n}, the row strides ({a_stride}, {out_stride}) must be multiples of 8 and the bases 16-byte aligned")));
    }
    if let Some(w) = weights {
        require_same_device(OP, &[("out", out), ("topk_weights", w)])?;
        require_i32_f32(OP, "topk_weights", w, DType::F32, slots)?;
    }
    for (what, t) in [("a", a), ("weight", weight)] {
        require_no_overlap(OP, ("out", out), (what, t))?;
    }
    let p = FusedMoeParams {
        out: out.ptr(),
        a: a.ptr(),
        weight: weight.ptr(),
        sorted_token_ids: align.sorted_token_ids.ptr(),
        expert_ids: align.expert_ids.ptr(),
        num_tokens_post_padded: align.num_tokens_post_padded.ptr(),
        topk_weights: weights.map_or(0, |w| w.ptr()),
        num_slots: slots as i64,
        em_capacity: align.capacity(slots) as i64,
        n: n as i64,
        k: k as i64,
        a_stride: a_stride as i64,
        out_stride: out_stride as i64,
        num_experts: experts as i32,
        a_rows_per_slot: rows_per_slot as i32,
        block_size: align.block_size as i32,
        activation,
        dtype: dtype.code(),
        pad_: 0,
    };
    launch(table, OpId::FusedMoe, a.device(), &p, || format!("a {a:?}, weight {weight:?}, out {out:?}, block {}", align.block_size))
}

/// `out[t] = Σ_j w[t, j] · input[t, j]` over `input` `[T, k, H]` (contiguous), `out` `[T, H]`
/// (rows may be strided); `w` = `topk_weights` (f32 `[T, k]`) or 1. With `topk_ids` (i32
/// `[T, k]`, and the expert count), slots whose expert is outside `[0, E)` are skipped.
pub fn moe_sum(table: &OpTable, input: &Tensor, topk_weights: Option<&Tensor>, topk_ids: Option<(&Tensor, usize)>, out: &Tensor) -> Result<()> {
    const OP: &str = "moe_sum";
    require_float(OP, "input", input)?;
    require_same_dtype(OP, "out", out, input.dtype())?;
    require_same_device(OP, &[("input", input), ("out", out)])?;
    if input.rank() != 3 || !input.is_contiguous() {
        return Err(Error::shape(OP, format!("input {input:?} must be contiguous [tokens, top_k, hidden]")));
    }
    let (tokens, k, hidden) = (input.dim(0), input.dim(1), input.dim(2));
    if k == 0 || k > 64 || hidden == 0 {
        return Err(Error::shape(OP, format!("input {input:?}: top_k must be in 1..=64 and hidden > 0")));
    }
    if out.rank() != 2 {
        return Err(Error::shape(OP, format!("out {out:?} must be [{tokens}, {hidden}]")));
    }
    let (orows, ocols, ostride) = as_rows(OP, "out", out)?;
    if orows != tokens || ocols != hidden {
        return Err(Error::shape(OP, format!("out {out:?} must be [{tokens}, {hidden}] for input {input:?}")));
    }
    if let Some(w) = topk_weights {
        require_same_device(OP, &[("input", input), ("topk_weights", w)])?;
        require_i32_f32(OP, "topk_weights", w, DType::F32, tokens * k)?;
    }
    let mut experts = 0;
    if let Some((ids, e)) = topk_ids {
        require_same_device(OP, &[("input", input), ("topk_ids", ids)])?;
        require_i32_f32(OP, "topk_ids", ids, DType::I32, tokens * k)?;
        if e == 0 || e > i32::MAX as usize {
            return Err(Error::shape(OP, format!("num_experts {e} must be positive")));
        }
        experts = e;
    }
    require_no_overlap(OP, ("out", out), ("input", input))?;
    let p = MoeSumParams {
        out: out.ptr(),
        input: input.ptr(),
        topk_weights: topk_weights.map_or(0, |w| w.ptr()),
        topk_ids: topk_ids.map_or(0, |(t, _)| t.ptr()),
        tokens: tokens as i64,
        hidden: hidden as i64,
        out_stride: ostride as i64,
        top_k: k as i32,
        num_experts: experts as i32,
        dtype: input.dtype().code(),
        pad_: 0,
    };
    launch(table, OpId::MoeSum, input.device(), &p, || format!("input {input:?}, out {out:?}"))
}

/// Everything [`fused_experts`] needs besides its inputs, allocated once for up to
/// `max_tokens` tokens (`max_tokens·top_k` slots).
pub struct MoeWorkspace {
    pub align: MoeAlignment,
    /// `[max_slots, I]`: silu(gate)·up per slot.
    pub inter: Tensor,
    /// `[max_slots, H]`: each slot's weighted expert output.
    pub expert_out: Tensor,
    pub top_k: usize,
}

impl MoeWorkspace {
    #[allow(clippy::too_many_arguments)]
    pub fn new(device: &Device, max_tokens: usize, top_k: usize, num_experts: usize, hidden: usize, intermediate: usize, block_size: usize, dtype: DType) -> Result<MoeWorkspace> {
        let slots = max_tokens * top_k;
        Ok(MoeWorkspace {
            align: MoeAlignment::new(device, slots, num_experts, block_size)?,
            inter: Tensor::empty(device, &[slots.max(1), intermediate], dtype)?,
            expert_out: Tensor::empty(device, &[slots.max(1), hidden], dtype)?,
            top_k,
        })
    }
}

/// vLLM's `fused_experts` (bf16/f16): `out[t] = Σ_j topk_weights[t, j] · MLP_{ids[t, j]}(x[t])`
/// for `x` `[T, H]`, `w13` `[E, 2I, H]`, `w2` `[E, H, I]`, routing from [`topk_softmax`].
/// Four launches (align, gate_up, down with the weights, sum), no sync.
#[allow(clippy::too_many_arguments)]
pub fn fused_experts(table: &OpTable, x: &Tensor, topk_weights: &Tensor, topk_ids: &Tensor, w13: &Tensor, w2: &Tensor, ws: &MoeWorkspace, out: &Tensor) -> Result<()> {
    const OP: &str = "fused_experts";
    if x.rank() != 2 || topk_ids.rank() != 2 || topk_ids.dim(0) != x.dim(0) || topk_ids.dim(1) != ws.top_k {
        return Err(Error::shape(OP, format!("x {x:?} must be [T, H] and topk_ids {topk_ids:?} [T, {}]", ws.top_k)));
    }
    let (tokens, slots, hidden) = (x.dim(0), x.dim(0) * ws.top_k, x.dim(1));
    if w13.rank() != 3 || w13.dim(1) % 2 != 0 {
        return Err(Error::shape(OP, format!("w13 {w13:?} must be [E, 2I, H]")));
    }
    let inter = w13.dim(1) / 2;
    if slots > ws.align.max_slots || ws.inter.dim(1) != inter || ws.expert_out.dim(1) != hidden {
        return Err(Error::shape(
            OP,
            format!("workspace (slots {}, inter {:?}, expert_out {:?}) does not fit {tokens} tokens x {} with I {inter}, H {hidden}", ws.align.max_slots, ws.inter, ws.expert_out, ws.top_k),
        ));
    }
    moe_align_block_size(table, topk_ids, &ws.align, None)?;
    let inter_buf = ws.inter.narrow(0, 0, slots)?;
    fused_moe(table, x, w13, &ws.align, MoeGemm::GateUp { top_k: ws.top_k }, &inter_buf)?;
    let y = ws.expert_out.narrow(0, 0, slots)?;
    let w = topk_weights.reshape(&[slots])?;
    fused_moe(table, &inter_buf, w2, &ws.align, MoeGemm::Down { topk_weights: Some(&w) }, &y)?;
    moe_sum(table, &y.reshape(&[tokens, ws.top_k, hidden])?, None, None, out)
}

#[cfg(test)]
mod tests {
    use super::fused_moe_block_size;

    /// Mixtral (8 experts, top-2): which kernel each batch size reaches (see the function's notes).
    #[test]
    fn block_size_follows_slots_per_expert() {
        let hopper = crate::COMPUTE_CAP == "90a";
        for (tokens, want_hopper, want_other) in [(1, 64, 16), (16, 64, 16), (128, 64, 16), (129, 64, 64), (384, 64, 64), (385, 128, 128), (4096, 128, 128)] {
            let want = if hopper { want_hopper } else { want_other };
            assert_eq!(fused_moe_block_size(tokens, 2, 8), want, "{tokens} tokens");
        }
        // Degenerate expert counts do not divide by zero.
        assert_eq!(fused_moe_block_size(4, 1, 0), if hopper { 64 } else { 16 });
    }
}
