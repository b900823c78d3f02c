//! What a module needs to run: the device, the op table it takes its L1 kernels from, the
//! GEMM handle and the skinny-GEMM scratch. Swapping the table is how the same module runs
//! baseline vs candidate.

use crate::ops::SkinnyWorkspace;
use crate::table::OpTable;
use fk_runtime::gemm::Gemm;
use fk_runtime::{Device, Result};
use std::sync::Arc;

#[derive(Clone)]
pub struct Context {
    pub device: Device,
    pub ops: Arc<OpTable>,
    pub gemm: Arc<Gemm>,
    /// Split-k scratch of `skinny_gemm`, shared like the GEMM handle (same stream).
    pub skinny_workspace: Arc<SkinnyWorkspace>,
}

impl Context {
    pub fn new(device: &Device, ops: OpTable) -> Result<Context> {
        Ok(Context {
            device: device.clone(),
            ops: Arc::new(ops),
            gemm: Arc::new(Gemm::new(device)?),
            skinny_workspace: Arc::new(SkinnyWorkspace::new(device)?),
        })
    }

    /// The same device and GEMM handle with another op table.
    pub fn with_ops(&self, ops: &OpTable) -> Context {
        Context { ops: Arc::new(ops.clone()), ..self.clone() }
    }
}
