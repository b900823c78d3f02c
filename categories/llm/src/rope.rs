//! The rotary cos/sin cache as vLLM builds it for `RotaryEmbedding` (`[max_position,
//! head_dim]` f32: cos of the `head_dim/2` frequencies, then their sin), with `rope_scaling`
//! `default` or `llama3` (transformers `_compute_llama3_parameters`). Computed in f64 and
//! stored in f32; the GPU rotary kernel reads it directly.

use crate::config::RopeScaling;

/// Inverse frequencies θ^(-2i/d), adjusted by the llama3 scaling rule: wavelengths shorter
/// than `original_max / high_freq_factor` are kept, longer than `original_max /
/// low_freq_factor` divided by `factor`, and the band between interpolated smoothly.
pub fn inv_freq(rope_theta: f64, head_dim: usize, scaling: &RopeScaling) -> Vec<f64> {
    let d = head_dim;
    let base: Vec<f64> = (0..d / 2).map(|i| 1.0 / rope_theta.powf((2 * i) as f64 / d as f64)).collect();
    match *scaling {
        RopeScaling::Default => base,
        RopeScaling::Llama3 { factor, low_freq_factor, high_freq_factor, original_max_position_embeddings } => {
            let old = original_max_position_embeddings as f64;
            let (low_wavelen, high_wavelen) = (old / low_freq_factor, old / high_freq_factor);
            base.into_iter()
                .map(|f| {
                    let wavelen = 2.0 * std::f64::consts::PI / f;
                    if wavelen < high_wavelen {
                        f
                    } else if wavelen > low_wavelen {
                        f / factor
                    } else {
                        let smooth = (old / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor);
                        (1.0 - smooth) * f / factor + smooth * f
                    }
                })
                .collect()
        }
    }
}

/// Rows `0..positions` of the cache (tests and small models need only a prefix).
pub fn cos_sin_cache(rope_theta: f64, head_dim: usize, scaling: &RopeScaling, positions: usize) -> Vec<f32> {
    fk_baselines::reference::cos_sin_cache_from_freqs(positions, &inv_freq(rope_theta, head_dim, scaling))
}
