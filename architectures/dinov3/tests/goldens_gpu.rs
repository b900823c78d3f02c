//! The GPU DINOv3ViTModel against the HF transformers goldens
//! (tests/goldens/make_encoder_goldens.py): embeddings, every layer, last_hidden_state and
//! pooler_output at fp32 rel-L2 1e-4 / bf16 2e-2 (register tokens, random layer scales,
//! gated and plain MLPs, 2D RoPE on a 20×12 image); each image alone gives its rows of the
//! batch; bad input is a named error. The `hd64-*` cases are the GPU-shaped ones (head_dim
//! 64); the `tiny-*` cases (head_dim 8, no attention kernel) must be refused with an error
//! naming the head_dim. Ignored without a GPU.

use fk_baselines::fixtures::{arch_cases, expect_err, EncoderGoldenTrials, GoldenCase};
use fk_baselines::ops::PackedAttentionKernel;
use fk_baselines::{Context, OpTable};
use fk_dinov3::gpu::DINOv3ViTModel;
use fk_dinov3::DINOv3ViTConfig;
use fk_multimodal::ImageBatch;
use fk_runtime::compare::compare;
use fk_runtime::gpu_test::run;
use fk_runtime::safetensors::Checkpoint;
use fk_runtime::{DType, Device};

fn s<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

fn has_kernel(g: &GoldenCase) -> bool {
    let cfg = DINOv3ViTConfig::from_file(&g.dir).expect("golden config");
    let dtype = if g.is_bf16() { DType::BF16 } else { DType::F32 };
    PackedAttentionKernel::choose(dtype, cfg.head_dim).is_ok()
}

fn images_of(g: &GoldenCase) -> Result<ImageBatch, String> {
    let sh = g.shape("pixel_values").map_err(s)?;
    ImageBatch::new(sh[0], sh[1], sh[2], sh[3], g.golden.host_f32("pixel_values").map_err(s)?).map_err(s)
}

fn setup(dev: &Device, g: &GoldenCase) -> Result<(DINOv3ViTModel, Context), String> {
    let model = DINOv3ViTModel::from_pretrained(dev, &g.dir, None).map_err(|e| format!("{}: {e}", g.name))?;
    Ok((model, Context::new(dev, OpTable::baseline()).map_err(s)?))
}

fn matches_transformers(dev: &Device, g: &GoldenCase) -> Result<(), String> {
    let (model, ctx) = setup(dev, g)?;
    let out = model.forward(&ctx, &images_of(g)?, true).map_err(s)?;
    let mut host = vec![("embeddings".to_string(), out.hidden_states[0].to_f32().map_err(s)?)];
    for (i, t) in out.hidden_states[1..].iter().enumerate() {
        host.push((format!("layer_outputs.{i}"), t.to_f32().map_err(s)?));
    }
    host.push(("last_hidden_state".into(), out.last_hidden_state.to_f32().map_err(s)?));
    host.push(("pooler_output".into(), out.pooler_output.to_f32().map_err(s)?));
    let pairs: Vec<(String, &[f32])> = host.iter().map(|(k, v)| (k.clone(), &v[..])).collect();
    let report = g.check(&pairs)?;
    eprintln!("{}: rel_l2 {}", g.name, report.iter().map(|(k, r)| format!("{k} {r:.1e}")).collect::<Vec<_>>().join(", "));
    Ok(())
}

fn batch_rows_equal_each_image_alone(dev: &Device, g: &GoldenCase) -> Result<(), String> {
    let (model, ctx) = setup(dev, g)?;
    let images = images_of(g)?;
    let batched = model.forward(&ctx, &images, false).map_err(s)?;
    let rows = batched.seq * model.cfg.hidden_size;
    let all = batched.last_hidden_state.to_f32().map_err(s)?;
    let n = images.channels * images.height * images.width;
    let tol = fk_baselines::fixtures::model_tolerance(g.is_bf16());
    for b in 0..images.batch {
        let one = ImageBatch::new(1, images.channels, images.height, images.width, images.pixels[b * n..(b + 1) * n].to_vec()).map_err(s)?;
        let alone = model.forward(&ctx, &one, false).map_err(s)?.last_hidden_state.to_f32().map_err(s)?;
        let want: Vec<f64> = alone.iter().map(|&v| v as f64).collect();
        // GEMMs of another height may sum in another order: compare at the golden tolerance.
        compare(&all[b * rows..(b + 1) * rows], &want, tol).check(&format!("{} image {b} in the batch vs alone", g.name))?;
    }
    Ok(())
}


fn bad_input(dev: &Device, g: &GoldenCase) -> Result<(), String> {
    let (model, ctx) = setup(dev, g)?;
    let p = model.cfg.patch_size;
    let odd = ImageBatch::new(1, 3, 2 * p + 1, 2 * p, vec![0.0; 3 * (2 * p + 1) * 2 * p]).map_err(s)?;
    expect_err(model.forward(&ctx, &odd, false), "image size not a multiple of the patch", &["not a positive multiple of patch_size"])?;
    let gray = ImageBatch::new(1, 1, 2 * p, 2 * p, vec![0.0; 4 * p * p]).map_err(s)?;
    expect_err(model.forward(&ctx, &gray, false), "wrong channel count", &["num_channels"])?;
    let wrong = DINOv3ViTConfig { num_register_tokens: model.cfg.num_register_tokens + 1, ..model.cfg.clone() };
    expect_err(DINOv3ViTModel::load(dev, &Checkpoint::open(&g.dir).map_err(s)?, &wrong, None), "config with more registers than the checkpoint", &["register_tokens"])?;
    // Still usable after the refusals.
    let ok = ImageBatch::new(1, 3, 2 * p, 3 * p, vec![0.5; 18 * p * p]).map_err(s)?;
    model.forward(&ctx, &ok, false).map(|_| ()).map_err(s)
}

fn unsupported_head_dim(dev: &Device, g: &GoldenCase) -> Result<(), String> {
    let (model, ctx) = setup(dev, g)?;
    let hd = model.cfg.head_dim;
    expect_err(model.forward(&ctx, &images_of(g)?, false), "head_dim without a kernel", &[&format!("head_dim {hd}")])
}

fn main() {
    let cases = arch_cases("dinov3", env!("CARGO_MANIFEST_DIR"), 6).expect("tests/goldens/dinov3 loads");
    let trials = EncoderGoldenTrials {
        has_kernel,
        unsupported: unsupported_head_dim,
        matches: matches_transformers,
        batching: ("each image alone == its rows of the batch", batch_rows_equal_each_image_alone),
        bad_input,
    };
    run(trials.trials(cases))
}
