//! The tensors of an HF `Siglip2VisionTransformer` checkpoint (no prefix), as the GPU loader
//! asks for them: for random weights at the real config (`fk_runtime::random_weights`).

use crate::config::Siglip2VisionConfig;

pub fn weight_specs(c: &Siglip2VisionConfig) -> Vec<(String, Vec<usize>)> {
    let (h, i) = (c.hidden_size, c.intermediate_size);
    let mut v: Vec<(String, Vec<usize>)> = Vec::new();
    let linear = |v: &mut Vec<(String, Vec<usize>)>, name: &str, inf: usize, outf: usize| {
        v.push((format!("{name}.weight"), vec![outf, inf]));
        v.push((format!("{name}.bias"), vec![outf]));
    };
    let norm = |v: &mut Vec<(String, Vec<usize>)>, name: &str| {
        v.push((format!("{name}.weight"), vec![h]));
        v.push((format!("{name}.bias"), vec![h]));
    };
    linear(&mut v, "embeddings.patch_embedding", c.patch_dim(), h);
    v.push(("embeddings.position_embedding.weight".into(), vec![c.num_patches, h]));
    for l in 0..c.num_hidden_layers {
        let p = format!("encoder.layers.{l}");
        norm(&mut v, &format!("{p}.layer_norm1"));
        for n in ["q_proj", "k_proj", "v_proj", "out_proj"] {
            linear(&mut v, &format!("{p}.self_attn.{n}"), h, h);
        }
        norm(&mut v, &format!("{p}.layer_norm2"));
        linear(&mut v, &format!("{p}.mlp.fc1"), h, i);
        linear(&mut v, &format!("{p}.mlp.fc2"), i, h);
    }
    norm(&mut v, "post_layernorm");
    if c.vision_use_head {
        v.push(("head.probe".into(), vec![1, 1, h]));
        v.push(("head.attention.in_proj_weight".into(), vec![3 * h, h]));
        v.push(("head.attention.in_proj_bias".into(), vec![3 * h]));
        linear(&mut v, "head.attention.out_proj", h, h);
        norm(&mut v, "head.layernorm");
        linear(&mut v, "head.mlp.fc1", h, i);
        linear(&mut v, "head.mlp.fc2", i, h);
    }
    v
}

#[cfg(test)]
mod tests {
    #[test]
    fn so400m_vision_tower_has_its_parameter_count() {
        let n: usize = super::weight_specs(&crate::config::siglip2_so400m_naflex()).iter().map(|(_, s)| s.iter().product::<usize>()).sum();
        // transformers 5.24 `Siglip2VisionModel` at the shipped config: 427,888,064 parameters.
        assert_eq!(n, 427_888_064);
    }
}
