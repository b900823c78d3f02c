//! Shape families. Tests use many shapes, including awkward ones (hidden 16, 80, 100, 2880;
//! strided rows; rows 1 … 16384); benchmarks use the shapes of a real checkpoint config.

use crate::table::OpId;
use fk_runtime::DType;

#[derive(Clone, Debug)]
pub enum CaseParams {
    /// rms_norm (`fused` = false) or fused_add_rms_norm. `scale` is the input std: 1e-3 makes
    /// mean(x²) comparable to eps, so a kernel that drops eps fails. `pad` > 0 makes the
    /// rows a strided view (row stride hidden + pad).
    Norm { rows: usize, hidden: usize, eps: f32, scale: f32, pad: usize },
    /// silu_and_mul / gelu_and_mul with input [rows, 2d].
    Gated { rows: usize, d: usize, tanh: bool, scale: f32 },
    /// rotary_embedding. `fused_qkv`: q and k are strided views into one [T, (H+2K)·D] buffer
    /// (as after qkv_proj) and the v part must come back untouched.
    Rotary { tokens: usize, heads: usize, kv_heads: usize, head_size: usize, rot_dim: usize, neox: bool, max_position: usize, fused_qkv: bool },
    /// embedding with ids drawn from [0, vocab).
    Embedding { tokens: usize, vocab: usize, hidden: usize, ids_i64: bool },
    /// reshape_and_cache of `tokens` rows into distinct random slots (1 in 8 is padding, -1);
    /// `fused`: key/value are column blocks of one [tokens, 2·kv_heads·head_dim] buffer.
    ReshapeAndCache { tokens: usize, kv_heads: usize, head_dim: usize, block_size: usize, num_blocks: usize, fused: bool },
    /// paged_attention_decode of `seqs` sequences over shuffled physical blocks; lengths are
    /// random in 1..=max_len (one at max_len), or all max_len with `uniform` (benchmarks).
    /// `split_tokens` 0: chosen by `DecodeSplits::for_device` for the device it runs on.
    PagedDecode { seqs: usize, heads: usize, kv_heads: usize, head_dim: usize, block_size: usize, max_len: usize, split_tokens: usize, uniform: bool },
    /// skinny_gemm: x [rows, k] (row stride k + x_pad) times weight [n, k]ᵀ, optional bias.
    /// `stream`: ask for the streaming kernel (`WeightSource::StreamedParameter`).
    SkinnyGemm { rows: usize, n: usize, k: usize, bias: bool, x_pad: usize, stream: bool },
    /// prefill_attention of sequences with `lens_q[b]` queries over `lens_k[b]` keys from `kv`;
    /// `portable` forces the portable (mma.sync) kernel where a faster one would be chosen.
    Prefill {
        lens_q: Vec<usize>,
        lens_k: Vec<usize>,
        heads: usize,
        kv_heads: usize,
        head_dim: usize,
        causal: bool,
        window_left: Option<usize>,
        kv: PrefillSource,
        portable: bool,
    },
    /// sample over `[batch, vocab]` logits (row stride vocab + pad). `mixed`: every row draws
    /// its own mode (greedy, temperature, top-k, top-p, both) and parameters, and some rows
    /// get tied maxima or -inf entries; otherwise every row uses (temperature, top_k, top_p).
    Sample { batch: usize, vocab: usize, pad: usize, mixed: bool, temperature: f32, top_k: i32, top_p: f32 },
    /// topk_softmax, moe_align_block_size, fused_moe, moe_sum (see harness/moe.rs).
    Moe(super::moe::MoeCase),
    /// layer_norm, gelu, patch_embed_im2col, rope_2d, interpolate_pos_embed, pool,
    /// gather_rows (see harness/encoder.rs).
    Encoder(super::encoder::EncoderCase),
    /// causal_conv1d(_update), selective_scan, selective_state_update, rms_norm_gated (see
    /// harness/ssm.rs).
    Ssm(super::ssm::SsmCase),
    /// mamba_decode_layers (see harness/mamba_decode.rs).
    MambaDecode(super::mamba_decode::MambaDecodeCase),
}

/// Where a prefill case's keys/values live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrefillSource {
    /// Separate contiguous key/value tensors.
    Contiguous,
    /// q, k, v are column blocks (strided views) of one `[T, (heads + 2 kv_heads) head_dim]`
    /// buffer, as the fused qkv_proj writes them (needs lens_q == lens_k).
    FusedQkv,
    /// The NHD paged cache with this block size, blocks shuffled.
    Paged(usize),
}

#[derive(Clone, Debug)]
pub struct Case {
    pub op: OpId,
    pub dtype: DType,
    pub params: CaseParams,
}

impl Case {
    /// The shape label used in test names, bench tables and to match PyTorch peer rows.
    pub fn shape_label(&self) -> String {
        match &self.params {
            CaseParams::Norm { rows, hidden, pad, .. } if *pad > 0 => format!("[{rows}, {hidden}] stride {}", hidden + pad),
            CaseParams::Norm { rows, hidden, .. } => format!("[{rows}, {hidden}]"),
            CaseParams::Gated { rows, d, .. } => format!("[{rows}, {}]", 2 * d),
            CaseParams::Rotary { tokens, heads, kv_heads, head_size, rot_dim, .. } if rot_dim != head_size => {
                format!("[{tokens}, {heads}, {kv_heads}, {head_size}] rot {rot_dim}")
            }
            CaseParams::Rotary { tokens, heads, kv_heads, head_size, .. } => format!("[{tokens}, {heads}, {kv_heads}, {head_size}]"),
            CaseParams::Embedding { tokens, vocab, hidden, .. } => format!("[{tokens}, {vocab}, {hidden}]"),
            CaseParams::ReshapeAndCache { tokens, kv_heads, head_dim, block_size, num_blocks, .. } => {
                format!("[{tokens}, {kv_heads}, {head_dim}] cache [{num_blocks}, {block_size}]")
            }
            CaseParams::PagedDecode { seqs, heads, kv_heads, head_dim, max_len, .. } => {
                format!("[{seqs}, {heads}, {kv_heads}, {head_dim}] ctx {max_len}")
            }
            CaseParams::SkinnyGemm { rows, n, k, x_pad, .. } if *x_pad > 0 => format!("[{rows}, {k}] x [{n}, {k}] stride {}", k + x_pad),
            CaseParams::SkinnyGemm { rows, n, k, .. } => format!("[{rows}, {k}] x [{n}, {k}]"),
            // Uniform batches (benchmarks): "[batch, seqlen, heads, kv_heads, head_dim] causal".
            CaseParams::Prefill { lens_q, lens_k, heads, kv_heads, head_dim, causal, .. } => {
                let mask = if *causal { "causal" } else { "full" };
                if lens_q == lens_k && lens_q.windows(2).all(|w| w[0] == w[1]) && !lens_q.is_empty() {
                    format!("[{}, {}, {heads}, {kv_heads}, {head_dim}] {mask}", lens_q.len(), lens_q[0])
                } else if lens_q == lens_k {
                    format!("lens {lens_q:?} [{heads}, {kv_heads}, {head_dim}] {mask}")
                } else {
                    format!("q {lens_q:?} k {lens_k:?} [{heads}, {kv_heads}, {head_dim}] {mask}")
                }
            }
            CaseParams::Sample { batch, vocab, pad, mixed, temperature, top_k, top_p } => {
                let stride = if *pad > 0 { format!(" stride {}", vocab + pad) } else { String::new() };
                let mode = if *mixed {
                    "mixed".to_string()
                } else if *temperature <= 0.0 || *top_k == 1 {
                    "greedy".to_string()
                } else {
                    let mut m = format!("t{temperature}");
                    if *top_k > 0 {
                        m += &format!(" k{top_k}");
                    }
                    if *top_p < 1.0 {
                        m += &format!(" p{top_p}");
                    }
                    m
                };
                format!("[{batch}, {vocab}]{stride} {mode}")
            }
            CaseParams::Moe(c) => c.label(self.op),
            CaseParams::Encoder(c) => c.label(),
            CaseParams::Ssm(c) => c.label(self.op),
            CaseParams::MambaDecode(c) => c.label(),
        }
    }

    /// Name of the variant within the op (part of test names and peer keys).
    pub fn variant(&self) -> String {
        match &self.params {
            CaseParams::Norm { scale, eps, .. } => format!("scale {scale:e} eps {eps:e}"),
            CaseParams::Gated { tanh: true, .. } => "tanh".into(),
            CaseParams::Gated { .. } => String::new(),
            CaseParams::Rotary { neox, fused_qkv, .. } => {
                format!("{}{}", if *neox { "neox" } else { "gptj" }, if *fused_qkv { " fused-qkv" } else { "" })
            }
            CaseParams::Embedding { ids_i64, .. } => if *ids_i64 { "ids i64" } else { "ids i32" }.into(),
            CaseParams::ReshapeAndCache { fused, .. } => if *fused { "fused-kv" } else { "" }.into(),
            CaseParams::PagedDecode { block_size, split_tokens: 0, .. } => format!("block {block_size} split auto"),
            CaseParams::PagedDecode { block_size, split_tokens, .. } => format!("block {block_size} split {split_tokens}"),
            CaseParams::SkinnyGemm { bias, stream, .. } => [(*bias, "bias"), (*stream, "streamed")].iter().filter(|(on, _)| *on).map(|(_, s)| *s).collect::<Vec<_>>().join(" "),
            CaseParams::Prefill { window_left, kv, portable, .. } => {
                let mut v = Vec::new();
                if let Some(w) = window_left {
                    v.push(format!("window {w}"));
                }
                match kv {
                    PrefillSource::Contiguous => {}
                    PrefillSource::FusedQkv => v.push("fused-qkv".into()),
                    PrefillSource::Paged(bs) => v.push(format!("paged {bs}")),
                }
                if *portable {
                    v.push("portable kernel".into());
                }
                v.join(" ")
            }
            CaseParams::Sample { .. } => String::new(),
            CaseParams::Moe(c) => c.variant(self.op),
            CaseParams::Encoder(c) => c.variant(),
            CaseParams::Ssm(c) => c.variant(),
            CaseParams::MambaDecode(c) => c.variant(),
        }
    }

    pub fn name(&self) -> String {
        let v = self.variant();
        if v.is_empty() {
            format!("{}/{}/{}", self.op, self.dtype, self.shape_label())
        } else {
            format!("{}/{}/{} {v}", self.op, self.dtype, self.shape_label())
        }
    }
}

impl OpId {
    /// The dtypes the op's tests and benches use (prefill attention has no f32 kernel).
    pub fn dtypes(self) -> &'static [DType] {
        match self {
            // mamba_decode_layers: 16-bit activations only (the per-op step serves f32).
            OpId::PrefillAttention | OpId::FusedMoe | OpId::MambaDecodeLayers => &[DType::F16, DType::BF16],
            // Expert ids in, ids out: no float dtype.
            OpId::MoeAlignBlockSize => &[DType::I32],
            _ => &DType::FLOATS,
        }
    }
}

/// Correctness shapes for prefill_attention (f16/bf16): varlen batches with odd lengths,
/// causal and not, GQA 4:1, MQA, MHA, head_dim 64/72/80/128/256, windows, strided q/k/v views of a
/// fused qkv buffer, paged caches with shuffled blocks (chunked prefill: len_k > len_q), rows
/// with no visible key (len_q > len_k), and the portable kernel forced.
fn prefill_test_cases(dtype: DType) -> Vec<Case> {
    use PrefillSource::*;
    let odd = vec![1, 7, 100, 257, 1000];
    // (lens_q, lens_k, heads, kv_heads, head_dim, causal, window, source, portable)
    #[allow(clippy::type_complexity)]
    let specs: Vec<(Vec<usize>, Vec<usize>, usize, usize, usize, bool, Option<usize>, PrefillSource, bool)> = vec![
        (odd.clone(), odd.clone(), 32, 8, 128, true, None, Contiguous, false),
        (odd.clone(), odd.clone(), 8, 2, 64, false, None, Contiguous, false),
        (vec![129, 300], vec![129, 300], 12, 1, 128, true, Some(100), Contiguous, false),
        (vec![3, 130, 513], vec![3, 130, 513], 4, 4, 64, true, None, FusedQkv, false),
        (vec![5, 300], vec![5, 300], 32, 8, 128, true, None, FusedQkv, false),
        (vec![200, 77], vec![200, 77], 8, 2, 128, false, Some(37), Contiguous, false),
        (vec![50, 129, 1], vec![300, 129, 700], 8, 2, 128, true, None, Paged(16), false),
        (vec![256, 5], vec![1000, 260], 8, 1, 64, true, Some(64), Paged(32), false),
        (vec![1, 100, 257], vec![1, 100, 257], 4, 2, 256, true, None, Contiguous, false),
        (vec![40], vec![200], 4, 4, 256, true, Some(50), Paged(16), false),
        (vec![100, 3], vec![30, 3], 4, 2, 128, true, None, Contiguous, false),
        (vec![7, 300], vec![7, 300], 8, 2, 128, true, None, FusedQkv, true),
        (vec![33, 64], vec![70, 64], 4, 2, 64, true, Some(20), Paged(16), true),
        // Encoder head dims in zero-padded 128-wide tiles: SigLIP so400m (16 x 72, full), ViT-H
        // (16 x 80, full, fused qkv), and 80 causal over a paged cache.
        (vec![729, 5, 100], vec![729, 5, 100], 16, 16, 72, false, None, Contiguous, false),
        (vec![257, 1, 64], vec![257, 1, 64], 16, 16, 80, false, None, FusedQkv, false),
        (vec![40, 7], vec![90, 7], 8, 2, 80, true, None, Paged(16), false),
        // MiniLM / BERT-small head_dim 32 (12 heads, full, fused qkv), same 128-wide tiles.
        (vec![128, 9, 60], vec![128, 9, 60], 12, 12, 32, false, None, FusedQkv, false),
    ];
    specs
        .into_iter()
        .map(|(lens_q, lens_k, heads, kv_heads, head_dim, causal, window_left, kv, portable)| Case {
            op: OpId::PrefillAttention,
            dtype,
            params: CaseParams::Prefill { lens_q, lens_k, heads, kv_heads, head_dim, causal, window_left, kv, portable },
        })
        .collect()
}

/// Prefill attention of `batch` sequences of `seqlen` tokens (queries = keys, contiguous
/// source), for benchmarks.
pub fn prefill_bench_case(batch: usize, seqlen: usize, heads: usize, kv_heads: usize, head_dim: usize, causal: bool, dtype: DType) -> Case {
    Case {
        op: OpId::PrefillAttention,
        dtype,
        params: CaseParams::Prefill {
            lens_q: vec![seqlen; batch],
            lens_k: vec![seqlen; batch],
            heads,
            kv_heads,
            head_dim,
            causal,
            window_left: None,
            kv: PrefillSource::Contiguous,
            portable: false,
        },
    }
}

/// Prefill attention at a model's heads, batch 1: every (seqlen, causal) pair.
pub fn llm_prefill_bench_cases(s: &LlmShapes, seqlens: &[usize], causal: &[bool], dtype: DType) -> Vec<Case> {
    causal.iter().flat_map(|&c| seqlens.iter().map(move |&l| prefill_bench_case(1, l, s.heads, s.kv_heads, s.head_dim, c, dtype))).collect()
}

/// Correctness shapes for every op × every dtype it supports (f32, f16, bf16).
pub fn default_test_cases() -> Vec<Case> {
    let mut cases = super::moe::align_test_cases();
    for dtype in [DType::F16, DType::BF16] {
        cases.extend(prefill_test_cases(dtype));
        cases.extend(super::mamba_decode::mamba_decode_test_cases(dtype));
    }
    for dtype in DType::FLOATS {
        cases.extend(super::moe::moe_test_cases(dtype));
        cases.extend(super::encoder::encoder_test_cases(dtype));
        cases.extend(super::ssm::ssm_test_cases(dtype));
        // (rows, hidden, pad): awkward hiddens (16, 80: warp-per-row; 100: not a multiple of
        // the 16-byte vector → scalar path; 2880: gpt-oss), rows up to 16384, strided rows.
        let norm = [(1, 4096, 0), (7, 16, 0), (33, 80, 0), (130, 100, 0), (257, 2880, 0), (3, 8192, 0), (64, 4096, 64), (16384, 4096, 0)];
        for (i, &(rows, hidden, pad)) in norm.iter().enumerate() {
            // Alternate unit-scale and tiny inputs (where eps dominates) and two eps values.
            let scale = if i % 2 == 0 { 1.0 } else { 1e-3 };
            let eps = if i % 3 == 0 { 1e-6 } else { 1e-5 };
            for op in [OpId::RmsNorm, OpId::FusedAddRmsNorm] {
                cases.push(Case { op, dtype, params: CaseParams::Norm { rows, hidden, eps, scale, pad } });
            }
        }
        let gated = [(1, 14336), (7, 16), (33, 80), (130, 100), (257, 2880), (2048, 4096), (16384, 256)];
        for &(rows, d) in &gated {
            cases.push(Case { op: OpId::SiluAndMul, dtype, params: CaseParams::Gated { rows, d, tanh: false, scale: 2.0 } });
            for tanh in [false, true] {
                cases.push(Case { op: OpId::GeluAndMul, dtype, params: CaseParams::Gated { rows, d, tanh, scale: 2.0 } });
            }
        }
        // (tokens, heads, kv_heads, head_size, rot_dim, neox, fused_qkv)
        let rotary = [
            (1, 32, 8, 128, 128, true, true),
            (7, 4, 1, 64, 64, false, false),
            (33, 8, 2, 80, 80, true, false),
            (130, 5, 5, 128, 64, true, true),
            (257, 12, 4, 96, 96, false, true),
            (2048, 32, 8, 128, 128, true, true),
            (9, 3, 1, 100, 50, false, false),
        ];
        for &(tokens, heads, kv_heads, head_size, rot_dim, neox, fused_qkv) in &rotary {
            cases.push(Case {
                op: OpId::RotaryEmbedding,
                dtype,
                params: CaseParams::Rotary { tokens, heads, kv_heads, head_size, rot_dim, neox, max_position: 4096, fused_qkv },
            });
        }
        let emb = [(1, 32000, 4096, true), (7, 1000, 16, false), (33, 5000, 80, true), (130, 300, 100, false), (2048, 32000, 2880, false)];
        for &(tokens, vocab, hidden, ids_i64) in &emb {
            cases.push(Case { op: OpId::Embedding, dtype, params: CaseParams::Embedding { tokens, vocab, hidden, ids_i64 } });
        }
        // (tokens, kv_heads, head_dim, block_size, num_blocks, fused)
        let cache = [(1, 8, 128, 16, 64, true), (7, 1, 64, 16, 8, false), (33, 2, 80, 16, 8, false), (130, 4, 100, 8, 40, true), (257, 8, 128, 32, 16, true), (2048, 8, 128, 16, 200, false)];
        for &(tokens, kv_heads, head_dim, block_size, num_blocks, fused) in &cache {
            cases.push(Case {
                op: OpId::ReshapeAndCache,
                dtype,
                params: CaseParams::ReshapeAndCache { tokens, kv_heads, head_dim, block_size, num_blocks, fused },
            });
        }
        // (seqs, heads, kv_heads, head_dim, block_size, max_len, split_tokens): multi- and
        // single-split, MQA, MHA, head_dim 64/128/256, a group of 3 (a partly filled chunk).
        let decode = [
            (1, 32, 8, 128, 16, 1000, 512),
            (7, 4, 1, 64, 16, 37, 512),
            (3, 8, 8, 256, 32, 300, 64),
            (33, 32, 8, 128, 16, 129, 16),
            (5, 12, 4, 64, 8, 2000, 256),
            (64, 32, 8, 128, 16, 512, 512),
            // auto splits (many short ones at batch 2), a group of 8, a group of 16 (2 CTAs).
            (2, 32, 8, 128, 16, 5000, 0),
            (3, 64, 8, 128, 16, 700, 128),
            (4, 16, 1, 64, 16, 333, 0),
        ];
        for &(seqs, heads, kv_heads, head_dim, block_size, max_len, split_tokens) in &decode {
            cases.push(Case {
                op: OpId::PagedAttentionDecode,
                dtype,
                params: CaseParams::PagedDecode { seqs, heads, kv_heads, head_dim, block_size, max_len, split_tokens, uniform: false },
            });
        }
        // (rows, n, k, bias, x_pad): every row bucket (1, 2, 4, 8), n not a multiple of the
        // CTA's rows, k not a multiple of the unrolled chunk, strided x (a qkv view). One row
        // of a weight >= 4 MB asked to stream takes the streaming kernel on sm_90a: 1, 2, 4 and
        // 8 rows per stage (k 14336, 8192, 4096, 2560 in bf16), rows not a multiple of the grid
        // or of the stage, a bias, strided x; k 14336 in f32 is past its register bound
        // (fallback); a streamed request too small for it (2 MB).
        let skinny = [
            (1, 4096, 4096, false, 0, false),
            (1, 4096, 4096, false, 0, true),
            (2, 17, 14336, true, 0, false),
            (3, 100, 64, true, 0, false),
            (5, 1001, 520, false, 0, false),
            (8, 6144, 4096, false, 8, false),
            (7, 333, 2048, true, 16, false),
            (1, 192, 5120, false, 0, true),
            (1, 2048, 2560, false, 0, false),
            (1, 10243, 2560, true, 0, true),
            (1, 1500, 8192, true, 0, true),
            (1, 4097, 14336, false, 8, true),
        ];
        for &(rows, n, k, bias, x_pad, stream) in &skinny {
            cases.push(Case { op: OpId::SkinnyGemm, dtype, params: CaseParams::SkinnyGemm { rows, n, k, bias, x_pad, stream } });
        }
        // (batch, vocab, pad): Llama 3 / Qwen 2 / Gemma 3 vocabularies, strided and odd rows
        // (unaligned: scalar loads), tiny vocabularies (empty CTAs in the cluster), batch 1024.
        let sample = [(1, 128256, 0), (7, 1000, 24), (33, 32000, 0), (130, 50, 0), (3, 262144, 0), (1024, 4096, 0), (5, 37, 3), (64, 151936, 0)];
        for &(batch, vocab, pad) in &sample {
            cases.push(Case {
                op: OpId::Sample,
                dtype,
                params: CaseParams::Sample { batch, vocab, pad, mixed: true, temperature: 1.0, top_k: 0, top_p: 1.0 },
            });
        }
    }
    cases
}

/// The linear layers of a decoder-only LLM (fused qkv, o, fused gate_up, down, lm_head) at
/// decode batch sizes `rows` (each <= the skinny_gemm limit).
pub fn llm_linear_bench_cases(s: &LlmShapes, rows: &[usize], dtype: DType) -> Vec<Case> {
    let (h, i, q, kv) = (s.hidden, s.intermediate, s.heads * s.head_dim, s.kv_heads * s.head_dim);
    let mut cases = Vec::new();
    for &r in rows {
        for (n, k) in [(q + 2 * kv, h), (h, q), (2 * i, h), (h, i), (s.vocab, h)] {
            cases.push(Case { op: OpId::SkinnyGemm, dtype, params: CaseParams::SkinnyGemm { rows: r, n, k, bias: false, x_pad: 0, stream: false } });
        }
    }
    cases
}

/// Sampling at a model's vocabulary for each batch: greedy, temperature only, and the common
/// temperature 0.7 / top-k 50 / top-p 0.9 (f32 logits, as vLLM samples them).
pub fn llm_sample_bench_cases(s: &LlmShapes, batches: &[usize]) -> Vec<Case> {
    let modes = [(0.0, 0, 1.0), (0.7, 0, 1.0), (0.7, 50, 0.9), (0.7, 0, 0.9)];
    let mut cases = Vec::new();
    for &batch in batches {
        for &(temperature, top_k, top_p) in &modes {
            cases.push(Case {
                op: OpId::Sample,
                dtype: DType::F32,
                params: CaseParams::Sample { batch, vocab: s.vocab, pad: 0, mixed: false, temperature, top_k, top_p },
            });
        }
    }
    cases
}

/// The geometry of a decoder-only LLM that the L1 benches need (from its config.json).
#[derive(Clone, Debug)]
pub struct LlmShapes {
    pub hidden: usize,
    pub intermediate: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub vocab: usize,
    pub max_position: usize,
    pub eps: f32,
}

impl LlmShapes {
    /// meta-llama/Llama-3.1-8B-Instruct (config.json: hidden_size 4096, intermediate_size
    /// 14336, 32 heads, 8 kv heads, vocab 128256, max_position_embeddings 131072, rms 1e-5).
    pub const LLAMA_3_1_8B: LlmShapes = LlmShapes {
        hidden: 4096,
        intermediate: 14336,
        heads: 32,
        kv_heads: 8,
        head_dim: 128,
        vocab: 128256,
        max_position: 131072,
        eps: 1e-5,
    };
}

/// Paged decode attention at a model's shapes: (batch, context) pairs, block 16, splits
/// chosen for the device (`DecodeSplits::for_device`).
pub fn llm_decode_bench_cases(s: &LlmShapes, batch_ctx: &[(usize, usize)], dtype: DType) -> Vec<Case> {
    batch_ctx
        .iter()
        .map(|&(seqs, ctx)| Case {
            op: OpId::PagedAttentionDecode,
            dtype,
            params: CaseParams::PagedDecode {
                seqs,
                heads: s.heads,
                kv_heads: s.kv_heads,
                head_dim: s.head_dim,
                block_size: 16,
                max_len: ctx,
                split_tokens: 0,
                uniform: true,
            },
        })
        .collect()
}

/// L1 benchmark cases at a model's shapes for each token count (bf16, as served).
pub fn llm_bench_cases(s: &LlmShapes, tokens: &[usize], dtype: DType) -> Vec<Case> {
    let mut cases = Vec::new();
    for &t in tokens {
        for op in [OpId::RmsNorm, OpId::FusedAddRmsNorm] {
            cases.push(Case { op, dtype, params: CaseParams::Norm { rows: t, hidden: s.hidden, eps: s.eps, scale: 1.0, pad: 0 } });
        }
        // silu_and_mul at the MLP width, and at [T, 2·hidden] (the 4096-wide case the
        // bandwidth acceptance names).
        for d in [s.intermediate, s.hidden] {
            cases.push(Case { op: OpId::SiluAndMul, dtype, params: CaseParams::Gated { rows: t, d, tanh: false, scale: 2.0 } });
        }
        cases.push(Case {
            op: OpId::GeluAndMul,
            dtype,
            params: CaseParams::Gated { rows: t, d: s.intermediate, tanh: true, scale: 2.0 },
        });
        cases.push(Case {
            op: OpId::RotaryEmbedding,
            dtype,
            params: CaseParams::Rotary {
                tokens: t,
                heads: s.heads,
                kv_heads: s.kv_heads,
                head_size: s.head_dim,
                rot_dim: s.head_dim,
                neox: true,
                max_position: s.max_position,
                fused_qkv: true,
            },
        });
        cases.push(Case { op: OpId::Embedding, dtype, params: CaseParams::Embedding { tokens: t, vocab: s.vocab, hidden: s.hidden, ids_i64: false } });
        // New K/V of every token into a cache with room for twice as many (block 16).
        cases.push(Case {
            op: OpId::ReshapeAndCache,
            dtype,
            params: CaseParams::ReshapeAndCache {
                tokens: t,
                kv_heads: s.kv_heads,
                head_dim: s.head_dim,
                block_size: 16,
                num_blocks: 2 * t.div_ceil(16),
                fused: true,
            },
        });
    }
    cases
}

/// Bidirectional (encoder) attention at a model's heads: one case per `(batch, seqlen)`, none
/// when the baseline kernel has no instantiation for `head_dim` (SigLIP-2 so400m's 72 waits
/// for its kernel; the caller says so).
pub fn encoder_attention_bench_cases(heads: usize, head_dim: usize, batch_seqs: &[(usize, usize)], dtype: DType) -> Vec<Case> {
    if !crate::ops::PREFILL_HEAD_DIMS.contains(&head_dim) {
        return vec![];
    }
    batch_seqs.iter().map(|&(b, s)| prefill_bench_case(b, s, heads, heads, head_dim, false, dtype)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_op_has_five_shapes_per_dtype() {
        let cases = default_test_cases();
        for op in OpId::ALL {
            for &dtype in op.dtypes() {
                let shapes: std::collections::BTreeSet<String> =
                    cases.iter().filter(|c| c.op == op && c.dtype == dtype).map(|c| c.shape_label()).collect();
                assert!(shapes.len() >= 5, "{op} {dtype}: only {} shapes", shapes.len());
            }
        }
        let names: std::collections::BTreeSet<String> = cases.iter().map(|c| c.name()).collect();
        assert_eq!(names.len(), cases.len(), "test names must be unique");
    }
}
