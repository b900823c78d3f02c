//! fk-mamba: baseline vs this crate's candidates at state-spaces/mamba-2.8b-hf's shapes (the
//! shipped config.json), bf16: the SSM ops (`causal_conv1d` and
//! `selective_scan` at 1 / 2048 / 8192 prompt tokens, `causal_conv1d_update` and
//! `selective_state_update` at batch 1 and 32) and L2 `MambaMixer` (in_proj … out_proj) at 2048
//! and 8192 prompt tokens and decode batch 1 and 32; L4 `MambaForCausalLM` (64 layers,
//! ~5.5 GB in bf16) prefill 2048 and decode steps at batch 1 and 32. L3 (MambaBlock) is to come.
//!
//! `cargo fastkernels bench --arch mamba` runs this.
use fk_baselines::harness::bench::{self, BenchEnv, BenchSpec};
use fk_baselines::harness::{ssm_bench_cases, SsmShapes};
use fk_baselines::OpId;
use fk_mamba::kernels::candidate_table;
use fk_mamba::mixer_workload::{MambaMixerWorkload, MixerStep};
use fk_mamba::model_workload::MambaModelWorkload;
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
    let mut specs: Vec<BenchSpec> =
        ssm_bench_cases(&shapes, &[1, 2048, 8192], &[1, 32], DType::BF16)
            .into_iter()
            .map(BenchSpec::l1)
            .collect();
    let steps = [
        MixerStep::Prefill { tokens: 2048 },
        MixerStep::Prefill { tokens: 8192 },
        MixerStep::Decode { batch: 1 },
        MixerStep::Decode { batch: 32 },
    ];
    for step in steps {
        let (shape, uses) = match step {
            MixerStep::Prefill { tokens } => (
                format!("prefill [{tokens}, {}]", cfg.hidden_size),
                vec![OpId::CausalConv1d, OpId::SelectiveScan, OpId::SkinnyGemm],
            ),
            MixerStep::Decode { batch } => (
                format!("decode [{batch}, {}]", cfg.hidden_size),
                vec![
                    OpId::CausalConv1dUpdate,
                    OpId::SelectiveStateUpdate,
                    OpId::SkinnyGemm,
                ],
            ),
        };
        let cfg = cfg.clone();
        specs.push(BenchSpec {
            op: "MambaMixer".into(),
            level: "L2",
            shape,
            dtype: DType::BF16,
            uses,
            make: Box::new(move |dev, rng| {
                Ok(Box::new(MambaMixerWorkload::new(dev, &cfg, step, rng.next_u64())?) as _)
            }),
        });
    }
    let all_ops = vec![
        OpId::Embedding,
        OpId::RmsNorm,
        OpId::FusedAddRmsNorm,
        OpId::CausalConv1d,
        OpId::SelectiveScan,
        OpId::CausalConv1dUpdate,
        OpId::SelectiveStateUpdate,
        OpId::SkinnyGemm,
    ];
    for step in [
        MixerStep::Prefill { tokens: 2048 },
        MixerStep::Decode { batch: 1 },
        MixerStep::Decode { batch: 32 },
    ] {
        let shape = match step {
            MixerStep::Prefill { tokens } => {
                format!("prefill {tokens} tokens, {} layers", cfg.num_hidden_layers)
            }
            MixerStep::Decode { batch } => {
                format!("decode batch {batch}, {} layers", cfg.num_hidden_layers)
            }
        };
        let cfg = cfg.clone();
        specs.push(BenchSpec {
            op: "MambaForCausalLM".into(),
            level: "L4",
            shape,
            dtype: DType::BF16,
            uses: all_ops.clone(),
            make: Box::new(move |dev, rng| {
                Ok(Box::new(MambaModelWorkload::new(dev, &cfg, step, rng.next_u64())?) as _)
            }),
        });
    }
    let env = BenchEnv {
        gemm_peak_tflops: Some(Box::new(bench::gemm_peak_tflops)),
    };
    bench::main("fk-mamba", Some(candidate_table()), specs, env)
}
