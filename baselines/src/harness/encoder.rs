//! The encoder ops in the harness (issue 6: BERT-family text encoders, ViT-family image
//! encoders): case shapes ([`EncoderCase`]) with awkward sizes for the tests and real
//! checkpoint shapes for the benches. Device instances are in `encoder_inst.rs`; the
//! composed paths (patch embedding with its GEMM, padded attention) and bad input are in
//! `encoder_trials.rs`.

use super::cases::{Case, CaseParams};
use crate::ops::{GeluMode, Pooling, PosEmbedResize};
use crate::table::OpId;
use fk_runtime::DType;

/// Mask dtype of a pool case (`None`: no mask, every token real).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MaskKind {
    None,
    I32,
    I64,
}

#[derive(Clone, Debug)]
pub enum EncoderCase {
    /// layer_norm of `[rows, hidden]` (inputs with mean 3, std 2: a one-pass E[x²] − mean²
    /// variance would lose digits). `pad` > 0: input and out are strided views (row stride
    /// hidden + pad); `fused`: residual add first; `in_place`: out is the input.
    LayerNorm { rows: usize, hidden: usize, bias: bool, fused: bool, pad: usize, in_place: bool },
    /// gelu over `n` elements; `offset` 1 shifts both tensors by one element (scalar path).
    Gelu { n: usize, mode: GeluMode, offset: usize, in_place: bool },
    /// patch_embed_im2col of NCHW pixels `[batch, channels, height, width]`; `f32_pixels`:
    /// the pixels stay f32 (as an image encoder uploads them) and the op rounds to the dtype.
    Im2col { batch: usize, channels: usize, height: usize, width: usize, patch: usize, f32_pixels: bool },
    /// rope_2d over `batch` images of `prefix` + grid_h·grid_w tokens; `fused_qkv`: q and k
    /// are column blocks of one qkv buffer (the v block must come back untouched).
    Rope2d { batch: usize, grid_h: usize, grid_w: usize, prefix: usize, heads: usize, kv_heads: usize, head_dim: usize, fused_qkv: bool },
    /// interpolate_pos_embed of a `[in_h·in_w, channels]` grid to out_h × out_w.
    Interp { channels: usize, in_h: usize, in_w: usize, out_h: usize, out_w: usize, mode: PosEmbedResize },
    /// pool of `[batch, seq, hidden]` with random real lengths (one sequence all padding, one full).
    Pool { batch: usize, seq: usize, hidden: usize, mode: Pooling, normalize: bool, mask: MaskKind },
    /// gather_rows of `rows` rows from `[in_rows, cols]`; about 1 in 4 indices is -1 (padding).
    GatherRows { in_rows: usize, rows: usize, cols: usize },
}

impl EncoderCase {
    pub(super) fn label(&self) -> String {
        match *self {
            EncoderCase::LayerNorm { rows, hidden, pad, .. } if pad > 0 => format!("[{rows}, {hidden}] stride {}", hidden + pad),
            EncoderCase::LayerNorm { rows, hidden, .. } => format!("[{rows}, {hidden}]"),
            EncoderCase::Gelu { n, .. } => format!("[{n}]"),
            EncoderCase::Im2col { batch, channels, height, width, patch, f32_pixels } => {
                format!("[{batch}, {channels}, {height}, {width}] p{patch}{}", if f32_pixels { " from f32" } else { "" })
            }
            EncoderCase::Rope2d { batch, grid_h, grid_w, prefix, heads, kv_heads, head_dim, .. } => {
                format!("[{batch}, {prefix}+{grid_h}x{grid_w}, {heads}, {kv_heads}, {head_dim}]")
            }
            EncoderCase::Interp { channels, in_h, in_w, out_h, out_w, .. } => format!("[{in_h}x{in_w} -> {out_h}x{out_w}, {channels}]"),
            EncoderCase::Pool { batch, seq, hidden, .. } => format!("[{batch}, {seq}, {hidden}]"),
            EncoderCase::GatherRows { in_rows, rows, cols } => format!("[{in_rows}, {cols}] -> {rows}"),
        }
    }

    pub(super) fn variant(&self) -> String {
        let mut v: Vec<String> = Vec::new();
        match *self {
            EncoderCase::LayerNorm { bias, fused, in_place, .. } => {
                v.push(if bias { "bias" } else { "no-bias" }.into());
                if fused {
                    v.push("fused-add".into());
                }
                if in_place {
                    v.push("in-place".into());
                }
            }
            EncoderCase::Gelu { mode, offset, in_place, .. } => {
                v.push(format!("{mode:?}").to_lowercase());
                if offset > 0 {
                    v.push("unaligned".into());
                }
                if in_place {
                    v.push("in-place".into());
                }
            }
            EncoderCase::Rope2d { fused_qkv: true, .. } => v.push("fused-qkv".into()),
            EncoderCase::Interp { mode, .. } => v.push(if mode == PosEmbedResize::Bicubic { "bicubic" } else { "bilinear-aa" }.into()),
            EncoderCase::Pool { mode, normalize, mask, .. } => {
                v.push(format!("{mode:?}").to_lowercase());
                if mode == Pooling::Mean {
                    v.push(format!("mask {mask:?}").to_lowercase());
                }
                if normalize {
                    v.push("normalize".into());
                }
            }
            _ => {}
        }
        v.join(" ")
    }

    pub(super) fn op(&self) -> OpId {
        match self {
            EncoderCase::LayerNorm { .. } => OpId::LayerNorm,
            EncoderCase::Gelu { .. } => OpId::Gelu,
            EncoderCase::Im2col { .. } => OpId::PatchEmbedIm2col,
            EncoderCase::Rope2d { .. } => OpId::Rope2d,
            EncoderCase::Interp { .. } => OpId::InterpolatePosEmbed,
            EncoderCase::Pool { .. } => OpId::Pool,
            EncoderCase::GatherRows { .. } => OpId::GatherRows,
        }
    }
}

fn case(dtype: DType, c: EncoderCase) -> Case {
    Case { op: c.op(), dtype, params: CaseParams::Encoder(c) }
}

/// Correctness cases of the encoder ops for `dtype`: ≥ 5 shapes each, odd sizes (scalar
/// paths), strided rows, in-place calls, every mode.
pub(super) fn encoder_test_cases(dtype: DType) -> Vec<Case> {
    use EncoderCase::*;
    let mut v = Vec::new();
    // layer_norm: (rows, hidden, bias, fused, pad, in_place). 16/80: warp-per-row; 100, 1, 17:
    // not whole vectors; 1152 SigLIP so400m; 8192 the register limit of a 16-bit row.
    let ln = [
        (1, 768, true, false, 0, false),
        (7, 16, false, false, 0, false),
        (33, 80, true, true, 0, false),
        (130, 100, true, false, 0, true),
        (257, 1152, false, true, 0, false),
        (3, 8192, true, false, 0, false),
        (64, 1024, true, false, 64, false),
        (2, 17, true, true, 0, false),
        (4096, 384, true, true, 0, false),
    ];
    for (rows, hidden, bias, fused, pad, in_place) in ln {
        v.push(case(dtype, LayerNorm { rows, hidden, bias, fused, pad, in_place }));
    }
    // gelu: every mode at (n, offset, in_place); 1 and 7: tail only; 1000003: odd tail.
    for mode in [GeluMode::Erf, GeluMode::Tanh, GeluMode::Quick] {
        for (n, offset, in_place) in [(1, 0, false), (7, 0, false), (4096, 0, true), (1000003, 0, false), (197 * 3072, 1, false), (64 * 4096, 0, false)] {
            v.push(case(dtype, Gelu { n, mode, offset, in_place }));
        }
    }
    // im2col: ViT-B/16 and /14 at 224, a non-square image, p 15 with odd sides (scalar
    // path), one channel, a wide image with patch 8; each also from f32 pixels (the
    // conversion on the copy; p 14 and 15 are not multiples of 4: scalar path).
    for (batch, channels, height, width, patch) in [(1, 3, 224, 224, 16), (2, 3, 224, 224, 14), (3, 3, 48, 80, 16), (2, 1, 30, 45, 15), (1, 3, 512, 384, 16), (4, 6, 32, 64, 8)] {
        for f32_pixels in [false, true] {
            if !(f32_pixels && dtype == DType::F32) {
                v.push(case(dtype, Im2col { batch, channels, height, width, patch, f32_pixels }));
            }
        }
    }
    // rope_2d: DINOv3 ViT-S/B/L at 224 (1 CLS + 4 registers, 14x14), the 7B's head 128,
    // no prefix, odd grid and head_dim 12 (half 6: scalar path), GQA, a fused qkv buffer.
    let rope = [
        (2, 14, 14, 5, 6, 6, 64, false),
        (1, 16, 16, 5, 32, 32, 128, true),
        (3, 7, 5, 0, 4, 4, 64, false),
        (2, 3, 9, 1, 3, 3, 12, false),
        (1, 20, 12, 5, 16, 16, 64, true),
        (4, 4, 4, 2, 8, 2, 32, false),
    ];
    for (batch, grid_h, grid_w, prefix, heads, kv_heads, head_dim, fused_qkv) in rope {
        v.push(case(dtype, Rope2d { batch, grid_h, grid_w, prefix, heads, kv_heads, head_dim, fused_qkv }));
    }
    // interpolate: ViT-B 14x14 to 16x16 / SigLIP 16x16 to 37x23, shrinking (antialias
    // matters), 1x1, identity, odd everything.
    for mode in [PosEmbedResize::Bicubic, PosEmbedResize::BilinearAntialias] {
        for (channels, in_h, in_w, out_h, out_w) in [(768, 14, 14, 16, 16), (13, 16, 16, 37, 23), (64, 24, 24, 7, 9), (8, 1, 1, 3, 3), (1152, 27, 27, 27, 27), (5, 5, 7, 11, 2)] {
            v.push(case(dtype, Interp { channels, in_h, in_w, out_h, out_w, mode }));
        }
    }
    // pool: BERT/BGE-sized and odd (hidden 100: scalar path; seq 1), both mask dtypes, none.
    let pool = [
        (4, 128, 768, Pooling::Mean, false, MaskKind::I64),
        (3, 37, 100, Pooling::Mean, true, MaskKind::I32),
        (1, 1, 1024, Pooling::Mean, false, MaskKind::None),
        (8, 512, 1024, Pooling::Cls, true, MaskKind::I64),
        (5, 9, 384, Pooling::Cls, false, MaskKind::None),
        (2, 300, 4096, Pooling::Mean, true, MaskKind::I64),
    ];
    for (batch, seq, hidden, mode, normalize, mask) in pool {
        v.push(case(dtype, Pool { batch, seq, hidden, mode, normalize, mask }));
    }
    // gather_rows: unpad/pad of qkv-like rows, odd widths (3 and 5 elements: narrow words).
    for (in_rows, rows, cols) in [(37, 64, 192), (1, 8, 3), (512, 300, 1152), (100, 100, 5), (4096, 4096, 64), (7, 1, 2304)] {
        v.push(case(dtype, GatherRows { in_rows, rows, cols }));
    }
    v
}

/// Bench cases at real encoder shapes (bf16 by default):
/// - BERT-base / BGE-base: hidden 768, intermediate 3072, batch 32 × 128 tokens.
/// - SigLIP so400m/14: 729 patches (27 × 27; its 384-pixel input is cut to 378 by the
///   strided conv, which this op refuses to do silently), hidden 1152, intermediate 4304.
/// - DINOv3 ViT-L/16 at 224: 5 + 196 tokens, hidden 1024, 16 heads of 64; ViT-7B: 32 heads of 128.
pub fn encoder_bench_cases(dtype: DType) -> Vec<Case> {
    use EncoderCase::*;
    vec![
        case(dtype, LayerNorm { rows: 32 * 128, hidden: 768, bias: true, fused: false, pad: 0, in_place: false }),
        case(dtype, LayerNorm { rows: 32 * 128, hidden: 768, bias: true, fused: true, pad: 0, in_place: false }),
        case(dtype, LayerNorm { rows: 8 * 729, hidden: 1152, bias: true, fused: false, pad: 0, in_place: false }),
        case(dtype, LayerNorm { rows: 8 * 201, hidden: 4096, bias: false, fused: false, pad: 0, in_place: false }),
        case(dtype, Gelu { n: 32 * 128 * 3072, mode: GeluMode::Erf, offset: 0, in_place: false }),
        case(dtype, Gelu { n: 8 * 729 * 4304, mode: GeluMode::Tanh, offset: 0, in_place: false }),
        case(dtype, Im2col { batch: 32, channels: 3, height: 224, width: 224, patch: 16, f32_pixels: false }),
        case(dtype, Im2col { batch: 32, channels: 3, height: 224, width: 224, patch: 16, f32_pixels: true }),
        case(dtype, Im2col { batch: 8, channels: 3, height: 378, width: 378, patch: 14, f32_pixels: false }),
        case(dtype, Rope2d { batch: 32, grid_h: 14, grid_w: 14, prefix: 5, heads: 16, kv_heads: 16, head_dim: 64, fused_qkv: true }),
        case(dtype, Rope2d { batch: 8, grid_h: 16, grid_w: 16, prefix: 5, heads: 32, kv_heads: 32, head_dim: 128, fused_qkv: true }),
        case(dtype, Interp { channels: 1152, in_h: 27, in_w: 27, out_h: 37, out_w: 37, mode: PosEmbedResize::Bicubic }),
        case(dtype, Pool { batch: 32, seq: 128, hidden: 768, mode: Pooling::Mean, normalize: true, mask: MaskKind::I64 }),
        case(dtype, GatherRows { in_rows: 32 * 128, rows: 32 * 96, cols: 3 * 768 }),
    ]
}
