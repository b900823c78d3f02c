//! `cu_seqlens` of a packed (varlen) batch, validated on the host once and uploaded once, so
//! that the SSM prefill ops (causal_conv1d, selective_scan) can trust it without a device
//! check or a sync per call: a scheduler knows its sequence lengths on the host anyway.

use fk_runtime::{Device, Error, Result, Tensor};

/// `cu_seqlens` must start at 0, never decrease, hold at least one sequence and fit the
/// kernels' i32 offsets and 65535-sequence grid.
fn validate(cu_seqlens: &[usize]) -> Result<()> {
    const OP: &str = "cu_seqlens";
    if cu_seqlens.len() < 2 || cu_seqlens[0] != 0 {
        return Err(Error::bad_input(OP, format!("must be [0, ..., tokens] with at least one sequence, got {cu_seqlens:?}")));
    }
    if let Some(i) = cu_seqlens.windows(2).position(|w| w[1] < w[0]) {
        return Err(Error::bad_input(OP, format!("decreases at entry {} ({} -> {}): {cu_seqlens:?}", i + 1, cu_seqlens[i], cu_seqlens[i + 1])));
    }
    let tokens = cu_seqlens[cu_seqlens.len() - 1];
    if tokens > i32::MAX as usize || cu_seqlens.len() - 1 > 65535 {
        return Err(Error::bad_input(OP, format!("{tokens} tokens in {} sequences: at most 2^31-1 tokens and 65535 sequences", cu_seqlens.len() - 1)));
    }
    Ok(())
}

/// Sequence boundaries `[0, l0, l0+l1, ..., tokens]` on the host and as an i32 device tensor.
pub struct SeqLens {
    host: Vec<usize>,
    dev: Tensor,
}

impl SeqLens {
    /// Validates `cu_seqlens` (see [`validate`]) and uploads it.
    pub fn new(device: &Device, cu_seqlens: &[usize]) -> Result<SeqLens> {
        validate(cu_seqlens)?;
        let v: Vec<i32> = cu_seqlens.iter().map(|&c| c as i32).collect();
        Ok(SeqLens { host: cu_seqlens.to_vec(), dev: Tensor::from_i32(device, &v, &[v.len()])? })
    }

    /// One sequence per entry of `lens`.
    pub fn from_lens(device: &Device, lens: &[usize]) -> Result<SeqLens> {
        let mut cu = vec![0];
        for &l in lens {
            cu.push(cu[cu.len() - 1] + l);
        }
        SeqLens::new(device, &cu)
    }

    pub fn batch(&self) -> usize {
        self.host.len() - 1
    }

    pub fn tokens(&self) -> usize {
        self.host[self.host.len() - 1]
    }

    pub fn host(&self) -> &[usize] {
        &self.host
    }

    pub fn tensor(&self) -> &Tensor {
        &self.dev
    }
}

#[cfg(test)]
mod tests {
    use super::validate;

    #[test]
    fn cu_seqlens_must_start_at_zero_and_not_decrease() {
        assert!(validate(&[0, 3, 3, 8]).is_ok());
        assert!(validate(&[0, 0]).is_ok());
        for bad in [&[][..], &[0], &[1, 4], &[0, 5, 3, 8]] {
            let e = validate(bad).unwrap_err().to_string();
            assert!(e.contains("cu_seqlens") && e.contains("bad input"), "{bad:?}: {e}");
        }
        assert!(validate(&[0, 1 << 31]).is_err());
        assert!(validate(&(0..70000).collect::<Vec<_>>()).is_err());
    }
}
