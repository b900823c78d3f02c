//! A side stream for work that must not sit on the device stream's critical path: a launch
//! there runs beside what the device stream enqueues after it, instead of before it. Used for
//! L2 prefetches of weights a decode step reads a few kernels later (a prefetching kernel on
//! the main stream is held until its requests leave the SM, so its fetch would delay the next
//! kernel: run 56). Under graph capture the side launches become a branch of the graph.
//!
//! Protocol: [`SideStream::fork`] makes the side stream wait for everything enqueued so far on
//! the device stream and returns it for launches; [`SideStream::join`] makes the device stream
//! wait for all side work. A capture must join every fork before it ends ([`crate::Graph`]
//! does it after the captured body).

use crate::error::{Error, Result};
use crate::RawStream;
use cudarc::driver::{CudaContext, CudaEvent, CudaStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub struct SideStream {
    stream: Arc<CudaStream>,
    /// Recorded on the device stream at a fork, waited for by the side stream.
    forked_at: CudaEvent,
    /// Recorded on the side stream at a join, waited for by the device stream.
    side_done: CudaEvent,
    /// Side work enqueued since the last join. A join without it would make a capturing
    /// device stream wait on an event recorded outside the capture, which capture rejects.
    pending: AtomicBool,
}

fn cuda<T>(what: &str, r: std::result::Result<T, cudarc::driver::DriverError>) -> Result<T> {
    r.map_err(|e| Error::cuda(what, format!("{e:?}")))
}

impl SideStream {
    pub(crate) fn new(ctx: &Arc<CudaContext>) -> Result<SideStream> {
        Ok(SideStream {
            stream: cuda("cuStreamCreate (side)", ctx.new_stream())?,
            forked_at: cuda("cuEventCreate", ctx.new_event(None))?,
            side_done: cuda("cuEventCreate", ctx.new_event(None))?,
            pending: AtomicBool::new(false),
        })
    }

    /// Order the side stream after the work enqueued so far on `main`; returns the side stream
    /// for the launches of this branch.
    pub fn fork(&self, main: &CudaStream) -> Result<RawStream> {
        cuda("cuEventRecord (fork)", self.forked_at.record(main))?;
        cuda("cuStreamWaitEvent (fork)", self.stream.wait(&self.forked_at))?;
        self.pending.store(true, Ordering::Release);
        Ok(self.stream.cu_stream())
    }

    /// Order `main` after all side work (nothing to do if none was forked since the last join).
    pub fn join(&self, main: &CudaStream) -> Result<()> {
        if !self.pending.swap(false, Ordering::AcqRel) {
            return Ok(());
        }
        cuda("cuEventRecord (join)", self.side_done.record(&self.stream))?;
        cuda("cuStreamWaitEvent (join)", main.wait(&self.side_done))
    }
}
