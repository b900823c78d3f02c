//! The embedding engine on the GPU ColBERT (golden `hd64-*` models): a mix of 13 requests of
//! lengths 1…max positions, batched by length, gives every request the token embeddings it
//! gets alone (fp32/bf16 model tolerances); too long, out-of-vocabulary and empty requests
//! are named errors at submit; the engine's encoder-only `token_vectors` equals
//! `forward_packed`'s. Ignored without a GPU.

use fk_baselines::fixtures::{arch_cases, expect_err, model_tolerance};
use fk_baselines::{Context, OpTable};
use fk_colbertv2::embed::ColBERTEncoder;
use fk_colbertv2::gpu::ColBERT;
use fk_recsys::embed::token_batch;
use fk_runtime::embed::check::batched_matches_alone;
use fk_runtime::embed::workloads::text_requests;
use fk_runtime::embed::{BatchPolicy, EmbedEngine, EmbedInput};
use fk_runtime::gpu_test::{gpu_trial, run};

fn main() {
    let cases = arch_cases("colbertv2", env!("CARGO_MANIFEST_DIR"), 4).expect("tests/goldens/colbertv2 loads");
    let mut trials = Vec::new();
    for g in cases.into_iter().filter(|g| g.name.starts_with("hd64")) {
        let (name, dir, bf16) = (g.name.clone(), g.dir.clone(), g.is_bf16());
        trials.push(gpu_trial(format!("engine/{name}/batched == alone, bad requests named"), move |dev| {
            let model = ColBERT::from_pretrained(dev, &dir, None).map_err(|e| e.to_string())?;
            let ctx = Context::new(dev, OpTable::baseline()).map_err(|e| e.to_string())?;
            let (max, vocab) = (model.bert.cfg.max_sequence_length(), model.bert.cfg.vocab_size);
            let mut engine = EmbedEngine::new(ColBERTEncoder::new(&model, &ctx), BatchPolicy { max_batch: 4, max_batched_tokens: 3 * max }).map_err(|e| e.to_string())?;
            let inputs = text_requests(13, 5, 1, max, vocab);
            let report = batched_matches_alone(&mut engine, &inputs, model_tolerance(bf16))?;
            eprintln!("{name}: {report}");
            // The engine's encoder-only path (token_vectors) == forward_packed's unit vectors.
            let refs: Vec<&EmbedInput> = inputs.iter().take(4).collect();
            let b = token_batch(&refs, model.bert.cfg.pad_token_id as u32).map_err(|e| e.to_string())?;
            let (_, full) = model.forward_packed(&ctx, &b, false).map_err(|e| e.to_string())?;
            let lean = model.token_vectors(&ctx, &b).map_err(|e| e.to_string())?.to_f32().map_err(|e| e.to_string())?;
            let want: Vec<f64> = full.to_f32().map_err(|e| e.to_string())?.iter().map(|&x| x as f64).collect();
            fk_runtime::compare::compare(&lean, &want, model_tolerance(bf16)).check(&format!("{name} token_vectors vs forward_packed"))?;
            expect_err(engine.submit(EmbedInput::text(vec![5; max + 1])), "too long", &[&format!("{} tokens exceed the model's {max} positions", max + 1)])?;
            expect_err(engine.submit(EmbedInput::text(vec![5, vocab as u32])), "id out of range", &[&format!("id {vocab}, vocab_size is {vocab}")])?;
            expect_err(engine.submit(EmbedInput::text(vec![])), "empty", &["empty text"])?;
            Ok(())
        }));
    }
    run(trials)
}
