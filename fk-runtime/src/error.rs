//! One error type for the whole workspace. Every variant says *what* failed and carries
//! enough context (op, shapes, dtypes, file, tensor name) to act on without a debugger.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No usable GPU: no driver library, no device, or the driver refused to initialise.
    #[error("no CUDA GPU available: {0}")]
    NoGpu(String),

    /// A CUDA driver / runtime / cuBLAS call failed.
    #[error("CUDA error in {op}: {message}")]
    Cuda { op: String, message: String },

    /// A kernel launcher returned an error code.
    #[error("kernel launch failed: {op} ({context}): cudaError {code} ({name})")]
    Launch { op: String, context: String, code: i32, name: String },

    /// A tensor argument has the wrong shape, stride or size.
    #[error("{op}: bad shape: {message}")]
    Shape { op: String, message: String },

    /// A tensor argument has the wrong dtype.
    #[error("{op}: bad dtype: {message}")]
    DType { op: String, message: String },

    /// Bad data found while running (an out-of-range token id, a position past the cache).
    #[error("{op}: bad input: {message}")]
    BadInput { op: String, message: String },

    /// A configuration value is missing or invalid.
    #[error("bad config{}: {message}", file.as_ref().map(|f| format!(" ({})", f.display())).unwrap_or_default())]
    Config { file: Option<PathBuf>, message: String },

    /// A checkpoint file is unreadable, truncated or inconsistent.
    #[error("checkpoint {}: {message}", file.display())]
    Checkpoint { file: PathBuf, message: String },

    /// A tensor the model needs is not in the checkpoint.
    #[error("checkpoint {}: missing tensor `{name}`", file.display())]
    MissingTensor { file: PathBuf, name: String },

    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
}

impl Error {
    pub fn shape(op: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Shape { op: op.into(), message: message.into() }
    }
    pub fn dtype(op: impl Into<String>, message: impl Into<String>) -> Self {
        Error::DType { op: op.into(), message: message.into() }
    }
    pub fn bad_input(op: impl Into<String>, message: impl Into<String>) -> Self {
        Error::BadInput { op: op.into(), message: message.into() }
    }
    pub fn cuda(op: impl Into<String>, message: impl std::fmt::Display) -> Self {
        Error::Cuda { op: op.into(), message: message.to_string() }
    }
    pub fn config(message: impl Into<String>) -> Self {
        Error::Config { file: None, message: message.into() }
    }
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io { context: context.into(), source }
    }
}
