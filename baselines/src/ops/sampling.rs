//! sample: one token per row of logits, greedy or temperature / top-k / top-p, seeded by
//! (seed, counter) per row. Semantics: `include/fk/ops/sample.h`; CPU reference:
//! [`crate::reference::sampling`].

use super::{as_rows, launch, require_float, require_no_overlap, require_same_device, DeviceStatus};
use crate::ffi::SampleParams;
use crate::table::{OpId, OpTable};
use fk_runtime::{DType, Error, Result, Tensor};

const OP: &str = "sample";

/// Largest vocabulary the kernel holds on chip (8 CTAs x 128 KB of shared memory).
pub const SAMPLE_MAX_VOCAB: usize = 262_144;

/// Per-row parameters live on the device (so a CUDA graph can replay the same launch with new values).
pub struct SamplingInputs<'a> {
    /// f32 [batch]; <= 0 (or top_k == 1) means greedy argmax.
    pub temperature: &'a Tensor,
    /// i32 [batch]; 0 = off.
    pub top_k: &'a Tensor,
    /// f32 [batch]; 1.0 = off; must be in (0, 1].
    pub top_p: &'a Tensor,
    /// i64 [batch, 2]: (seed, counter) — the counter is the decode step; same (seed, counter, logits) => same token.
    pub rng: &'a Tensor,
}

/// Bytes of workspace [`sample`] needs: none (everything stays in shared memory).
pub fn sample_workspace_bytes(_batch: usize, _vocab: usize) -> usize {
    0
}

/// Sample `out[r]` (i32 `[batch]`) from `logits` `[batch, vocab]` (f32/f16/bf16, rows may be
/// strided), enqueued without a sync. A row whose parameters are invalid (temperature NaN
/// or +inf, top_k < 0, top_p outside (0, 1]) gets token -1; [`sample_checked`] turns that
/// into an error naming the row.
pub fn sample(table: &OpTable, logits: &Tensor, inputs: &SamplingInputs<'_>, workspace: Option<&Tensor>, out: &Tensor) -> Result<()> {
    launch_sample(table, logits, inputs, workspace, out, None)
}

/// [`sample`], also recording rows with invalid parameters in `status` (no sync).
pub fn sample_with_status(table: &OpTable, logits: &Tensor, inputs: &SamplingInputs<'_>, workspace: Option<&Tensor>, out: &Tensor, status: &DeviceStatus) -> Result<()> {
    launch_sample(table, logits, inputs, workspace, out, Some(status))
}

/// [`sample_with_status`], then wait and fail with `BadInput` naming the first row whose
/// parameters are invalid, and why.
pub fn sample_checked(table: &OpTable, logits: &Tensor, inputs: &SamplingInputs<'_>, workspace: Option<&Tensor>, out: &Tensor, status: &DeviceStatus) -> Result<()> {
    sample_with_status(table, logits, inputs, workspace, out, status)?;
    status.check(OP, |row| {
        let r = row as usize;
        let read = || -> Result<crate::reference::SampleParams> {
            let t = inputs.temperature.narrow(0, r, 1)?.to_f32()?[0];
            let k = inputs.top_k.narrow(0, r, 1)?.to_i64()?[0] as i32;
            let p = inputs.top_p.narrow(0, r, 1)?.to_f32()?[0];
            Ok(crate::reference::SampleParams { temperature: t, top_k: k, top_p: p, seed: 0, counter: 0 })
        };
        match read().ok().and_then(|p| p.invalid_reason()) {
            Some(why) => format!("row {row}: {why}"),
            None => format!("row {row} has invalid sampling parameters"),
        }
    })
}

fn require_vector(what: &str, t: &Tensor, dtype: DType, shape: &[usize]) -> Result<()> {
    if t.dtype() != dtype {
        return Err(Error::dtype(OP, format!("{what} is {}, expected {dtype}", t.dtype())));
    }
    if t.shape() != shape || !t.is_contiguous() {
        return Err(Error::shape(OP, format!("{what} {t:?} must be contiguous {shape:?}")));
    }
    Ok(())
}

fn launch_sample(table: &OpTable, logits: &Tensor, inputs: &SamplingInputs<'_>, _workspace: Option<&Tensor>, out: &Tensor, status: Option<&DeviceStatus>) -> Result<()> {
    require_float(OP, "logits", logits)?;
    if logits.rank() != 2 {
        return Err(Error::shape(OP, format!("logits {logits:?} must be [batch, vocab]")));
    }
    require_same_device(
        OP,
        &[("logits", logits), ("temperature", inputs.temperature), ("top_k", inputs.top_k), ("top_p", inputs.top_p), ("rng", inputs.rng), ("out", out)],
    )?;
    let (batch, vocab, stride) = as_rows(OP, "logits", logits)?;
    if vocab == 0 || vocab > SAMPLE_MAX_VOCAB {
        return Err(Error::shape(OP, format!("vocab {vocab} must be in 1..={SAMPLE_MAX_VOCAB}")));
    }
    if batch > 65535 {
        return Err(Error::shape(OP, format!("batch {batch} exceeds 65535")));
    }
    require_vector("temperature", inputs.temperature, DType::F32, &[batch])?;
    require_vector("top_k", inputs.top_k, DType::I32, &[batch])?;
    require_vector("top_p", inputs.top_p, DType::F32, &[batch])?;
    require_vector("rng", inputs.rng, DType::I64, &[batch, 2])?;
    require_vector("out", out, DType::I32, &[batch])?;
    for (what, t) in [("logits", logits), ("temperature", inputs.temperature), ("top_k", inputs.top_k), ("top_p", inputs.top_p), ("rng", inputs.rng)] {
        require_no_overlap(OP, ("out", out), (what, t))?;
    }
    if let Some(s) = status {
        if !s.device().same_as(logits.device()) {
            return Err(Error::shape(OP, "status is on another device than logits"));
        }
    }
    let p = SampleParams {
        out: out.ptr(),
        logits: logits.ptr(),
        temperature: inputs.temperature.ptr(),
        top_k: inputs.top_k.ptr(),
        top_p: inputs.top_p.ptr(),
        rng: inputs.rng.ptr(),
        status: status.map(|s| s.ptr()).unwrap_or(0),
        batch: batch as i64,
        vocab: vocab as i64,
        logits_stride: stride as i64,
        dtype: logits.dtype().code(),
        pad_: 0,
    };
    launch(table, OpId::Sample, logits.device(), &p, || format!("logits {logits:?}, out {out:?}"))
}
