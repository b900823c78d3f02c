//! The embedding engine on the GPU DINOv3 (golden `hd64-*` models): 10 images of three
//! resolutions, grouped by resolution into batches, give every image the CLS vector it gets
//! alone (fp32/bf16 model tolerances); a size that is not a multiple of the patch and a wrong
//! channel count are named errors at submit. Ignored without a GPU.

use fk_baselines::fixtures::{arch_cases, expect_err, model_tolerance};
use fk_baselines::{Context, OpTable};
use fk_dinov3::embed::DINOv3Encoder;
use fk_dinov3::gpu::DINOv3ViTModel;
use fk_runtime::embed::check::batched_matches_alone;
use fk_runtime::embed::workloads::image_requests;
use fk_runtime::embed::{BatchPolicy, EmbedEngine, EmbedInput};
use fk_runtime::gpu_test::{gpu_trial, run};

fn main() {
    let cases = arch_cases("dinov3", env!("CARGO_MANIFEST_DIR"), 4).expect("tests/goldens/dinov3 loads");
    let mut trials = Vec::new();
    for g in cases.into_iter().filter(|g| g.name.starts_with("hd64")) {
        let (name, dir, bf16) = (g.name.clone(), g.dir.clone(), g.is_bf16());
        trials.push(gpu_trial(format!("engine/{name}/batched == alone, bad requests named"), move |dev| {
            let model = DINOv3ViTModel::from_pretrained(dev, &dir, None).map_err(|e| e.to_string())?;
            let ctx = Context::new(dev, OpTable::baseline()).map_err(|e| e.to_string())?;
            let (c, p) = (model.cfg.num_channels, model.cfg.patch_size);
            let mut engine = EmbedEngine::new(DINOv3Encoder::new(&model, &ctx), BatchPolicy { max_batch: 3, max_batched_tokens: usize::MAX }).map_err(|e| e.to_string())?;
            // Resolutions interleaved, so grouping has to reorder and the results to come back.
            let sizes = [(4 * p, 4 * p), (2 * p, 3 * p), (3 * p, 2 * p)];
            let inputs: Vec<EmbedInput> = (0..10).flat_map(|i| image_requests(1, i as u64, c, sizes[i % 3].0, sizes[i % 3].1)).collect();
            let report = batched_matches_alone(&mut engine, &inputs, model_tolerance(bf16))?;
            eprintln!("{name}: {report}");
            let img = |c: usize, h: usize, w: usize| EmbedInput::Image { channels: c, height: h, width: w, pixels: vec![0.0; c * h * w] };
            expect_err(engine.submit(img(c, 2 * p + 1, 2 * p)), "size not a multiple of the patch", &[&format!("{}×{} is not a positive multiple of patch_size {p}", 2 * p + 1, 2 * p)])?;
            expect_err(engine.submit(img(c + 1, 2 * p, 2 * p)), "channels", &[&format!("{} channels", c + 1)])?;
            expect_err(engine.submit(EmbedInput::text(vec![1])), "text for an image model", &["the request is text, the encoder takes image"])?;
            Ok(())
        }));
    }
    run(trials)
}
