//! The rotary cos/sin cache of a Llama config, as vLLM builds it for `RotaryEmbedding`
//! (`[max_position, head_dim]` f32: cos of the `head_dim/2` frequencies, then their sin),
//! with `rope_scaling` `default` or `llama3` (transformers `_compute_llama3_parameters`).
//! Computed in f64 and stored in f32; the GPU rotary kernel reads it directly.

use crate::config::{LlamaConfig, RopeScaling};

/// Inverse frequencies θ^(-2i/d), adjusted by the llama3 scaling rule: wavelengths shorter
/// than `original_max / high_freq_factor` are kept, longer than `original_max /
/// low_freq_factor` divided by `factor`, and the band between interpolated smoothly.
pub fn inv_freq(cfg: &LlamaConfig) -> Vec<f64> {
    let d = cfg.head_dim;
    let base: Vec<f64> = (0..d / 2).map(|i| 1.0 / cfg.rope_theta.powf((2 * i) as f64 / d as f64)).collect();
    match cfg.rope_scaling {
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
pub fn cos_sin_cache(cfg: &LlamaConfig, positions: usize) -> Vec<f32> {
    fk_baselines::reference::cos_sin_cache_from_freqs(positions, &inv_freq(cfg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn llama3_scaling_keeps_high_and_divides_low_frequencies() {
        let cfg = LlamaConfig::llama_3_1_8b();
        let scaled = inv_freq(&cfg);
        let plain = inv_freq(&LlamaConfig { rope_scaling: RopeScaling::Default, ..cfg.clone() });
        assert_eq!(scaled[0], plain[0]); // highest frequency: wavelength 2π < 8192/4
        let last = scaled.len() - 1; // lowest frequency: wavelength ≫ 8192
        assert!((scaled[last] - plain[last] / 8.0).abs() < 1e-18);
        // monotone: scaling never reorders frequencies
        assert!(scaled.windows(2).all(|w| w[0] > w[1]));
    }

    #[test]
    fn default_cache_matches_the_generic_reference() {
        let cfg = LlamaConfig { rope_scaling: RopeScaling::Default, ..LlamaConfig::llama_3_1_8b() };
        let ours = cos_sin_cache(&cfg, 17);
        let generic = fk_baselines::reference::cos_sin_cache(17, cfg.head_dim, cfg.rope_theta);
        assert!(ours.iter().zip(&generic).all(|(a, b)| (a - b).abs() < 1e-6));
    }
}
