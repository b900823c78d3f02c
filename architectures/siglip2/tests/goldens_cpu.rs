//! The CPU reference `Siglip2VisionTransformer` against HF transformers goldens
//! (tests/goldens/make_encoder_goldens.py): naflex patch inputs whose grids (4×6, 3×5) differ
//! from the 4×4 position table (upsampled and antialias-downsampled), padded to one length.
//! Each image alone must give its rows of the padded batch; bad input is a named error.

use fk_baselines::fixtures::{arch_cases, encoder_pairs, GoldenCase};
use fk_runtime::safetensors::Checkpoint;
use fk_siglip2::{PatchBatch, Siglip2VisionConfig, Siglip2VisionTransformer};

fn cases() -> Vec<GoldenCase> {
    arch_cases("siglip2", env!("CARGO_MANIFEST_DIR"), 2).unwrap()
}

fn batch_of(g: &GoldenCase) -> PatchBatch {
    let shape = g.shape("pixel_values").unwrap();
    let pixels = g.golden.host_f32("pixel_values").unwrap();
    let mask = g.ints("pixel_attention_mask").unwrap().into_iter().map(|x| x != 0).collect();
    let s = g.ints("spatial_shapes").unwrap();
    let shapes = s.chunks_exact(2).map(|c| (c[0] as usize, c[1] as usize)).collect();
    PatchBatch::new(shape[1], shape[2], pixels, mask, shapes).unwrap()
}

fn model_of(g: &GoldenCase) -> Siglip2VisionTransformer {
    let cfg = Siglip2VisionConfig::from_file(&g.dir).unwrap();
    Siglip2VisionTransformer::load(&Checkpoint::open(&g.dir).unwrap(), &cfg).unwrap_or_else(|e| panic!("{}: {e}", g.name))
}

#[test]
fn reference_matches_transformers() {
    for g in cases() {
        let out = model_of(&g).forward(&batch_of(&g)).unwrap();
        for (key, rel) in g.check(&encoder_pairs(&out)).unwrap_or_else(|e| panic!("{e}")) {
            eprintln!("{} {key}: rel_l2 {rel:.2e}", g.name);
        }
    }
}

/// An image alone, padded to exactly its own patch count, gives its real rows of the batch
/// and the same pooled vector.
#[test]
fn padding_changes_no_real_patch() {
    for g in cases() {
        let b = batch_of(&g);
        let model = model_of(&g);
        let batched = model.forward(&b).unwrap();
        let (h, pd) = (model.cfg.hidden_size, b.patch_dim);
        for (i, &(gh, gw)) in b.spatial_shapes.iter().enumerate() {
            let n = gh * gw;
            let px = b.pixel_values[i * b.max_patches * pd..(i * b.max_patches + n) * pd].to_vec();
            let one = model.forward(&PatchBatch::new(n, pd, px, vec![true; n], vec![(gh, gw)]).unwrap()).unwrap();
            let rows = &batched.last_hidden_state[i * b.max_patches * h..(i * b.max_patches + n) * h];
            let max = rows.iter().zip(&one.last_hidden_state).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
            assert!(max <= 1e-5, "{} image {i}: padding moved a real row by {max}", g.name);
            let pooled = &batched.pooler_output.as_ref().unwrap()[i * h..(i + 1) * h];
            let max = pooled.iter().zip(one.pooler_output.as_ref().unwrap()).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
            assert!(max <= 1e-5, "{} image {i}: padding moved the pooled vector by {max}", g.name);
        }
    }
}

#[test]
fn bad_input_is_a_named_error() {
    let g = cases().into_iter().find(|g| !g.is_bf16()).unwrap();
    let model = model_of(&g);
    let (c, p) = (model.cfg.num_channels, model.cfg.patch_size);
    // An image whose size is not a multiple of the patch.
    let e = PatchBatch::from_images(&[(p + 1, 2 * p, vec![0.0; c * (p + 1) * 2 * p])], c, p, 16).unwrap_err().to_string();
    assert!(e.contains("not a positive multiple of patch_size"), "{e}");
    // Patches of the wrong width (another patch size or channel count).
    let wrong = PatchBatch::from_images(&[(2 * p, 2 * p, vec![0.0; 4 * p * p])], 1, p, 16).unwrap();
    let e = model.forward(&wrong).expect_err("wrong patch width must fail").to_string();
    assert!(e.contains("num_channels"), "{e}");
    // A grid larger than the padded length, and a mask that disagrees with the grid.
    let pd = model.cfg.patch_dim();
    assert!(PatchBatch::new(4, pd, vec![0.0; 4 * pd], vec![true; 4], vec![(2, 3)]).is_err());
    let e = PatchBatch::new(4, pd, vec![0.0; 4 * pd], vec![true, true, false, false], vec![(1, 3)]).unwrap_err().to_string();
    assert!(e.contains("mask"), "{e}");
}
