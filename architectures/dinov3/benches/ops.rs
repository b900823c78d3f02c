//! fk-dinov3 at facebook/dinov3-vit7b16 shapes (32 heads × 128), bf16: the baseline ops this
//! encoder will run on the GPU that exist today: bidirectional prefill attention over
//! 1 CLS + 4 registers + patches at 224² (196 patches), 512² (1024) and 1024² (4096). 2D RoPE,
//! LayerNorm, layer scale and the full model come with their kernels.
//! `cargo bench -p fk-dinov3 --bench ops` runs this (`cargo fastkernels bench` once the crate is registered).
use fk_baselines::harness::bench::{self, BenchEnv, BenchSpec};
use fk_baselines::harness::encoder_attention_bench_cases;
use fk_dinov3::kernels::candidate_table;
use fk_runtime::DType;

fn main() {
    let cfg = fk_dinov3::dinov3_vit7b16();
    let tokens = |side: usize| cfg.num_prefix_tokens() + (side / cfg.patch_size).pow(2);
    let shapes = [(64, tokens(224)), (8, tokens(512)), (1, tokens(1024))];
    let specs = encoder_attention_bench_cases(cfg.num_attention_heads, cfg.head_dim, &shapes, DType::BF16).into_iter().map(BenchSpec::l1).collect();
    let env = BenchEnv { gemm_peak_tflops: Some(Box::new(bench::gemm_peak_tflops)) };
    bench::main("fk-dinov3", Some(candidate_table()), specs, env)
}
