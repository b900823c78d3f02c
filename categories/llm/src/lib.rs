//! fk-llm: what the LLM architectures share: the paged KV cache (host bookkeeping in
//! [`kv_blocks`], device caches in [`kv_cache`]), the step description the kernels take
//! ([`step`]), attention over the paged cache ([`attention`]) and generation
//! ([`generate`]). The engine (continuous batching) builds on these.

pub mod attention;
pub mod generate;
pub mod kv_blocks;
pub mod kv_cache;
pub mod model;
pub mod sampling;
pub mod scheduler;
pub mod step;

pub use attention::{paged_attention, AttentionScratch, AttentionSpec};
pub use generate::{Generation, GenerationConfig, GenerationTiming, Generator, GeneratorOptions};
pub use kv_blocks::{KvBlockError, KvBlockManager, SeqId};
pub use kv_cache::PagedKvCache;
pub use model::{CausalLm, LmSpec, ScratchSizes};
pub use sampling::{Sampler, SamplingParams};
pub use scheduler::{FinishReason, Request, RequestParams, Schedule, ScheduledSeq, Scheduler, SchedulerConfig, TokenEvent};
pub use step::{ForwardBatch, SeqStep, StepBuffers, StepPlan};
