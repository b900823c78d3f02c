//! Page-locked host buffers for uploads (and downloads) that must not stall the GPU. A copy
//! from ordinary (pageable) memory is staged by the driver and synchronises with the stream, so a batch's
//! inputs could only be sent once the previous batch had finished; from page-locked memory the
//! copy is a plain DMA in stream order, and the host can fill the buffer while the GPU is still
//! busy with earlier work. The embedding engine's pipelined encoders keep one set per staging
//! slot (`embed::PIPELINE_SLOTS`: fill one while the others' copies and forwards run): pixels or
//! packed token arrays up ([`I32Upload`]), results down ([`AsyncDownload`]).
//!
//! Safety of reuse: every asynchronous copy out of a buffer records an event, and the host
//! side of the buffer is only handed out after that event has completed, so the host can never
//! overwrite bytes a copy has yet to read, whatever order the caller works in.

use crate::device::Device;
use crate::error::{Error, Result};
use crate::event::Event;
use crate::dtype::DType;
use crate::tensor::Tensor;
use cudarc::driver::{result, sys};

pub struct PinnedBuffer {
    ptr: *mut u8,
    bytes: usize,
    device: Device,
    /// Recorded after the last asynchronous copy out of the buffer.
    last_copy: Option<Event>,
}

// SAFETY: the buffer owns its allocation exclusively (no aliasing handles); page-locked host
// memory may be used from any thread.
unsafe impl Send for PinnedBuffer {}

impl PinnedBuffer {
    /// `bytes` (at least 1) of page-locked host memory for uploads to `device`.
    pub fn new(device: &Device, bytes: usize) -> Result<PinnedBuffer> {
        device.bind()?;
        // SAFETY: plain allocation on the bound context; freed in Drop.
        let ptr = unsafe { result::malloc_host(bytes.max(1), 0) }.map_err(|e| Error::cuda("cuMemHostAlloc", format!("{e:?} ({bytes} bytes)")))?;
        Ok(PinnedBuffer { ptr: ptr.cast(), bytes: bytes.max(1), device: device.clone(), last_copy: None })
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Wait for the last copy out of the buffer (if any) to finish.
    fn wait(&mut self) -> Result<()> {
        if let Some(e) = self.last_copy.take() {
            // The embedding engine collects on its own thread: make the context current there.
            self.device.bind()?;
            e.synchronize()?;
        }
        Ok(())
    }

    /// The first `n` f32 of the buffer for the host to fill, once no copy still reads them.
    pub fn host_f32_mut(&mut self, n: usize) -> Result<&mut [f32]> {
        if n * 4 > self.bytes {
            return Err(Error::shape("PinnedBuffer", format!("{n} f32 values do not fit {} bytes", self.bytes)));
        }
        self.wait()?;
        // SAFETY: the allocation holds `bytes` >= 4n bytes, is page-aligned (so f32-aligned),
        // is owned by `self` (borrowed mutably here), and no copy reads it any more.
        Ok(unsafe { std::slice::from_raw_parts_mut(self.ptr.cast::<f32>(), n) })
    }

    /// The first `n` i32 of the buffer for the host to fill, once no copy still reads them.
    pub fn host_i32_mut(&mut self, n: usize) -> Result<&mut [i32]> {
        let f = self.host_f32_mut(n)?;
        // SAFETY: same span, alignment and exclusivity as the f32 view it replaces.
        Ok(unsafe { std::slice::from_raw_parts_mut(f.as_mut_ptr().cast::<i32>(), n) })
    }

    /// Enqueue a copy of the buffer's first `dst.nbytes()` bytes into `dst` (contiguous, on
    /// the buffer's device) on the device stream, without waiting for it.
    pub fn upload_async(&mut self, dst: &Tensor) -> Result<()> {
        let n = dst.nbytes();
        if !dst.is_contiguous() || n > self.bytes || !dst.device().same_as(&self.device) {
            return Err(Error::shape("PinnedBuffer::upload_async", format!("{dst:?} from {} pinned bytes (must be contiguous, on the buffer's device, and fit)", self.bytes)));
        }
        self.device.bind()?;
        // SAFETY: the source span lies inside the allocation and stays untouched by the host
        // until `last_copy` (recorded right after) completes; dst holds n bytes.
        let src = unsafe { std::slice::from_raw_parts(self.ptr.cast_const(), n) };
        unsafe { result::memcpy_htod_async(dst.ptr(), src, self.device.stream()) }.map_err(|e| Error::cuda("cuMemcpyHtoDAsync", format!("{e:?} ({n} bytes)")))?;
        let e = Event::new(&self.device)?;
        e.record()?;
        self.last_copy = Some(e);
        Ok(())
    }

    /// Enqueue a copy of `src` (contiguous, or `[rows, cols]` rows of contiguous elements some
    /// stride apart, such as a CLS row per image; on the buffer's device) into the buffer's
    /// first `src.nbytes()` bytes, densely, on the device stream, without waiting: the host
    /// reads it with [`PinnedBuffer::downloaded`] once the stream has got there, while later
    /// work queued behind it keeps the GPU busy.
    pub fn download_async(&mut self, src: &Tensor) -> Result<()> {
        let n = src.nbytes();
        let rows_view = src.rank() == 2 && src.strides()[1] == 1;
        if !(src.is_contiguous() || rows_view) || n > self.bytes || !src.device().same_as(&self.device) {
            return Err(Error::shape("PinnedBuffer::download_async", format!("{src:?} into {} pinned bytes (must be contiguous or rows, on the buffer's device, and fit)", self.bytes)));
        }
        // The host must not be reading, and no earlier copy writing, the bytes: wait for both.
        self.wait()?;
        self.device.bind()?;
        if src.is_contiguous() {
            // SAFETY: the destination span lies inside the allocation, which the host does not
            // touch until `last_copy` (recorded right after) completes; src holds n bytes.
            let dst = unsafe { std::slice::from_raw_parts_mut(self.ptr, n) };
            unsafe { result::memcpy_dtoh_async(dst, src.ptr(), self.device.stream()) }.map_err(|e| Error::cuda("cuMemcpyDtoHAsync", format!("{e:?} ({n} bytes)")))?;
        } else {
            let (rows, row_bytes) = (src.dim(0), src.dim(1) * src.dtype().size());
            let copy = sys::CUDA_MEMCPY2D {
                srcXInBytes: 0,
                srcY: 0,
                srcMemoryType: sys::CUmemorytype::CU_MEMORYTYPE_DEVICE,
                srcHost: std::ptr::null(),
                srcDevice: src.ptr(),
                srcArray: std::ptr::null_mut(),
                srcPitch: src.strides()[0] * src.dtype().size(),
                dstXInBytes: 0,
                dstY: 0,
                dstMemoryType: sys::CUmemorytype::CU_MEMORYTYPE_HOST,
                dstHost: self.ptr.cast(),
                dstDevice: 0,
                dstArray: std::ptr::null_mut(),
                dstPitch: row_bytes,
                WidthInBytes: row_bytes,
                Height: rows,
            };
            // SAFETY: the source rows lie inside src's storage (its view was checked when made),
            // the destination's rows × row_bytes = n bytes inside the allocation, untouched by
            // the host until `last_copy` completes.
            let r = unsafe { sys::cuMemcpy2DAsync_v2(&copy, self.device.stream()) };
            if r != sys::CUresult::CUDA_SUCCESS {
                return Err(Error::cuda("cuMemcpy2DAsync", format!("{r:?} ({rows} rows of {row_bytes} bytes)")));
            }
        }
        let e = Event::new(&self.device)?;
        e.record()?;
        self.last_copy = Some(e);
        Ok(())
    }

    /// The buffer's first `n` bytes once the last copy (a download) has completed.
    pub fn downloaded(&mut self, n: usize) -> Result<&[u8]> {
        if n > self.bytes {
            return Err(Error::shape("PinnedBuffer", format!("{n} bytes from a buffer of {}", self.bytes)));
        }
        self.wait()?;
        // SAFETY: inside the allocation; no copy touches it any more.
        Ok(unsafe { std::slice::from_raw_parts(self.ptr.cast_const(), n) })
    }
}

impl Drop for PinnedBuffer {
    fn drop(&mut self) {
        // A copy may still read the buffer: wait for it before handing the memory back.
        let _ = self.wait();
        let _ = self.device.bind();
        // SAFETY: allocated by cuMemHostAlloc in `new`, freed once.
        let _ = unsafe { result::free_host(self.ptr.cast()) };
    }
}

/// `buffer`, reallocated when it holds fewer than `bytes`: to the next power of two, so that
/// batches of varying size reallocate a few times, not at every new largest batch (dropping
/// the old buffer waits for its last copy, and cuMemFreeHost for the whole device).
fn grown<'a>(buffer: &'a mut Option<PinnedBuffer>, device: &Device, bytes: usize) -> Result<&'a mut PinnedBuffer> {
    if buffer.as_ref().is_none_or(|b| b.bytes() < bytes) {
        *buffer = None;
        *buffer = Some(PinnedBuffer::new(device, bytes.next_power_of_two())?);
    }
    Ok(buffer.as_mut().expect("allocated above"))
}

/// A tensor's rows copied out in stream order into page-locked memory that grows as needed:
/// `enqueue` after the work that produces them, `collect` later (it waits for that copy only,
/// not for work queued after it). One per pipeline slot.
#[derive(Default)]
pub struct AsyncDownload {
    buffer: Option<PinnedBuffer>,
    /// Rows, columns and dtype of the pending copy.
    pending: Option<(usize, usize, DType)>,
}

impl AsyncDownload {
    /// Enqueue the copy of `t` (`[rows, cols]`, contiguous or rows some stride apart).
    pub fn enqueue(&mut self, t: &Tensor) -> Result<()> {
        if t.rank() != 2 {
            return Err(Error::shape("AsyncDownload", format!("{t:?}: expected [rows, cols]")));
        }
        grown(&mut self.buffer, t.device(), t.nbytes())?.download_async(t)?;
        self.pending = Some((t.dim(0), t.dim(1), t.dtype()));
        Ok(())
    }

    /// The enqueued rows as f32 (`rows × cols`, row-major) once their copy has completed, with
    /// the column count.
    pub fn collect(&mut self) -> Result<(Vec<f32>, usize)> {
        let (Some(buffer), Some((rows, cols, dtype))) = (self.buffer.as_mut(), self.pending.take()) else {
            return Err(Error::bad_input("AsyncDownload", "nothing was enqueued to collect"));
        };
        Ok((crate::host::decode(buffer.downloaded(rows * cols * dtype.size())?, dtype), cols))
    }
}

/// A batch's small i32 arrays (token ids, offsets, index maps) sent in one DMA from
/// page-locked memory in stream order, instead of one synchronous upload each (each of which
/// would wait for all the GPU work queued before it). `write` fills the host side (waiting
/// only for this buffer's previous DMA); `upload` enqueues the copy and returns one device
/// view per part. One per pipeline slot.
#[derive(Default)]
pub struct I32Upload {
    buffer: Option<PinnedBuffer>,
    lens: Vec<usize>,
}

impl I32Upload {
    pub fn write(&mut self, device: &Device, parts: &[&[i32]]) -> Result<()> {
        let total: usize = parts.iter().map(|p| p.len()).sum();
        let host = grown(&mut self.buffer, device, 4 * total.max(1))?.host_i32_mut(total)?;
        let mut at = 0;
        for p in parts {
            host[at..at + p.len()].copy_from_slice(p);
            at += p.len();
        }
        self.lens = parts.iter().map(|p| p.len()).collect();
        Ok(())
    }

    /// Enqueue the copy of what `write` staged; one `[len]` i32 view per part, in order.
    pub fn upload(&mut self, device: &Device) -> Result<Vec<Tensor>> {
        let buffer = self.buffer.as_mut().ok_or_else(|| Error::bad_input("I32Upload", "nothing was written to upload"))?;
        let total: usize = self.lens.iter().sum();
        let all = Tensor::empty(device, &[total.max(1)], DType::I32)?;
        buffer.upload_async(&all)?;
        let mut at = 0;
        let mut views = Vec::with_capacity(self.lens.len());
        for &len in &self.lens {
            views.push(all.narrow(0, at, len)?);
            at += len;
        }
        Ok(views)
    }
}
