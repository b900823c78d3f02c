//! CUDA graphs: capture everything a closure enqueues on the device stream once, then replay
//! it with one launch. The decode step of an LLM is dozens of small kernels and GEMMs per
//! layer; replaying them as a graph removes the per-launch CPU cost that otherwise dominates
//! at batch 1 (vLLM and SGLang do the same per batch-size bucket).
//!
//! Rules for what is captured: every buffer it touches must already exist (no allocation,
//! no host copies, no synchronisation inside the closure), and the inputs that change from
//! one replay to the next must be written into those same buffers before `launch`.

use crate::device::Device;
use crate::error::{Error, Result};
use cudarc::driver::sys;
use cudarc::driver::CudaGraph;

pub struct Graph {
    graph: CudaGraph,
    device: Device,
}

impl Graph {
    /// Capture what `body` enqueues on `device`'s stream. Capture is thread-local, so another
    /// thread's unrelated CUDA calls cannot invalidate it. If `body` fails, or enqueues
    /// something that cannot be captured, the capture is ended and discarded and the error
    /// returned: the stream is usable again either way.
    pub fn capture(device: &Device, body: impl FnOnce() -> Result<()>) -> Result<Graph> {
        let stream = device.cuda_stream();
        stream
            .begin_capture(sys::CUstreamCaptureMode::CU_STREAM_CAPTURE_MODE_THREAD_LOCAL)
            .map_err(|e| Error::cuda("cuStreamBeginCapture", format!("{e:?}")))?;
        // No profiling events inside the capture (they would become graph nodes).
        let body_result = crate::profile::capturing(body);
        // Always end the capture, even after a failure, so the stream leaves capture mode.
        let ended = stream.end_capture(sys::CUgraphInstantiate_flags(0));
        body_result?;
        let graph = ended
            .map_err(|e| Error::cuda("cuStreamEndCapture / cuGraphInstantiate", format!("{e:?} (was something in the captured step not capturable?)")))?
            .ok_or_else(|| Error::cuda("cuStreamEndCapture", "the captured graph is empty"))?;
        graph.upload().map_err(|e| Error::cuda("cuGraphUpload", format!("{e:?}")))?;
        Ok(Graph { graph, device: device.clone() })
    }

    /// Enqueue one replay on the device stream (asynchronous, like any launch).
    pub fn launch(&self) -> Result<()> {
        self.device.bind()?;
        crate::profile::span(&self.device, || "graph replay".into(), || self.graph.launch().map_err(|e| Error::cuda("cuGraphLaunch", format!("{e:?}"))))
    }

    pub fn device(&self) -> &Device {
        &self.device
    }
}
