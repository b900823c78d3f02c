//! The op table: which launcher runs each L1 op. Modules (L2–L4) get their kernels only
//! through an `OpTable`, so one model can run with the baseline table and with a crate's
//! candidate table in the same process (A/B, in situ).

use crate::ffi::{self, Launcher};
use fk_runtime::{Error, Result};

/// Every L1 op with a baseline kernel. The name is the kernel file stem and the contract
/// header name (`kernels/<name>.cu`, `include/fk/ops/<name>.h`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OpId {
    RmsNorm,
    FusedAddRmsNorm,
    SiluAndMul,
    GeluAndMul,
    RotaryEmbedding,
    Embedding,
    ReshapeAndCache,
    PagedAttentionDecode,
    SkinnyGemm,
    PrefillAttention,
    Sample,
    TopkSoftmax,
    MoeAlignBlockSize,
    FusedMoe,
    MoeSum,
    LayerNorm,
    Gelu,
    PatchEmbedIm2col,
    Rope2d,
    InterpolatePosEmbed,
    Pool,
    GatherRows,
    CausalConv1d,
    CausalConv1dUpdate,
    SelectiveScan,
    SelectiveStateUpdate,
    RmsNormGated,
    SsdChunkScan,
    MambaDecodeLayers,
}

impl OpId {
    pub const ALL: [OpId; 29] = [
        OpId::RmsNorm,
        OpId::FusedAddRmsNorm,
        OpId::SiluAndMul,
        OpId::GeluAndMul,
        OpId::RotaryEmbedding,
        OpId::Embedding,
        OpId::ReshapeAndCache,
        OpId::PagedAttentionDecode,
        OpId::SkinnyGemm,
        OpId::PrefillAttention,
        OpId::Sample,
        OpId::TopkSoftmax,
        OpId::MoeAlignBlockSize,
        OpId::FusedMoe,
        OpId::MoeSum,
        OpId::LayerNorm,
        OpId::Gelu,
        OpId::PatchEmbedIm2col,
        OpId::Rope2d,
        OpId::InterpolatePosEmbed,
        OpId::Pool,
        OpId::GatherRows,
        OpId::CausalConv1d,
        OpId::CausalConv1dUpdate,
        OpId::SelectiveScan,
        OpId::SelectiveStateUpdate,
        OpId::RmsNormGated,
        OpId::SsdChunkScan,
        OpId::MambaDecodeLayers,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            OpId::RmsNorm => "rms_norm",
            OpId::FusedAddRmsNorm => "fused_add_rms_norm",
            OpId::SiluAndMul => "silu_and_mul",
            OpId::GeluAndMul => "gelu_and_mul",
            OpId::RotaryEmbedding => "rotary_embedding",
            OpId::Embedding => "embedding",
            OpId::ReshapeAndCache => "reshape_and_cache",
            OpId::PagedAttentionDecode => "paged_attention_decode",
            OpId::SkinnyGemm => "skinny_gemm",
            OpId::PrefillAttention => "prefill_attention",
            OpId::Sample => "sample",
            OpId::TopkSoftmax => "topk_softmax",
            OpId::MoeAlignBlockSize => "moe_align_block_size",
            OpId::FusedMoe => "fused_moe",
            OpId::MoeSum => "moe_sum",
            OpId::LayerNorm => "layer_norm",
            OpId::Gelu => "gelu",
            OpId::PatchEmbedIm2col => "patch_embed_im2col",
            OpId::Rope2d => "rope_2d",
            OpId::InterpolatePosEmbed => "interpolate_pos_embed",
            OpId::Pool => "pool",
            OpId::GatherRows => "gather_rows",
            OpId::CausalConv1d => "causal_conv1d",
            OpId::CausalConv1dUpdate => "causal_conv1d_update",
            OpId::SelectiveScan => "selective_scan",
            OpId::SelectiveStateUpdate => "selective_state_update",
            OpId::RmsNormGated => "rms_norm_gated",
            OpId::SsdChunkScan => "ssd_chunk_scan",
            OpId::MambaDecodeLayers => "mamba_decode_layers",
        }
    }

    pub fn from_name(name: &str) -> Option<OpId> {
        OpId::ALL.into_iter().find(|o| o.name() == name)
    }

    fn baseline(self) -> Launcher {
        match self {
            OpId::RmsNorm => ffi::fk_baseline_rms_norm,
            OpId::FusedAddRmsNorm => ffi::fk_baseline_fused_add_rms_norm,
            OpId::SiluAndMul => ffi::fk_baseline_silu_and_mul,
            OpId::GeluAndMul => ffi::fk_baseline_gelu_and_mul,
            OpId::RotaryEmbedding => ffi::fk_baseline_rotary_embedding,
            OpId::Embedding => ffi::fk_baseline_embedding,
            OpId::ReshapeAndCache => ffi::fk_baseline_reshape_and_cache,
            OpId::PagedAttentionDecode => ffi::fk_baseline_paged_attention_decode,
            OpId::SkinnyGemm => ffi::fk_baseline_skinny_gemm,
            OpId::PrefillAttention => ffi::fk_baseline_prefill_attention,
            OpId::Sample => ffi::fk_baseline_sample,
            OpId::TopkSoftmax => ffi::fk_baseline_topk_softmax,
            OpId::MoeAlignBlockSize => ffi::fk_baseline_moe_align_block_size,
            OpId::FusedMoe => ffi::fk_baseline_fused_moe,
            OpId::MoeSum => ffi::fk_baseline_moe_sum,
            OpId::LayerNorm => ffi::fk_baseline_layer_norm,
            OpId::Gelu => ffi::fk_baseline_gelu,
            OpId::PatchEmbedIm2col => ffi::fk_baseline_patch_embed_im2col,
            OpId::Rope2d => ffi::fk_baseline_rope_2d,
            OpId::InterpolatePosEmbed => ffi::fk_baseline_interpolate_pos_embed,
            OpId::Pool => ffi::fk_baseline_pool,
            OpId::GatherRows => ffi::fk_baseline_gather_rows,
            OpId::CausalConv1d => ffi::fk_baseline_causal_conv1d,
            OpId::CausalConv1dUpdate => ffi::fk_baseline_causal_conv1d_update,
            OpId::SelectiveScan => ffi::fk_baseline_selective_scan,
            OpId::SelectiveStateUpdate => ffi::fk_baseline_selective_state_update,
            OpId::RmsNormGated => ffi::fk_baseline_rms_norm_gated,
            OpId::SsdChunkScan => ffi::fk_baseline_ssd_chunk_scan,
            OpId::MambaDecodeLayers => ffi::fk_baseline_mamba_decode_layers,
        }
    }
}

impl std::fmt::Display for OpId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A candidate kernel compiled from an architecture crate's slot (see
/// `fk_runtime::build::CandidateSlot`, which generates the list).
#[derive(Clone, Copy, Debug)]
pub struct Candidate {
    pub op: &'static str,
    pub launcher: Launcher,
    pub source: &'static str,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    launcher: Launcher,
    /// `None` for the baseline, else the candidate's source file.
    candidate: Option<&'static str>,
}

#[derive(Clone, Debug)]
pub struct OpTable {
    name: String,
    entries: [Entry; OpId::ALL.len()],
}

impl OpTable {
    /// Every op runs its baseline kernel.
    pub fn baseline() -> OpTable {
        OpTable {
            name: "baseline".into(),
            entries: OpId::ALL.map(|op| Entry { launcher: op.baseline(), candidate: None }),
        }
    }

    /// The baseline table with `candidates` replacing their ops.
    pub fn with_candidates(name: impl Into<String>, candidates: &[Candidate]) -> Result<OpTable> {
        let mut t = OpTable::baseline();
        t.name = name.into();
        for c in candidates {
            let op = OpId::from_name(c.op).ok_or_else(|| {
                Error::config(format!("candidate {} names unknown op `{}` (known: {:?})", c.source, c.op, OpId::ALL))
            })?;
            t.entries[op as usize] = Entry { launcher: c.launcher, candidate: Some(c.source) };
        }
        Ok(t)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn launcher(&self, op: OpId) -> Launcher {
        self.entries[op as usize].launcher
    }

    pub fn is_replaced(&self, op: OpId) -> bool {
        self.entries[op as usize].candidate.is_some()
    }

    /// Source file of the candidate for `op`, if replaced.
    pub fn candidate_source(&self, op: OpId) -> Option<&'static str> {
        self.entries[op as usize].candidate
    }

    pub fn replaced(&self) -> Vec<OpId> {
        OpId::ALL.into_iter().filter(|&op| self.is_replaced(op)).collect()
    }
}

/// An architecture crate's `kernels` module: its op tables built from the candidate slot that
/// `build.rs` compiled (`fk_runtime::build::CandidateSlot`, which writes
/// `OUT_DIR/candidates.rs`). Expands to `CANDIDATES`, `SLOT_DIR`, `baseline_table()` and
/// `candidate_table()`; use it as the whole body of `src/kernels.rs`.
#[macro_export]
macro_rules! candidate_slot {
    ($crate_name:literal) => {
        mod slot {
            include!(concat!(env!("OUT_DIR"), "/candidates.rs"));
        }

        pub use slot::{CANDIDATES, SLOT_DIR};

        /// Every op on its baseline kernel.
        pub fn baseline_table() -> $crate::OpTable {
            $crate::OpTable::baseline()
        }

        /// The baseline with this crate's candidates in place (equal to the baseline for an
        /// empty slot).
        pub fn candidate_table() -> $crate::OpTable {
            // The generated list names only ops the build helper checked against the
            // baseline's op list, so this cannot fail at run time.
            $crate::OpTable::with_candidates(concat!($crate_name, " candidates"), CANDIDATES).expect("build.rs validated the candidate op names")
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_kernel_files() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/kernels");
        for op in OpId::ALL {
            assert_eq!(OpId::from_name(op.name()), Some(op));
            assert!(std::path::Path::new(dir).join(format!("{}.cu", op.name())).is_file(), "{op}: no kernels/{op}.cu");
            let header = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("include/fk/ops/{op}.h"));
            assert!(header.is_file(), "{op}: no contract header {}", header.display());
        }
        let files = std::fs::read_dir(dir).unwrap().filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "cu")).count();
        assert_eq!(files, OpId::ALL.len(), "every kernels/*.cu must be an OpId");
    }

    #[test]
    fn candidates_replace_only_their_op() {
        let c = Candidate { op: "rms_norm", launcher: ffi::fk_baseline_silu_and_mul, source: "kernels/rms_norm.cu" };
        let t = OpTable::with_candidates("test", &[c]).unwrap();
        assert!(t.is_replaced(OpId::RmsNorm));
        assert_eq!(t.replaced(), vec![OpId::RmsNorm]);
        assert_eq!(t.candidate_source(OpId::RmsNorm), Some("kernels/rms_norm.cu"));
        assert!(!t.is_replaced(OpId::SiluAndMul));
        let bad = Candidate { op: "nope", ..c };
        assert!(OpTable::with_candidates("test", &[bad]).is_err());
    }
}

