//! Random weights at a real config, for timing without downloads: an in-memory
//! [`Checkpoint`] with the tensors a model's loader asks for, so the model loads through its
//! own code path. Values: LayerNorm-style weights (1-D, "norm" in the name) and layer scales
//! (`lambda1`) are 1, biases 0, everything else uniform with std 0.02 (BERT's
//! `initializer_range`) from SplitMix64 — cheap enough to fill a 7B model on the host in
//! seconds, and finite through any depth.

use crate::embed::workloads::splitmix64;
use crate::safetensors::Checkpoint;
use crate::{DType, Error, Result};
use half::{bf16, f16};

const STD: f32 = 0.02;

/// FNV-1a of a tensor name: each tensor gets its own stream.
fn name_hash(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3))
}

fn constant(name: &str, shape: &[usize]) -> Option<f32> {
    let last = name.rsplit('.').next().unwrap_or(name);
    if last == "bias" || name.ends_with("_bias") {
        return Some(0.0);
    }
    if last == "lambda1" || (shape.len() == 1 && last == "weight" && name.to_ascii_lowercase().contains("norm")) {
        return Some(1.0);
    }
    None
}

fn write(out: &mut [u8], dtype: DType, first: usize, value: impl Fn(usize) -> f32) {
    let s = dtype.size();
    for (i, c) in out.chunks_exact_mut(s).enumerate() {
        let v = value(first + i);
        match dtype {
            DType::F32 => c.copy_from_slice(&v.to_le_bytes()),
            DType::BF16 => c.copy_from_slice(&bf16::from_f32(v).to_le_bytes()),
            _ => c.copy_from_slice(&f16::from_f32(v).to_le_bytes()),
        }
    }
}

/// `specs` (name, shape) as a checkpoint of random `dtype` weights (f32, f16, bf16).
pub fn random_checkpoint(label: &str, specs: &[(String, Vec<usize>)], dtype: DType, seed: u64) -> Result<Checkpoint> {
    if !DType::FLOATS.contains(&dtype) {
        return Err(Error::dtype("random weights", format!("{dtype} (f32, f16, bf16)")));
    }
    let tensors: Vec<(String, DType, Vec<usize>)> = specs.iter().map(|(n, s)| (n.clone(), dtype, s.clone())).collect();
    let threads = std::thread::available_parallelism().map_or(4, |n| n.get()).min(32);
    let half_width = STD * 3f32.sqrt();
    Checkpoint::from_fn(format!("<random weights: {label}>"), &tensors, |name, dtype, bytes| {
        let shape = &specs.iter().find(|(n, _)| n == name).expect("a spec per tensor").1;
        let fixed = constant(name, shape);
        let stream = splitmix64(seed ^ name_hash(name));
        let value = move |i: usize| fixed.unwrap_or_else(|| ((splitmix64(stream ^ i as u64) >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * half_width);
        let s = dtype.size();
        let per = bytes.len().div_ceil(threads * s).max(1 << 16) * s;
        std::thread::scope(|sc| {
            for (k, chunk) in bytes.chunks_mut(per).enumerate() {
                sc.spawn(move || write(chunk, dtype, k * per / s, value));
            }
        });
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn norms_are_one_biases_zero_weights_small_and_seeded() {
        let specs = vec![("a.LayerNorm.weight".to_string(), vec![4]), ("a.dense.bias".to_string(), vec![3]), ("a.dense.weight".to_string(), vec![300, 500]), ("s.lambda1".to_string(), vec![2])];
        let c = random_checkpoint("test", &specs, DType::BF16, 1).unwrap();
        assert_eq!(c.host_f32("a.LayerNorm.weight").unwrap(), [1.0; 4]);
        assert_eq!(c.host_f32("a.dense.bias").unwrap(), [0.0; 3]);
        assert_eq!(c.host_f32("s.lambda1").unwrap(), [1.0; 2]);
        let w = c.host_f32("a.dense.weight").unwrap();
        let std = (w.iter().map(|x| (*x as f64).powi(2)).sum::<f64>() / w.len() as f64).sqrt();
        assert!((std - 0.02).abs() < 1e-3 && w.iter().all(|x| x.abs() <= 0.035), "std {std}");
        assert_eq!(c.info("a.dense.weight").unwrap().shape, [300, 500]);
        assert_eq!(w, random_checkpoint("test", &specs, DType::BF16, 1).unwrap().host_f32("a.dense.weight").unwrap());
        assert_ne!(w, random_checkpoint("test", &specs, DType::BF16, 2).unwrap().host_f32("a.dense.weight").unwrap());
        assert!(random_checkpoint("test", &specs, DType::I32, 1).is_err());
        let twice = vec![("x".to_string(), vec![1]), ("x".to_string(), vec![1])];
        assert!(random_checkpoint("test", &twice, DType::F32, 1).err().unwrap().to_string().contains("given twice"));
    }
}
