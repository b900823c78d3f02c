//! The GPU BGE-M3 against the HF transformers goldens (tests/goldens/make_encoder_goldens.py):
//! embeddings, every layer, last_hidden_state (real rows), pooler_output and the normalised
//! CLS `dense_embedding` at fp32 rel-L2 1e-4 / bf16 2e-2, on a padded batch whose padding id
//! (1) shifts the XLM-R position ids; each sequence alone gives its rows of the batch; bad
//! input is a named error. The `hd64-*` cases are the GPU-shaped ones (head_dim 64); the
//! `tiny-*` cases (head_dim 8, no attention kernel) must be refused with an error naming the
//! head_dim. Ignored without a GPU.

use fk_baselines::fixtures::{arch_cases, EncoderGoldenTrials, GoldenCase};
use fk_baselines::ops::PackedAttentionKernel;
use fk_baselines::{Context, OpTable};
use fk_bge_m3::gpu::BgeM3;
use fk_recsys::goldens::{check_bad_batches, check_gpu_encoder, check_key, expect_err, gpu_padding_drift, token_batch};
use fk_recsys::{BertConfig, TokenBatch};
use fk_runtime::gpu_test::run;
use fk_runtime::{DType, Device};

fn s<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

fn has_kernel(g: &GoldenCase) -> bool {
    let cfg = BertConfig::from_file(&g.dir).expect("golden config");
    let dtype = if g.is_bf16() { DType::BF16 } else { DType::F32 };
    PackedAttentionKernel::choose(dtype, cfg.head_dim).is_ok()
}

fn setup(dev: &Device, g: &GoldenCase) -> Result<(BgeM3, Context), String> {
    let model = BgeM3::from_pretrained(dev, &g.dir, None).map_err(|e| format!("{}: {e}", g.name))?;
    Ok((model, Context::new(dev, OpTable::baseline()).map_err(s)?))
}

fn matches_transformers(dev: &Device, g: &GoldenCase) -> Result<(), String> {
    let (model, ctx) = setup(dev, g)?;
    let b = token_batch(g).map_err(s)?;
    let out = model.forward(&ctx, &b, true).map_err(s)?;
    let mut report = check_gpu_encoder(g, &out.encoder, &b)?;
    report.push(check_key(g, "dense_embedding", &out.dense_embedding.to_f32().map_err(s)?, &g.expected("dense_embedding").map_err(s)?)?);
    eprintln!("{}: rel_l2 {}", g.name, report.iter().map(|(k, r)| format!("{k} {r:.1e}")).collect::<Vec<_>>().join(", "));
    Ok(())
}

fn padding_changes_no_real_token(dev: &Device, g: &GoldenCase) -> Result<(), String> {
    let (model, ctx) = setup(dev, g)?;
    let d = gpu_padding_drift(&model.model, &ctx, &token_batch(g).map_err(s)?).map_err(s)?;
    eprintln!("{}: padded vs alone: max |diff| {:.2e}, rel_l2 {:.2e}", g.name, d.max_abs, d.rel_l2);
    // Alone, a sequence runs GEMMs of another height (cuBLASLt may pick another algorithm):
    // summation-order noise only (f32: far below 1e-4; bf16: a few ulps, so a relative
    // bound), far below what attending to a padding key would do.
    let ok = if g.is_bf16() { d.rel_l2 <= 1e-2 } else { d.max_abs <= 1e-4 };
    if !ok || d.pad_max != 0.0 {
        return Err(format!("{}: padding moved real rows ({d:?}; bound f32 max |diff| 1e-4, bf16 rel_l2 1e-2; padding rows must be 0)", g.name));
    }
    Ok(())
}

fn bad_input(dev: &Device, g: &GoldenCase) -> Result<(), String> {
    let (model, ctx) = setup(dev, g)?;
    let cfg = model.model.cfg.clone();
    // XLM-R: positions start after pad_token_id, so max_position_embeddings - 2 tokens fit.
    let fits = TokenBatch::from_sequences(&[vec![5; cfg.max_sequence_length()]], 1).map_err(s)?;
    model.forward(&ctx, &fits, false).map_err(|e| format!("a sequence of max_sequence_length must run: {e}"))?;
    check_bad_batches(&cfg, 1, |b| model.forward(&ctx, b, false).map(|_| ()))?;
    let wrong = BertConfig { intermediate_size: cfg.intermediate_size + 1, ..cfg.clone() };
    let ckpt = fk_runtime::safetensors::Checkpoint::open(&g.dir).map_err(s)?;
    expect_err(BgeM3::load(dev, &ckpt, &wrong, None), "config that disagrees with the checkpoint", &["intermediate.dense.weight"])
}

fn unsupported_head_dim(dev: &Device, g: &GoldenCase) -> Result<(), String> {
    let (model, ctx) = setup(dev, g)?;
    let hd = model.model.cfg.head_dim;
    expect_err(model.forward(&ctx, &token_batch(g).map_err(s)?, false), "head_dim without a kernel", &["no attention kernel", &format!("head_dim {hd}")])
}

fn main() {
    let cases = arch_cases("bge_m3", env!("CARGO_MANIFEST_DIR"), 4).expect("tests/goldens/bge_m3 loads");
    let trials = EncoderGoldenTrials {
        has_kernel,
        unsupported: unsupported_head_dim,
        matches: matches_transformers,
        batching: ("padding changes no real token", padding_changes_no_real_token),
        bad_input,
    };
    run(trials.trials(cases))
}
