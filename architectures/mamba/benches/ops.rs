//! fk-mamba: baseline vs this crate's candidates at state-spaces/mamba-2.8b-hf's shapes (the
//! shipped config.json), bf16: L1 only for now — the SSM ops (`causal_conv1d` and
//! `selective_scan` at 1 / 2048 / 8192 prompt tokens, `causal_conv1d_update` and
//! `selective_state_update` at batch 1 and 32). The dense ops and L2–L4 (MambaMixer,
//! MambaBlock, the model) come with a step bench that takes a recurrent-state model.
//!
//! `cargo fastkernels bench --arch mamba` runs this.
use fk_baselines::harness::bench::{self, BenchEnv, BenchSpec};
use fk_baselines::harness::{ssm_bench_cases, SsmShapes};
use fk_mamba::kernels::candidate_table;
use fk_mamba::MambaConfig;
use fk_runtime::DType;

fn main() {
    let cfg = MambaConfig::mamba_2_8b();
    let shapes = SsmShapes {
        name: "mamba-2.8b",
        hidden: cfg.hidden_size,
        d_inner: cfg.intermediate_size,
        d_state: cfg.state_size,
        conv_width: cfg.conv_kernel,
        head_dim: 0,
        ngroups: 1,
    };
    let specs = ssm_bench_cases(&shapes, &[1, 2048, 8192], &[1, 32], DType::BF16)
        .into_iter()
        .map(BenchSpec::l1)
        .collect();
    let env = BenchEnv {
        gemm_peak_tflops: Some(Box::new(bench::gemm_peak_tflops)),
    };
    bench::main("fk-mamba", Some(candidate_table()), specs, env)
}
