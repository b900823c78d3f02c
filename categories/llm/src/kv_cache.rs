//! The device side of the paged KV cache: one key and one value cache per layer, each
//! `[num_blocks, block_size, kv_heads, head_dim]` (vLLM's NHD layout, what
//! `reshape_and_cache` writes and the attention kernels read). Which block belongs to which
//! sequence is the host's business ([`crate::KvBlockManager`]).

use fk_baselines::ops::PagedKv;
use fk_runtime::{DType, Device, Error, Result, Tensor};

pub struct PagedKvCache {
    key: Vec<Tensor>,
    value: Vec<Tensor>,
    pub num_blocks: usize,
    pub block_size: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
}

impl PagedKvCache {
    pub fn new(dev: &Device, layers: usize, num_blocks: usize, block_size: usize, kv_heads: usize, head_dim: usize, dtype: DType) -> Result<PagedKvCache> {
        if layers == 0 || num_blocks == 0 || block_size == 0 || kv_heads == 0 || head_dim == 0 {
            return Err(Error::config(format!(
                "KV cache: layers {layers}, num_blocks {num_blocks}, block_size {block_size}, kv_heads {kv_heads}, head_dim {head_dim} must all be > 0"
            )));
        }
        let shape = [num_blocks, block_size, kv_heads, head_dim];
        let mut key = Vec::with_capacity(layers);
        let mut value = Vec::with_capacity(layers);
        for _ in 0..layers {
            // Zeroed, not poisoned: a padded block-table entry may point at any block, and a
            // kernel bug that reads it should show up as a wrong answer, not as NaN spread.
            key.push(Tensor::zeros(dev, &shape, dtype)?);
            value.push(Tensor::zeros(dev, &shape, dtype)?);
        }
        Ok(PagedKvCache { key, value, num_blocks, block_size, kv_heads, head_dim })
    }

    /// Bytes per token across all layers (keys and values).
    pub fn bytes_per_token(layers: usize, kv_heads: usize, head_dim: usize, dtype: DType) -> usize {
        2 * layers * kv_heads * head_dim * dtype.size()
    }

    pub fn layers(&self) -> usize {
        self.key.len()
    }

    pub fn layer(&self, i: usize) -> Result<PagedKv<'_>> {
        match (self.key.get(i), self.value.get(i)) {
            (Some(key_cache), Some(value_cache)) => Ok(PagedKv { key_cache, value_cache }),
            _ => Err(Error::shape("PagedKvCache", format!("layer {i} of {}", self.key.len()))),
        }
    }

    pub fn dtype(&self) -> DType {
        self.key[0].dtype()
    }
}
