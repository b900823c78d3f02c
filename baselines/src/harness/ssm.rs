//! The state-space-model ops in the harness (issue 7: Mamba / Mamba-2): case shapes
//! ([`SsmCase`]), correctness shapes (odd channel counts that miss the 16-byte vector path,
//! empty / one-token / longer-than-a-chunk sequences, several sequences per batch, strided
//! rows) and bench shapes at state-spaces/mamba-2.8b and Mamba-Codestral-7B. The device
//! instances are in `ssm_inst.rs`, the trials beyond the per-case ones in `ssm_trials.rs`.

use super::cases::{Case, CaseParams};
use crate::table::OpId;
use fk_runtime::DType;

/// One SSM case; each op uses the fields it needs.
#[derive(Clone, Debug)]
pub struct SsmCase {
    /// causal_conv1d, selective_scan: the lengths of the packed sequences.
    pub lens: Vec<usize>,
    /// Decode ops: sequences; rms_norm_gated: rows.
    pub batch: usize,
    /// Channels: conv dim, scan d_inner, heads·head_dim for Mamba-2 decode, hidden for the norm.
    pub dim: usize,
    pub width: usize,
    pub d_state: usize,
    /// selective_state_update: 0 = Mamba-1 form, else the Mamba-2 head_dim (heads = dim / head_dim);
    /// ssd_chunk_scan: the head_dim.
    pub head_dim: usize,
    /// selective_state_update (Mamba-2): B/C groups; rms_norm_gated: norm groups.
    pub ngroups: usize,
    /// Every optional input (bias / SiLU / initial state / D / z / dt bias + softplus, the
    /// norm's gate); `false` leaves them all out.
    pub full: bool,
    /// Row padding: when positive the activations are strided row views (row stride
    /// dim + pad); for the scan, B and C are then column blocks of one x_proj-like output.
    pub pad: usize,
}

impl SsmCase {
    fn new(dim: usize) -> SsmCase {
        SsmCase { lens: vec![], batch: 0, dim, width: 4, d_state: 16, head_dim: 0, ngroups: 1, full: true, pad: 0 }
    }

    pub fn prefill(lens: &[usize], dim: usize) -> SsmCase {
        SsmCase { lens: lens.to_vec(), ..SsmCase::new(dim) }
    }

    pub fn rows(batch: usize, dim: usize) -> SsmCase {
        SsmCase { batch, ..SsmCase::new(dim) }
    }

    pub fn tokens(&self) -> usize {
        self.lens.iter().sum()
    }

    pub fn cu_seqlens(&self) -> Vec<usize> {
        let mut cu = vec![0];
        for &l in &self.lens {
            cu.push(cu[cu.len() - 1] + l);
        }
        cu
    }

    /// Mamba-2 heads (selective_state_update with head_dim > 0).
    pub fn heads(&self) -> usize {
        self.dim.checked_div(self.head_dim).unwrap_or(self.dim)
    }

    fn lens_label(&self) -> String {
        match self.lens.as_slice() {
            [l, rest @ ..] if rest.iter().all(|r| r == l) => format!("{}x{l}", self.lens.len()),
            _ => format!("lens {:?}", self.lens),
        }
    }

    pub(super) fn label(&self, op: OpId) -> String {
        let (d, w, n) = (self.dim, self.width, self.d_state);
        match op {
            OpId::CausalConv1d => format!("{} dim {d} w{w}", self.lens_label()),
            OpId::CausalConv1dUpdate => format!("[{}, {d}] w{w}", self.batch),
            OpId::SelectiveScan => format!("{} dim {d} N{n}", self.lens_label()),
            OpId::SelectiveStateUpdate if self.head_dim == 0 => format!("mamba1 [{}, {d}] N{n}", self.batch),
            OpId::SelectiveStateUpdate => format!("mamba2 [{}, {}, {}] G{} N{n}", self.batch, self.heads(), self.head_dim, self.ngroups),
            OpId::SsdChunkScan => format!("{} heads {}x{} G{} N{n}", self.lens_label(), self.heads(), self.head_dim, self.ngroups),
            _ => format!("[{}, {d}] group {}", self.batch, d / self.ngroups.max(1)),
        }
    }

    pub(super) fn variant(&self) -> String {
        let mut v = vec![if self.full { "full" } else { "bare" }.to_string()];
        if self.pad > 0 {
            v.push(format!("stride {}", self.dim + self.pad));
        }
        v.join(" ")
    }
}

fn mk(op: OpId, dtype: DType, c: SsmCase) -> Case {
    Case { op, dtype, params: CaseParams::Ssm(c) }
}

/// Correctness cases of the five SSM ops for `dtype`.
pub(super) fn ssm_test_cases(dtype: DType) -> Vec<Case> {
    let mut cases = Vec::new();
    // causal_conv1d: (lens, dim, width, full, pad). 100 and 33 channels miss the 16-byte rows
    // (the register kernel; the others take the streaming kernel on sm_90); 65 and 130 tokens
    // cross its 64-token chunk inside a sequence; [0, ...] has an empty sequence; lengths 1 and
    // 2 are shorter than the conv window (the final state reaches into the initial state).
    // The streaming kernel splits each 512-byte channel block's tokens over the CTAs that fit
    // on the GPU and walks them in stages of 32 rows (8 per warp) through a ring of 4: at 5120
    // channels and ~5.5k tokens each CTA wraps the ring twice (f32: four times), with sequence
    // boundaries inside stages; 41-token sequences send most warps' rows down the per-row
    // path (a window reaching before its sequence's start); 1000 channels end in a partial
    // block and 24 padding columns.
    let conv: [(&[usize], usize, usize, bool, usize); 10] = [
        (&[1], 64, 4, true, 0),
        (&[7, 1, 30], 100, 4, true, 0),
        (&[200], 256, 3, false, 0),
        (&[0, 65, 130, 3], 40, 2, true, 24),
        (&[1000, 5], 1536, 4, true, 0),
        (&[2, 2, 2, 2, 2], 33, 4, true, 7),
        (&[300], 5120, 4, true, 0),
        (&[3000, 0, 17, 2500], 5120, 4, true, 0),
        (&[41; 100], 2048, 4, true, 0),
        (&[4000], 1000, 3, true, 24),
    ];
    for &(lens, dim, width, full, pad) in &conv {
        cases.push(mk(OpId::CausalConv1d, dtype, SsmCase { width, full, pad, ..SsmCase::prefill(lens, dim) }));
    }
    // causal_conv1d_update: (batch, dim, width, full, pad).
    for &(batch, dim, width, full, pad) in &[(1, 64, 4, true, 0), (3, 100, 4, true, 0), (32, 5120, 4, true, 0), (7, 33, 2, false, 5), (2, 257, 3, true, 0), (64, 1536, 4, false, 16)] {
        cases.push(mk(OpId::CausalConv1dUpdate, dtype, SsmCase { width, full, pad, ..SsmCase::rows(batch, dim) }));
    }
    // selective_scan: (lens, dim, d_state, full, pad). The chunked kernel gives a block 8 channels and
    // walks a sequence in chunks of 256 tokens, 16 consecutive tokens per lane, the carry passed
    // from chunk to chunk. Lengths: 1, 5, 15 (shorter than a lane's 16 tokens), 16, 17, 255 /
    // 256 / 257 (around one chunk, at d_state 16 and 64), several chunks with a tail (600, 777,
    // 845, 1000), exactly 8 chunks (2048), an empty sequence. Channel counts that leave the last
    // block partly empty: 100, 20, 17, 13, 33. d_state 8 / 40 run the 16 / 64 kernels with inert
    // padded states; B and C are converted to fp32 in slabs (one of 16 states at N16; 4, 5 and 8
    // slabs of 8 at d_state 32, 40, 64).
    // Vector paths: activations move as 32-bit units when their row stride is even (16-bit; f32
    // always), B and C as 16-byte chunks when their column offset and row stride are multiples
    // of 8 elements (f32: 4). Pad 0 with even dims and pad 8 are all-vector (d_state 8 / 40
    // zero-fill the chunks past d_state); odd dims make delta (contiguous, odd stride)
    // element-wise, and the partial last unit of 17 / 13 / 33 channels goes element by element;
    // pads 3 and 1 put B and C off the 16-byte grid (element-wise B/C at N32, N64, N16).
    // The ring kernel (16-bit, d_state <= 16, channels a multiple of 8, every row 16-byte
    // aligned: selective_scan_ring.cuh) takes the cases of 32, 64, 40 (N8, pad 8), 48, 160, 56
    // and 64 (pad 8) channels: 64-token chunks of 16 tokens per warp, so lengths 16, 17, 63, 64,
    // 65, 129 and tails of many chunks (845, 1000) cross its warp and chunk boundaries.
    // The cluster ring kernel (sm_90a, the same plus channels a multiple of 32 and 1024 tokens
    // or more per sequence on average: selective_scan_ring32.cuh) takes 2048 x 160 and the last
    // two: 256-token chunks of 16 tokens per warp over 4 CTAs, so 1100 and 2300 end inside a
    // chunk, 3 tokens leave 15 of its 16 warps empty, 1500 / 700 without z, D or bias at N8.
    let scan: [(&[usize], usize, usize, bool, usize); 19] = [
        (&[1], 32, 16, true, 0),
        (&[16, 63, 64, 17, 0, 65], 56, 16, false, 0),
        (&[7, 1, 70], 100, 16, true, 0),
        (&[200], 64, 16, false, 0),
        (&[0, 65, 129, 3], 40, 8, true, 8),
        (&[1000], 48, 16, true, 0),
        (&[30, 128, 31], 17, 32, true, 3),
        (&[100, 64, 2], 24, 40, true, 0),
        (&[2048], 160, 16, true, 0),
        (&[100, 37], 64, 32, true, 0),
        (&[50, 3, 17], 16, 64, false, 8),
        (&[256, 255, 257], 40, 16, true, 0),
        (&[257, 5, 256, 255], 20, 64, true, 0),
        (&[777, 15], 13, 64, true, 3),
        (&[600, 16, 17], 33, 16, true, 1),
        (&[845, 1], 64, 16, false, 8),
        (&[513, 255], 24, 64, true, 8),
        (&[1100, 3, 2300], 96, 16, true, 0),
        (&[1500, 700], 64, 8, false, 8),
    ];
    for &(lens, dim, n, full, pad) in &scan {
        cases.push(mk(OpId::SelectiveScan, dtype, SsmCase { d_state: n, full, pad, ..SsmCase::prefill(lens, dim) }));
    }
    // selective_state_update: (batch, dim, head_dim (0: Mamba-1), ngroups, d_state, full, pad).
    let update = [
        (1, 64, 0, 1, 16, true, 0),
        (3, 100, 0, 1, 16, true, 0),
        (32, 5120, 0, 1, 16, true, 0),
        (7, 33, 0, 1, 4, false, 5),
        (1, 8 * 64, 64, 1, 128, true, 0),
        (4, 24 * 64, 64, 8, 128, true, 32),
        (3, 5 * 7, 7, 1, 16, false, 0),
        (3, 6 * 10, 10, 2, 20, true, 0),
        (2, 128 * 64, 64, 8, 128, true, 0),
        // The vector kernel's other d_state widths (16 and 128 are above).
        (2, 4 * 64, 64, 2, 64, true, 0),
        (5, 40, 0, 1, 32, true, 4),
        (2, 2 * 32, 32, 1, 256, false, 0),
    ];
    for &(batch, dim, head_dim, ngroups, n, full, pad) in &update {
        cases.push(mk(OpId::SelectiveStateUpdate, dtype, SsmCase { head_dim, ngroups, d_state: n, full, pad, ..SsmCase::rows(batch, dim) }));
    }
    // rms_norm_gated: (rows, hidden, ngroups, full (gate), pad). Group 50 misses the vector
    // path; 8192 / 8 is Codestral's; 5120 / 1 mamba2-2.7b's.
    for &(rows, dim, g, full, pad) in &[(1, 64, 1, true, 0), (7, 100, 2, true, 0), (33, 8192, 8, true, 0), (130, 5120, 1, true, 0), (3, 96, 4, false, 8), (257, 1536, 3, true, 16)] {
        cases.push(mk(OpId::RmsNormGated, dtype, SsmCase { ngroups: g, full, pad, ..SsmCase::rows(rows, dim) }));
    }
    // ssd_chunk_scan: (lens, heads, head_dim, ngroups, d_state, full, pad). The 16-bit path
    // runs chunks of 128 tokens (pass 1 on 32-channel slices of a head, pass 2 on 64-channel
    // slices) with d_state tiles of 64/128 (smaller sizes padded): 16 / 20 / 40 exercise the
    // padding, 20 and 40 the element-wise (non-16-byte) loads, 96 and 128 two output slices
    // (96 a partial one); d_state 200 takes the plain recurrence. Lengths: 1, 0, 127-129 and
    // 257 (around chunk boundaries), several sequences whose starts are not chunk-aligned
    // (pass 2 finds a chunk's sequence from its workspace slot), 2048. Pass 1 splits its
    // state columns over two CTAs when d_state > 64 and twice its CTAs fit one wave: every
    // d_state-128 row but the last (64 heads x 4 sequences: 1024 CTAs split, unsplit 512)
    // takes the split. `full` with `pad` also clamps dt (HF's time_step_limit).
    // On sm_90a pass 2 is the warpgroup-MMA kernel wherever rows are 16-byte aligned and
    // head_dim and d_state are multiples of 8 (20 / 40 and odd pads keep the mma.sync pass):
    // its CTAs take runs of head slices of one group, sized to the SM count; the last row
    // (132 SMs: runs of 5 of a group's 24 slices, the last run 4; slices of 64, 64 and 32
    // channels; d_state 120 of a 128 tile) checks a run cut short and partial tiles.
    // Under the same limits pass 1 is the Hopper state pass (fk/ssd/state_sm90.cuh): CTAs of
    // one head's 64-channel slice x 64 state columns, fed by TMA boxes of 128 tokens, so a box
    // reaches past a sequence's end into the next one (zeroed in shared memory: every
    // multi-sequence row); its 3-D maps zero-fill columns past d_state (16 / 64 / 120) and past
    // a partial slice (16, 32, 96, 160 channels), and its TMA stores of the states clip rows
    // past head_dim: these rows check both.
    type SsdRow = (&'static [usize], usize, usize, usize, usize, bool, usize);
    let ssd: [SsdRow; 12] = [
        (&[1], 2, 64, 1, 128, true, 0),
        (&[7, 1, 70], 4, 64, 2, 64, true, 0),
        (&[200], 3, 32, 1, 128, false, 0),
        (&[0, 129, 257, 127], 4, 16, 2, 16, true, 8),
        (&[1000], 8, 64, 8, 128, true, 0),
        (&[30, 128, 31], 5, 20, 1, 40, true, 3),
        (&[100, 64, 2], 2, 96, 1, 64, true, 0),
        (&[300], 2, 64, 1, 200, false, 5),
        (&[2048], 4, 64, 1, 128, true, 0),
        (&[100, 300, 0, 5, 130], 3, 128, 1, 128, true, 0),
        (&[70, 3, 130, 1], 64, 64, 8, 128, true, 0),
        (&[1300, 37], 16, 160, 2, 120, true, 8),
    ];
    for &(lens, heads, head_dim, ngroups, n, full, pad) in &ssd {
        cases.push(mk(OpId::SsdChunkScan, dtype, SsmCase { head_dim, ngroups, d_state: n, full, pad, ..SsmCase::prefill(lens, heads * head_dim) }));
    }
    cases
}

/// Geometry of a Mamba / Mamba-2 mixer (config.json).
#[derive(Clone, Debug)]
pub struct SsmShapes {
    pub name: &'static str,
    pub hidden: usize,
    pub d_inner: usize,
    pub d_state: usize,
    pub conv_width: usize,
    /// Mamba-2: heads of head_dim channels and B/C groups; 0 for Mamba-1.
    pub head_dim: usize,
    pub ngroups: usize,
}

impl SsmShapes {
    /// state-spaces/mamba-2.8b-hf: hidden_size 2560, intermediate_size 5120, state_size 16,
    /// conv_kernel 4.
    pub const MAMBA_2_8B: SsmShapes = SsmShapes { name: "mamba-2.8b", hidden: 2560, d_inner: 5120, d_state: 16, conv_width: 4, head_dim: 0, ngroups: 1 };
    /// mistralai/Mamba-Codestral-7B-v0.1: hidden_size 4096, expand 2 (d_inner 8192),
    /// num_heads 128, head_dim 64, n_groups 8, state_size 128, conv_kernel 4.
    pub const MAMBA_CODESTRAL_7B: SsmShapes = SsmShapes { name: "Mamba-Codestral-7B", hidden: 4096, d_inner: 8192, d_state: 128, conv_width: 4, head_dim: 64, ngroups: 8 };
    /// state-spaces/mamba2-2.7b: hidden_size 2560, expand 2 (d_inner 5120 = 80 heads of 64),
    /// state_size 128, n_groups 1: the same model width as mamba-2.8b, so its SSD scan and
    /// mamba-2.8b's selective scan compare at equal width.
    pub const MAMBA2_2_7B: SsmShapes = SsmShapes { name: "mamba2-2.7b", hidden: 2560, d_inner: 5120, d_state: 128, conv_width: 4, head_dim: 64, ngroups: 1 };

    /// Mamba-2 convolves x, B and C together (conv_dim = d_inner + 2·ngroups·d_state).
    pub fn conv_dim(&self) -> usize {
        if self.head_dim == 0 {
            self.d_inner
        } else {
            self.d_inner + 2 * self.ngroups * self.d_state
        }
    }
}

/// Bench cases of a model's SSM ops: prefill ops at each token count (one sequence), decode
/// ops at each batch. Mamba-1: conv, scan, decode conv + state update; Mamba-2: conv, the
/// chunked SSD scan, the gated norm, decode conv + state update (per-head form).
pub fn ssm_bench_cases(s: &SsmShapes, tokens: &[usize], batches: &[usize], dtype: DType) -> Vec<Case> {
    let mut cases = Vec::new();
    let base = SsmCase { width: s.conv_width, d_state: s.d_state, head_dim: s.head_dim, ngroups: s.ngroups, ..SsmCase::new(s.conv_dim()) };
    for &t in tokens {
        cases.push(mk(OpId::CausalConv1d, dtype, SsmCase { lens: vec![t], ..base.clone() }));
        if s.head_dim == 0 {
            cases.push(mk(OpId::SelectiveScan, dtype, SsmCase { lens: vec![t], dim: s.d_inner, ..base.clone() }));
        } else {
            cases.push(mk(OpId::SsdChunkScan, dtype, SsmCase { lens: vec![t], dim: s.d_inner, ..base.clone() }));
            cases.push(mk(OpId::RmsNormGated, dtype, SsmCase { batch: t, dim: s.d_inner, ..base.clone() }));
        }
    }
    for &b in batches {
        cases.push(mk(OpId::CausalConv1dUpdate, dtype, SsmCase { batch: b, ..base.clone() }));
        cases.push(mk(OpId::SelectiveStateUpdate, dtype, SsmCase { batch: b, dim: s.d_inner, ..base.clone() }));
        if s.head_dim > 0 && !tokens.contains(&b) {
            cases.push(mk(OpId::RmsNormGated, dtype, SsmCase { batch: b, dim: s.d_inner, ..base.clone() }));
        }
    }
    cases
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_rows_are_unique_and_shaped_like_the_models() {
        assert_eq!(SsmShapes::MAMBA_CODESTRAL_7B.conv_dim(), 8192 + 2 * 8 * 128);
        assert_eq!(SsmShapes::MAMBA_2_8B.conv_dim(), 5120);
        let mut labels = std::collections::BTreeSet::new();
        for s in [SsmShapes::MAMBA_2_8B, SsmShapes::MAMBA_CODESTRAL_7B, SsmShapes::MAMBA2_2_7B] {
            for c in ssm_bench_cases(&s, &[1, 2048, 8192], &[1, 32], DType::BF16) {
                assert!(labels.insert(c.name()), "duplicate bench row {}", c.name());
            }
        }
        // Mamba-1: conv + scan per token count, conv update + state update per batch.
        let m1 = ssm_bench_cases(&SsmShapes::MAMBA_2_8B, &[2048], &[32], DType::BF16);
        let ops: Vec<OpId> = m1.iter().map(|c| c.op).collect();
        assert_eq!(ops, [OpId::CausalConv1d, OpId::SelectiveScan, OpId::CausalConv1dUpdate, OpId::SelectiveStateUpdate]);
        assert!(labels.iter().any(|l| l.contains("mamba2 [32, 128, 64] G8 N128")), "{labels:?}");
        // Mamba-2 prefill: conv, the SSD scan, the gated norm.
        let m2 = ssm_bench_cases(&SsmShapes::MAMBA2_2_7B, &[8192], &[], DType::BF16);
        let ops: Vec<OpId> = m2.iter().map(|c| c.op).collect();
        assert_eq!(ops, [OpId::CausalConv1d, OpId::SsdChunkScan, OpId::RmsNormGated]);
        assert!(m2[1].name().contains("1x8192 heads 80x64 G1 N128"), "{}", m2[1].name());
    }

    #[test]
    fn scan_cases_cover_the_kernel_edges() {
        // selective_scan.cu: 256-token chunks, 16 tokens per lane, 8 channels per block, 32-bit
        // activation units and 16-byte B/C chunks (16-bit dtypes).
        let cases = ssm_test_cases(DType::BF16);
        let scan: Vec<&SsmCase> = cases.iter().filter(|c| c.op == OpId::SelectiveScan).filter_map(|c| if let CaseParams::Ssm(s) = &c.params { Some(s) } else { None }).collect();
        for n in [16, 64] {
            for len in [255, 256, 257] {
                assert!(scan.iter().any(|s| s.d_state == n && s.lens.contains(&len)), "N{n}: no sequence of {len}");
            }
            assert!(scan.iter().any(|s| s.d_state == n && s.lens.iter().any(|&l| l > 512 && l % 256 != 0)), "N{n}: no multi-chunk tail");
        }
        assert!(scan.iter().any(|s| s.lens.iter().any(|&l| l > 1 && l < 16)), "no sequence shorter than a lane's tokens");
        assert!(scan.iter().filter(|s| s.dim % 8 != 0).count() >= 3, "few partial blocks");
        // B/C 16-byte chunks: column offset and row stride multiples of 8 elements.
        let bc_vec = |s: &SsmCase| if s.pad == 0 { s.d_state % 8 == 0 } else { s.pad % 8 == 0 && (s.pad + 2 * s.d_state) % 8 == 0 };
        let kernel_n = |d: usize| if d <= 16 { 16 } else if d <= 32 { 32 } else { 64 };
        for n in [16, 32, 64] {
            let of_n: Vec<&&SsmCase> = scan.iter().filter(|s| kernel_n(s.d_state) == n).collect();
            assert!(of_n.iter().any(|s| bc_vec(s)) && of_n.iter().any(|s| !bc_vec(s)), "N{n}: vector and element-wise B/C");
        }
        // Activations: even row strides move as 32-bit units, odd ones (u, z, out: dim + pad;
        // delta: dim) element by element.
        assert!(scan.iter().any(|s| (s.dim + s.pad) % 2 == 1 || s.dim % 2 == 1) && scan.iter().any(|s| s.dim % 2 == 0 && s.pad % 2 == 0));
        // The ring kernel (16-bit dtypes): warps of 16 tokens in chunks of 64, sequences shorter
        // than a warp's tokens and than a chunk, chunk tails, empty sequences, with and without
        // the gate, d_state below 16.
        let ring: Vec<&&SsmCase> = scan.iter().filter(|s| s.d_state <= 16 && s.dim % 8 == 0 && (s.dim + s.pad) % 8 == 0 && bc_vec(s)).collect();
        for len in [1, 16, 17, 63, 64, 65, 0] {
            assert!(ring.iter().any(|s| s.lens.contains(&len)), "ring kernel: no sequence of {len}");
        }
        assert!(ring.iter().any(|s| s.lens.iter().any(|&l| l > 128 && l % 64 != 0)), "ring kernel: no multi-chunk tail");
        assert!(ring.iter().any(|s| !s.full) && ring.iter().any(|s| s.full) && ring.iter().any(|s| s.d_state < 16), "ring kernel: gate and d_state variants");
        // The cluster ring kernel (sm_90a): 32-channel groups, >= 1024 tokens per sequence on
        // average; chunk tails, a sequence shorter than a warp's tokens, both gate variants.
        let ring32: Vec<&&SsmCase> = ring.iter().copied().filter(|s| s.dim % 32 == 0 && s.lens.iter().sum::<usize>() >= 1024 * s.lens.len()).collect();
        assert!(ring32.iter().any(|s| s.lens.iter().any(|&l| l > 256 && l % 256 != 0)), "cluster ring kernel: no chunk tail");
        assert!(ring32.iter().any(|s| s.lens.iter().any(|&l| l > 0 && l < 16)), "cluster ring kernel: no sequence shorter than a warp's tokens");
        assert!(ring32.iter().any(|s| !s.full) && ring32.iter().any(|s| s.full) && ring32.iter().any(|s| s.d_state < 16), "cluster ring kernel: gate and d_state variants");
    }

    #[test]
    fn test_cases_cover_every_ssm_op_with_odd_shapes() {
        let cases = ssm_test_cases(DType::BF16);
        for op in [OpId::CausalConv1d, OpId::CausalConv1dUpdate, OpId::SelectiveScan, OpId::SelectiveStateUpdate, OpId::RmsNormGated, OpId::SsdChunkScan] {
            let of: Vec<&SsmCase> = cases.iter().filter(|c| c.op == op).filter_map(|c| if let CaseParams::Ssm(s) = &c.params { Some(s) } else { None }).collect();
            assert!(of.len() >= 5, "{op}: {} cases", of.len());
            assert!(of.iter().any(|s| s.dim % 8 != 0 || (s.ngroups > 1 && (s.dim / s.ngroups) % 8 != 0)), "{op}: no channel count off the 16-byte vector");
            assert!(of.iter().any(|s| !s.full) && of.iter().any(|s| s.pad > 0), "{op}: needs a bare and a strided case");
        }
        // Prefill ops: a length-1 sequence, an empty one, one longer than a chunk, several.
        for op in [OpId::CausalConv1d, OpId::SelectiveScan, OpId::SsdChunkScan] {
            let lens: Vec<&Vec<usize>> = cases.iter().filter(|c| c.op == op).filter_map(|c| if let CaseParams::Ssm(s) = &c.params { Some(&s.lens) } else { None }).collect();
            assert!(lens.iter().any(|l| l.contains(&1)) && lens.iter().any(|l| l.contains(&0)));
            assert!(lens.iter().any(|l| l.iter().any(|&x| x > 128)) && lens.iter().any(|l| l.len() >= 3));
        }
    }
}
