use fk_baselines::{ops, Context};
use fk_runtime::linear::Linear;
use fk_runtime::rng::Rng;
use fk_runtime::{DType, Device, Error, Result, Tensor};

/// HF `LlamaMLP` (and every gated-SiLU MLP: Mistral, Qwen2, a Mixtral expert): `down_proj(act_fn(gate_proj(x)) * up_proj(x))`, executed as vLLM does it:
/// one GEMM over the merged `gate_up_proj` weight `[2·intermediate, hidden]` (gate rows
/// first, then up), the fused `silu_and_mul` op, and the `down_proj` GEMM.
pub struct GatedMlp {
    pub gate_up_proj: Linear,
    pub down_proj: Linear,
}

impl GatedMlp {
    pub fn new(gate_up_proj: Linear, down_proj: Linear) -> Result<GatedMlp> {
        let (h, i2) = (gate_up_proj.in_features(), gate_up_proj.out_features());
        if i2 % 2 != 0 || down_proj.in_features() != i2 / 2 || down_proj.out_features() != h {
            return Err(Error::shape(
                "GatedMlp",
                format!("gate_up_proj [{i2}, {h}] and down_proj [{}, {}] do not fit together", down_proj.out_features(), down_proj.in_features()),
            ));
        }
        Ok(GatedMlp { gate_up_proj, down_proj })
    }

    /// Random weights of a `hidden` → `inter` MLP with mean 0 and std 0.02 (HF's
    /// initializer_range, so activations keep a realistic scale; normal, or uniform with that
    /// std for the > 64 Mi-element matrices of real configs, which are much cheaper to draw).
    /// Also returns the host weights (gate_up, down) for CPU references.
    pub fn random(dev: &Device, hidden: usize, inter: usize, dtype: DType, rng: &mut Rng) -> Result<(GatedMlp, Vec<f32>, Vec<f32>)> {
        let (h, i) = (hidden, inter);
        let gu = fk_baselines::harness::random(rng, 2 * i * h, 0.0, 0.02, dtype);
        let dn = fk_baselines::harness::random(rng, h * i, 0.0, 0.02, dtype);
        let mlp = GatedMlp::new(
            Linear::new(Tensor::from_f32(dev, &gu, &[2 * i, h], dtype)?, None)?,
            Linear::new(Tensor::from_f32(dev, &dn, &[h, i], dtype)?, None)?,
        )?;
        Ok((mlp, gu, dn))
    }

    pub fn intermediate_size(&self) -> usize {
        self.down_proj.in_features()
    }

    /// `x` `[tokens, hidden]` → `out` `[tokens, hidden]`, using `scratch` buffers sized by
    /// [`GatedMlp::scratch`] (pre-allocated so a decode step allocates nothing).
    pub fn forward_into(&self, ctx: &Context, x: &Tensor, scratch: &MlpScratch, out: &Tensor) -> Result<()> {
        let t = x.dim(0);
        let gate_up = scratch.gate_up.narrow(0, 0, t)?;
        let act = scratch.act.narrow(0, 0, t)?;
        ops::linear(ctx, x, &self.gate_up_proj, &gate_up)?;
        ops::silu_and_mul(&ctx.ops, &gate_up, &act)?;
        ops::linear(ctx, &act, &self.down_proj, out)
    }

    pub fn scratch(&self, dev: &Device, max_tokens: usize, dtype: DType) -> Result<MlpScratch> {
        let i = self.intermediate_size();
        Ok(MlpScratch {
            gate_up: Tensor::empty(dev, &[max_tokens, 2 * i], dtype)?,
            act: Tensor::empty(dev, &[max_tokens, i], dtype)?,
        })
    }

    pub fn forward(&self, ctx: &Context, x: &Tensor) -> Result<Tensor> {
        let scratch = self.scratch(x.device(), x.dim(0), x.dtype())?;
        let out = Tensor::empty(x.device(), &[x.dim(0), self.down_proj.out_features()], x.dtype())?;
        self.forward_into(ctx, x, &scratch, &out)?;
        Ok(out)
    }
}

/// Intermediate activations of [`GatedMlp::forward_into`].
pub struct MlpScratch {
    pub gate_up: Tensor,
    pub act: Tensor,
}

/// CPU reference of the MLP on rows of `x` (each intermediate rounded to `dtype`, as the
/// GPU path materialises it).
pub fn reference(x: &[f32], rows: usize, h: usize, i: usize, gate_up: &[f32], down: &[f32], dtype: DType) -> Vec<f64> {
    let r = |v: Vec<f64>| -> Vec<f32> { v.into_iter().map(|x| fk_runtime::host::round_scalar(x, dtype) as f32).collect() };
    let gu = r(fk_runtime::linear::linear_reference(x, rows, h, gate_up, 2 * i, None));
    let act = r(fk_baselines::reference::silu_and_mul(&gu, i));
    fk_runtime::linear::linear_reference(&act, rows, i, down, h, None)
}
