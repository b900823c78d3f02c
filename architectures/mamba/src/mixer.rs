//! The GPU `MambaMixer` (HF `MambaMixer.forward` / mamba_ssm's `Mamba`): in_proj → (x, z);
//! x → `causal_conv1d` + SiLU (prefill, varlen) or `causal_conv1d_update` (decode); x_proj →
//! (dt, B, C) read as column views; dt_proj without its bias (the scan adds it in f32 before
//! the softplus, as HF passes `delta_bias`); `selective_scan` (prefill) or
//! `selective_state_update` (decode) with the D skip and SiLU(z) gate fused; out_proj.
//! Recurrent states are the batch's rows of the state cache, read and written in place.

use fk_baselines::ops::{
    self, CausalConv1d, ConvStep, DecodeTokens, MambaDecodeBlock, MambaDecodeScratch, PrefillStates, ScanTokens, SelectiveScan,
    SeqLens, StateSlots, StateUpdate,
};
use fk_baselines::Context;
use fk_linear_attn::state_cache::LayerStates;
use fk_linear_attn::{RecurrentMixer, RecurrentStateCache, SlotMixer};
use fk_runtime::linear::Linear;
use fk_runtime::{DType, Device, Error, Result, Tensor};

/// The activations of one decode step of a mixer for a batch of `rows`, allocated once and
/// shared by every layer (they run one after another), so a step launches kernels only and can
/// be captured as a CUDA graph.
pub struct MixerDecodeBuffers {
    xz: Tensor,
    xc: Tensor,
    dbc: Tensor,
    dt: Tensor,
    y: Tensor,
    /// The one-kernel step's grid barrier and x_proj sums (`mamba_decode_layers`).
    barrier: Tensor,
    acc: Tensor,
    /// Run a one-sequence step's blocks in that one kernel where it applies (the default;
    /// `FK_MAMBA_DECODE_LAYERS=0` at creation turns it off: A/B runs and tests).
    pub one_kernel: bool,
}

impl MixerDecodeBuffers {
    pub fn new(dev: &Device, mixer: &MambaMixer, rows: usize, dtype: DType) -> Result<MixerDecodeBuffers> {
        let i = mixer.intermediate_size();
        // Zeroed: padding rows of a bucket flow through the row-wise ops and must stay finite.
        let z = |cols: usize| Tensor::zeros(dev, &[rows, cols], dtype);
        Ok(MixerDecodeBuffers {
            xz: z(2 * i)?,
            xc: z(i)?,
            dbc: z(mixer.x_proj.out_features())?,
            dt: z(i)?,
            y: z(i)?,
            barrier: Tensor::zeros(dev, &[1], DType::I32)?,
            acc: Tensor::zeros(dev, &ops::mamba_decode_acc_shape(mixer.time_step_rank, mixer.state_size), DType::I64)?,
            one_kernel: std::env::var("FK_MAMBA_DECODE_LAYERS").map_or(true, |v| v != "0"),
        })
    }
}

pub struct MambaMixer {
    pub in_proj: Linear,
    /// conv1d.weight `[intermediate, 1, k]` viewed as `[intermediate, k]` (model dtype).
    pub conv_weight: Tensor,
    pub conv_bias: Option<Tensor>,
    pub x_proj: Linear,
    /// x_proj.weight transposed `[intermediate, time_step_rank + 2·state_size]`, for the
    /// one-kernel decode step (16-bit models; see `ops::x_proj_transposed`).
    pub x_proj_t: Option<Tensor>,
    /// dt_proj.weight only; its bias is `dt_bias`.
    pub dt_proj: Linear,
    /// dt_proj.bias as f32 `[intermediate]` (the scan kernels keep SSM parameters in f32).
    pub dt_bias: Tensor,
    /// `-exp(A_log)` f32 `[intermediate, state_size]`.
    pub a: Tensor,
    /// D f32 `[intermediate]`.
    pub d: Tensor,
    pub out_proj: Linear,
    pub time_step_rank: usize,
    pub state_size: usize,
}

impl MambaMixer {
    /// in_proj, x_proj, dt_proj, out_proj.
    fn projections(&self) -> [&Linear; 4] {
        [&self.in_proj, &self.x_proj, &self.dt_proj, &self.out_proj]
    }

    pub fn intermediate_size(&self) -> usize {
        self.a.dim(0)
    }

    fn conv(&self) -> CausalConv1d<'_> {
        CausalConv1d {
            weight: &self.conv_weight,
            bias: self.conv_bias.as_ref(),
            silu: true,
        }
    }

    /// Linear on `x` into a fresh `[rows, out]` tensor (skinny GEMM for one row, cuBLASLt otherwise).
    fn project(ctx: &Context, lin: &Linear, x: &Tensor) -> Result<Tensor> {
        let out = Tensor::empty(x.device(), &[x.dim(0), lin.out_features()], lin.dtype())?;
        ops::linear(ctx, x, lin, &out)?;
        Ok(out)
    }

    /// in_proj, then (x, z) as column views of its output.
    fn split_in_proj(&self, ctx: &Context, hidden: &Tensor) -> Result<(Tensor, Tensor, Tensor)> {
        let i = self.intermediate_size();
        let xz = Self::project(ctx, &self.in_proj, hidden)?;
        let (x, z) = (xz.narrow(1, 0, i)?, xz.narrow(1, i, i)?);
        Ok((xz, x, z))
    }

    /// x_proj and dt_proj: returns (dt `[rows, intermediate]`, the x_proj output, B, C views).
    fn dt_b_c(&self, ctx: &Context, xc: &Tensor) -> Result<(Tensor, Tensor, Tensor, Tensor)> {
        let (r, n) = (self.time_step_rank, self.state_size);
        let dbc = Self::project(ctx, &self.x_proj, xc)?;
        let dt = Self::project(ctx, &self.dt_proj, &dbc.narrow(1, 0, r)?)?;
        let (b, c) = (dbc.narrow(1, r, n)?, dbc.narrow(1, r + n, n)?);
        Ok((dt, dbc, b, c))
    }

    fn check_states(&self, states: &LayerStates, batch: usize, dtype: DType) -> Result<()> {
        let (i, n, k) = (
            self.intermediate_size(),
            self.state_size,
            self.conv_weight.dim(1),
        );
        if states.conv.shape() != [batch, i, k - 1] || states.conv.dtype() != dtype {
            return Err(Error::shape(
                "MambaMixer",
                format!(
                    "conv state {:?} must be {dtype} [{batch}, {i}, {}]",
                    states.conv,
                    k - 1
                ),
            ));
        }
        if states.ssm.shape() != [batch, i, n] || states.ssm.dtype() != DType::F32 {
            return Err(Error::shape(
                "MambaMixer",
                format!("ssm state {:?} must be f32 [{batch}, {i}, {n}]", states.ssm),
            ));
        }
        Ok(())
    }

    /// Prefill `hidden` `[tokens, hidden_size]`: the sequences of `seqlens`, each continuing
    /// from (and leaving its final state in) row s of `states` (zeroed rows start a sequence).
    pub fn prefill(
        &self,
        ctx: &Context,
        hidden: &Tensor,
        seqlens: &SeqLens,
        states: &LayerStates,
    ) -> Result<Tensor> {
        self.check_states(states, seqlens.batch(), hidden.dtype())?;
        let (_xz, x, z) = self.split_in_proj(ctx, hidden)?;
        let xc = Tensor::empty(hidden.device(), x.shape(), x.dtype())?;
        let st = PrefillStates {
            initial: Some(&states.conv),
            final_state: Some(&states.conv),
        };
        ops::causal_conv1d(&ctx.ops, &self.conv(), &x, seqlens, st, &xc)?;
        let (dt, _dbc, b, c) = self.dt_b_c(ctx, &xc)?;
        let y = Tensor::empty(hidden.device(), xc.shape(), xc.dtype())?;
        let scan = SelectiveScan {
            a: &self.a,
            d: Some(&self.d),
            delta_bias: Some(&self.dt_bias),
            delta_softplus: true,
        };
        let tokens = ScanTokens {
            u: &xc,
            delta: &dt,
            b: &b,
            c: &c,
            z: Some(&z),
        };
        let st = PrefillStates {
            initial: Some(&states.ssm),
            final_state: Some(&states.ssm),
        };
        ops::selective_scan(&ctx.ops, &scan, &tokens, seqlens, st, &y)?;
        Self::project(ctx, &self.out_proj, &y)
    }

    /// One token per batch row, graph-capturable: `hidden` `[rows, hidden_size]` is read, then
    /// overwritten with the mixer's output; row b's states are slot `slots[b]` of this layer's
    /// cache tensors (`conv` `[capacity, intermediate, k - 1]`, `ssm` `[capacity, intermediate,
    /// state_size]`), advanced in place; padding rows touch no state.
    pub fn decode_slots(&self, ctx: &Context, hidden: &Tensor, conv: &Tensor, ssm: &Tensor, slots: &StateSlots, b: &MixerDecodeBuffers) -> Result<()> {
        let (i, r, n) = (self.intermediate_size(), self.time_step_rank, self.state_size);
        // in_proj with the conv step on its x columns in the GEMV's epilogue (one kernel).
        let step = ConvStep { conv: &self.conv(), begin: 0, state: conv, slots: Some(slots), conv_out: &b.xc, streamed: false };
        ops::linear_conv1d_update(ctx, hidden, &self.in_proj, &b.xz, &step)?;
        let z = b.xz.narrow(1, i, i)?;
        ops::linear(ctx, &b.xc, &self.x_proj, &b.dbc)?;
        // At one or two rows, dt_proj inside the state update (one launch and one dependent
        // round trip fewer per layer): it reads x_proj's dt columns itself. Every row re-reads
        // the 1.6 MB weight, so a batch runs the GEMV. Run 49 (H200, A/B in one call, graph
        // decode of mamba-2.8b): batch 1 2294-2304 -> 2179-2189 us (57.7 -> 60.8 % of copy);
        // batch 32 fused 3613-3631 -> 4385-4394 us. Batches of 2-16 were not measured.
        let dt_in = b.dbc.narrow(1, 0, r)?;
        let fuse = b.xc.dim(0) <= 2;
        if !fuse {
            ops::linear(ctx, &dt_in, &self.dt_proj, &b.dt)?;
        }
        let m = self.state_update(fuse);
        let tokens = DecodeTokens { x: &b.xc, dt: if fuse { &dt_in } else { &b.dt }, b: &b.dbc.narrow(1, r, n)?, c: &b.dbc.narrow(1, r + n, n)?, z: Some(&z) };
        ops::selective_state_update_slots(&ctx.ops, &m, &tokens, ssm, slots, &b.y)?;
        ops::linear(ctx, &b.y, &self.out_proj, hidden)
    }

    /// The decode step's SSM parameters; with `dt_proj`, the state update projects dt itself
    /// from x_proj's dt columns. Both decode paths run it right after x_proj or dt_proj, which
    /// never write the state: the settled-state promise holds.
    fn state_update(&self, dt_proj: bool) -> StateUpdate<'_> {
        StateUpdate {
            a: &self.a,
            d: Some(&self.d),
            dt_bias: Some(&self.dt_bias),
            dt_softplus: true,
            ngroups: 1,
            state_settled: true,
            dt_proj: dt_proj.then_some(&self.dt_proj.weight),
        }
    }

    /// One token per sequence: `hidden` `[batch, hidden_size]`, states advanced in place.
    pub fn decode(&self, ctx: &Context, hidden: &Tensor, states: &LayerStates) -> Result<Tensor> {
        self.check_states(states, hidden.dim(0), hidden.dtype())?;
        let (_xz, x, z) = self.split_in_proj(ctx, hidden)?;
        let xc = Tensor::empty(hidden.device(), x.shape(), x.dtype())?;
        ops::causal_conv1d_update(&ctx.ops, &self.conv(), &x, &states.conv, &xc)?;
        let (dt, _dbc, b, c) = self.dt_b_c(ctx, &xc)?;
        let y = Tensor::empty(hidden.device(), xc.shape(), xc.dtype())?;
        let m = self.state_update(false);
        let tokens = DecodeTokens {
            x: &xc,
            dt: &dt,
            b: &b,
            c: &c,
            z: Some(&z),
        };
        ops::selective_state_update(&ctx.ops, &m, &tokens, &states.ssm, &y)?;
        Self::project(ctx, &self.out_proj, &y)
    }
}

impl MambaMixer {
    /// The blocks of a one-sequence decode step in one kernel where it applies (see
    /// [`SlotMixer::decode_stack`]): one row, no projection biases, shapes the kernel takes.
    fn decode_stack(ctx: &Context, blocks: &[(&Tensor, &MambaMixer)], eps: f32, residual: &Tensor, cache: &RecurrentStateCache, slots: &StateSlots, b: &MixerDecodeBuffers) -> Result<bool> {
        let Some((_, m)) = blocks.first() else { return Ok(false) };
        let (hidden, inner) = (residual.dim(1), m.intermediate_size());
        let applies = residual.dim(0) == 1
            && b.one_kernel
            && blocks.iter().all(|(_, m)| m.x_proj_t.is_some() && m.projections().iter().all(|l| l.bias.is_none()))
            && ops::mamba_decode_layers_supported(residual.device(), residual.dtype(), hidden, inner, m.time_step_rank, m.state_size, m.conv_weight.dim(1));
        if !applies {
            return Ok(false);
        }
        let mut layers = Vec::with_capacity(blocks.len());
        for (l, (norm, m)) in blocks.iter().enumerate() {
            let Some(x_proj_t) = m.x_proj_t.as_ref() else { return Ok(false) };
            layers.push(MambaDecodeBlock {
                norm,
                in_proj: &m.in_proj.weight,
                conv_weight: &m.conv_weight,
                conv_bias: m.conv_bias.as_ref(),
                x_proj_t,
                dt_proj: &m.dt_proj.weight,
                dt_bias: &m.dt_bias,
                a: &m.a,
                d: &m.d,
                out_proj: &m.out_proj.weight,
                conv_state: cache.conv(l)?,
                ssm_state: cache.ssm(l)?,
            });
        }
        let scratch = MambaDecodeScratch { xc: &b.xc, dbc: &b.dbc, y: &b.y, acc: &b.acc, barrier: &b.barrier };
        ops::mamba_decode_layers(&ctx.ops, &layers, eps, residual, slots, &scratch)?;
        Ok(true)
    }
}

/// The family's decode-by-slot step (CUDA graphs) runs the mixer through this.
impl SlotMixer for MambaMixer {
    type Buffers = MixerDecodeBuffers;
    fn decode_buffers(&self, dev: &Device, rows: usize, dtype: DType) -> Result<MixerDecodeBuffers> {
        MixerDecodeBuffers::new(dev, self, rows, dtype)
    }
    fn decode_slots(&self, ctx: &Context, hidden: &Tensor, conv: &Tensor, ssm: &Tensor, slots: &StateSlots, bufs: &MixerDecodeBuffers) -> Result<()> {
        MambaMixer::decode_slots(self, ctx, hidden, conv, ssm, slots, bufs)
    }
    fn decode_stack(ctx: &Context, blocks: &[(&Tensor, &MambaMixer)], eps: f32, residual: &Tensor, cache: &RecurrentStateCache, slots: &StateSlots, bufs: &MixerDecodeBuffers) -> Result<bool> {
        MambaMixer::decode_stack(ctx, blocks, eps, residual, cache, slots, bufs)
    }
}

/// The family's stack runs the mixer through this (the inherent methods stay for direct use).
impl RecurrentMixer for MambaMixer {
    fn prefill(&self, ctx: &Context, hidden: &Tensor, seqlens: &SeqLens, states: &LayerStates) -> Result<Tensor> {
        MambaMixer::prefill(self, ctx, hidden, seqlens, states)
    }
    fn decode(&self, ctx: &Context, hidden: &Tensor, states: &LayerStates) -> Result<Tensor> {
        MambaMixer::decode(self, ctx, hidden, states)
    }
    fn weight_bytes(&self) -> usize {
        let params = [&self.conv_weight, &self.dt_bias, &self.a, &self.d];
        self.projections().iter().map(|l| l.nbytes()).sum::<usize>() + params.iter().map(|t| t.nbytes()).sum::<usize>() + self.conv_bias.as_ref().map_or(0, Tensor::nbytes)
    }
    fn flops_per_token(&self) -> u64 {
        self.projections().iter().map(|l| l.flops_per_row()).sum::<u64>() + 6 * self.a.numel() as u64
    }
}
