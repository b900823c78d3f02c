//! Device tensors: shared storage + byte offset + shape + strides (in elements) + dtype.
//! Views (`narrow`, `reshape`, `index0`) are O(1) and share storage. Kernels get raw
//! pointers and row strides through their launcher params; the op wrappers check layout.

use crate::device::{Device, DeviceBuffer};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::host;
use std::sync::Arc;

#[derive(Clone)]
pub struct Tensor {
    storage: Arc<DeviceBuffer>,
    offset: usize, // bytes
    shape: Vec<usize>,
    strides: Vec<usize>,
    dtype: DType,
}

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tensor({:?}, {}", self.shape, self.dtype)?;
        if !self.is_contiguous() {
            write!(f, ", strides {:?}", self.strides)?;
        }
        write!(f, ")")
    }
}

struct RowBlock {
    stride: usize,
    row0: usize,
    col0: usize,
    rows: usize,
    cols: usize,
}

/// The bytes of `values` as the GPU reads f32 (little-endian, as every host CUDA runs on).
fn f32_bytes(values: &[f32]) -> &[u8] {
    #[cfg(not(target_endian = "little"))]
    compile_error!("f32 uploads reinterpret host floats as the GPU's little-endian bytes");
    // SAFETY: any f32 is 4 initialised bytes, u8 has alignment 1, and the length is exact.
    unsafe { std::slice::from_raw_parts(values.as_ptr().cast::<u8>(), std::mem::size_of_val(values)) }
}

pub fn contiguous_strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

impl Tensor {
    /// Uninitialised tensor. Use [`Tensor::poison`] before a kernel writes it in tests.
    pub fn empty(device: &Device, shape: &[usize], dtype: DType) -> Result<Tensor> {
        let n: usize = shape.iter().product();
        let storage = Arc::new(device.alloc(n * dtype.size())?);
        Ok(Tensor { storage, offset: 0, shape: shape.to_vec(), strides: contiguous_strides(shape), dtype })
    }

    pub fn zeros(device: &Device, shape: &[usize], dtype: DType) -> Result<Tensor> {
        let t = Tensor::empty(device, shape, dtype)?;
        device.memset(t.ptr(), 0, t.nbytes())?;
        Ok(t)
    }

    /// Upload raw little-endian bytes.
    pub fn from_bytes(device: &Device, bytes: &[u8], shape: &[usize], dtype: DType) -> Result<Tensor> {
        let n: usize = shape.iter().product();
        if bytes.len() != n * dtype.size() {
            return Err(Error::shape(
                "Tensor::from_bytes",
                format!("{} bytes for shape {shape:?} of {dtype} (needs {})", bytes.len(), n * dtype.size()),
            ));
        }
        let t = Tensor::empty(device, shape, dtype)?;
        device.htod(t.ptr(), bytes)?;
        Ok(t)
    }

    /// Upload f32 values, converted to `dtype` (round to nearest even). An f32 tensor is
    /// uploaded straight from `values` (no host-side encoding pass).
    pub fn from_f32(device: &Device, values: &[f32], shape: &[usize], dtype: DType) -> Result<Tensor> {
        if dtype == DType::F32 {
            return Tensor::from_bytes(device, f32_bytes(values), shape, dtype);
        }
        Tensor::from_bytes(device, &host::encode(values, dtype), shape, dtype)
    }

    /// Overwrite this contiguous f32 tensor (or view) with `values`, uploaded as they are: the
    /// host copy and conversion an image batch would otherwise cost are skipped (the GPU
    /// converts where it reads them, e.g. `patch_embed_im2col`).
    pub fn write_f32(&self, values: &[f32]) -> Result<()> {
        if self.dtype != DType::F32 || !self.is_contiguous() || values.len() != self.numel() {
            return Err(Error::shape("Tensor::write_f32", format!("{} f32 values into {self:?} (needs a contiguous f32 tensor of as many)", values.len())));
        }
        self.device().htod(self.ptr(), f32_bytes(values))
    }

    pub fn from_i32(device: &Device, values: &[i32], shape: &[usize]) -> Result<Tensor> {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        Tensor::from_bytes(device, &bytes, shape, DType::I32)
    }

    pub fn from_i64(device: &Device, values: &[i64], shape: &[usize]) -> Result<Tensor> {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        Tensor::from_bytes(device, &bytes, shape, DType::I64)
    }

    pub fn shape(&self) -> &[usize] {
        &self.shape
    }
    pub fn strides(&self) -> &[usize] {
        &self.strides
    }
    pub fn dtype(&self) -> DType {
        self.dtype
    }
    pub fn rank(&self) -> usize {
        self.shape.len()
    }
    pub fn dim(&self, i: usize) -> usize {
        self.shape[i]
    }
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
    /// Bytes of the elements (not of the span a strided view covers).
    pub fn nbytes(&self) -> usize {
        self.numel() * self.dtype.size()
    }
    pub fn device(&self) -> &Device {
        self.storage.device()
    }

    /// Device address of element 0.
    pub fn ptr(&self) -> u64 {
        self.storage.ptr() + self.offset as u64
    }

    pub fn is_contiguous(&self) -> bool {
        self.numel() <= 1 || self.strides == contiguous_strides(&self.shape)
    }

    /// Do `self` and `other` share any element? Exact for row-strided 2-D views with the
    /// same row stride (e.g. q and k column blocks of one fused qkv buffer, which interleave
    /// but never touch); conservative (overlapping byte spans) otherwise.
    pub fn overlaps(&self, other: &Tensor) -> bool {
        if !Arc::ptr_eq(&self.storage, &other.storage) || self.numel() == 0 || other.numel() == 0 {
            return false;
        }
        if let (Some(a), Some(b)) = (self.row_block(), other.row_block()) {
            if a.stride == b.stride && self.dtype == other.dtype {
                let rows = a.row0 < b.row0 + b.rows && b.row0 < a.row0 + a.rows;
                let cols = a.col0 < b.col0 + b.cols && b.col0 < a.col0 + a.cols;
                return rows && cols;
            }
        }
        let (a0, a1) = self.byte_span();
        let (b0, b1) = other.byte_span();
        a0 < b1 && b0 < a1
    }

    /// For a 2-D view with contiguous rows of the same dtype as its storage layout: its
    /// position as a block of rows × columns of a matrix with `stride` columns.
    fn row_block(&self) -> Option<RowBlock> {
        let es = self.dtype.size();
        if self.rank() != 2 || (self.shape[1] > 1 && self.strides[1] != 1) || self.offset % es != 0 {
            return None;
        }
        let stride = self.strides[0].max(1);
        let start = self.offset / es;
        let (row0, col0) = (start / stride, start % stride);
        (col0 + self.shape[1] <= stride).then_some(RowBlock { stride, row0, col0, rows: self.shape[0], cols: self.shape[1] })
    }

    fn byte_span(&self) -> (usize, usize) {
        if self.numel() == 0 {
            return (self.offset, self.offset);
        }
        let last: usize = self.shape.iter().zip(&self.strides).map(|(&d, &s)| (d - 1) * s).sum();
        (self.offset, self.offset + (last + 1) * self.dtype.size())
    }

    /// Rows [start, start+len) of dimension `dim`: a view.
    pub fn narrow(&self, dim: usize, start: usize, len: usize) -> Result<Tensor> {
        if dim >= self.rank() || start + len > self.shape[dim] {
            return Err(Error::shape("narrow", format!("{self:?}: dim {dim} range {start}..{}", start + len)));
        }
        let mut t = self.clone();
        t.offset += start * self.strides[dim] * self.dtype.size();
        t.shape[dim] = len;
        Ok(t)
    }

    /// Same elements, new shape (contiguous tensors only).
    pub fn reshape(&self, shape: &[usize]) -> Result<Tensor> {
        if shape.iter().product::<usize>() != self.numel() {
            return Err(Error::shape("reshape", format!("{self:?} has {} elements, not {shape:?}", self.numel())));
        }
        if !self.is_contiguous() {
            return Err(Error::shape("reshape", format!("{self:?} is not contiguous")));
        }
        let mut t = self.clone();
        t.shape = shape.to_vec();
        t.strides = contiguous_strides(shape);
        Ok(t)
    }

    /// Row stride (elements) of a 2-D tensor whose rows are contiguous: what 2-D kernels take.
    pub fn row_stride(&self, op: &str) -> Result<usize> {
        if self.rank() != 2 {
            return Err(Error::shape(op, format!("expected a 2-D tensor, got {self:?}")));
        }
        if self.shape[1] > 1 && self.strides[1] != 1 {
            return Err(Error::shape(op, format!("rows of {self:?} are not contiguous")));
        }
        Ok(self.strides[0])
    }

    /// Fill with 0xFF bytes: NaN for every float type, -1 for signed ints. Tests poison
    /// outputs so an element a kernel forgets to write is caught as NaN.
    pub fn poison(&self) -> Result<()> {
        self.fill_span(0xff)
    }

    fn fill_span(&self, byte: u8) -> Result<()> {
        if self.is_contiguous() {
            return self.device().memset(self.ptr(), byte, self.nbytes());
        }
        let (a, b) = self.byte_span();
        self.device().memset(self.storage.ptr() + a as u64, byte, b - a)
    }

    /// Copy the elements of `src` (same shape and dtype, both contiguous) into `self`.
    pub fn copy_from(&self, src: &Tensor) -> Result<()> {
        if src.shape != self.shape || src.dtype != self.dtype || !self.is_contiguous() || !src.is_contiguous() {
            return Err(Error::shape("copy_from", format!("{src:?} -> {self:?}")));
        }
        self.device().dtod(self.ptr(), src.ptr(), self.nbytes())
    }

    /// Stack contiguous 2-D tensors of equal width and dtype along rows into a new tensor
    /// (device-to-device copies): how separate `q_proj`/`k_proj`/`v_proj` checkpoint weights
    /// become one fused projection.
    pub fn cat_rows(parts: &[&Tensor]) -> Result<Tensor> {
        let first = parts.first().ok_or_else(|| Error::shape("cat_rows", "nothing to concatenate"))?;
        let (cols, dtype) = (first.shape().get(1).copied().unwrap_or(0), first.dtype());
        for p in parts {
            if p.rank() != 2 || p.dim(1) != cols || p.dtype() != dtype || !p.is_contiguous() || !p.device().same_as(first.device()) {
                return Err(Error::shape("cat_rows", format!("{p:?} does not match {first:?} (contiguous 2-D, same width, dtype and device)")));
            }
        }
        let rows: usize = parts.iter().map(|p| p.dim(0)).sum();
        let out = Tensor::empty(first.device(), &[rows, cols], dtype)?;
        let mut at = 0;
        for p in parts {
            out.narrow(0, at, p.dim(0))?.copy_from(p)?;
            at += p.dim(0);
        }
        Ok(out)
    }

    /// A fresh contiguous copy on the same device.
    pub fn duplicate(&self) -> Result<Tensor> {
        let t = Tensor::empty(self.device(), &self.shape, self.dtype)?;
        if self.is_contiguous() {
            t.copy_from(self)?;
        } else {
            t.device().htod(t.ptr(), &self.to_bytes()?)?;
        }
        Ok(t)
    }

    /// Download the elements in logical (row-major) order.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let es = self.dtype.size();
        if self.is_contiguous() {
            let mut out = vec![0u8; self.nbytes()];
            self.device().dtoh(&mut out, self.ptr())?;
            return Ok(out);
        }
        let (a, b) = self.byte_span();
        let mut span = vec![0u8; b - a];
        self.device().dtoh(&mut span, self.storage.ptr() + a as u64)?;
        let mut out = Vec::with_capacity(self.nbytes());
        let mut idx = vec![0usize; self.rank()];
        for _ in 0..self.numel() {
            let off: usize = idx.iter().zip(&self.strides).map(|(i, s)| i * s).sum::<usize>() * es;
            out.extend_from_slice(&span[off..off + es]);
            for d in (0..self.rank()).rev() {
                idx[d] += 1;
                if idx[d] < self.shape[d] {
                    break;
                }
                idx[d] = 0;
            }
        }
        Ok(out)
    }

    /// Download as f32 (exact for every float dtype except f64).
    pub fn to_f32(&self) -> Result<Vec<f32>> {
        Ok(host::decode(&self.to_bytes()?, self.dtype))
    }

    pub fn to_i64(&self) -> Result<Vec<i64>> {
        let b = self.to_bytes()?;
        match self.dtype {
            DType::I64 => Ok(b.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap())).collect()),
            DType::I32 => Ok(b.chunks_exact(4).map(|c| i32::from_le_bytes(c.try_into().unwrap()) as i64).collect()),
            d => Err(Error::dtype("to_i64", format!("{d} is not an integer type"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::f32_bytes;
    use crate::{host, DType};

    #[test]
    fn f32_bytes_are_the_encoded_f32() {
        let v = [0.0f32, -1.5, f32::MIN_POSITIVE, 3.25e7, f32::INFINITY];
        assert_eq!(f32_bytes(&v), host::encode(&v, DType::F32).as_slice());
        assert!(f32_bytes(&[]).is_empty());
    }
}
