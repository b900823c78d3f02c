//! The embedding engine on the GPU BGE-M3 (golden `hd64-*` models): a mix of 13 requests of
//! lengths 1…max positions, batched by length, gives every request the dense embedding it
//! gets alone (fp32/bf16 model tolerances); too long, out-of-vocabulary and empty requests
//! are named errors at submit; the engine's packed-only `dense_embedding` equals `forward`'s.
//! Ignored without a GPU.

use fk_baselines::fixtures::{arch_cases, expect_err, model_tolerance};
use fk_baselines::{Context, OpTable};
use fk_bge_m3::embed::BgeM3Encoder;
use fk_bge_m3::gpu::BgeM3;
use fk_recsys::embed::token_batch;
use fk_runtime::embed::check::batched_matches_alone;
use fk_runtime::embed::workloads::text_requests;
use fk_runtime::embed::{BatchPolicy, EmbedEngine, EmbedInput};
use fk_runtime::gpu_test::{gpu_trial, run};

fn main() {
    let cases = arch_cases("bge_m3", env!("CARGO_MANIFEST_DIR"), 4).expect("tests/goldens/bge_m3 loads");
    let mut trials = Vec::new();
    for g in cases.into_iter().filter(|g| g.name.starts_with("hd64")) {
        let (name, dir, bf16) = (g.name.clone(), g.dir.clone(), g.is_bf16());
        trials.push(gpu_trial(format!("engine/{name}/batched == alone, bad requests named"), move |dev| {
            let model = BgeM3::from_pretrained(dev, &dir, None).map_err(|e| e.to_string())?;
            let ctx = Context::new(dev, OpTable::baseline()).map_err(|e| e.to_string())?;
            let (max, vocab) = (model.model.cfg.max_sequence_length(), model.model.cfg.vocab_size);
            let mut engine = EmbedEngine::new(BgeM3Encoder::new(&model, &ctx), BatchPolicy { max_batch: 4, max_batched_tokens: 3 * max }).map_err(|e| e.to_string())?;
            let inputs = text_requests(13, 5, 1, max, vocab);
            let report = batched_matches_alone(&mut engine, &inputs, model_tolerance(bf16))?;
            eprintln!("{name}: {report}");
            // The engine's packed-only path (dense_embedding) == forward()'s padded one.
            let refs: Vec<&EmbedInput> = inputs.iter().take(4).collect();
            let b = token_batch(&refs, model.model.cfg.pad_token_id as u32).map_err(|e| e.to_string())?;
            let padded = model.forward(&ctx, &b, false).map_err(|e| e.to_string())?.dense_embedding.to_f32().map_err(|e| e.to_string())?;
            let packed = model.dense_embedding(&ctx, &b).map_err(|e| e.to_string())?.to_f32().map_err(|e| e.to_string())?;
            let want: Vec<f64> = padded.iter().map(|&x| x as f64).collect();
            fk_runtime::compare::compare(&packed, &want, model_tolerance(bf16)).check(&format!("{name} dense_embedding (packed) vs forward (padded)"))?;
            expect_err(engine.submit(EmbedInput::text(vec![5; max + 1])), "too long", &[&format!("{} tokens exceed the model's {max} positions", max + 1)])?;
            expect_err(engine.submit(EmbedInput::text(vec![5, vocab as u32])), "id out of range", &[&format!("id {vocab}, vocab_size is {vocab}")])?;
            expect_err(engine.submit(EmbedInput::text(vec![])), "empty", &["empty text"])?;
            Ok(())
        }));
    }
    run(trials)
}
