//! The CPU reference `DINOv3ViTModel` against HF transformers goldens
//! (tests/goldens/make_encoder_goldens.py): register tokens, random layer scales, gated and
//! plain MLPs, 2D RoPE on a 20×12 image (not the config's 16×16). Each image alone must give
//! its rows of the batch; bad input is a named error.

use fk_baselines::fixtures::{arch_cases, encoder_pairs, GoldenCase};
use fk_dinov3::{DINOv3ViTConfig, DINOv3ViTModel};
use fk_multimodal::ImageBatch;
use fk_runtime::safetensors::Checkpoint;

fn cases() -> Vec<GoldenCase> {
    arch_cases("dinov3", env!("CARGO_MANIFEST_DIR"), 3).unwrap()
}

fn images_of(g: &GoldenCase) -> ImageBatch {
    let s = g.shape("pixel_values").unwrap();
    ImageBatch::new(s[0], s[1], s[2], s[3], g.golden.host_f32("pixel_values").unwrap()).unwrap()
}

fn model_of(g: &GoldenCase) -> DINOv3ViTModel {
    let cfg = DINOv3ViTConfig::from_file(&g.dir).unwrap();
    DINOv3ViTModel::load(&Checkpoint::open(&g.dir).unwrap(), &cfg).unwrap_or_else(|e| panic!("{}: {e}", g.name))
}

#[test]
fn reference_matches_transformers() {
    let mut sizes = vec![];
    for g in cases() {
        let model = model_of(&g);
        let images = images_of(&g);
        sizes.push((images.height, images.width, model.cfg.image_size));
        let out = model.forward(&images).unwrap();
        for (key, rel) in g.check(&encoder_pairs(&out)).unwrap_or_else(|e| panic!("{e}")) {
            eprintln!("{} {key}: rel_l2 {rel:.2e}", g.name);
        }
    }
    assert!(sizes.iter().any(|&(h, w, s)| h != s || w != s), "a golden must use an image size other than config.image_size");
}

#[test]
fn batch_rows_equal_each_image_alone() {
    for g in cases() {
        let images = images_of(&g);
        let model = model_of(&g);
        let batched = model.forward(&images).unwrap();
        let n = images.channels * images.height * images.width;
        let rows = batched.seq * batched.hidden;
        for b in 0..images.batch {
            let one = ImageBatch::new(1, images.channels, images.height, images.width, images.pixels[b * n..(b + 1) * n].to_vec()).unwrap();
            let alone = model.forward(&one).unwrap();
            assert_eq!(&batched.last_hidden_state[b * rows..(b + 1) * rows], &alone.last_hidden_state[..], "{} image {b}", g.name);
        }
    }
}

#[test]
fn bad_input_is_a_named_error() {
    let g = cases().into_iter().find(|g| !g.is_bf16()).unwrap();
    let model = model_of(&g);
    let p = model.cfg.patch_size;
    let odd = ImageBatch::new(1, 3, 2 * p + 1, 2 * p, vec![0.0; 3 * (2 * p + 1) * 2 * p]).unwrap();
    let e = model.forward(&odd).expect_err("indivisible size must fail").to_string();
    assert!(e.contains("not a positive multiple of patch_size"), "{e}");
    let gray = ImageBatch::new(1, 1, 2 * p, 2 * p, vec![0.0; 4 * p * p]).unwrap();
    let e = model.forward(&gray).expect_err("wrong channel count must fail").to_string();
    assert!(e.contains("num_channels"), "{e}");
    let wrong = DINOv3ViTConfig { num_register_tokens: model.cfg.num_register_tokens + 1, ..model.cfg.clone() };
    let e = DINOv3ViTModel::load(&Checkpoint::open(&g.dir).unwrap(), &wrong).err().expect("wrong registers must fail").to_string();
    assert!(e.contains("register_tokens"), "{e}");
}
