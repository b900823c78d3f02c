//! fk-mamba2: baseline vs this crate's candidates, bf16, at mistralai/Mamba-Codestral-7B-v0.1's
//! shapes (the shipped config.json: 64 layers, hidden 4096, 128 heads of 64, 8 groups, state
//! 128): the SSM ops (`causal_conv1d`, the chunked `ssd_chunk_scan` and `rms_norm_gated` at
//! 1 / 2048 / 8192 prompt tokens, `causal_conv1d_update` and `selective_state_update` at batch
//! 1 and 32), L2 `Mamba2Mixer` at 2048 and 8192 prompt tokens and decode batch 1 and 32, and L4
//! `Mamba2ForCausalLM` (~14.6 GB in bf16) prefill 2048 and 8192 and decode steps at batch 1 and 32
//! (the family's workloads, `fk_linear_attn::bench`).
//!
//! Plus the ops at state-spaces/mamba2-2.7b's width at 8192 tokens (hidden 2560, 80 heads of 64,
//! one group): the same model width as mamba-2.8b, whose `selective_scan` row in
//! `cargo fastkernels bench --arch mamba` is the Mamba-1 scan the SSD scan is compared with.
//!
//! `cargo fastkernels bench --arch mamba2` runs this.
use fk_baselines::harness::bench::BenchSpec;
use fk_baselines::harness::{ssm_bench_cases, SsmShapes};
use fk_baselines::OpId;
use fk_linear_attn::bench::RecurrentBench;
use fk_mamba2::kernels::candidate_table;
use fk_mamba2::{Mamba2Config, Mamba2ForCausalLM};
use fk_runtime::DType;

fn main() {
    let cfg = Mamba2Config::mamba_codestral_7b();
    let shapes = SsmShapes {
        name: "Mamba-Codestral-7B",
        hidden: cfg.hidden_size,
        d_inner: cfg.num_heads * cfg.head_dim,
        d_state: cfg.state_size,
        conv_width: cfg.conv_kernel,
        head_dim: cfg.head_dim,
        ngroups: cfg.n_groups,
    };
    let mut specs: Vec<BenchSpec> = ssm_bench_cases(&shapes, &[1, 2048, 8192], &[1, 32], DType::BF16).into_iter().map(BenchSpec::l1).collect();
    specs.extend(ssm_bench_cases(&SsmShapes::MAMBA2_2_7B, &[8192], &[], DType::BF16).into_iter().map(BenchSpec::l1));
    let model = RecurrentBench {
        mixer: "Mamba2Mixer",
        model: "Mamba2ForCausalLM",
        hidden: cfg.hidden_size,
        layers: cfg.num_hidden_layers,
        build: |dev, layers, seed| Mamba2ForCausalLM::random(dev, &Mamba2Config { num_hidden_layers: layers, ..Mamba2Config::mamba_codestral_7b() }, DType::BF16, seed),
        prefill_ops: vec![OpId::CausalConv1d, OpId::SsdChunkScan, OpId::RmsNormGated],
        decode_ops: vec![OpId::CausalConv1dUpdate, OpId::SelectiveStateUpdate, OpId::RmsNormGated, OpId::SkinnyGemm],
    };
    model.main("fk-mamba2", candidate_table(), specs)
}
