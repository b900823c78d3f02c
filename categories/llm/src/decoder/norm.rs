use fk_baselines::{ops, Context};
use fk_runtime::{Result, Tensor};

/// HF `LlamaRMSNorm` / `MixtralRMSNorm` (`weight`, `variance_epsilon`; vLLM's `RMSNorm`), run
/// with vLLM's kernels: plain, or fused with the residual add in place (`forward_residual`),
/// as the decoder layer uses it.
pub struct RMSNorm {
    pub weight: Tensor,
    pub variance_epsilon: f32,
}

impl RMSNorm {
    pub fn new(weight: Tensor, eps: f32) -> RMSNorm {
        RMSNorm { weight, variance_epsilon: eps }
    }

    /// `out = norm(x)` into a new tensor.
    pub fn forward(&self, ctx: &Context, x: &Tensor) -> Result<Tensor> {
        let out = Tensor::empty(x.device(), x.shape(), x.dtype())?;
        ops::rms_norm(&ctx.ops, x, &self.weight, self.variance_epsilon, &out)?;
        Ok(out)
    }

    /// In place: `residual += x; x = norm(residual)`.
    pub fn forward_residual(&self, ctx: &Context, x: &Tensor, residual: &Tensor) -> Result<()> {
        ops::fused_add_rms_norm(&ctx.ops, x, residual, &self.weight, self.variance_epsilon)
    }
}
