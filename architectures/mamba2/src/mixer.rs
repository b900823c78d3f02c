//! The GPU `Mamba2Mixer` (HF `Mamba2Mixer.forward`): in_proj → (z, xBC, dt) read as column
//! views of its output; xBC → `causal_conv1d` + SiLU (prefill, varlen) or `causal_conv1d_update`
//! (decode); (x, B, C) column views of the conv output; the SSD scan — `ssd_chunk_scan` for a
//! prefill, `selective_state_update` (per-head A, grouped B/C) for decode — with dt_bias,
//! softplus and the D skip fused and no gate; the gated group RMSNorm `norm(y · silu(z))`;
//! out_proj. Recurrent states are the batch's rows of the state cache, read and written in place.
//!
//! The time-step clamp `time_step_limit` applies to the prefill only, as in HF (its decode
//! update takes no limit; with the default `(0, inf)` neither clamps anything).

use fk_baselines::ops::{self, CausalConv1d, ConvStep, DecodeTokens, PrefillStates, SeqLens, SsdScan, SsdTokens, StateSlots, StateUpdate};
use fk_baselines::Context;
use fk_linear_attn::{LayerStates, RecurrentMixer, SlotMixer};
use fk_runtime::linear::Linear;
use fk_runtime::{DType, Device, Error, Result, Tensor};

/// The activations of one decode step of a mixer for a batch of `rows`, allocated once and
/// shared by every layer (they run one after another), so a step launches kernels only and can
/// be captured as a CUDA graph.
pub struct MixerDecodeBuffers {
    /// in_proj's output: z, xBC, dt.
    zxbcdt: Tensor,
    /// The conv's output: x, B, C.
    xbc: Tensor,
    /// The scan's output, normed in place.
    y: Tensor,
}

pub struct Mamba2Mixer {
    /// `[intermediate + conv_dim + num_heads, hidden]`: z, xBC, dt.
    pub in_proj: Linear,
    /// conv1d.weight `[conv_dim, 1, k]` viewed as `[conv_dim, k]` (model dtype).
    pub conv_weight: Tensor,
    pub conv_bias: Option<Tensor>,
    /// f32 `[num_heads]` (the scan kernels keep SSM parameters in f32, as HF computes them).
    pub dt_bias: Tensor,
    /// `-exp(A_log)` f32 `[num_heads]`.
    pub a: Tensor,
    /// D f32 `[num_heads]`.
    pub d: Tensor,
    /// The gated norm's weight `[intermediate]` (model dtype).
    pub norm: Tensor,
    pub out_proj: Linear,
    pub head_dim: usize,
    pub n_groups: usize,
    pub state_size: usize,
    pub time_step_limit: (f32, f32),
    pub eps: f32,
}

impl Mamba2Mixer {
    pub fn num_heads(&self) -> usize {
        self.a.dim(0)
    }

    pub fn intermediate_size(&self) -> usize {
        self.num_heads() * self.head_dim
    }

    /// Channels of the conv: x, B, C.
    pub fn conv_dim(&self) -> usize {
        self.intermediate_size() + 2 * self.n_groups * self.state_size
    }

    fn conv(&self) -> CausalConv1d<'_> {
        CausalConv1d { weight: &self.conv_weight, bias: self.conv_bias.as_ref(), silu: true }
    }

    /// Linear on `x` into a fresh `[rows, out]` tensor.
    fn project(ctx: &Context, lin: &Linear, x: &Tensor) -> Result<Tensor> {
        let out = Tensor::empty(x.device(), &[x.dim(0), lin.out_features()], lin.dtype())?;
        ops::linear(ctx, x, lin, &out)?;
        Ok(out)
    }

    fn check_states(&self, states: &LayerStates, batch: usize, dtype: DType) -> Result<()> {
        let (cd, k) = (self.conv_dim(), self.conv_weight.dim(1));
        if states.conv.shape() != [batch, cd, k - 1] || states.conv.dtype() != dtype {
            return Err(Error::shape("Mamba2Mixer", format!("conv state {:?} must be {dtype} [{batch}, {cd}, {}]", states.conv, k - 1)));
        }
        let want = [batch, self.num_heads(), self.head_dim, self.state_size];
        if states.ssm.shape() != want || states.ssm.dtype() != DType::F32 {
            return Err(Error::shape("Mamba2Mixer", format!("ssm state {:?} must be f32 {want:?}", states.ssm)));
        }
        Ok(())
    }

    /// The shared front: in_proj, then the conv (run by `conv`) over the xBC columns. Returns
    /// (in_proj output, which z and dt view; conv output, which x, B and C view).
    fn front(&self, ctx: &Context, hidden: &Tensor, conv: impl FnOnce(&Tensor, &Tensor) -> Result<()>) -> Result<(Tensor, Tensor)> {
        let (i, cd) = (self.intermediate_size(), self.conv_dim());
        let zxbcdt = Self::project(ctx, &self.in_proj, hidden)?;
        let xbc = Tensor::empty(hidden.device(), &[hidden.dim(0), cd], hidden.dtype())?;
        conv(&zxbcdt.narrow(1, i, cd)?, &xbc)?;
        Ok((zxbcdt, xbc))
    }

    /// z and dt: column views of the in_proj output.
    fn z_dt(&self, zxbcdt: &Tensor) -> Result<(Tensor, Tensor)> {
        let (i, cd) = (self.intermediate_size(), self.conv_dim());
        Ok((zxbcdt.narrow(1, 0, i)?, zxbcdt.narrow(1, i + cd, self.num_heads())?))
    }

    /// x, B, C: column views of the conv output.
    fn x_b_c(&self, xbc: &Tensor) -> Result<(Tensor, Tensor, Tensor)> {
        let (i, gn) = (self.intermediate_size(), self.n_groups * self.state_size);
        Ok((xbc.narrow(1, 0, i)?, xbc.narrow(1, i, gn)?, xbc.narrow(1, i + gn, gn)?))
    }

    /// The back: y ← norm(y · silu(z)) in place, then out_proj.
    fn back(&self, ctx: &Context, y: &Tensor, z: &Tensor) -> Result<Tensor> {
        self.gated_norm(ctx, y, z)?;
        Self::project(ctx, &self.out_proj, y)
    }

    /// y ← norm(y · silu(z)), in place.
    fn gated_norm(&self, ctx: &Context, y: &Tensor, z: &Tensor) -> Result<()> {
        let group = self.intermediate_size() / self.n_groups;
        ops::rms_norm_gated(&ctx.ops, y, Some(z), &self.norm, group, self.eps, y)
    }

    /// The decode update's SSM parameters (no gate: HF gates in the norm).
    fn state_update(&self) -> StateUpdate<'_> {
        StateUpdate { a: &self.a, d: Some(&self.d), dt_bias: Some(&self.dt_bias), dt_softplus: true, ngroups: self.n_groups, state_settled: true, dt_proj: None }
    }

    /// The chunked SSD scan over the packed prefill (`ssd_chunk_scan` of fk-baselines).
    fn ssd_prefill(&self, ctx: &Context, tokens: &SsdTokens, seqlens: &SeqLens, states: &LayerStates, y: &Tensor) -> Result<()> {
        let scan = SsdScan {
            a: &self.a,
            d: Some(&self.d),
            dt_bias: Some(&self.dt_bias),
            dt_softplus: true,
            dt_limit: self.time_step_limit,
            ngroups: self.n_groups,
        };
        let st = PrefillStates { initial: Some(&states.ssm), final_state: Some(&states.ssm) };
        ops::ssd_chunk_scan(&ctx.ops, &scan, tokens, seqlens, st, y)
    }
}

impl RecurrentMixer for Mamba2Mixer {
    /// Prefill `hidden` `[tokens, hidden_size]`: the sequences of `seqlens`, each continuing
    /// from (and leaving its final state in) row s of `states` (zeroed rows start a sequence).
    fn prefill(&self, ctx: &Context, hidden: &Tensor, seqlens: &SeqLens, states: &LayerStates) -> Result<Tensor> {
        self.check_states(states, seqlens.batch(), hidden.dtype())?;
        let (zxbcdt, xbc) = self.front(ctx, hidden, |inp, out| {
            let st = PrefillStates { initial: Some(&states.conv), final_state: Some(&states.conv) };
            ops::causal_conv1d(&ctx.ops, &self.conv(), inp, seqlens, st, out)
        })?;
        let (z, dt) = self.z_dt(&zxbcdt)?;
        let (x, b, c) = self.x_b_c(&xbc)?;
        let y = Tensor::empty(hidden.device(), &[hidden.dim(0), self.intermediate_size()], hidden.dtype())?;
        self.ssd_prefill(ctx, &SsdTokens { x: &x, dt: &dt, b: &b, c: &c }, seqlens, states, &y)?;
        self.back(ctx, &y, &z)
    }

    /// One token per sequence: `hidden` `[batch, hidden_size]`, states advanced in place.
    fn decode(&self, ctx: &Context, hidden: &Tensor, states: &LayerStates) -> Result<Tensor> {
        self.check_states(states, hidden.dim(0), hidden.dtype())?;
        let (zxbcdt, xbc) = self.front(ctx, hidden, |inp, out| ops::causal_conv1d_update(&ctx.ops, &self.conv(), inp, &states.conv, out))?;
        let (z, dt) = self.z_dt(&zxbcdt)?;
        let (x, b, c) = self.x_b_c(&xbc)?;
        let y = Tensor::empty(hidden.device(), &[hidden.dim(0), self.intermediate_size()], hidden.dtype())?;
        ops::selective_state_update(&ctx.ops, &self.state_update(), &DecodeTokens { x: &x, dt: &dt, b: &b, c: &c, z: None }, &states.ssm, &y)?;
        self.back(ctx, &y, &z)
    }

    fn weight_bytes(&self) -> usize {
        let params = [&self.conv_weight, &self.dt_bias, &self.a, &self.d, &self.norm];
        self.in_proj.nbytes() + self.out_proj.nbytes() + params.iter().map(|t| t.nbytes()).sum::<usize>() + self.conv_bias.as_ref().map_or(0, Tensor::nbytes)
    }

    /// The SSD scan counted as the recurrence it computes: ~6 per state element
    /// (`intermediate_size × state_size`) per token.
    fn flops_per_token(&self) -> u64 {
        self.in_proj.flops_per_row() + self.out_proj.flops_per_row() + 6 * (self.intermediate_size() * self.state_size) as u64
    }
}

/// The family's decode-by-slot step (CUDA graphs) runs the mixer through this: the decode path
/// above on preallocated buffers, states read and written at their slots of the cache.
impl SlotMixer for Mamba2Mixer {
    type Buffers = MixerDecodeBuffers;

    fn decode_buffers(&self, dev: &Device, rows: usize, dtype: DType) -> Result<MixerDecodeBuffers> {
        // Zeroed: padding rows of a bucket flow through the row-wise ops and must stay finite.
        let z = |cols: usize| Tensor::zeros(dev, &[rows, cols], dtype);
        Ok(MixerDecodeBuffers { zxbcdt: z(self.in_proj.out_features())?, xbc: z(self.conv_dim())?, y: z(self.intermediate_size())? })
    }

    fn decode_slots(&self, ctx: &Context, hidden: &Tensor, conv: &Tensor, ssm: &Tensor, slots: &StateSlots, b: &MixerDecodeBuffers) -> Result<()> {
        let i = self.intermediate_size();
        // in_proj with the conv step on its xBC columns in the GEMV's epilogue (one kernel).
        let step = ConvStep { conv: &self.conv(), begin: i, state: conv, slots: Some(slots), conv_out: &b.xbc, streamed: true };
        ops::linear_conv1d_update(ctx, hidden, &self.in_proj, &b.zxbcdt, &step)?;
        let (z, dt) = self.z_dt(&b.zxbcdt)?;
        let (x, bm, c) = self.x_b_c(&b.xbc)?;
        ops::selective_state_update_slots(&ctx.ops, &self.state_update(), &DecodeTokens { x: &x, dt: &dt, b: &bm, c: &c, z: None }, ssm, slots, &b.y)?;
        self.gated_norm(ctx, &b.y, &z)?;
        ops::linear_streamed(ctx, &b.y, &self.out_proj, hidden)
    }
}
