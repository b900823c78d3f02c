//! The device side of the recurrent-state cache: per layer, one conv-state and one SSM-state
//! tensor with a leading slot dimension. A slot's rows are overwritten by the prefill that
//! starts its sequence and advanced in place by every decode step.
//!
//! The baseline kernels take states as contiguous `[batch, …]` tensors (no slot-index
//! indirection like vLLM's `cache_indices`), so a batch whose slots are consecutive and
//! ascending is a zero-copy view; any other batch is gathered into scratch tensors before the
//! step and scattered back after it ([`StateBatch`]).

use crate::slots::SlotManager;
use fk_runtime::{DType, Device, Error, Result, Tensor};

/// Sizes of one layer's recurrent state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateCacheSpec {
    pub layers: usize,
    /// Channels of the causal conv (Mamba: `intermediate_size`; Mamba-2: the xBC width).
    pub conv_dim: usize,
    /// The conv kernel width (`conv_kernel` / `d_conv`); the state keeps its last `d_conv - 1` inputs.
    pub d_conv: usize,
    /// Rows of the SSM state: `[ssm_heads, ssm_head_dim]` flattened to one dimension
    /// (Mamba: `intermediate_size` heads of dim 1; Mamba-2: `nheads` heads of `head_dim`).
    pub ssm_heads: usize,
    pub ssm_head_dim: usize,
    pub d_state: usize,
    /// dtype of the conv state (the model's activation dtype; the conv kernels require it).
    /// The SSM state is always f32: it accumulates over the whole sequence.
    pub conv_dtype: DType,
}

impl StateCacheSpec {
    fn validate(&self) -> Result<()> {
        let dims = [
            ("layers", self.layers),
            ("conv_dim", self.conv_dim),
            ("ssm_heads", self.ssm_heads),
            ("ssm_head_dim", self.ssm_head_dim),
            ("d_state", self.d_state),
        ];
        if let Some((what, _)) = dims.iter().find(|(_, v)| *v == 0) {
            return Err(Error::config(format!(
                "recurrent state cache: {what} must be > 0 ({self:?})"
            )));
        }
        if self.d_conv < 2 {
            return Err(Error::config(format!(
                "recurrent state cache: d_conv must be >= 2, got {}",
                self.d_conv
            )));
        }
        Ok(())
    }

    /// `[slots, conv_dim, d_conv - 1]`
    pub fn conv_shape(&self, slots: usize) -> Vec<usize> {
        vec![slots, self.conv_dim, self.d_conv - 1]
    }

    /// `[slots, ssm_heads, d_state]` for head_dim 1 (what the Mamba-1 kernels take), else
    /// `[slots, ssm_heads, ssm_head_dim, d_state]`.
    pub fn ssm_shape(&self, slots: usize) -> Vec<usize> {
        if self.ssm_head_dim == 1 {
            vec![slots, self.ssm_heads, self.d_state]
        } else {
            vec![slots, self.ssm_heads, self.ssm_head_dim, self.d_state]
        }
    }

    /// Device bytes one slot takes over all layers.
    pub fn bytes_per_slot(&self) -> usize {
        let conv = self.conv_dim * (self.d_conv - 1) * self.conv_dtype.size();
        let ssm = self.ssm_heads * self.ssm_head_dim * self.d_state * DType::F32.size();
        self.layers * (conv + ssm)
    }
}

/// One layer's states for a batch: views into the cache, or gathered copies.
pub struct LayerStates {
    pub conv: Tensor,
    pub ssm: Tensor,
}

pub struct RecurrentStateCache {
    spec: StateCacheSpec,
    conv: Vec<Tensor>,
    ssm: Vec<Tensor>,
    slots: SlotManager,
}

impl RecurrentStateCache {
    /// Allocates `slots` zeroed slots for every layer.
    pub fn new(dev: &Device, spec: StateCacheSpec, slots: usize) -> Result<RecurrentStateCache> {
        spec.validate()?;
        if slots == 0 {
            return Err(Error::config(
                "recurrent state cache: needs at least one slot",
            ));
        }
        let mut conv = Vec::with_capacity(spec.layers);
        let mut ssm = Vec::with_capacity(spec.layers);
        for _ in 0..spec.layers {
            conv.push(Tensor::zeros(
                dev,
                &spec.conv_shape(slots),
                spec.conv_dtype,
            )?);
            ssm.push(Tensor::zeros(dev, &spec.ssm_shape(slots), DType::F32)?);
        }
        Ok(RecurrentStateCache {
            spec,
            conv,
            ssm,
            slots: SlotManager::new(slots),
        })
    }

    pub fn spec(&self) -> &StateCacheSpec {
        &self.spec
    }

    pub fn slots(&self) -> &SlotManager {
        &self.slots
    }

    pub fn slots_mut(&mut self) -> &mut SlotManager {
        &mut self.slots
    }

    /// Layer `layer`'s whole conv-state tensor `[slots, conv_dim, d_conv-1]`.
    pub fn conv(&self, layer: usize) -> Result<&Tensor> {
        self.conv.get(layer).ok_or_else(|| {
            Error::bad_input(
                "state_cache",
                format!("layer {layer} of {}", self.spec.layers),
            )
        })
    }

    /// Layer `layer`'s whole SSM-state tensor.
    pub fn ssm(&self, layer: usize) -> Result<&Tensor> {
        self.ssm.get(layer).ok_or_else(|| {
            Error::bad_input(
                "state_cache",
                format!("layer {layer} of {}", self.spec.layers),
            )
        })
    }

    /// Zero `slot`'s conv window and SSM state in every layer: what a new sequence starts
    /// from (HF's fresh cache). The slot must be allocated.
    pub fn reset(&self, slot: usize) -> Result<()> {
        self.slots
            .check_batch(&[slot])
            .map_err(|e| Error::bad_input("state_cache", e.to_string()))?;
        for t in self.conv.iter().chain(&self.ssm) {
            let row = t.narrow(0, slot, 1)?;
            row.device().memset(row.ptr(), 0, row.nbytes())?;
        }
        Ok(())
    }

    /// Prepare the states of a batch of allocated `slots` (in batch order). Call
    /// [`StateBatch::layer`] per layer, then [`StateBatch::finish`] to write gathered states back.
    pub fn batch(&self, slots: &[usize]) -> Result<StateBatch<'_>> {
        self.slots
            .check_batch(slots)
            .map_err(|e| Error::bad_input("state_cache", e.to_string()))?;
        if slots.is_empty() {
            return Err(Error::bad_input("state_cache", "empty batch"));
        }
        let consecutive = slots.windows(2).all(|w| w[1] == w[0] + 1);
        let gathered = if consecutive {
            None
        } else {
            let dev = self.conv[0].device();
            Some(LayerStates {
                conv: Tensor::empty(
                    dev,
                    &self.spec.conv_shape(slots.len()),
                    self.spec.conv_dtype,
                )?,
                ssm: Tensor::empty(dev, &self.spec.ssm_shape(slots.len()), DType::F32)?,
            })
        };
        Ok(StateBatch {
            cache: self,
            slots: slots.to_vec(),
            gathered,
            pending: None,
            runs: runs_of(slots),
        })
    }
}

/// The states of one batch, layer by layer. With consecutive slots these are views (kernels
/// update the cache in place); otherwise each layer's rows are copied into one scratch pair and
/// copied back when the next layer is requested or the batch finishes.
pub struct StateBatch<'a> {
    cache: &'a RecurrentStateCache,
    slots: Vec<usize>,
    gathered: Option<LayerStates>,
    /// The layer whose rows sit in `gathered` and must still be scattered back.
    pending: Option<usize>,
    /// `(batch row, slot, count)`: maximal runs of consecutive slots, one copy each (an engine
    /// hands out the lowest free slot, so batches are mostly a few long runs).
    runs: Vec<(usize, usize, usize)>,
}

/// Maximal runs of consecutive slots in batch order: `(first batch row, first slot, length)`.
fn runs_of(slots: &[usize]) -> Vec<(usize, usize, usize)> {
    let mut runs: Vec<(usize, usize, usize)> = Vec::new();
    for (i, &s) in slots.iter().enumerate() {
        match runs.last_mut() {
            Some((_, first, n)) if *first + *n == s => *n += 1,
            _ => runs.push((i, s, 1)),
        }
    }
    runs
}

impl StateBatch<'_> {
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Layer `layer`'s conv and SSM states `[batch, …]`, valid until the next call.
    pub fn layer(&mut self, layer: usize) -> Result<LayerStates> {
        self.scatter_pending()?;
        let (conv, ssm) = (self.cache.conv(layer)?, self.cache.ssm(layer)?);
        match &self.gathered {
            None => Ok(LayerStates {
                conv: conv.narrow(0, self.slots[0], self.slots.len())?,
                ssm: ssm.narrow(0, self.slots[0], self.slots.len())?,
            }),
            Some(g) => {
                for &(i, s, n) in &self.runs {
                    g.conv.narrow(0, i, n)?.copy_from(&conv.narrow(0, s, n)?)?;
                    g.ssm.narrow(0, i, n)?.copy_from(&ssm.narrow(0, s, n)?)?;
                }
                self.pending = Some(layer);
                Ok(LayerStates {
                    conv: g.conv.clone(),
                    ssm: g.ssm.clone(),
                })
            }
        }
    }

    fn scatter_pending(&mut self) -> Result<()> {
        if let (Some(layer), Some(g)) = (self.pending.take(), &self.gathered) {
            let (conv, ssm) = (self.cache.conv(layer)?, self.cache.ssm(layer)?);
            for &(i, s, n) in &self.runs {
                conv.narrow(0, s, n)?.copy_from(&g.conv.narrow(0, i, n)?)?;
                ssm.narrow(0, s, n)?.copy_from(&g.ssm.narrow(0, i, n)?)?;
            }
        }
        Ok(())
    }

    /// Writes the last gathered layer back. Dropping a batch without it loses that layer's update.
    pub fn finish(mut self) -> Result<()> {
        self.scatter_pending()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> StateCacheSpec {
        StateCacheSpec {
            layers: 64,
            conv_dim: 5120,
            d_conv: 4,
            ssm_heads: 5120,
            ssm_head_dim: 1,
            d_state: 16,
            conv_dtype: DType::BF16,
        }
    }

    #[test]
    fn shapes_and_bytes_at_mamba_2_8b() {
        let s = spec();
        assert_eq!(s.conv_shape(8), vec![8, 5120, 3]);
        assert_eq!(s.ssm_shape(8), vec![8, 5120, 16]);
        // 64 layers × (5120·3·2 + 5120·16·4) bytes ≈ 22.9 MB per sequence.
        assert_eq!(s.bytes_per_slot(), 64 * (5120 * 3 * 2 + 5120 * 16 * 4));
        let m2 = StateCacheSpec {
            ssm_heads: 80,
            ssm_head_dim: 64,
            d_state: 128,
            ..s
        };
        assert_eq!(m2.ssm_shape(2), vec![2, 80, 64, 128]);
    }

    #[test]
    fn runs_of_consecutive_slots() {
        assert_eq!(
            runs_of(&[3, 4, 5, 0, 1, 7]),
            vec![(0, 3, 3), (3, 0, 2), (5, 7, 1)]
        );
        assert_eq!(runs_of(&[2, 1, 0]), vec![(0, 2, 1), (1, 1, 1), (2, 0, 1)]);
        assert_eq!(runs_of(&[5]), vec![(0, 5, 1)]);
    }

    #[test]
    fn bad_specs_name_the_field() {
        for (bad, needle) in [
            (
                StateCacheSpec {
                    d_conv: 1,
                    ..spec()
                },
                "d_conv",
            ),
            (
                StateCacheSpec {
                    d_state: 0,
                    ..spec()
                },
                "d_state",
            ),
            (
                StateCacheSpec {
                    layers: 0,
                    ..spec()
                },
                "layers",
            ),
        ] {
            let e = bad.validate().unwrap_err().to_string();
            assert!(e.contains(needle), "{e}");
        }
    }
}
