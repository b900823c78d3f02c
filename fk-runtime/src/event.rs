//! CUDA events for device-side timing on the device's stream.

use crate::device::Device;
use crate::error::{Error, Result};
use cudarc::driver::{sys, CudaEvent};

pub struct Event {
    event: CudaEvent,
    device: Device,
}

impl Event {
    /// A timing-capable event (cudarc's default event cannot time).
    pub fn new(device: &Device) -> Result<Event> {
        let event = device
            .context()
            .new_event(Some(sys::CUevent_flags::CU_EVENT_DEFAULT))
            .map_err(|e| Error::cuda("cuEventCreate", format!("{e:?}")))?;
        Ok(Event { event, device: device.clone() })
    }

    /// Record on the device stream.
    pub fn record(&self) -> Result<()> {
        self.event.record(self.device.cuda_stream()).map_err(|e| Error::cuda("cuEventRecord", format!("{e:?}")))
    }

    pub fn synchronize(&self) -> Result<()> {
        self.event.synchronize().map_err(|e| Error::cuda("cuEventSynchronize", format!("{e:?}")))
    }

    /// Milliseconds from `self` to `end` (waits for `end`).
    pub fn elapsed_ms(&self, end: &Event) -> Result<f64> {
        end.synchronize()?;
        self.event.elapsed_ms(&end.event).map(|v| v as f64).map_err(|e| Error::cuda("cuEventElapsedTime", format!("{e:?}")))
    }
}
