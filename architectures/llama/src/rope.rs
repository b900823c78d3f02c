//! The rotary cos/sin cache of a Llama config (see [`fk_llm::rope`], which computes it).

use crate::config::LlamaConfig;

pub fn inv_freq(cfg: &LlamaConfig) -> Vec<f64> {
    fk_llm::rope::inv_freq(cfg.rope_theta, cfg.head_dim, &cfg.rope_scaling)
}

/// Rows `0..positions` of the cache (tests and small models need only a prefix).
pub fn cos_sin_cache(cfg: &LlamaConfig, positions: usize) -> Vec<f32> {
    fk_llm::rope::cos_sin_cache(cfg.rope_theta, cfg.head_dim, &cfg.rope_scaling, positions)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RopeScaling;

    #[test]
    fn llama3_scaling_keeps_high_and_divides_low_frequencies() {
        let cfg = LlamaConfig::llama_3_1_8b();
        let scaled = inv_freq(&cfg);
        let mut plain_cfg = cfg.clone();
        plain_cfg.rope_scaling = RopeScaling::Default;
        let plain = inv_freq(&plain_cfg);
        assert_eq!(scaled[0], plain[0]); // highest frequency: wavelength 2π < 8192/4
        let last = scaled.len() - 1; // lowest frequency: wavelength ≫ 8192
        assert!((scaled[last] - plain[last] / 8.0).abs() < 1e-18);
        // monotone: scaling never reorders frequencies
        assert!(scaled.windows(2).all(|w| w[0] > w[1]));
    }

    #[test]
    fn default_cache_matches_the_generic_reference() {
        let mut cfg = LlamaConfig::llama_3_1_8b();
        cfg.rope_scaling = RopeScaling::Default;
        let ours = cos_sin_cache(&cfg, 17);
        let generic = fk_baselines::reference::cos_sin_cache(17, cfg.head_dim, cfg.rope_theta);
        assert!(ours.iter().zip(&generic).all(|(a, b)| (a - b).abs() < 1e-6));
    }
}
