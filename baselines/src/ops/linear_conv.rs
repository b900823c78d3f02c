//! A Mamba mixer's decode in_proj and conv as one launch: [`linear`] into `out`, then
//! `causal_conv1d_update` on `out`'s conv columns into `conv_out`. On the `skinny_gemm` path
//! (decode-sized inputs) the conv runs in the GEMV's epilogue (`conv_*` fields of
//! `include/fk/ops/skinny_gemm.h`); otherwise the two ops run one after the other. Either way
//! the result is the two ops' (the epilogue convolves the same rounded in_proj output).

use super::conv1d::{conv_update, conv_update_params};
use super::linear::{skinny_params, takes_skinny_path, WeightSource};
use super::{launch, linear, CausalConv1d, StateSlots};
use crate::context::Context;
use crate::table::OpId;
use fk_runtime::linear::Linear;
use fk_runtime::{Error, Result, Tensor};

/// Where the conv step reads and writes: `out`'s columns `begin .. begin + dim` (dim = the
/// conv weight's rows) are its input; `conv_out` `[rows, dim]` its output; `state` the rolling
/// conv cache, `[rows, dim, width - 1]`, or `[slots, dim, width - 1]` read through `slots`.
#[derive(Clone, Copy)]
pub struct ConvStep<'a> {
    pub conv: &'a CausalConv1d<'a>,
    pub begin: usize,
    pub state: &'a Tensor,
    pub slots: Option<&'a StateSlots>,
    pub conv_out: &'a Tensor,
    /// Run the GEMV on the streaming kernel where it applies ([`WeightSource::StreamedParameter`]).
    pub streamed: bool,
}

/// `out = x · lin.weightᵀ (+ bias)`, then `causal_conv1d_update(out[:, begin..begin + dim])`
/// into `step.conv_out`, rolling `step.state`.
pub fn linear_conv1d_update(ctx: &Context, x: &Tensor, lin: &Linear, out: &Tensor, step: &ConvStep) -> Result<()> {
    const OP: &str = "linear_conv1d_update";
    let dim = step.conv.weight.dim(0);
    if out.rank() != 2 || step.begin + dim > out.dim(1) {
        return Err(Error::shape(OP, format!("conv channels {}..{} lie outside out {out:?}", step.begin, step.begin + dim)));
    }
    let conv_in = out.narrow(1, step.begin, dim)?;
    if !takes_skinny_path(x, lin) {
        linear(ctx, x, lin, out)?;
        return conv_update(&ctx.ops, step.conv, &conv_in, step.state, step.slots, step.conv_out);
    }
    let source = if step.streamed { WeightSource::StreamedParameter } else { WeightSource::Parameter };
    let mut p = skinny_params(x, &lin.weight, lin.bias.as_ref(), out, source)?;
    let c = conv_update_params(step.conv, &conv_in, step.state, step.slots, step.conv_out)?;
    // The GEMV reads x while the epilogue writes conv_out and the state: they must not meet.
    for (what, t) in [("conv_out", step.conv_out), ("conv_state", step.state)] {
        super::require_no_overlap(OP, (what, t), ("x", x))?;
        super::require_no_overlap(OP, (what, t), ("weight", &lin.weight))?;
    }
    p.conv_out = c.out;
    p.conv_weight = c.weight;
    p.conv_bias = c.bias;
    p.conv_state = c.conv_state;
    p.conv_state_indices = c.state_indices;
    p.conv_state_rows = c.state_rows;
    p.conv_begin = step.begin as i64;
    p.conv_dim = c.dim;
    p.conv_out_stride = c.out_stride;
    p.conv_width = c.width;
    p.conv_silu = c.silu;
    launch(&ctx.ops, OpId::SkinnyGemm, x.device(), &p, || format!("x {x:?}, weight {:?}, out {out:?}, conv channels from {}", lin.weight, step.begin))
}
