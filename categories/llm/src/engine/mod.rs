//! The LLM engine: continuous batching over the paged KV cache (see [`crate::scheduler`]),
//! CUDA-graph decode per batch-size bucket, per-request sampling and stop conditions, token
//! streaming, and per-request timings. [`Engine`] is the synchronous core (step by step, as
//! the benchmarks drive it); [`EngineService`] runs it on its own thread for servers.

mod bench;
mod core;
mod fake;
mod gpu_runner;
mod metrics;
mod runner;
mod service;

pub use bench::{run_workload, LatencyReport, Progress, WorkloadReport};
pub use self::core::{validate_request, Engine, EngineOutput, EngineStats};
pub use fake::HashRunner;
pub use gpu_runner::{GpuRunner, GpuRunnerConfig};
pub use metrics::{Percentiles, RequestMetrics, WorkloadSummary};
pub use runner::{RunnerLimits, StepRunner, StepSeqInput};
pub use service::{EngineService, RequestStream, ServiceInfo, ServiceOptions, StreamEvent, SubmitError};

#[cfg(test)]
mod tests;
