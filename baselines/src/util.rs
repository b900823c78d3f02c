//! Device utilities that are not model ops (no candidate slot): seeded random fills for
//! random-weight models at real sizes.

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

extern "C" {
    fn fk_util_random_fill(params: *const c_void, stream: fk_runtime::RawStream) -> i32;
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
