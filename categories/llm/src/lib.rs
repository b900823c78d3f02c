//! fk-llm: what the LLM architectures share: the paged KV cache (host bookkeeping in
//! [`kv_blocks`], device caches in [`kv_cache`]), the step description the kernels take
//! ([`step`]), attention over the paged cache ([`attention`]) and generation
//! ([`generate`]), and the engine ([`engine`]: continuous batching, CUDA-graph decode,
//! streaming) with the family's workloads ([`workloads`]).

pub mod attention;
pub mod config;
pub mod decoder;
pub mod engine;
pub mod generate;
pub mod goldens;
pub mod graphs;
pub mod kv_blocks;
pub mod kv_cache;
pub mod model;
pub mod reference;
pub mod rope;
pub mod sampling;
pub mod scheduler;
pub mod step;
pub mod step_bench;
pub mod workloads;

pub use attention::{paged_attention, AttentionScratch, AttentionSpec};
pub use generate::{Generation, GenerationConfig, GenerationTiming, Generator, GeneratorOptions};
pub use kv_blocks::{KvBlockError, KvBlockManager, SeqId};
pub use kv_cache::PagedKvCache;
pub use model::{CausalLm, LmSpec, ScratchSizes};
pub use sampling::{Sampler, SamplingParams};
pub use scheduler::{FinishReason, Request, RequestParams, Schedule, ScheduledSeq, Scheduler, SchedulerConfig, TokenEvent};
pub use step::{ForwardBatch, SeqStep, StepBuffers, StepPlan};
