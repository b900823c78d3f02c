//! L2 prefetch hints: a kernel that leaves HBM idle (a decode step's latency-bound x_proj or
//! state update, a one-CTA norm) can name the step's next large weight, and each of its CTAs
//! asks the L2 for a share of it (`fk::l2_prefetch_share`, bulk prefetches on sm_90) before it
//! waits for the previous launch. The GEMV that reads the weight next then finds it in L2.
//! A hint changes no result; only a weight (a model parameter, written by no kernel of the
//! step) may be named, since the prefetch runs before the kernel's programmatic-dependent-launch
//! wait.

use fk_runtime::{Error, Result, Tensor};

/// A region to prefetch into L2, or none ([`L2Prefetch::NONE`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct L2Prefetch {
    ptr: u64,
    bytes: usize,
}

impl L2Prefetch {
    pub const NONE: L2Prefetch = L2Prefetch { ptr: 0, bytes: 0 };

    /// The first `min(max_bytes, weight's bytes)` of `weight` (a contiguous, 16-byte aligned
    /// model parameter: what the kernels' bulk prefetches need). The L2 holds ~50 MB on an
    /// H100/H200, so a cap keeps a large weight from evicting itself.
    pub fn of(op: &str, weight: &Tensor, max_bytes: usize) -> Result<Self> {
        if !weight.is_contiguous() || weight.ptr() % 16 != 0 {
            return Err(Error::bad_input(op, format!("an L2 prefetch of {weight:?}: the tensor must be contiguous and 16-byte aligned")));
        }
        // The kernels take regions under 32 GB (32-bit share arithmetic in 16-byte units).
        const MAX: usize = (1 << 35) - 16;
        Ok(L2Prefetch { ptr: weight.ptr(), bytes: weight.nbytes().min(max_bytes).min(MAX) & !15 })
    }

    pub fn is_none(&self) -> bool {
        self.bytes == 0
    }

    /// `(prefetch, prefetch_bytes)` of a params struct.
    pub(crate) fn raw(&self) -> (u64, i64) {
        if self.is_none() {
            (0, 0)
        } else {
            (self.ptr, self.bytes as i64)
        }
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }
}
