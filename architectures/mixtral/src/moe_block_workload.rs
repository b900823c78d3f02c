//! The L2 bench workload of HF `MixtralSparseMoeBlock` as a module (router GEMM included, as
//! HF's block and its PyTorch peer run it) at real shapes with random weights, with the
//! baseline or a candidate op table. Its output must equal the baseline table's (recorded at
//! construction); the block itself is checked against transformers by the golden tests.

use crate::config::MixtralConfig;
use crate::model::sparse_moe_block;
use crate::moe_block::{MixtralSparseMoeBlock, MoeScratch};
use fk_baselines::harness::Workload;
use fk_baselines::util::random_fill;
use fk_baselines::{Context, OpTable};
use fk_llm::decoder::{FeedForward, RandomWeights};
use fk_runtime::compare::{compare, Tolerance};
use fk_runtime::{DType, Device, Result, Tensor};

pub struct MoeBlockWorkload {
    block: MixtralSparseMoeBlock,
    ctx: Context,
    scratch: MoeScratch,
    x: Tensor,
    out: Tensor,
    reference: Vec<f32>,
    /// Distinct experts the router picked for these tokens (the weights a step must read).
    touched: usize,
}

impl MoeBlockWorkload {
    /// The block at `cfg`'s sizes (bf16, random weights from `seed`, drawn as the model's
    /// are) over `tokens` random hidden states: the router spreads them over the experts as
    /// real traffic roughly does.
    pub fn new(dev: &Device, cfg: &MixtralConfig, tokens: usize, seed: u64) -> Result<MoeBlockWorkload> {
        let block = sparse_moe_block(cfg, &mut RandomWeights { dev, dtype: DType::BF16, seed }, 0)?;
        let scratch = block.scratch(dev, tokens, DType::BF16)?;
        let x = Tensor::empty(dev, &[tokens, cfg.hidden_size], DType::BF16)?;
        random_fill(&x, seed ^ 0x5eed, 0.0, 1.0)?;
        let out = Tensor::empty(dev, &[tokens, cfg.hidden_size], DType::BF16)?;
        let ctx = Context::new(dev, OpTable::baseline())?;
        let mut w = MoeBlockWorkload { block, ctx, scratch, x, out, reference: Vec::new(), touched: 0 };
        w.run(&OpTable::baseline())?;
        w.reference = w.out.to_f32()?;
        let mut ids = w.scratch.topk_ids(tokens)?.to_i64()?;
        ids.sort_unstable();
        ids.dedup();
        w.touched = ids.len();
        Ok(w)
    }
}

impl Workload for MoeBlockWorkload {
    fn prepare(&mut self) -> Result<()> {
        self.out.poison()
    }

    fn run(&mut self, table: &OpTable) -> Result<()> {
        self.block.forward_into(&self.ctx.with_ops(table), &self.x, &self.scratch, &self.out)
    }

    fn check(&mut self) -> std::result::Result<(), String> {
        let got = self.out.to_f32().map_err(|e| e.to_string())?;
        let want: Vec<f64> = self.reference.iter().map(|&v| v as f64).collect();
        // A candidate may round differently (bf16), and a near-tied router may pick another
        // expert for a token: the bar is the family's bf16 one, not bit equality.
        compare(&got, &want, Tolerance { atol: 0.5, rtol: 0.1, max_rel_l2: 2e-2 }).check("MixtralSparseMoeBlock vs the baseline table")
    }

    /// The router and the experts the step's tokens were routed to, read once; hidden states
    /// in and out.
    fn bytes(&self) -> u64 {
        let b = &self.block;
        let per_expert = (b.w13.nbytes() + b.w2.nbytes()) / b.num_experts();
        (b.gate.weight.nbytes() + self.touched * per_expert + 2 * self.x.nbytes()) as u64
    }

    fn flops(&self) -> u64 {
        self.x.dim(0) as u64 * self.block.flops_per_token()
    }
}
