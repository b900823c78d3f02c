//! The tensors of an HF `DINOv3ViTModel` checkpoint (no prefix), as the GPU loader asks for
//! them: for random weights at the real config (`fk_runtime::random_weights`).

use crate::config::DINOv3ViTConfig;

pub fn weight_specs(c: &DINOv3ViTConfig) -> Vec<(String, Vec<usize>)> {
    let (h, i, p) = (c.hidden_size, c.intermediate_size, c.patch_size);
    let mut v: Vec<(String, Vec<usize>)> = vec![("embeddings.cls_token".into(), vec![1, 1, h])];
    if c.num_register_tokens > 0 {
        v.push(("embeddings.register_tokens".into(), vec![1, c.num_register_tokens, h]));
    }
    v.push(("embeddings.patch_embeddings.weight".into(), vec![h, c.num_channels, p, p]));
    v.push(("embeddings.patch_embeddings.bias".into(), vec![h]));
    let linear = |v: &mut Vec<(String, Vec<usize>)>, name: String, inf: usize, outf: usize, bias: bool| {
        v.push((format!("{name}.weight"), vec![outf, inf]));
        if bias {
            v.push((format!("{name}.bias"), vec![outf]));
        }
    };
    let norm = |v: &mut Vec<(String, Vec<usize>)>, name: String| {
        v.push((format!("{name}.weight"), vec![h]));
        v.push((format!("{name}.bias"), vec![h]));
    };
    for l in 0..c.num_hidden_layers {
        let lp = format!("model.layer.{l}");
        norm(&mut v, format!("{lp}.norm1"));
        linear(&mut v, format!("{lp}.attention.q_proj"), h, h, c.query_bias);
        linear(&mut v, format!("{lp}.attention.k_proj"), h, h, c.key_bias);
        linear(&mut v, format!("{lp}.attention.v_proj"), h, h, c.value_bias);
        linear(&mut v, format!("{lp}.attention.o_proj"), h, h, c.proj_bias);
        v.push((format!("{lp}.layer_scale1.lambda1"), vec![h]));
        norm(&mut v, format!("{lp}.norm2"));
        if c.use_gated_mlp {
            linear(&mut v, format!("{lp}.mlp.gate_proj"), h, i, c.mlp_bias);
        }
        linear(&mut v, format!("{lp}.mlp.up_proj"), h, i, c.mlp_bias);
        linear(&mut v, format!("{lp}.mlp.down_proj"), i, h, c.mlp_bias);
        v.push((format!("{lp}.layer_scale2.lambda1"), vec![h]));
    }
    norm(&mut v, "norm".into());
    v
}

#[cfg(test)]
mod tests {
    #[test]
    fn vit7b_has_its_parameter_count() {
        let n: usize = super::weight_specs(&crate::config::dinov3_vit7b16()).iter().map(|(_, s)| s.iter().product::<usize>()).sum();
        // transformers 5.24 `DINOv3ViTModel` at the shipped config, less the unused `mask_token`.
        assert_eq!(n, 6_716_030_976);
    }
}
