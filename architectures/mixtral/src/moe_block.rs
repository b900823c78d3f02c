//! HF `MixtralSparseMoeBlock` on the GPU, executed as vLLM's `FusedMoE` does it: the router
//! GEMM (`block_sparse_moe.gate`, no bias) in the model dtype, `topk_softmax` (softmax in
//! fp32, top-k, weights renormalised to sum 1, as Mixtral does), then `fused_experts`:
//! token slots grouped by expert and padded to the GEMM tile (`moe_align_block_size`), one
//! grouped GEMM over every expert's `w1`/`w3` stacked as `w13 [E, 2I, H]` with SiLU·mul fused,
//! one over `w2 [E, H, I]` weighted by the routing weights, and `moe_sum`. No host sync, so the
//! block runs inside the decode step's CUDA graph.

use fk_baselines::ops::{self, fused_experts, fused_moe_block_size, topk_softmax, MoeWorkspace};
use fk_baselines::Context;
use fk_llm::decoder::FeedForward;
use fk_runtime::linear::Linear;
use fk_runtime::{DType, Device, Error, Result, Tensor};

pub struct MixtralSparseMoeBlock {
    /// The router, `[num_experts, hidden]`.
    pub gate: Linear,
    /// `[num_experts, 2·intermediate, hidden]`: each expert's `w1` (gate) rows, then `w3` (up).
    pub w13: Tensor,
    /// `[num_experts, hidden, intermediate]`: each expert's `w2` (down).
    pub w2: Tensor,
    pub top_k: usize,
}

/// Buffers of one step's MoE blocks (they run one after another, so one set).
pub struct MoeScratch {
    logits: Tensor,
    topk_weights: Tensor,
    topk_ids: Tensor,
    /// `(tile height, workspace)` for the tiles (16, 64, 128 rows) that steps of up to
    /// `max_tokens` use, each sized for the most tokens [`fused_moe_block_size`] gives it.
    workspaces: Vec<(usize, MoeWorkspace)>,
}

impl MoeScratch {
    /// The experts the last forward step routed its first `tokens` tokens to, `[tokens, top_k]`.
    pub fn topk_ids(&self, tokens: usize) -> Result<Tensor> {
        self.topk_ids.narrow(0, 0, tokens)
    }
}

impl MixtralSparseMoeBlock {
    pub fn new(gate: Linear, w13: Tensor, w2: Tensor, top_k: usize) -> Result<MixtralSparseMoeBlock> {
        let (e, h) = (gate.out_features(), gate.in_features());
        let ok = w13.rank() == 3 && w2.rank() == 3 && w13.dim(0) == e && w2.dim(0) == e && w13.dim(2) == h && w2.dim(1) == h && w13.dim(1) == 2 * w2.dim(2);
        if !ok || top_k == 0 || top_k > e {
            return Err(Error::shape(
                "MixtralSparseMoeBlock",
                format!("gate [{e}, {h}], w13 {w13:?}, w2 {w2:?} and top_k {top_k} do not fit together (w13 [E, 2I, H], w2 [E, H, I])"),
            ));
        }
        if !matches!(w13.dtype(), DType::BF16 | DType::F16) {
            return Err(Error::dtype("MixtralSparseMoeBlock", format!("{} experts: the fused MoE GEMM runs bf16 or f16 (load with --dtype bf16)", w13.dtype())));
        }
        Ok(MixtralSparseMoeBlock { gate, w13, w2, top_k })
    }

    pub fn num_experts(&self) -> usize {
        self.w13.dim(0)
    }

    pub fn intermediate_size(&self) -> usize {
        self.w2.dim(2)
    }
}

impl FeedForward for MixtralSparseMoeBlock {
    type Scratch = MoeScratch;

    fn scratch(&self, dev: &Device, max_tokens: usize, dtype: DType) -> Result<MoeScratch> {
        let (e, k, h, i) = (self.num_experts(), self.top_k, self.gate.in_features(), self.intermediate_size());
        let mut workspaces = Vec::new();
        for block in [16, 64, 128] {
            // The tile grows with the step, so each tile serves one contiguous range of token
            // counts: size its workspace for the largest.
            if let Some(most) = (1..=max_tokens).rev().find(|&t| fused_moe_block_size(t, k, e) == block) {
                workspaces.push((block, MoeWorkspace::new(dev, most, k, e, h, i, block, dtype)?));
            }
        }
        Ok(MoeScratch {
            logits: Tensor::empty(dev, &[max_tokens, e], dtype)?,
            topk_weights: Tensor::empty(dev, &[max_tokens, k], DType::F32)?,
            topk_ids: Tensor::empty(dev, &[max_tokens, k], DType::I32)?,
            workspaces,
        })
    }

    fn forward_into(&self, ctx: &Context, x: &Tensor, s: &MoeScratch, out: &Tensor) -> Result<()> {
        let t = x.dim(0);
        let logits = s.logits.narrow(0, 0, t)?;
        let (w, ids) = (s.topk_weights.narrow(0, 0, t)?, s.topk_ids.narrow(0, 0, t)?);
        ops::linear(ctx, x, &self.gate, &logits)?;
        topk_softmax(&ctx.ops, &logits, true, &w, &ids)?;
        let block = fused_moe_block_size(t, self.top_k, self.num_experts());
        let ws = s
            .workspaces
            .iter()
            .find(|(b, _)| *b == block)
            .map(|(_, ws)| ws)
            .ok_or_else(|| Error::bad_input("MixtralSparseMoeBlock", format!("{t} tokens exceed the scratch")))?;
        fused_experts(&ctx.ops, x, &w, &ids, &self.w13, &self.w2, ws, out)
    }

    fn weight_bytes(&self) -> usize {
        self.gate.weight.nbytes() + self.w13.nbytes() + self.w2.nbytes()
    }

    /// Router GEMM + top_k experts' gate_up (2·h·2i) and down (2·i·h).
    fn flops_per_token(&self) -> u64 {
        let (h, i) = (self.gate.in_features() as u64, self.intermediate_size() as u64);
        2 * h * self.num_experts() as u64 + self.top_k as u64 * 6 * h * i
    }

    /// The router and, at most, the experts `tokens · top_k` slots can touch.
    fn streamed_weight_bytes(&self, tokens: usize) -> usize {
        let e = self.num_experts();
        let touched = (tokens * self.top_k).min(e);
        self.gate.weight.nbytes() + (self.w13.nbytes() + self.w2.nbytes()) / e * touched
    }
}
