//! `LlamaRMSNorm`→`LlamaMLP` (the second half of a decoder layer: residual-fused
//! post_attention_layernorm, then the MLP) as a benchmark/test workload.

use super::{mlp_reference, LlamaMLP, LlamaRMSNorm, MlpScratch};
use crate::config::LlamaConfig;
use fk_baselines::harness::Workload;
use fk_baselines::{Context, OpTable};
use fk_runtime::compare::{compare, Tolerance};
use fk_runtime::rng::Rng;
use fk_runtime::{DType, Device, Result, Tensor};

pub struct MlpHalfLayer {
    ctx: Context,
    norm: LlamaRMSNorm,
    mlp: LlamaMLP,
    scratch: MlpScratch,
    tokens: usize,
    hidden: usize,
    inter: usize,
    dtype: DType,
    x_src: Tensor,
    r_src: Tensor,
    x: Tensor,
    residual: Tensor,
    out: Tensor,
    hx: Vec<f32>,
    hr: Vec<f32>,
    hw: Vec<f32>,
    gate_up: Vec<f32>,
    down: Vec<f32>,
    /// Rows the check compares: all of them for small shapes, a random sample otherwise
    /// (the CPU reference of an 8192-token MLP would take minutes).
    check_rows: Vec<usize>,
}

impl MlpHalfLayer {
    pub fn new(dev: &Device, cfg: &LlamaConfig, tokens: usize, dtype: DType, rng: &mut Rng) -> Result<MlpHalfLayer> {
        let (h, i) = (cfg.hidden_size, cfg.intermediate_size);
        let (mlp, gate_up, down) = LlamaMLP::random(dev, cfg.hidden_size, cfg.intermediate_size, dtype, rng)?;
        let hw = fk_runtime::host::round_trip(&rng.normal_vec(h, 1.0, 0.1), dtype);
        let hx = fk_runtime::host::round_trip(&rng.normal_vec(tokens * h, 0.0, 1.0), dtype);
        let hr = fk_runtime::host::round_trip(&rng.normal_vec(tokens * h, 0.0, 1.0), dtype);
        let x_src = Tensor::from_f32(dev, &hx, &[tokens, h], dtype)?;
        let r_src = Tensor::from_f32(dev, &hr, &[tokens, h], dtype)?;
        let check_rows = if tokens <= 8 {
            (0..tokens).collect()
        } else {
            let mut v: Vec<usize> = (0..4).map(|_| rng.range(0, tokens as i64) as usize).collect();
            v.extend([0, tokens - 1]);
            v
        };
        Ok(MlpHalfLayer {
            ctx: Context::new(dev, OpTable::baseline())?,
            norm: LlamaRMSNorm::new(Tensor::from_f32(dev, &hw, &[h], dtype)?, cfg.rms_norm_eps),
            scratch: mlp.scratch(dev, tokens, dtype)?,
            mlp,
            tokens,
            hidden: h,
            inter: i,
            dtype,
            x: x_src.duplicate()?,
            residual: r_src.duplicate()?,
            out: Tensor::empty(dev, &[tokens, h], dtype)?,
            x_src,
            r_src,
            hx,
            hr,
            hw,
            gate_up,
            down,
            check_rows,
        })
    }
}

impl Workload for MlpHalfLayer {
    fn prepare(&mut self) -> Result<()> {
        self.x.copy_from(&self.x_src)?;
        self.residual.copy_from(&self.r_src)?;
        self.out.poison()
    }

    fn run(&mut self, table: &OpTable) -> Result<()> {
        let ctx = self.ctx.with_ops(table);
        self.norm.forward_residual(&ctx, &self.x, &self.residual)?;
        self.mlp.forward_into(&ctx, &self.x, &self.scratch, &self.out)
    }

    fn check(&mut self) -> std::result::Result<(), String> {
        let (h, i, dt) = (self.hidden, self.inter, self.dtype);
        let out = self.out.to_f32().map_err(|e| e.to_string())?;
        let mut got = Vec::new();
        let mut want = Vec::new();
        for &row in &self.check_rows {
            let x = &self.hx[row * h..(row + 1) * h];
            let r = &self.hr[row * h..(row + 1) * h];
            let (normed, _) = fk_baselines::reference::fused_add_rms_norm(x, r, &self.hw, self.norm.variance_epsilon, dt);
            let normed: Vec<f32> = normed.iter().map(|&v| fk_runtime::host::round_scalar(v, dt) as f32).collect();
            want.extend(mlp_reference(&normed, 1, h, i, &self.gate_up, &self.down, dt));
            got.extend_from_slice(&out[row * h..(row + 1) * h]);
        }
        // Two GEMMs with K = 4096 and 14336 accumulate in fp32 but round their outputs to
        // the dtype: bf16 relative L2 error sits near 4e-3, so allow 2e-2.
        let tol = match dt {
            DType::F32 => Tolerance { atol: 1e-4, rtol: 1e-3, max_rel_l2: 1e-4 },
            DType::F16 => Tolerance { atol: 2e-3, rtol: 1e-2, max_rel_l2: 5e-3 },
            _ => Tolerance { atol: 2e-2, rtol: 5e-2, max_rel_l2: 2e-2 },
        };
        compare(&got, &want, tol).check(&format!("LlamaRMSNorm→LlamaMLP rows {:?}", self.check_rows))
    }

    fn bytes(&self) -> u64 {
        let es = self.dtype.size() as u64;
        let (t, h, i) = (self.tokens as u64, self.hidden as u64, self.inter as u64);
        // weights once + the activations each step must read/write
        (3 * h * i + h) * es + t * es * (4 * h + 2 * i * 2 + i + h)
    }

    fn flops(&self) -> u64 {
        6 * (self.tokens * self.hidden * self.inter) as u64
    }
}
