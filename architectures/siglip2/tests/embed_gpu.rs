//! The embedding engine on the GPU SigLIP-2 vision tower (golden `hd64-*` models): 10 images of three
//! resolutions, grouped by resolution into batches, give every image the attention-pool vector it gets
//! alone (fp32/bf16 model tolerances); a size that is not a multiple of the patch and a wrong
//! channel count are named errors at submit. The engine's path (f32 NCHW uploaded as it is,
//! patchified on the GPU by im2col with the conv-ordered weight: `forward_pixels`) gives what
//! HF's patchified input gives through `forward`. Ignored without a GPU.

use fk_baselines::fixtures::{arch_cases, expect_err, model_tolerance};
use fk_baselines::{Context, OpTable};
use fk_runtime::compare::compare;
use fk_runtime::Tensor;
use fk_siglip2::embed::{patch_batch, Siglip2Encoder};
use fk_siglip2::gpu::Siglip2VisionTransformer;
use fk_runtime::embed::check::batched_matches_alone;
use fk_runtime::embed::workloads::image_requests;
use fk_runtime::embed::{BatchPolicy, EmbedEngine, EmbedInput};
use fk_runtime::gpu_test::{gpu_trial, run};

fn main() {
    let cases = arch_cases("siglip2", env!("CARGO_MANIFEST_DIR"), 4).expect("tests/goldens/siglip2 loads");
    let mut trials = Vec::new();
    for g in cases.into_iter().filter(|g| g.name.starts_with("hd64")) {
        let (name, dir, bf16) = (g.name.clone(), g.dir.clone(), g.is_bf16());
        let (name2, dir2) = (name.clone(), dir.clone());
        trials.push(gpu_trial(format!("forward_pixels/{name}/NCHW on the GPU == HF's patchified input"), move |dev| {
            let s = |e: fk_runtime::Error| e.to_string();
            let model = Siglip2VisionTransformer::from_pretrained(dev, &dir2, None).map_err(s)?;
            let ctx = Context::new(dev, OpTable::baseline()).map_err(s)?;
            let (c, p) = (model.cfg.num_channels, model.cfg.patch_size);
            // Non-square (another grid than the position table), 3 images, fresh pixels.
            let inputs = image_requests(3, fk_runtime::rng::fresh_seed(), c, 2 * p, 3 * p);
            let refs: Vec<&EmbedInput> = inputs.iter().collect();
            let want = model.forward(&ctx, &patch_batch(&refs, p).map_err(s)?, false).map_err(s)?;
            let pixels = fk_multimodal::embed::upload_images(dev, &refs).map_err(s)?;
            if pixels.dtype() != fk_runtime::DType::F32 {
                return Err(format!("upload_images gave {pixels:?}, expected f32"));
            }
            let got = model.forward_pixels(&ctx, &pixels, false).map_err(s)?;
            let tol = model_tolerance(bf16);
            let host = |t: &Tensor| -> Result<Vec<f32>, String> { t.to_f32().map_err(s) };
            let wide = |v: Vec<f32>| -> Vec<f64> { v.into_iter().map(f64::from).collect() };
            compare(&host(&got.last_hidden_state)?, &wide(host(&want.last_hidden_state)?), tol).check(&format!("{name2} last_hidden_state"))?;
            let pooled = |o: &fk_siglip2::gpu::Siglip2Output| o.pooler_output.clone().ok_or_else(|| "no head".to_string());
            let want_pooled = wide(host(&pooled(&want)?)?);
            compare(&host(&pooled(&got)?)?, &want_pooled, tol).check(&format!("{name2} pooler_output"))?;
            // The encoder's two paths give the same vectors: embed_batch (upload_images) and
            // the engine's pipelined one (pinned staging slots, DMA in stream order), run
            // twice so both slots are staged, uploaded and reused.
            use fk_runtime::embed::Encoder;
            let direct = Siglip2Encoder::new(&model, &ctx).embed_batch(&refs).map_err(s)?;
            let mut engine = EmbedEngine::new(Siglip2Encoder::new(&model, &ctx), BatchPolicy { max_batch: 1, max_batched_tokens: usize::MAX }).map_err(s)?;
            for round in 0..2 {
                let piped = engine.embed(inputs.clone()).map_err(s)?;
                for (what, embs) in [("embed_batch", &direct), ("pipelined engine", &piped)] {
                    let flat: Vec<f32> = embs.iter().flat_map(|e| e.pooled.clone().unwrap_or_default()).collect();
                    compare(&flat, &want_pooled, tol).check(&format!("{name2} {what} (round {round}) vs forward(patchified)"))?;
                }
            }
            // Wrong channel count and a size the patch does not divide are named errors.
            let bad = Tensor::zeros(dev, &[1, c + 1, 2 * p, 2 * p], fk_runtime::DType::F32).map_err(s)?;
            expect_err(model.forward_pixels(&ctx, &bad, false), "channels", &["num_channels"])?;
            let odd = Tensor::zeros(dev, &[1, c, 2 * p + 1, 2 * p], fk_runtime::DType::F32).map_err(s)?;
            expect_err(model.forward_pixels(&ctx, &odd, false), "size", &["not a positive multiple of patch_size"])
        }));
        trials.push(gpu_trial(format!("engine/{name}/batched == alone, bad requests named"), move |dev| {
            let model = Siglip2VisionTransformer::from_pretrained(dev, &dir, None).map_err(|e| e.to_string())?;
            let ctx = Context::new(dev, OpTable::baseline()).map_err(|e| e.to_string())?;
            let (c, p) = (model.cfg.num_channels, model.cfg.patch_size);
            let mut engine = EmbedEngine::new(Siglip2Encoder::new(&model, &ctx), BatchPolicy { max_batch: 3, max_batched_tokens: usize::MAX }).map_err(|e| e.to_string())?;
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
