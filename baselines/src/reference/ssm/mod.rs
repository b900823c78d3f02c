//! State-space-model references (issue 7: Mamba / Mamba2): the depthwise causal conv, the
//! Mamba-1 selective scan, Mamba-2's SSD scan (plain recurrence and the chunked algorithm the
//! GPU kernel follows) with their one-token decode steps, and Mamba-2's gated RMSNorm.
//! Activations come in as f32 slices holding dtype-rounded values; recurrent state (conv
//! window, SSM state) is carried in f64 so that prefill and decode can be chained exactly.

mod conv;
mod mamba_block;
mod norm_gated;
mod scan;
mod ssd;

pub use conv::{causal_conv1d, causal_conv1d_update};
pub use mamba_block::{mamba_decode_layers, MambaBlockWeights, MambaDecodeOutput};
pub use norm_gated::rms_norm_gated;
pub use scan::{selective_scan, selective_scan_varlen, selective_state_update, ScanInputs};
pub use ssd::{selective_state_update_mamba2, ssd_chunked, ssd_sequential, SsdInputs};

use fk_runtime::{Error, Result};

pub(crate) fn silu(x: f64) -> f64 {
    x / (1.0 + (-x).exp())
}

/// `torch.nn.functional.softplus` with its default `threshold=20`: above it the input is
/// returned as is (log1p(exp(x)) == x there to f64 precision anyway, and it avoids overflow).
pub(crate) fn softplus(x: f64) -> f64 {
    if x > 20.0 {
        x
    } else {
        x.exp().ln_1p()
    }
}

/// Checks that `cu_seqlens` is `[0, ..., tokens]` and non-decreasing; returns the sequence count.
pub(crate) fn check_cu_seqlens(op: &str, cu_seqlens: &[usize], tokens: usize) -> Result<usize> {
    if cu_seqlens.first() != Some(&0) || cu_seqlens.last() != Some(&tokens) {
        return Err(Error::bad_input(op, format!("cu_seqlens must run from 0 to {tokens}, got {cu_seqlens:?}")));
    }
    if cu_seqlens.windows(2).any(|w| w[1] < w[0]) {
        return Err(Error::bad_input(op, format!("cu_seqlens must be non-decreasing, got {cu_seqlens:?}")));
    }
    Ok(cu_seqlens.len() - 1)
}

/// Shape check: `name` must hold `want` values.
pub(crate) fn check_len(op: &str, name: &str, got: usize, want: usize) -> Result<()> {
    if got != want {
        return Err(Error::shape(op, format!("{name} has {got} values, expected {want}")));
    }
    Ok(())
}

/// Rows of a `[rows, width]` tensor: errors when `len` is not a multiple of a non-zero `width`.
pub(crate) fn rows_of(op: &str, name: &str, len: usize, width: usize) -> Result<usize> {
    if width == 0 || len % width != 0 {
        return Err(Error::shape(op, format!("{name} has {len} values, not a multiple of the row size {width}")));
    }
    Ok(len / width)
}

/// Seeded test inputs uniform in [-1, 1).
#[cfg(test)]
pub(crate) fn test_values(n: usize, seed: u64) -> Vec<f32> {
    fk_runtime::rng::Rng::new(seed).uniform_vec(n, -1.0, 1.0)
}

#[cfg(test)]
mod golden_tests;
