//! Device utilities that are not model ops (no candidate slot): seeded random fills for
//! random-weight models at real sizes; L2 prefetches on the side stream.

use fk_runtime::{DType, Device, Error, Result, Tensor};
use std::ffi::c_void;

#[repr(C)]
struct RandomFillParams {
    out: u64,
    numel: i64,
    seed: u64,
    mean: f32,
    std: f32,
    dtype: i32,
    pad_: i32,
}

#[repr(C)]
struct L2PrefetchParams {
    ptr: [u64; L2_PREFETCH_RANGES],
    bytes: [i64; L2_PREFETCH_RANGES],
    ctas: i32,
    pad_: i32,
}

/// `FK_L2_PREFETCH_RANGES` of include/fk/util/l2_prefetch.h.
pub const L2_PREFETCH_RANGES: usize = 2;

extern "C" {
    fn fk_util_random_fill(params: *const c_void, stream: fk_runtime::RawStream) -> i32;
    fn fk_util_l2_prefetch(params: *const c_void, stream: fk_runtime::RawStream) -> i32;
}

/// Ask the L2 for `ranges` (at most [`L2_PREFETCH_RANGES`]) on `dev`'s side stream, forked
/// after the work enqueued so far (`Device::fork_side`): the fetch runs beside the kernels
/// enqueued next instead of delaying them, and the device stream waits for it only at the
/// next join (a graph capture joins at its end). One one-warp CTA per SM issues the bulk
/// prefetches. A hint: no memory changes.
pub fn l2_prefetch_aside(dev: &Device, ranges: &[crate::ops::L2Prefetch]) -> Result<()> {
    const OP: &str = "l2_prefetch";
    if ranges.len() > L2_PREFETCH_RANGES {
        return Err(Error::bad_input(OP, format!("{} ranges; at most {L2_PREFETCH_RANGES}", ranges.len())));
    }
    let mut p = L2PrefetchParams { ptr: [0; L2_PREFETCH_RANGES], bytes: [0; L2_PREFETCH_RANGES], ctas: dev.info().sm_count.max(1), pad_: 0 };
    for (i, r) in ranges.iter().enumerate() {
        (p.ptr[i], p.bytes[i]) = r.address_range(OP, dev)?;
    }
    if p.bytes.iter().all(|&b| b == 0) {
        return Ok(());
    }
    let side = dev.fork_side()?;
    // SAFETY: `p` holds checked ranges of live contiguous tensors on `dev` (prefetches only
    // read them); the launcher enqueues one kernel on the side stream.
    let code = unsafe { fk_util_l2_prefetch(&p as *const L2PrefetchParams as *const c_void, side) };
    Device::check_launch(OP, code, || format!("{ranges:?}"))
}

/// Fill `t` (contiguous f32/f16/bf16) with values uniform on `mean ± std·√3` (so mean `mean`
/// and standard deviation `std`), element `i` a pure function of `(seed, i)`.
pub fn random_fill(t: &Tensor, seed: u64, mean: f32, std: f32) -> Result<()> {
    const OP: &str = "random_fill";
    if !DType::FLOATS.contains(&t.dtype()) || !t.is_contiguous() {
        return Err(Error::dtype(OP, format!("{t:?} must be a contiguous f32/f16/bf16 tensor")));
    }
    if !(std >= 0.0 && std.is_finite() && mean.is_finite()) {
        return Err(Error::bad_input(OP, format!("mean {mean} / std {std} must be finite, std >= 0")));
    }
    let p = RandomFillParams { out: t.ptr(), numel: t.numel() as i64, seed, mean, std, dtype: t.dtype().code(), pad_: 0 };
    let dev: &Device = t.device();
    dev.bind()?;
    // SAFETY: `p` describes exactly the elements of the live contiguous tensor `t`; the
    // launcher only enqueues a kernel on the device's stream.
    let code = unsafe { fk_util_random_fill(&p as *const RandomFillParams as *const c_void, dev.stream()) };
    Device::check_launch(OP, code, || format!("{t:?}"))
}
