//! Host time per image batch of the embedding engine, no GPU needed: what the SigLIP-2 engine
//! did on the host before each batch until 2026-12-01 (gather the requests, NaFlex patchify,
//! encode f32 → bf16: `patch_batch` + `host::encode`) against what it does now (copy the
//! requests' f32 pixels into the staging buffer, which `ImageStaging::stage` does into
//! page-locked memory while the GPU runs the previous batch). Median of `--reps` (default 7)
//! runs of 32 images of 256², the throughput workload's batch.
//!
//! cargo bench -p fk-siglip2 --bench host_prep [-- --reps N --batch B --side S]

use fk_runtime::embed::workloads::image_requests;
use fk_runtime::embed::EmbedInput;
use fk_runtime::{host, DType};
use fk_siglip2::embed::patch_batch;
use std::time::Instant;

fn median_ms(reps: usize, mut f: impl FnMut()) -> f64 {
    let mut t: Vec<f64> = (0..reps)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str, default: usize| -> usize {
        args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).map_or(default, |v| v.parse().expect("a number"))
    };
    let (reps, batch, side, patch) = (arg("--reps", 7), arg("--batch", 32), arg("--side", 256), 16);
    let inputs = image_requests(batch, 7, 3, side, side);
    let refs: Vec<&EmbedInput> = inputs.iter().collect();
    let old = median_ms(reps, || {
        let b = patch_batch(&refs, patch).expect("valid batch");
        std::hint::black_box(host::encode(&b.pixel_values, DType::BF16));
    });
    let per = 3 * side * side;
    let mut staging = vec![0f32; batch * per];
    let new = median_ms(reps, || {
        for (dst, x) in staging.chunks_exact_mut(per).zip(&refs) {
            if let EmbedInput::Image { pixels, .. } = x {
                dst.copy_from_slice(pixels);
            }
        }
        std::hint::black_box(&staging);
    });
    println!("host prep of {batch} images of {side}x{side} (median of {reps}):");
    println!("  before: patch_batch + f32->bf16 encode  {old:8.2} ms");
    println!("  now:    copy into the staging buffer    {new:8.2} ms  (overlaps the previous batch's GPU work)");
    println!("{{\"batch\": {batch}, \"side\": {side}, \"reps\": {reps}, \"before_ms\": {old:.3}, \"now_ms\": {new:.3}}}");
}
