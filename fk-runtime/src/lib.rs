//! fastkernels runtime.
//!
//! Always available (no CUDA needed): [`dtype`], [`error`], [`compare`], [`rng`], [`host`], the
//! [`embed`] engine (request batching, generic over an encoder)
//! and the nvcc [`build`] helper that every kernel crate's `build.rs` uses.
//! With the default `cuda` feature: the never-panicking [`driver`] probe, [`device`] and
//! streams, device [`tensor`]s, CUDA [`event`]s and [`graph`]s, cuBLASLt [`gemm`], [`linear`] and
//! [`safetensors`] loading, [`random_weights`] (an in-memory checkpoint at a real config).

pub mod build;
pub mod compare;
pub mod dtype;
pub mod embed;
pub mod error;
pub mod host;
pub mod rng;

#[cfg(feature = "cuda")]
pub mod device;
#[cfg(feature = "cuda")]
pub mod driver;
#[cfg(feature = "cuda")]
pub mod event;
#[cfg(feature = "cuda")]
pub mod gemm;
#[cfg(feature = "cuda")]
pub mod gpu_test;
#[cfg(feature = "cuda")]
pub mod graph;
#[cfg(feature = "cuda")]
pub mod linear;
#[cfg(feature = "cuda")]
pub mod pinned;
#[cfg(feature = "cuda")]
pub mod profile;
#[cfg(feature = "cuda")]
pub mod random_weights;
#[cfg(feature = "cuda")]
pub mod safetensors;
#[cfg(feature = "cuda")]
pub mod tensor;

pub use dtype::DType;
pub use error::{Error, Result};

#[cfg(feature = "cuda")]
pub use device::Device;
#[cfg(feature = "cuda")]
pub use gemm::Gemm;
#[cfg(feature = "cuda")]
pub use graph::Graph;
#[cfg(feature = "cuda")]
pub use linear::Linear;
#[cfg(feature = "cuda")]
pub use safetensors::Checkpoint;
#[cfg(feature = "cuda")]
pub use tensor::Tensor;

/// The raw stream handle handed to launchers (`cudaStream_t` and `CUstream` share the ABI).
#[cfg(feature = "cuda")]
pub type RawStream = cudarc::driver::sys::CUstream;
