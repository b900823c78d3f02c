//! What a module needs to run: the device, the op table it takes its L1 kernels from, and
//! the GEMM handle. Swapping the table is how the same module runs baseline vs candidate.

use crate::table::OpTable;
use fk_runtime::gemm::Gemm;
use fk_runtime::{Device, Result};
use std::sync::Arc;

#[derive(Clone)]
pub struct Context {
    pub device: Device,
    pub ops: Arc<OpTable>,
    pub gemm: Arc<Gemm>,
}

impl Context {
    pub fn new(device: &Device, ops: OpTable) -> Result<Context> {
        Ok(Context { device: device.clone(), ops: Arc::new(ops), gemm: Arc::new(Gemm::new(device)?) })
    }

    /// The same device and GEMM handle with another op table.
    pub fn with_ops(&self, ops: &OpTable) -> Context {
        Context { device: self.device.clone(), ops: Arc::new(ops.clone()), gemm: self.gemm.clone() }
    }
}
