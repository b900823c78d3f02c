//! A CUDA device with one non-blocking stream. Everything fastkernels enqueues for a device
//! goes on that stream, in order, so no cross-stream event tracking is needed (cudarc's is
//! switched off: it adds API calls to every launch).

use crate::driver;
use crate::error::{Error, Result};
use crate::RawStream;
use cudarc::driver::sys::{self, CUdevice_attribute as Attr};
use cudarc::driver::{result, CudaContext, CudaStream};
use std::sync::Arc;

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct DeviceInfo {
    pub ordinal: usize,
    pub name: String,
    pub compute_capability: (i32, i32),
    pub sm_count: i32,
    pub l2_bytes: usize,
    pub total_memory: usize,
    pub max_sm_clock_mhz: i32,
    pub max_memory_clock_mhz: i32,
    pub driver_version: i32,
}

#[derive(Clone)]
pub struct Device {
    inner: Arc<Inner>,
}

struct Inner {
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    info: DeviceInfo,
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Device({} \"{}\")", self.inner.info.ordinal, self.inner.info.name)
    }
}

fn cuda<T>(op: &str, r: std::result::Result<T, cudarc::driver::DriverError>) -> Result<T> {
    r.map_err(|e| Error::cuda(op, format!("{e:?}")))
}

/// Tensors come from the device's default stream-ordered pool (`cuMemAllocAsync`). Its
/// release threshold defaults to 0: at every synchronisation the pool hands all its unused
/// memory back to the driver, so a loop that allocates its intermediates and then waits for a
/// result (every eager prefill step, every embedding batch) maps its pages again each time.
/// Keeping what was freed in the pool, as PyTorch's caching allocator does, makes steady-state
/// allocation a pool lookup ([`Device::mem_info`] trims the pool before it asks the driver).
fn keep_pool_memory(ctx: &CudaContext) -> Result<()> {
    let pool = default_pool(ctx)?;
    let mut threshold = u64::MAX;
    // SAFETY: RELEASE_THRESHOLD takes a cuuint64_t, which `threshold` is.
    let set = unsafe { sys::cuMemPoolSetAttribute(pool, sys::CUmemPool_attribute::CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, (&mut threshold as *mut u64).cast()) };
    cuda("cuMemPoolSetAttribute(RELEASE_THRESHOLD)", set.result())
}

fn default_pool(ctx: &CudaContext) -> Result<sys::CUmemoryPool> {
    let mut pool: sys::CUmemoryPool = std::ptr::null_mut();
    // SAFETY: out-parameter call on the context's own device.
    cuda("cuDeviceGetDefaultMemPool", unsafe { sys::cuDeviceGetDefaultMemPool(&mut pool, ctx.cu_device()) }.result())?;
    Ok(pool)
}

impl Device {
    /// The default pool's release threshold (`u64::MAX`: freed memory stays pooled; see
    /// `keep_pool_memory`).
    pub fn pool_release_threshold(&self) -> Result<u64> {
        self.bind()?;
        let pool = default_pool(&self.inner.ctx)?;
        let mut threshold = 0u64;
        // SAFETY: RELEASE_THRESHOLD writes a cuuint64_t into `threshold`.
        let get = unsafe { sys::cuMemPoolGetAttribute(pool, sys::CUmemPool_attribute::CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, (&mut threshold as *mut u64).cast()) };
        cuda("cuMemPoolGetAttribute(RELEASE_THRESHOLD)", get.result())?;
        Ok(threshold)
    }

    /// Open device `ordinal`: probes the driver first, so a GPU-less machine gets
    /// `Error::NoGpu` with the reason instead of a panic.
    pub fn new(ordinal: usize) -> Result<Device> {
        let count = driver::probe()?;
        if ordinal >= count {
            return Err(Error::NoGpu(format!("device {ordinal} requested, {count} present")));
        }
        let ctx = cuda("cuDevicePrimaryCtxRetain", CudaContext::new(ordinal))?;
        // SAFETY: called before this context allocates anything through cudarc.
        unsafe { ctx.disable_event_tracking() };
        let stream = cuda("cuStreamCreate", ctx.new_stream())?;
        keep_pool_memory(&ctx)?;
        let attr = |a| cuda("cuDeviceGetAttribute", ctx.attribute(a));
        let mut driver_version = 0;
        // SAFETY: plain out-parameter call on an initialised driver.
        unsafe { sys::cuDriverGetVersion(&mut driver_version) };
        let info = DeviceInfo {
            ordinal,
            name: cuda("cuDeviceGetName", ctx.name())?,
            compute_capability: cuda("cuDeviceComputeCapability", ctx.compute_capability())?,
            sm_count: attr(Attr::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)?,
            l2_bytes: attr(Attr::CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE)? as usize,
            total_memory: cuda("cuDeviceTotalMem", ctx.total_mem())?,
            max_sm_clock_mhz: attr(Attr::CU_DEVICE_ATTRIBUTE_CLOCK_RATE).unwrap_or(0) / 1000,
            max_memory_clock_mhz: attr(Attr::CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE).unwrap_or(0) / 1000,
            driver_version,
        };
        Ok(Device { inner: Arc::new(Inner { ctx, stream, info }) })
    }

    pub fn info(&self) -> &DeviceInfo {
        &self.inner.info
    }

    /// The stream every launcher gets.
    pub fn stream(&self) -> RawStream {
        self.inner.stream.cu_stream()
    }

    pub fn cuda_stream(&self) -> &Arc<CudaStream> {
        &self.inner.stream
    }

    pub fn context(&self) -> &Arc<CudaContext> {
        &self.inner.ctx
    }

    /// Make this device's context current on the calling thread (needed before raw driver
    /// calls on a thread other than the one that opened the device).
    pub fn bind(&self) -> Result<()> {
        cuda("cuCtxSetCurrent", self.inner.ctx.bind_to_thread())
    }

    /// `(free, total)` bytes of device memory as the driver reports them, after handing the
    /// pool's unused memory back (the pool keeps what is freed; without the trim it would
    /// count as used). Memory in live tensors counts as used.
    pub fn mem_info(&self) -> Result<(usize, usize)> {
        self.bind()?;
        // Only memory no allocation holds is released, and only once the work queued before
        // its frees has run: wait for the stream first.
        self.synchronize()?;
        // SAFETY: the pool belongs to the bound context's device.
        cuda("cuMemPoolTrimTo", unsafe { sys::cuMemPoolTrimTo(default_pool(&self.inner.ctx)?, 0) }.result())?;
        cuda("cuMemGetInfo", result::mem_get_info())
    }

    pub fn synchronize(&self) -> Result<()> {
        cuda("cuStreamSynchronize", self.inner.stream.synchronize())
    }

    pub fn same_as(&self, other: &Device) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// Stream-ordered allocation of `bytes` (at least 1; 256-byte aligned).
    pub fn alloc(&self, bytes: usize) -> Result<DeviceBuffer> {
        self.bind()?;
        // SAFETY: the stream belongs to the bound context.
        let ptr = unsafe { result::malloc_async(self.stream(), bytes.max(1)) }
            .map_err(|e| Error::cuda("cuMemAllocAsync", format!("{e:?} ({bytes} bytes)")))?;
        Ok(DeviceBuffer { ptr, bytes, device: self.clone() })
    }

    /// Copy host bytes to device memory at `dst`, in stream order, and wait for it (so
    /// `src` may be dropped on return). A legacy-stream cuMemcpy would not be ordered
    /// against our non-blocking stream, hence async + synchronize.
    pub fn htod(&self, dst: sys::CUdeviceptr, src: &[u8]) -> Result<()> {
        self.bind()?;
        // SAFETY: dst holds at least src.len() bytes (callers pass tensor-checked spans);
        // src outlives the copy because we synchronize before returning.
        cuda("cuMemcpyHtoDAsync", unsafe { result::memcpy_htod_async(dst, src, self.stream()) })?;
        self.synchronize()
    }

    /// Copy device bytes to the host, after all work queued on the stream.
    pub fn dtoh(&self, dst: &mut [u8], src: sys::CUdeviceptr) -> Result<()> {
        self.bind()?;
        // SAFETY: src holds at least dst.len() bytes; we synchronize before dst is read.
        cuda("cuMemcpyDtoHAsync", unsafe { result::memcpy_dtoh_async(dst, src, self.stream()) })?;
        self.synchronize()
    }

    /// Enqueue a device-to-device copy on the stream.
    pub fn dtod(&self, dst: sys::CUdeviceptr, src: sys::CUdeviceptr, bytes: usize) -> Result<()> {
        self.bind()?;
        // SAFETY: both spans hold `bytes` bytes.
        cuda("cuMemcpyDtoDAsync", unsafe { result::memcpy_dtod_async(dst, src, bytes, self.stream()) })
    }

    /// Enqueue a byte fill on the stream.
    pub fn memset(&self, dst: sys::CUdeviceptr, value: u8, bytes: usize) -> Result<()> {
        self.bind()?;
        // SAFETY: dst holds `bytes` bytes.
        cuda("cuMemsetD8Async", unsafe { result::memset_d8_async(dst, value, bytes, self.stream()) })
    }

    /// Turn a launcher's return code into a `Result` naming the op and its arguments.
    pub fn check_launch(op: &str, code: i32, context: impl FnOnce() -> String) -> Result<()> {
        if code == 0 {
            return Ok(());
        }
        Err(Error::Launch { op: op.to_string(), context: context(), code, name: cuda_error_name(code).to_string() })
    }
}

/// Names of the cudaError_t values a launcher can plausibly return.
pub fn cuda_error_name(code: i32) -> &'static str {
    match code {
        0 => "cudaSuccess",
        1 => "cudaErrorInvalidValue (rejected parameters)",
        2 => "cudaErrorMemoryAllocation",
        3 => "cudaErrorInitializationError",
        9 => "cudaErrorInvalidConfiguration",
        98 => "cudaErrorInvalidDeviceFunction (kernel not built for this GPU: check CUDA_COMPUTE_CAP)",
        209 => "cudaErrorNoKernelImageForDevice (kernel not built for this GPU: check CUDA_COMPUTE_CAP)",
        400 => "cudaErrorInvalidResourceHandle",
        700 => "cudaErrorIllegalAddress",
        701 => "cudaErrorLaunchOutOfResources",
        _ => "see cuda_runtime_api.h",
    }
}

/// Owned device memory, freed in stream order on drop.
pub struct DeviceBuffer {
    ptr: sys::CUdeviceptr,
    bytes: usize,
    device: Device,
}

impl DeviceBuffer {
    pub fn ptr(&self) -> sys::CUdeviceptr {
        self.ptr
    }
    pub fn bytes(&self) -> usize {
        self.bytes
    }
    pub fn device(&self) -> &Device {
        &self.device
    }
}

impl Drop for DeviceBuffer {
    fn drop(&mut self) {
        if self.device.bind().is_ok() {
            // SAFETY: ptr came from malloc_async on this stream and is freed once.
            let _ = unsafe { result::free_async(self.ptr, self.device.stream()) };
        }
    }
}
