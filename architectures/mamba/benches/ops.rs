//! fk-mamba: baseline vs this crate's candidates at state-spaces/mamba-2.8b-hf's shapes (the
//! shipped config.json), bf16: the SSM ops (`causal_conv1d` and `selective_scan` at 1 / 2048 /
//! 8192 prompt tokens, `causal_conv1d_update` and `selective_state_update` at batch 1 and 32),
//! L2 `MambaMixer` (in_proj … out_proj) at 2048 and 8192 prompt tokens and decode batch 1 and
//! 32, and L4 `MambaForCausalLM` (64 layers, ~5.5 GB in bf16) prefill 2048 and 8192 and decode steps at
//! batch 1 and 32 (the family's workloads, `fk_linear_attn::bench`). L3 (MambaBlock) is to come.
//!
//! `cargo fastkernels bench --arch mamba` runs this.
use fk_baselines::harness::bench::BenchSpec;
use fk_baselines::harness::{ssm_bench_cases, SsmShapes};
use fk_baselines::OpId;
use fk_linear_attn::bench::RecurrentBench;
use fk_mamba::kernels::candidate_table;
use fk_mamba::{MambaConfig, MambaForCausalLM};
use fk_runtime::DType;

fn main() {
    let cfg = MambaConfig::mamba_2_8b();
    let shapes = SsmShapes { name: "mamba-2.8b", hidden: cfg.hidden_size, d_inner: cfg.intermediate_size, d_state: cfg.state_size, conv_width: cfg.conv_kernel, head_dim: 0, ngroups: 1 };
    let specs: Vec<BenchSpec> = ssm_bench_cases(&shapes, &[1, 2048, 8192], &[1, 32], DType::BF16).into_iter().map(BenchSpec::l1).collect();
    let model = RecurrentBench {
        mixer: "MambaMixer",
        model: "MambaForCausalLM",
        hidden: cfg.hidden_size,
        layers: cfg.num_hidden_layers,
        build: |dev, layers, seed| MambaForCausalLM::random(dev, &MambaConfig { num_hidden_layers: layers, ..MambaConfig::mamba_2_8b() }, DType::BF16, seed),
        prefill_ops: vec![OpId::CausalConv1d, OpId::SelectiveScan],
        // At batch 1 on sm_90 the whole stack is mamba_decode_layers (the others serve batches).
        decode_ops: vec![OpId::CausalConv1dUpdate, OpId::SelectiveStateUpdate, OpId::SkinnyGemm, OpId::MambaDecodeLayers],
    };
    model.main("fk-mamba", candidate_table(), specs)
}
