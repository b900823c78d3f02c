//! GEMM through cuBLASLt on raw device pointers: `y[M,N] = x[M,K] · W[N,K]ᵀ (+ bias[N])`,
//! row-major, exactly `torch.nn.functional.linear`.
//!
//! cuBLASLt is column-major. A row-major `[R, C]` matrix with row stride `ld` is the same
//! memory as a column-major `C × R` matrix with leading dimension `ld`, so we compute the
//! transposed product `yᵀ (N×M) = op_T(W as K×N) · (x as K×M)`: cuBLASLt's `m = N`, `n = M`,
//! `k = K`, A = W (transposed, ld = W's row stride), B = x (not transposed, ld = x's row
//! stride), C = D = y (ld = y's row stride). The bias epilogue adds a vector of length
//! cuBLASLt-`m` = `N` to every column of D, i.e. to every row of y: what `F.linear` does.
//!
//! Heuristic queries cost tens of microseconds, far more than a small decode-time GEMM, so
//! each distinct problem (dtype, sizes, strides, pointer alignment, bias, GELU epilogue) gets
//! a cached plan: descriptor, layouts and an algorithm. The algorithm is the heuristic's first
//! pick for the problem's power-of-two bucket of rows, shared by every row count of the bucket
//! (see `PlanKey::bucket`: a first-seen kernel costs milliseconds to load, and packed batches
//! bring new row counts all the time).

use crate::device::{Device, DeviceBuffer};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use cudarc::cublas::sys::cublasOperation_t;
use cudarc::cublaslt::result::{self, CublasError};
use cudarc::cublaslt::sys::cublasLtMatmulPreferenceAttributes_t as PrefAttr;
use cudarc::cublaslt::sys::{self, cublasLtMatmulDescAttributes_t as DescAttr};
use std::collections::hash_map::{Entry, HashMap};
use std::ffi::c_void;
use std::sync::Mutex;

/// NVIDIA's recommended cuBLASLt workspace for Hopper (and ample for older GPUs).
const WORKSPACE_BYTES: usize = 32 << 20;

/// A cuBLASLt handle, its workspace and the plan cache, for one [`Device`].
pub struct Gemm {
    device: Device,
    handle: sys::cublasLtHandle_t,
    workspace: DeviceBuffer,
    plans: Mutex<PlanCache>,
}

// SAFETY: the cuBLASLt handle may be used from any thread; every use of it after
// construction (plan creation and `cublasLtMatmul`) happens with the `plans` lock held, so
// calls never overlap, and the workspace is only touched in stream order on one stream.
unsafe impl Send for Gemm {}
// SAFETY: as for `Send`: all shared-reference access is serialised by the `plans` mutex.
unsafe impl Sync for Gemm {}

/// One GEMM problem in row-major terms (see the module docs for the cuBLASLt mapping).
#[derive(Clone, Copy, Debug)]
struct Problem {
    dtype: DType,
    m: usize,
    n: usize,
    k: usize,
    x: u64,
    ldx: usize,
    w: u64,
    ldw: usize,
    y: u64,
    ldy: usize,
    bias: Option<u64>,
    gelu_tanh: bool,
}

impl Problem {
    fn describe(&self, op: &str) -> String {
        let Problem { dtype, m, n, k, ldx, ldw, ldy, .. } = *self;
        let bias = if self.bias.is_some() { format!(" + bias [{n}]") } else { String::new() };
        let act = if self.gelu_tanh { ", then gelu (tanh)" } else { "" };
        format!(
            "{op} {dtype}: x [{m}, {k}] (row stride {ldx}) · weight [{n}, {k}]ᵀ (row stride {ldw}){bias}{act} -> y [{m}, {n}] (row stride {ldy})"
        )
    }

    fn key(&self) -> PlanKey {
        PlanKey {
            dtype: self.dtype,
            m: self.m,
            n: self.n,
            k: self.k,
            ldx: self.ldx,
            ldw: self.ldw,
            ldy: self.ldy,
            bias: self.bias.is_some(),
            gelu_tanh: self.gelu_tanh,
            align: [alignment(self.w), alignment(self.x), alignment(self.y)],
        }
    }
}

/// Everything the chosen algorithm depends on. Pointer alignment is part of it: the
/// heuristic is told the real alignment of A/B/C/D, and an algorithm picked for 256-byte
/// aligned buffers may not run on an offset view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct PlanKey {
    dtype: DType,
    m: usize,
    n: usize,
    k: usize,
    ldx: usize,
    ldw: usize,
    ldy: usize,
    bias: bool,
    /// The GELU epilogue (cuBLASLt's is the tanh form, `gelu_pytorch_tanh`).
    gelu_tanh: bool,
    /// Alignment in bytes (power of two, at most 256) of W, x and y.
    align: [u32; 3],
}

/// Largest power of two (capped at 256, cuBLASLt's default assumption) dividing `ptr`.
fn alignment(ptr: u64) -> u32 {
    1 << ptr.trailing_zeros().min(8)
}

fn cuda_type(dtype: DType) -> Option<sys::cudaDataType> {
    match dtype {
        DType::BF16 => Some(sys::cudaDataType::CUDA_R_16BF),
        DType::F16 => Some(sys::cudaDataType::CUDA_R_16F),
        DType::F32 => Some(sys::cudaDataType::CUDA_R_32F),
        _ => None,
    }
}

/// Plans by exact problem, and the algorithm chosen for each token bucket (the problem with
/// `m` rounded up to a power of two, see [`PlanKey::bucket`]).
#[derive(Default)]
struct PlanCache {
    plans: HashMap<PlanKey, Plan>,
    algos: HashMap<PlanKey, sys::cublasLtMatmulAlgo_t>,
}

// SAFETY: see `Plan`; an algorithm is a plain value.
unsafe impl Send for PlanCache {}

impl PlanKey {
    /// The problem whose algorithm every row count in `m`'s bucket shares. Why buckets: the
    /// heuristic picks a different kernel for nearly every row count, and the first launch
    /// of a kernel loads its module (lazy loading: measured 2.7–4 ms of stream time on the
    /// H200, run 20), so variable-length batches (packed text, prefill chunks) paid that on
    /// almost every batch. With one algorithm per power-of-two bucket, a few batches warm
    /// every kernel a model uses.
    fn bucket(&self) -> PlanKey {
        PlanKey { m: self.m.next_power_of_two(), ..*self }
    }
}

/// Descriptor, layouts and algorithm for one [`PlanKey`]. Handles start null so a plan
/// that fails half-way through construction is still cleaned up by `Drop`.
struct Plan {
    desc: sys::cublasLtMatmulDesc_t,
    a: sys::cublasLtMatrixLayout_t,
    b: sys::cublasLtMatrixLayout_t,
    c: sys::cublasLtMatrixLayout_t,
    algo: sys::cublasLtMatmulAlgo_t,
}

// SAFETY: cuBLASLt descriptors are plain host-side objects with no thread affinity; `Gemm`
// only touches them with its mutex held.
unsafe impl Send for Plan {}

type LtResult<T> = std::result::Result<T, (&'static str, CublasError)>;

fn lt<T>(call: &'static str, r: std::result::Result<T, CublasError>) -> LtResult<T> {
    r.map_err(|e| (call, e))
}

/// Set one attribute of a matmul descriptor from a typed value.
///
/// # Safety
/// `desc` must be a live descriptor and `T` the C type cuBLASLt documents for `attr`.
unsafe fn set_desc<T>(desc: sys::cublasLtMatmulDesc_t, attr: DescAttr, value: &T) -> LtResult<()> {
    let ptr = value as *const T as *const c_void;
    // SAFETY: guaranteed by the caller; `ptr` is valid for `size_of::<T>()` bytes.
    lt("cublasLtMatmulDescSetAttribute", unsafe { result::set_matmul_desc_attribute(desc, attr, ptr, size_of::<T>()) })
}

/// Owns a heuristic preference object for the duration of one query.
struct Pref(sys::cublasLtMatmulPreference_t);

impl Pref {
    fn set<T>(&self, attr: PrefAttr, value: &T) -> LtResult<()> {
        let ptr = value as *const T as *const c_void;
        // SAFETY: self.0 is live (destroyed only on drop); every caller passes the C type
        // documented for `attr` (uint64_t workspace bytes, uint32_t alignments).
        lt("cublasLtMatmulPreferenceSetAttribute", unsafe {
            result::set_matmul_pref_attribute(self.0, attr, ptr, size_of::<T>())
        })
    }
}

impl Drop for Pref {
    fn drop(&mut self) {
        // SAFETY: created by create_matmul_pref and destroyed exactly once, here.
        let _ = unsafe { result::destroy_matmul_pref(self.0) };
    }
}

impl Plan {
    /// Descriptor and layouts for `key`, with the algorithm of its bucket (the heuristic's
    /// pick for the bucket's size, queried once per bucket and cached in `algos`) when it runs
    /// this exact problem, else the heuristic's pick for the problem itself.
    fn new(handle: sys::cublasLtHandle_t, key: &PlanKey, workspace_bytes: usize, algos: &mut HashMap<PlanKey, sys::cublasLtMatmulAlgo_t>) -> LtResult<Plan> {
        let mut plan = Plan::layouts(key)?;
        let bucket = key.bucket();
        let algo = match algos.get(&bucket) {
            Some(algo) => *algo,
            None => {
                let sized = if bucket == *key { None } else { Some(Plan::layouts(&bucket)?) };
                let algo = sized.as_ref().unwrap_or(&plan).heuristic(handle, key, workspace_bytes)?;
                *algos.entry(bucket).or_insert(algo)
            }
        };
        plan.algo = if plan.runs(handle, &algo, workspace_bytes) { algo } else { plan.heuristic(handle, key, workspace_bytes)? };
        Ok(plan)
    }

    fn layouts(key: &PlanKey) -> LtResult<Plan> {
        let ty =
            cuda_type(key.dtype).ok_or(("cuda_type", CublasError(sys::cublasStatus_t::CUBLAS_STATUS_NOT_SUPPORTED)))?;
        let (m, n, k) = (key.n as u64, key.m as u64, key.k as u64);
        use std::ptr::null_mut as null;
        let mut plan =
            Plan { desc: null(), a: null(), b: null(), c: null(), algo: sys::cublasLtMatmulAlgo_t { data: [0; 8] } };
        // fp32 accumulation and fp32 alpha/beta for every dtype. For f32 this is exact
        // fp32 (not CUBLAS_COMPUTE_32F_FAST_TF32, which rounds inputs to 10-bit mantissas).
        plan.desc = lt(
            "cublasLtMatmulDescCreate",
            result::create_matmul_desc(sys::cublasComputeType_t::CUBLAS_COMPUTE_32F, sys::cudaDataType::CUDA_R_32F),
        )?;
        let trans_a = cublasOperation_t::CUBLAS_OP_T as i32;
        use sys::cublasLtEpilogue_t as E;
        let epilogue = match (key.bias, key.gelu_tanh) {
            (false, false) => E::CUBLASLT_EPILOGUE_DEFAULT,
            (true, false) => E::CUBLASLT_EPILOGUE_BIAS,
            (false, true) => E::CUBLASLT_EPILOGUE_GELU,
            (true, true) => E::CUBLASLT_EPILOGUE_GELU_BIAS,
        };
        // SAFETY: desc was just created; TRANSA takes an int32 cublasOperation_t and
        // EPILOGUE a uint32 cublasLtEpilogue_t (a repr(u32) enum). TRANSB stays N. The bias
        // data type is left at its default, "same as D", which is what F.linear wants.
        unsafe {
            set_desc(plan.desc, DescAttr::CUBLASLT_MATMUL_DESC_TRANSA, &trans_a)?;
            set_desc(plan.desc, DescAttr::CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue)?;
        }
        // A = W: column-major K × N (op T gives m × k); B = x: K × M; C = D = y: N × M.
        plan.a = lt("cublasLtMatrixLayoutCreate(W)", result::create_matrix_layout(ty, k, m, key.ldw as i64))?;
        plan.b = lt("cublasLtMatrixLayoutCreate(x)", result::create_matrix_layout(ty, k, n, key.ldx as i64))?;
        plan.c = lt("cublasLtMatrixLayoutCreate(y)", result::create_matrix_layout(ty, m, n, key.ldy as i64))?;
        Ok(plan)
    }

    /// The heuristic's first algorithm for this plan's layouts, told `key`'s alignments.
    fn heuristic(&self, handle: sys::cublasLtHandle_t, key: &PlanKey, workspace_bytes: usize) -> LtResult<sys::cublasLtMatmulAlgo_t> {
        let pref = Pref(lt("cublasLtMatmulPreferenceCreate", result::create_matmul_pref())?);
        pref.set(PrefAttr::CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &(workspace_bytes as u64))?;
        let [align_w, align_x, align_y] = key.align;
        pref.set(PrefAttr::CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &align_w)?;
        pref.set(PrefAttr::CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &align_x)?;
        pref.set(PrefAttr::CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &align_y)?;
        pref.set(PrefAttr::CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &align_y)?;
        // SAFETY: every handle passed is live; C and D share one layout.
        let heuristic = lt("cublasLtMatmulAlgoGetHeuristic", unsafe {
            result::get_matmul_algo_heuristic(handle, self.desc, self.a, self.b, self.c, self.c, pref.0)
        })?;
        Ok(heuristic.algo)
    }

    /// Whether `algo` computes this plan's problem within `workspace_bytes`
    /// (cublasLtMatmulAlgoCheck).
    fn runs(&self, handle: sys::cublasLtHandle_t, algo: &sys::cublasLtMatmulAlgo_t, workspace_bytes: usize) -> bool {
        let mut out = std::mem::MaybeUninit::<sys::cublasLtMatmulHeuristicResult_t>::zeroed();
        // SAFETY: every handle is live, `algo` and `out` point to valid memory of their types.
        let status = unsafe { sys::cublasLtMatmulAlgoCheck(handle, self.desc, self.a, self.b, self.c, self.c, algo, out.as_mut_ptr()) };
        // SAFETY: zero-initialised and written by a successful check; read only then.
        status == sys::cublasStatus_t::CUBLAS_STATUS_SUCCESS && unsafe { out.assume_init() }.workspaceSize <= workspace_bytes
    }
}

impl Drop for Plan {
    fn drop(&mut self) {
        // SAFETY: each non-null handle was created by the matching create call and is
        // destroyed exactly once, here.
        unsafe {
            for layout in [self.a, self.b, self.c] {
                if !layout.is_null() {
                    let _ = result::destroy_matrix_layout(layout);
                }
            }
            if !self.desc.is_null() {
                let _ = result::destroy_matmul_desc(self.desc);
            }
        }
    }
}

/// `F.linear`'s shapes: `weight` `[N, K]`, `out` = `x`'s shape with the last dimension `N`.
fn check_linear_shapes(op: &str, x: &Tensor, weight: &Tensor, out: &Tensor) -> Result<()> {
    if weight.rank() != 2 {
        return Err(Error::shape(op, format!("weight {weight:?} must be 2-D [out_features, in_features]")));
    }
    let lead = x.shape().split_last().map(|(_, lead)| lead).unwrap_or(&[]);
    let expect_out: Vec<usize> = lead.iter().copied().chain([weight.dim(0)]).collect();
    if x.rank() == 0 || out.shape() != expect_out.as_slice() {
        return Err(Error::shape(
            op,
            format!(
                "x {:?} · weight {:?}ᵀ gives {expect_out:?}, but out is {:?}",
                x.shape(),
                weight.shape(),
                out.shape()
            ),
        ));
    }
    Ok(())
}

/// A tensor seen as a row-major matrix: `rows` rows of `cols` contiguous elements, `ld`
/// elements apart.
#[derive(Clone, Copy, Debug)]
struct Matrix {
    rows: usize,
    cols: usize,
    ld: usize,
}

/// View `t` (`[..., cols]`) as a matrix. Leading dimensions must flatten into one row index
/// with a single stride; rows may be further apart than `cols` (a column-narrowed view).
fn as_matrix(op: &str, what: &str, t: &Tensor) -> Result<Matrix> {
    let (shape, strides) = (t.shape(), t.strides());
    let Some((&cols, lead)) = shape.split_last() else {
        return Err(Error::shape(op, format!("{what} is a scalar {t:?}; expected [..., features]")));
    };
    let rows: usize = lead.iter().product();
    if cols > 1 && strides[shape.len() - 1] != 1 {
        return Err(Error::shape(op, format!("{what} {t:?}: elements of a row are not contiguous")));
    }
    // Size-1 dimensions have meaningless strides; the others must nest.
    let dims: Vec<(usize, usize)> = lead.iter().zip(strides).filter(|(&d, _)| d != 1).map(|(&d, &s)| (d, s)).collect();
    for pair in dims.windows(2) {
        if pair[0].1 != pair[1].1 * pair[1].0 {
            return Err(Error::shape(op, format!("{what} {t:?}: leading dimensions cannot be flattened into rows")));
        }
    }
    let ld = match dims.last() {
        Some(&(_, s)) if rows > 1 => s,
        _ => cols.max(1),
    };
    if ld < cols {
        return Err(Error::shape(op, format!("{what} {t:?}: row stride {ld} is smaller than the row length {cols}")));
    }
    Ok(Matrix { rows, cols, ld })
}

impl Gemm {
    /// Create a cuBLASLt handle and a 32 MiB workspace on `device`.
    pub fn new(device: &Device) -> Result<Gemm> {
        device.bind()?;
        // cudarc panics on first use if libcublasLt cannot be loaded; ask first.
        // SAFETY: only tries to dlopen the library under cudarc's candidate names.
        if !unsafe { sys::is_culib_present() } {
            return Err(Error::cuda(
                "cublasLtCreate",
                "libcublasLt was not found: add the CUDA toolkit's lib folder to LD_LIBRARY_PATH",
            ));
        }
        let workspace = device.alloc(WORKSPACE_BYTES)?;
        let handle = result::create_handle().map_err(|e| Error::cuda("cublasLtCreate", e))?;
        Ok(Gemm { device: device.clone(), handle, workspace, plans: Mutex::new(PlanCache::default()) })
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Number of cached plans (one per distinct problem seen so far).
    pub fn plan_count(&self) -> usize {
        self.plans.lock().unwrap_or_else(|e| e.into_inner()).plans.len()
    }

    /// Number of cached algorithms (one per power-of-two bucket of row counts per problem).
    pub fn algorithm_count(&self) -> usize {
        self.plans.lock().unwrap_or_else(|e| e.into_inner()).algos.len()
    }

    /// `out[..., N] = x[..., K] · weight[N, K]ᵀ (+ bias[N])`, like `F.linear`.
    ///
    /// `x` and `out` may be views whose rows are further apart than their width; their
    /// leading dimensions must flatten into rows, and `out`'s shape must be `x`'s with the
    /// last dimension replaced by `N`. Enqueued on the device stream; nothing is synchronised.
    pub fn linear(&self, x: &Tensor, weight: &Tensor, bias: Option<&Tensor>, out: &Tensor) -> Result<()> {
        check_linear_shapes("linear", x, weight, out)?;
        self.run_checked("linear", x, weight, bias, out, false)
    }

    /// [`Gemm::linear`] followed by `gelu(·, approximate="tanh")` (HF `gelu_pytorch_tanh`) in
    /// the GEMM's epilogue: the intermediate activation is written once, already activated,
    /// instead of written, read and written again by a separate GELU pass.
    pub fn linear_gelu_tanh(&self, x: &Tensor, weight: &Tensor, bias: Option<&Tensor>, out: &Tensor) -> Result<()> {
        check_linear_shapes("linear_gelu_tanh", x, weight, out)?;
        self.run_checked("linear_gelu_tanh", x, weight, bias, out, true)
    }

    /// The 2-D primitive behind [`Gemm::linear`]: `out[M, N] = x[M, K] · w[N, K]ᵀ (+ bias)`.
    /// All three matrices may be row-strided views (rows contiguous).
    pub fn matmul_nt(&self, x: &Tensor, w: &Tensor, bias: Option<&Tensor>, out: &Tensor) -> Result<()> {
        let op = "matmul_nt";
        for (what, t) in [("x", x), ("w", w), ("out", out)] {
            if t.rank() != 2 {
                return Err(Error::shape(op, format!("{what} {t:?} must be 2-D")));
            }
        }
        self.run_checked(op, x, w, bias, out, false)
    }

    fn run_checked(&self, op: &str, x: &Tensor, w: &Tensor, bias: Option<&Tensor>, out: &Tensor, gelu_tanh: bool) -> Result<()> {
        let dtype = w.dtype();
        if cuda_type(dtype).is_none() {
            return Err(Error::dtype(op, format!("weight is {dtype}; supported: bf16, f16, f32")));
        }
        let mut tensors = vec![("x", x), ("weight", w), ("out", out)];
        tensors.extend(bias.map(|b| ("bias", b)));
        let dtypes: Vec<String> = tensors.iter().map(|(n, t)| format!("{n} {}", t.dtype())).collect();
        if tensors.iter().any(|(_, t)| t.dtype() != dtype) {
            return Err(Error::dtype(op, format!("{}: all must have the same dtype", dtypes.join(", "))));
        }
        for (what, t) in &tensors {
            if !t.device().same_as(&self.device) {
                return Err(Error::bad_input(
                    op,
                    format!("{what} is on {:?} but this Gemm was created for {:?}", t.device(), self.device),
                ));
            }
        }
        for (what, t) in tensors.iter().filter(|(n, _)| *n != "out") {
            if out.overlaps(t) {
                return Err(Error::bad_input(op, format!("out {out:?} overlaps {what} {t:?}")));
            }
        }
        let xm = as_matrix(op, "x", x)?;
        let wm = as_matrix(op, "weight", w)?;
        let ym = as_matrix(op, "out", out)?;
        let (m, k, n) = (xm.rows, xm.cols, wm.rows);
        if wm.cols != k {
            return Err(Error::shape(op, format!("x {:?} vs weight {:?}: in_features differ", x.shape(), w.shape())));
        }
        if ym.rows != m || ym.cols != n {
            return Err(Error::shape(
                op,
                format!("x {:?} · weight {:?}ᵀ vs out {:?}", x.shape(), w.shape(), out.shape()),
            ));
        }
        if let Some(b) = bias {
            if b.shape() != [n] || (n > 1 && b.strides()[0] != 1) {
                return Err(Error::shape(
                    op,
                    format!("bias {b:?} must be a contiguous [{n}] (out_features of weight {:?})", w.shape()),
                ));
            }
        }
        if m == 0 || n == 0 {
            return Ok(()); // nothing to compute
        }
        if k == 0 {
            // cuBLASLt rejects k = 0; an empty reduction is a rare enough model bug to refuse.
            return Err(Error::shape(op, format!("x {:?} · weight {:?}ᵀ: in_features is 0", x.shape(), w.shape())));
        }
        let problem = Problem {
            dtype,
            m,
            n,
            k,
            x: x.ptr(),
            ldx: xm.ld,
            w: w.ptr(),
            ldw: wm.ld,
            y: out.ptr(),
            ldy: ym.ld,
            bias: bias.map(|b| b.ptr()),
            gelu_tanh,
        };
        self.run(op, &problem)
    }

    fn run(&self, op: &str, p: &Problem) -> Result<()> {
        self.device.bind()?;
        let fail = |(call, e): (&'static str, CublasError)| Error::cuda(call, format!("{e:?} in {}", p.describe(op)));
        let mut cache = self.plans.lock().unwrap_or_else(|e| e.into_inner());
        let PlanCache { plans, algos } = &mut *cache;
        let key = p.key();
        let plan = match plans.entry(key) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => e.insert(Plan::new(self.handle, &key, WORKSPACE_BYTES, algos).map_err(fail)?),
        };
        if let Some(bias) = p.bias {
            // The bias pointer lives in the shared descriptor; the lock keeps it ours until
            // cublasLtMatmul has read it (the call copies its arguments before returning).
            // SAFETY: plan.desc is live; BIAS_POINTER takes a `const void*`, i.e. a u64 address.
            unsafe { set_desc(plan.desc, DescAttr::CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias) }.map_err(fail)?;
        }
        let (alpha, beta) = (1.0f32, 0.0f32);
        let name = || format!("gemm (cuBLASLt) {} [{}, {}] · [{}, {}]ᵀ{}", p.dtype, p.m, p.k, p.n, p.k, if p.gelu_tanh { " + gelu" } else { "" });
        // Only the matmul is the span: a new problem's heuristic query above is host time.
        crate::profile::span(&self.device, name, || {
            // SAFETY: the pointers were checked against the tensors' shapes and strides above
            // (the layouts describe exactly those spans); beta = 0 so C is never read; the
            // workspace holds WORKSPACE_BYTES, the limit given to the heuristic; the stream
            // belongs to the bound context.
            let status = unsafe {
                result::matmul(
                    self.handle,
                    plan.desc,
                    &alpha as *const f32 as *const c_void,
                    &beta as *const f32 as *const c_void,
                    p.w as *const c_void,
                    plan.a,
                    p.x as *const c_void,
                    plan.b,
                    p.y as *const c_void,
                    plan.c,
                    p.y as *mut c_void,
                    plan.c,
                    &plan.algo,
                    self.workspace.ptr() as *mut c_void,
                    self.workspace.bytes(),
                    self.device.stream() as sys::cudaStream_t,
                )
            };
            lt("cublasLtMatmul", status).map_err(fail)
        })
    }
}

impl Drop for Gemm {
    fn drop(&mut self) {
        // Plans first (their descriptors are independent of the handle, but tidy), then the
        // handle; the workspace is freed in stream order after any GEMM still queued.
        self.plans.get_mut().unwrap_or_else(|e| e.into_inner()).plans.clear();
        // SAFETY: the handle was created in `new` and is destroyed exactly once, here.
        let _ = unsafe { result::destroy_handle(self.handle) };
    }
}
