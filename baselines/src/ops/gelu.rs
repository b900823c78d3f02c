//! gelu: the elementwise encoder activations (`nn.GELU`, tanh GELU, quick_gelu).

use super::{launch, require_float, require_no_overlap, require_same_device, require_same_dtype};
use crate::ffi::GeluParams;
use crate::table::{OpId, OpTable};
use fk_runtime::{Error, Result, Tensor};

/// Which GELU: HF `hidden_act` `"gelu"` → `Erf`, `"gelu_pytorch_tanh"`/`"gelu_new"` → `Tanh`,
/// `"quick_gelu"` → `Quick`. The values are `FK_GELU_*` of include/fk/ops/gelu.h.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GeluMode {
    Erf = 0,
    Tanh = 1,
    Quick = 2,
}

impl GeluMode {
    /// The mode for an HF `hidden_act` string.
    pub fn from_hidden_act(act: &str) -> Result<GeluMode> {
        match act {
            "gelu" => Ok(GeluMode::Erf),
            "gelu_pytorch_tanh" | "gelu_new" | "gelu_fast" => Ok(GeluMode::Tanh),
            "quick_gelu" => Ok(GeluMode::Quick),
            other => Err(Error::config(format!("hidden_act `{other}` is not a GELU (gelu, gelu_pytorch_tanh, gelu_new, gelu_fast, quick_gelu)"))),
        }
    }
}

/// `out = gelu(input)` elementwise; both contiguous with the same number of elements (any
/// shape). `out` may be `input` itself (in place).
pub fn gelu(table: &OpTable, input: &Tensor, out: &Tensor, mode: GeluMode) -> Result<()> {
    const OP: &str = "gelu";
    require_float(OP, "input", input)?;
    require_same_dtype(OP, "out", out, input.dtype())?;
    require_same_device(OP, &[("input", input), ("out", out)])?;
    if !input.is_contiguous() || !out.is_contiguous() || input.numel() != out.numel() {
        return Err(Error::shape(OP, format!("input {input:?} and out {out:?} must be contiguous with the same number of elements")));
    }
    if out.ptr() != input.ptr() {
        require_no_overlap(OP, ("out", out), ("input", input))?;
    }
    let p = GeluParams { out: out.ptr(), input: input.ptr(), n: input.numel() as i64, mode: mode as i32, dtype: input.dtype().code() };
    launch(table, OpId::Gelu, input.device(), &p, || format!("input {input:?}, out {out:?}, {mode:?}"))
}
