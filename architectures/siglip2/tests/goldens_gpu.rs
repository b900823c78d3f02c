//! The GPU Siglip2VisionTransformer against the HF transformers goldens
//! (tests/goldens/make_encoder_goldens.py): naflex grids (4×6, 3×5) that differ from the 4×4
//! position table (upsampled and antialias-downsampled), padded to one length; embeddings,
//! every layer and last_hidden_state on real rows, and the attention-pool pooler_output, at
//! fp32 rel-L2 1e-4 / bf16 2e-2; each image alone gives its rows and pooled vector; padding
//! rows are zeros; bad input is a named error. The `hd64-*` cases are the GPU-shaped ones; the
//! `tiny-*` cases (head_dim 8, no attention kernel) must be refused with an error naming the
//! head_dim. Ignored without a GPU.

use fk_baselines::fixtures::{arch_cases, expect_err, model_tolerance, EncoderGoldenTrials, GoldenCase};
use fk_baselines::ops::PackedAttentionKernel;
use fk_baselines::{Context, OpTable};
use fk_runtime::compare::compare;
use fk_runtime::gpu_test::run;
use fk_runtime::{DType, Device};
use fk_siglip2::gpu::Siglip2VisionTransformer;
use fk_siglip2::{PatchBatch, Siglip2VisionConfig};

fn s<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

fn has_kernel(g: &GoldenCase) -> bool {
    let cfg = Siglip2VisionConfig::from_file(&g.dir).expect("golden config");
    let dtype = if g.is_bf16() { DType::BF16 } else { DType::F32 };
    PackedAttentionKernel::choose(dtype, cfg.head_dim).is_ok()
}

fn batch_of(g: &GoldenCase) -> Result<PatchBatch, String> {
    let shape = g.shape("pixel_values").map_err(s)?;
    let pixels = g.golden.host_f32("pixel_values").map_err(s)?;
    let mask = g.ints("pixel_attention_mask").map_err(s)?.into_iter().map(|x| x != 0).collect();
    let sh = g.ints("spatial_shapes").map_err(s)?;
    let shapes = sh.chunks_exact(2).map(|c| (c[0] as usize, c[1] as usize)).collect();
    PatchBatch::new(shape[1], shape[2], pixels, mask, shapes).map_err(s)
}

/// The rows of `x` `[rows, width]` where `mask` is true (goldens hold HF's values on padding
/// rows, which every consumer ignores; the GPU model writes zeros there).
fn real_rows<T: Copy>(x: &[T], mask: &[bool], width: usize) -> Vec<T> {
    x.chunks_exact(width).zip(mask).filter(|(_, &m)| m).flat_map(|(r, _)| r.iter().copied()).collect()
}

fn setup(dev: &Device, g: &GoldenCase) -> Result<(Siglip2VisionTransformer, Context), String> {
    let model = Siglip2VisionTransformer::from_pretrained(dev, &g.dir, None).map_err(|e| format!("{}: {e}", g.name))?;
    Ok((model, Context::new(dev, OpTable::baseline()).map_err(s)?))
}

fn matches_transformers(dev: &Device, g: &GoldenCase) -> Result<(), String> {
    let (model, ctx) = setup(dev, g)?;
    let b = batch_of(g)?;
    let out = model.forward(&ctx, &b, true).map_err(s)?;
    let h = model.cfg.hidden_size;
    let mut padded = vec![("embeddings".to_string(), &out.hidden_states[0])];
    padded.extend(out.hidden_states[1..].iter().enumerate().map(|(i, t)| (format!("layer_outputs.{i}"), t)));
    padded.push(("last_hidden_state".into(), &out.last_hidden_state));
    let mut host = Vec::new();
    for (key, t) in padded {
        let all = t.to_f32().map_err(s)?;
        let max_pad = all.chunks_exact(h).zip(&b.mask).filter(|(_, &m)| !m).flat_map(|(r, _)| r.iter()).fold(0f32, |a, &v| a.max(v.abs()));
        if max_pad != 0.0 {
            return Err(format!("{} {key}: a padding row holds {max_pad}, expected zeros", g.name));
        }
        host.push((key, real_rows(&all, &b.mask, h)));
    }
    let pooled = out.pooler_output.as_ref().ok_or("vision_use_head is set; the model has no head")?;
    host.push(("pooler_output".into(), pooled.to_f32().map_err(s)?));
    let tol = model_tolerance(g.is_bf16());
    let mut report = Vec::new();
    for (key, ours) in &host {
        let mut want = g.expected(key).map_err(s)?;
        if key != "pooler_output" {
            want = real_rows(&want, &b.mask, h);
        }
        let c = compare(ours, &want, tol);
        c.check(&format!("{} {key}", g.name))?;
        report.push(format!("{key} {:.1e}", c.rel_l2));
    }
    eprintln!("{}: rel_l2 {}", g.name, report.join(", "));
    Ok(())
}

/// Each image alone (padded to exactly its own patch count) gives its real rows of the batch
/// and the same pooled vector, at the golden tolerance (GEMMs of another height may sum in
/// another order).
fn padding_changes_no_real_patch(dev: &Device, g: &GoldenCase) -> Result<(), String> {
    let (model, ctx) = setup(dev, g)?;
    let b = batch_of(g)?;
    let batched = model.forward(&ctx, &b, false).map_err(s)?;
    let all = batched.last_hidden_state.to_f32().map_err(s)?;
    let pooled = batched.pooler_output.as_ref().ok_or("no head")?.to_f32().map_err(s)?;
    let (h, pd) = (model.cfg.hidden_size, b.patch_dim);
    let tol = model_tolerance(g.is_bf16());
    for (i, &(gh, gw)) in b.spatial_shapes.iter().enumerate() {
        let n = gh * gw;
        let px = b.pixel_values[i * b.max_patches * pd..(i * b.max_patches + n) * pd].to_vec();
        let one = model.forward(&ctx, &PatchBatch::new(n, pd, px, vec![true; n], vec![(gh, gw)]).map_err(s)?, false).map_err(s)?;
        let alone: Vec<f64> = one.last_hidden_state.to_f32().map_err(s)?.into_iter().map(f64::from).collect();
        compare(&all[i * b.max_patches * h..(i * b.max_patches + n) * h], &alone, tol).check(&format!("{} image {i} rows, batch vs alone", g.name))?;
        let alone_pooled: Vec<f64> = one.pooler_output.as_ref().ok_or("no head")?.to_f32().map_err(s)?.into_iter().map(f64::from).collect();
        compare(&pooled[i * h..(i + 1) * h], &alone_pooled, tol).check(&format!("{} image {i} pooled, batch vs alone", g.name))?;
    }
    Ok(())
}


fn bad_input(dev: &Device, g: &GoldenCase) -> Result<(), String> {
    let (model, ctx) = setup(dev, g)?;
    let (c, p) = (model.cfg.num_channels, model.cfg.patch_size);
    // An image whose size is not a multiple of the patch never becomes a batch.
    expect_err(PatchBatch::from_images(&[(p + 1, 2 * p, vec![0.0; c * (p + 1) * 2 * p])], c, p, 16), "image size not a multiple of the patch", &["not a positive multiple of patch_size"])?;
    // Patches of the wrong width (another patch size or channel count).
    let wrong = PatchBatch::from_images(&[(2 * p, 2 * p, vec![0.0; 4 * p * p])], 1, p, 16).map_err(s)?;
    expect_err(model.forward(&ctx, &wrong, false), "wrong patch width", &["num_channels"])?;
    // Still usable.
    let ok = PatchBatch::from_images(&[(2 * p, 3 * p, vec![0.25; c * 6 * p * p])], c, p, 8).map_err(s)?;
    model.forward(&ctx, &ok, false).map(|_| ()).map_err(s)
}

fn unsupported_head_dim(dev: &Device, g: &GoldenCase) -> Result<(), String> {
    let (model, ctx) = setup(dev, g)?;
    let hd = model.cfg.head_dim;
    expect_err(model.forward(&ctx, &batch_of(g)?, false), "head_dim without a kernel", &[&format!("head_dim {hd}")])
}

fn main() {
    let cases = arch_cases("siglip2", env!("CARGO_MANIFEST_DIR"), 4).expect("tests/goldens/siglip2 loads");
    let trials = EncoderGoldenTrials {
        has_kernel,
        unsupported: unsupported_head_dim,
        matches: matches_transformers,
        batching: ("padding changes no real patch", padding_changes_no_real_patch),
        bad_input,
    };
    run(trials.trials(cases))
}
