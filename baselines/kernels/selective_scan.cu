// selective_scan baseline (L1). Contract: include/fk/ops/selective_scan.h.
// Mirrors Dao-AILab `selective_scan_fwd` (Mamba-1 prefill, varlen as vLLM runs it). Any sm_80+
// (cp.async).
// Three kernels. On sm_90a the cluster ring kernel (selective_scan_ring32.cuh) takes 16-bit
// scans of 32-channel groups with >= 1024 tokens per sequence on average (mamba-2.8b prefill).
// The ring kernel (selective_scan_ring.cuh, included below) takes 16-bit dtypes with d_state
// <= 16, channels a multiple of 8 and 16-byte aligned rows: every Mamba-1 checkpoint. The
// chunked kernel in this file takes everything else (f32, d_state 17..64, odd widths and
// strides). Measured at mamba-2.8b's shape, one sequence of 8k bf16 tokens, in one process on
// the H200: cluster ring 412.3-412.9 us (19.5 % of the copy rate) against the ring's 487.4-487.9
// (run 142, the op bench); ring 500.6 us (16 %), chunked 660.1 us (12 %) in run 116
// (experiments/ssm/scan_bench.cu); the chunked kernel's own history follows.
// Chunked kernel, measured (H200, run 27, mamba-2.8b, one sequence): 655.6 us at 8k tokens
// (12.2% of copy;
// the previous kernel 742 us in the same call), 173.6 us at 2k (190.7), 20.1 us for 1 token
// (6.4: a whole 256-token chunk is staged for it). ncu at 8k: 300M warp instructions (14.3 per
// element, the previous kernel's 409M), 0.48 issued per cycle per scheduler at 15.8% achieved
// occupancy (12 warps per SM in theory): still latency-bound, so the next steps are more warps
// (registers, the B/C tile) or fewer staging instructions (below).
//
// What bounds it. Per (token, channel, state) the op needs one exp2 (the decay); the H100/H200
// do 16 exp2 per SM per clock against 128 FMAs, so at mamba-2.8b (d_state 16, 5120 channels)
// 8k tokens are 671M exponentials, >= ~165 us on 132 SMs, about what the bytes (u, delta, z in,
// y out: 336 MB) take at ~2 TB/s. Next to the exp, an element needs 5 more issue slots that no
// split of the work removes (dt*a, B*du, the FMA of the lane's local state, the FMA replaying
// it from the true start, y += C*h), so the kernel is issue-bound somewhat above the exp floor:
// the scan, staging, dt and the gate must stay a small fraction of that, and one long sequence
// must still offer enough warps to issue from.
// History: the previous kernel (each thread walked the whole sequence for 2 of a channel's
// states, 8 lanes per channel) ran 742 us at 8k tokens on the H200: dim x 8 threads are ~2.4
// warps per scheduler, latency-bound at 0.58 issued/cycle, ~19.5 instructions per element.
//
// Work split: time-parallel inside a chunk. A block owns 8 adjacent channels of one sequence
// (grid = ceil(dim/8) x batch) and walks the sequence in chunks of kT = 256 tokens. A channel
// is a half-warp (2 channels per warp, 4 warps per block); lane l owns the kK = 16 consecutive
// tokens [16l, 16l+16) of the chunk. Per state n a lane computes its 16 decays
// dA_k = 2^(dt_k a_n) (a_n = A[d,n] log2 e) and inputs dBu_k = B_k dt_k u_k, reduces them to the
// affine map h -> P h + H of its tokens (H: 15 FMAs from zero; P = 2^(a_n sum_k dt_k), one exp
// instead of 15 multiplies), and a 4-step shuffle scan over the 16 lanes composes the maps. The
// state entering the chunk (the carry) is folded into lane 0's map first, so the inclusive scan
// gives absolute states and a shuffle up by one gives each lane its starting state, from which it
// replays its tokens (h = dA h + dBu, y += C h). Tokens past the sequence end get dt = 0, u = 0
// and B = C = 0 (identity maps; nothing is written for them). States go two at a time (two
// independent chains for the scheduler). The scan steps use the shuffle's own in-range
// predicate to guard the composition, so a step is 2 SHFL + 1 FFMA + 1 FMUL (last: 1 + 1).
// Carries live in shared memory ([channel][state]): lane 0 reads state n's, lane 15 writes the
// new one. The final state is written by the thread that read the initial state of the same
// (channel, state) before the first chunk, so an in-place state cache (final == initial) is safe;
// a length-0 sequence writes its initial state (or zeros).
// Why a half-warp and 16 tokens per lane: the scan and carry cost ~22 instructions per lane and
// state however many tokens the lane has, so more tokens per lane amortise it (8 would add ~1.4
// per element); 16 lanes need 4 shuffle steps rather than 5; the chunk stays at 256 tokens,
// whose B/C tiles still fit 3 blocks per SM; and the registers (dt, du, y of 16 tokens persist
// through the chunk: 48; dA and dBu of the two states in flight: 64) fit 168.
// SASS (CUDA 13, sm_90a, bf16, d_state 16): the state-pair loop is 254 instructions per 2 states
// x 16 tokens of a lane, 7.9 per element: 34 MUFU.EX2, 104 FFMA, 72 FMUL, 16 SHFL, 18 LDS
// (16 of them 128-bit), 1 STS, 9 others. The work around it, counted from the SASS per thread
// and chunk and spread over its 16 tokens x 16 states, adds ~5 per element at d_state 16: the
// 32-bit copies of u, delta, z and the output stores ~1.8 (12 instructions per cp.async, 3 of
// them the NOPs ptxas puts before each), dt with softplus ~1.5, B/C copies and conversion ~1.0,
// the gate ~0.8. So ~13 in all against the old kernel's ~19.5; the copies are the next thing to
// cut (16-byte row copies with a skewed [token][channel] tile would make them ~4x fewer).
// 146-148 registers, no local memory (sass_tests.rs checks the latter):
// addresses derived from threadIdx are recomputed in each phase (fresh_tid) rather than kept
// live across the state loop, where ptxas spilled them.
// Shared-memory bandwidth: the loop reads B and C as fp32, 8 bytes per element; at the exp rate
// of 16 elements per clock that is the full 128 B/clock of an SM, unless the two half-warps of
// a warp (same tokens, same addresses) are served together. A co-bottleneck to watch in ncu.
//
// Occupancy and waves: 128 threads and 62.5 KB of shared memory per block (d_state 16, 16-bit
// dtypes), 3 blocks = 12 warps per SM (registers would allow 3, smem 3). At mamba-2.8b with one
// sequence that is 640 blocks on 396 slots of 132 SMs: 1.6 waves, the second running ~1.85
// blocks per SM (at higher per-block speed, since it has the SM to fewer warps). 5 blocks per SM
// would make one full wave but needs <= 96 registers and <= 45 KB, which 16 tokens per lane and
// a 256-token B/C tile do not fit; 4 blocks per SM would be 1.2 waves, worse than 3.
// d_state 32: 63.3 KB, 3 blocks per SM; d_state 64: 97.3 KB (its raw B/C tile is 64 KB), 2;
// f32 inputs need about 1.5x (2 blocks at d_state 16, 1 at 64).
//
// Staging, per chunk (cp.async: the loads hold no registers and overlap the scan):
// - u, delta, z go global -> shared as 32-bit units (2 channels of 16-bit, 1 of f32) straight
//   into a transposed tile [unit][slot(token)], slot(16l + 4q + e) = 4(16q + l) + e. A lane
//   reads 4 of its tokens as one 16-byte LDS, the 8 lanes of a phase reading 128 contiguous bytes
//   (a [token][channel] tile read by lane l at token 16l+k would be a 16-way conflict, and a
//   16-byte copy keeps 8 channels of one token together, so it cannot land transposed). Unit rows
//   are 8 words (f32: 4) apart mod 32 banks and a warp instruction copies 8 (4) tokens whose
//   slots are contiguous: the copies do not conflict either. The block's row segment is 16 bytes
//   (f32: 32); the neighbouring block reads the rest of the 32-byte sector at about the same
//   time (L2).
// - B and C rows (d_state wide, shared by the 8 channels) go as 16-byte cp.async into a raw
//   [token][state] tile (rows skewed by 16 bytes per 16 tokens), zero-filled past the sequence
//   end and past d_state (cp.async's src-size), and are converted once per chunk by the whole
//   block to fp32 [state][slot(token)] (state rows 260 floats, 4 mod 32 banks apart): a lane
//   reads 4 tokens of a state as one conflict-free float4. A converting thread reads 4 tokens of
//   one state pair (the skew makes the 32 lanes' words distinct banks) and writes two float4s
//   (8 consecutive float4s per phase). At d_state > 16 the fp32 tile holds a slab of 8 states at
//   a time (two barriers per slab), so the block still fits in 1/3 (N32) or 1/2 (N64) of an SM.
// - Tensors whose base or stride is off the unit / 16-byte grid, and units holding channels past
//   dim, take an element-wise path into the same tiles; each tensor is judged separately.
// - Pipeline: u, delta, B, C of chunk c+1 are issued as soon as chunk c's are converted (before
//   its scan); z of chunk c at the top of chunk c (its tile holds the output of c-1 until then),
//   and it is needed only after the scan.
// - Epilogue: y starts as D*u; after the states each lane multiplies its tokens by silu(z) and
//   writes them (one rounding) into the z tile, which the block stores as 32-bit row units.
#include "fk/attention/sm80_mma.cuh"
#include "fk/attention/sm90_sync.cuh"
#include "fk/ops/selective_scan.h"
#include "fk/ssm.cuh"

#include <cstdlib>

namespace {

constexpr int kLanes = 16;             // lanes per channel (a half-warp)
constexpr int kK = 16;                 // consecutive tokens per lane
constexpr int kT = kLanes * kK;        // tokens per chunk
constexpr int kChan = 8;               // channels per block
constexpr int kWarps = kChan / 2;      // two channels per warp
constexpr int kThreads = 32 * kWarps;  // 128
constexpr int kPn = kT + 4;            // floats per state row of the fp32 B/C tiles (4 mod 32)
static_assert(kWarps == kK / 4, "the copies give warp q the tokens 4q..4q+3 of every lane");

// Position of chunk token 16l + 4q + e in a transposed tile row: lane l's tokens 4q..4q+3 are
// one 16-byte group, and the groups of lanes 0..15 for one q are contiguous.
__device__ __forceinline__ int slot(int l, int q, int e) { return (q * kLanes + l) * 4 + e; }

// threadIdx.x, re-read where used: values derived from it are recomputed in each phase instead
// of staying live (in registers, or spilled) across the scan, which needs nearly all of them.
__device__ __forceinline__ int fresh_tid() {
    int t;
    asm volatile("mov.u32 %0, %%tid.x;" : "=r"(t));
    return t;
}

// Tokens of the chunk starting at c0 that lie in the sequence (> 0).
__device__ __forceinline__ int chunk_rows(int64_t c0, int64_t end) { return end - c0 < kT ? static_cast<int>(end - c0) : kT; }

// dtype-dependent geometry of the activation tiles (u, delta, z/out).
template <typename T> struct Geo {
    static constexpr int kEW = 4 / static_cast<int>(sizeof(T));  // channels per 32-bit unit
    static constexpr int kNU = kChan / kEW;                      // units per token of the block
    static constexpr int kLPI = 8 / kNU;        // lanes' token groups per warp instruction
    static constexpr int kPA = kT + 4 * kLPI;   // words per unit row: 8 (f32: 4) banks apart
};

// Shared memory of one block (bytes). Raw B/C rows are kept in pairs of states.
template <typename T, int NS> struct Smem {
    static constexpr int kSL = NS == 16 ? 16 : 8;  // states per fp32 slab
    static constexpr int kRPP = NS / 2;             // state pairs per raw row
    static constexpr int kPairBytes = 2 * static_cast<int>(sizeof(T));
    static constexpr int kRawPairs = kT * kRPP + 4 * kLanes;  // + 4 pairs of skew per 16 rows
    static constexpr int kAP = NS + 2;               // floats per channel row of A and the carries
    static constexpr int kActWords = Geo<T>::kNU * Geo<T>::kPA;
    static constexpr int kAct = 0;
    static constexpr int kRaw = kAct + 3 * kActWords * 4;
    static constexpr int kBC = kRaw + 2 * kRawPairs * kPairBytes;
    static constexpr int kA = kBC + 2 * kSL * kPn * 4;
    static constexpr int kCarry = kA + kChan * kAP * 4;
    static constexpr int kBytes = kCarry + kChan * kAP * 4;
    static_assert(kRaw % 16 == 0 && kBC % 16 == 0 && kA % 16 == 0 && kCarry % 8 == 0, "alignment");
    static_assert(NS % kSL == 0 && kSL % 8 == 0, "slabs");
};

// Raw B/C row of chunk token t, in pairs: rows of 16 tokens (one lane's) are skewed by 4 pairs.
template <int NS> __device__ __forceinline__ int raw_row(int t) { return t * (NS / 2) + 4 * (t / kK); }

// --- element access -----------------------------------------------------------------------
// get: element h of a 32-bit unit as float; put: store element h of a unit; pair: two states.
template <typename T> struct Elem;
template <> struct Elem<float> {
    __device__ static unsigned sel(int) { return 0u; }
    __device__ static float get(uint32_t w, unsigned) { return __uint_as_float(w); }
    __device__ static void put(uint32_t* w, int, float v) { *reinterpret_cast<float*>(w) = v; }
    __device__ static float2 pair(const unsigned char* raw, int i) { return reinterpret_cast<const float2*>(raw)[i]; }
};
template <> struct Elem<__nv_bfloat16> {
    // bf16 -> f32 is a 16-bit shift: one PRMT moving half h to the top, zeros below.
    __device__ static unsigned sel(int h) { return h ? 0x3244u : 0x1044u; }
    __device__ static float get(uint32_t w, unsigned sel) { return __uint_as_float(__byte_perm(w, 0u, sel)); }
    __device__ static void put(uint32_t* w, int h, float v) { reinterpret_cast<__nv_bfloat16*>(w)[h] = __float2bfloat16_rn(v); }
    __device__ static float2 pair(const unsigned char* raw, int i) {
        const uint32_t w = reinterpret_cast<const uint32_t*>(raw)[i];
        return make_float2(__uint_as_float(w << 16), __uint_as_float(w & 0xffff0000u));
    }
};
template <> struct Elem<__half> {
    __device__ static unsigned sel(int h) { return 16u * h; }
    __device__ static float get(uint32_t w, unsigned sh) { return __half2float(__ushort_as_half(static_cast<unsigned short>(w >> sh))); }
    __device__ static void put(uint32_t* w, int h, float v) { reinterpret_cast<__half*>(w)[h] = __float2half_rn(v); }
    __device__ static float2 pair(const unsigned char* raw, int i) { return __half22float2(reinterpret_cast<const __half2*>(raw)[i]); }
};

// --- cp.async ------------------------------------------------------------------------------
using fk::attn::cp_async_commit;
using fk::attn::cp_async_wait;
using fk::attn::smem_addr;
__device__ __forceinline__ void cp_async4(void* s, const void* g) { fk::attn::cp_async4(smem_addr(s), g); }
// 16-byte copy reading `bytes` (0..16) of them; the rest of the 16 is zero-filled.
__device__ __forceinline__ void cp_async16(void* s, const void* g, int bytes) { fk::attn::cp_async16_bytes(smem_addr(s), g, bytes); }

// The ring kernels' B / C conversion: a 16-state row of 16-bit values (32 bytes at `row`,
// 16-byte aligned, loaded whole first: stores between the loads would serialise them) down a
// column of an fp32 [state][token] tile, state n at dst[n * stride].
template <typename T>
__device__ __forceinline__ void bc_row_to_column(const unsigned char* row, float* dst, int stride) {
    const uint4* const r = reinterpret_cast<const uint4*>(row);
    const uint4 r0 = r[0], r1 = r[1];
    const uint32_t w[8] = {r0.x, r0.y, r0.z, r0.w, r1.x, r1.y, r1.z, r1.w};
#pragma unroll
    for (int q = 0; q < 8; ++q) {
        const float2 v = fk::pair_to_float2(w[q], T());
        dst[(2 * q) * stride] = v.x;
        dst[(2 * q + 1) * stride] = v.y;
    }
}

// A kernel's dynamic shared-memory allowance, with all of the unified L1/shared array as shared
// memory (every kernel here fits several blocks per SM that way).
template <typename Kernel> cudaError_t use_smem(Kernel kernel, int bytes) {
    const cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
    if (e != cudaSuccess) return e;
    return cudaFuncSetAttribute(kernel, cudaFuncAttributePreferredSharedMemoryCarveout, cudaSharedmemCarveoutMaxShared);
}

// Which tensors may use the vector path (bit masks of the launcher's flags).
enum : unsigned { kVecU = 1, kVecDelta = 2, kVecZ = 4, kVecOut = 8, kVecB = 16, kVecC = 32 };

// A thread's place in the copies between an activation tile and global rows (both ways, one
// 32-bit unit per thread and token). Warp q copies the tokens 16l + 4q + e; lane -> (unit j,
// token group lo, e): 8 (f32: 4) tokens per instruction with contiguous slots, unit rows 8 (4)
// banks apart: conflict-free. `dj`: the unit's first channel; `t`: its first chunk token and
// `word` that token's tile word, both advancing kTokStep tokens (kWordStep words) per step.
template <typename T>
struct ActLane {
    static constexpr int kTokStep = Geo<T>::kLPI * kK;
    static constexpr int kWordStep = 4 * Geo<T>::kLPI;
    int64_t dj;
    int t, word;
    __device__ __forceinline__ explicit ActLane(int64_t d0) {
        using G = Geo<T>;
        const int q = fresh_tid() / 32, lane = fresh_tid() % 32;
        const int j = lane % G::kNU, i = lane / G::kNU, lo = i / 4, e = i % 4;
        dj = d0 + j * G::kEW;
        t = lo * kK + 4 * q + e;
        word = j * G::kPA + slot(lo, q, e);
    }
};

// Chunk rows [c0, c0 + rows) of the block's channels of an activation into its tile.
template <typename T>
__device__ __forceinline__ void load_act(uint32_t* tile, const T* src, int64_t stride, int64_t c0, int rows, int64_t d0,
                                         int64_t dim, bool vec) {
    using A = ActLane<T>;
    const A a(d0);
    if (a.dj >= dim) return;
    int t = a.t;
    const T* g = src + (c0 + t) * stride + a.dj;
    const int64_t gstep = A::kTokStep * stride;
    uint32_t* w = tile + a.word;
    if (vec && a.dj + Geo<T>::kEW <= dim) {
#pragma unroll 1
        for (; t < rows; t += A::kTokStep, g += gstep, w += A::kWordStep) cp_async4(w, g);
    } else {
#pragma unroll 1
        for (; t < rows; t += A::kTokStep, g += gstep, w += A::kWordStep) {
#pragma unroll
            for (int x = 0; x < Geo<T>::kEW; ++x)
                if (a.dj + x < dim) reinterpret_cast<T*>(w)[x] = g[x];
        }
    }
}

// Chunk rows of B or C (d_state N of NS) into the raw tile, zero beyond rows and N. Thread ->
// 16-byte chunk cc of rows t, t + kRowsPer, ... (consecutive threads: consecutive chunks of a row).
template <typename T, int NS>
__device__ __forceinline__ void load_bc(unsigned char* raw, const T* src, int64_t stride, int64_t c0, int rows, int N, bool vec) {
    using S = Smem<T, NS>;
    constexpr int kEPC = 16 / static_cast<int>(sizeof(T));  // elements per 16-byte chunk
    constexpr int kCPR = NS / kEPC;                          // chunks per row
    constexpr int kRowsPer = kThreads / kCPR;                // rows per pass of the block
    static_assert(kThreads % kCPR == 0 && kT % kRowsPer == 0, "B/C copy split");
    const int tid = fresh_tid(), cc = tid % kCPR, n0 = cc * kEPC;
    const int valid_n = min(max(N - n0, 0), kEPC);  // elements of the chunk below d_state
    int t = tid / kCPR;
    unsigned char* dst = raw + raw_row<NS>(t) * S::kPairBytes + cc * 16;
    // raw_row(t + kRowsPer) - raw_row(t) is constant when kRowsPer is a multiple of 16.
    const auto next = [&] {
        t += kRowsPer;
        if (kRowsPer % kK == 0)
            dst += (kRowsPer * (NS / 2) + 4 * (kRowsPer / kK)) * S::kPairBytes;
        else
            dst = raw + raw_row<NS>(t) * S::kPairBytes + cc * 16;
    };
    if (vec) {
        // Rows in the sequence read valid_n elements (the rest of the 16 bytes is zero-filled);
        // rows past its end, and chunks wholly past d_state, read nothing (16 zero bytes).
        const int tlim = valid_n > 0 ? rows : 0;
        const T* g = src + (c0 + t) * stride + n0;
        const int64_t gstep = kRowsPer * stride;
#pragma unroll 1
        for (; t < tlim; g += gstep, next()) cp_async16(dst, g, valid_n * static_cast<int>(sizeof(T)));
#pragma unroll 1
        for (; t < kT; next()) cp_async16(dst, src, 0);
    } else {
#pragma unroll 1
        for (; t < kT; next()) {
            const int valid = t < rows ? valid_n : 0;
            const T* g = src + (c0 + t) * stride + n0;
#pragma unroll
            for (int x = 0; x < kEPC; ++x) reinterpret_cast<T*>(dst)[x] = x < valid ? g[x] : fk::from_float<T>(0.f);
        }
    }
}

// Raw B/C states [SL*slab, SL*slab + SL) -> fp32 [state][slot]. Warp q converts the tokens
// 16l + 4q + e; lane -> (l = lane % 8 (+8), state pair w = lane / 8 (+4)). A thread reads 4 tokens
// of one pair (raw banks 4l + w + const: distinct) and writes one float4 per state (8 lanes of a
// phase: 8 consecutive float4s).
template <typename T, int NS>
__device__ __forceinline__ void convert_slab(float* sbc, const unsigned char* raw, int slab) {
    using S = Smem<T, NS>;
    const int q = fresh_tid() / 32, lane = fresh_tid() % 32, l = lane % 8, w = lane / 8;
    // raw_row(16l + 4q + e) = (16 RPP + 4) l + 4q RPP + e RPP: everything past the thread's base
    // (l + 8 lh, w + 4 wh, e) is a compile-time offset.
    constexpr int kRPP = NS / 2, kLStep = 16 * kRPP + 4;
    const int base = kLStep * l + 4 * q * kRPP + slab * (S::kSL / 2) + w;
    float* const o0 = sbc + (2 * w) * kPn + slot(l, q, 0);
#pragma unroll
    for (int m = 0; m < 2; ++m) {  // B, C
        const unsigned char* r = raw + m * S::kRawPairs * S::kPairBytes;
        float* const o = o0 + m * S::kSL * kPn;
#pragma unroll
        for (int lh = 0; lh < 2; ++lh) {
#pragma unroll
            for (int wh = 0; wh < S::kSL / 8; ++wh) {
                float lo[4], hi[4];
#pragma unroll
                for (int e = 0; e < 4; ++e) {
                    const float2 v = Elem<T>::pair(r, base + 8 * lh * kLStep + 4 * wh + e * kRPP);
                    lo[e] = v.x;
                    hi[e] = v.y;
                }
                float* const dst = o + 8 * wh * kPn + slot(8 * lh, 0, 0);
                *reinterpret_cast<float4*>(dst) = make_float4(lo[0], lo[1], lo[2], lo[3]);
                *reinterpret_cast<float4*>(dst + kPn) = make_float4(hi[0], hi[1], hi[2], hi[3]);
            }
        }
    }
}

// The lane's 16 tokens of its channel: dt (0 past the end), dt*u, y = D*u and sum of dt.
template <typename T, bool SOFTPLUS>
__device__ __forceinline__ void prepare(const uint32_t* ut, const uint32_t* dtt, int l, unsigned sel, int nk, float dbias, float Dd,
                                        float (&dt)[kK], float (&du)[kK], float (&y)[kK], float& S) {
    S = 0.f;
#pragma unroll
    for (int q = 0; q < kK / 4; ++q) {
        const uint4 uw = *reinterpret_cast<const uint4*>(ut + slot(l, q, 0));
        const uint4 dw = *reinterpret_cast<const uint4*>(dtt + slot(l, q, 0));
        const uint32_t uu[4] = {uw.x, uw.y, uw.z, uw.w}, dd[4] = {dw.x, dw.y, dw.z, dw.w};
#pragma unroll
        for (int e = 0; e < 4; ++e) {
            const int k = 4 * q + e;
            const bool in = k < nk;
            float v = Elem<T>::get(dd[e], sel) + dbias;
            if (SOFTPLUS) v = fk::softplus(v);
            // Past the end (or on a channel past dim) the tile holds stale data: the token
            // becomes the identity map (dt = 0, dt*u = 0).
            v = in ? v : 0.f;
            const float uv = in ? Elem<T>::get(uu[e], sel) : 0.f;
            dt[k] = v;
            du[k] = v * uv;
            y[k] = Dd * uv;
            S += v;
        }
    }
}

// One step of the inclusive scan of affine maps h -> P h + H over a half-warp: lanes l >= OFF
// compose their map after the one of lane l - OFF (H = P * H' + H, P = P * P'); the others keep
// theirs. The shuffle's own in-range predicate guards the update (no compare, no moves).
// WITH_P = false skips the products (the last step's are never used).
template <int OFF, bool WITH_P>
__device__ __forceinline__ void scan_step(float& P, float& H) {
    if (WITH_P) {
        asm("{\n\t.reg .pred p;\n\t.reg .f32 hu, pu;\n\t"
            "shfl.sync.up.b32 hu|p, %1, %2, 0x1000, -1;\n\t"
            "shfl.sync.up.b32 pu, %0, %2, 0x1000, -1;\n\t"
            "@p fma.rn.f32 %1, %0, hu, %1;\n\t"
            "@p mul.rn.f32 %0, %0, pu;\n\t}"
            : "+f"(P), "+f"(H)
            : "n"(OFF));
    } else {
        asm("{\n\t.reg .pred p;\n\t.reg .f32 hu;\n\t"
            "shfl.sync.up.b32 hu|p, %1, %2, 0x1000, -1;\n\t"
            "@p fma.rn.f32 %1, %0, hu, %1;\n\t}"
            : "+f"(P), "+f"(H)
            : "n"(OFF));
    }
}
// The previous lane's H in the half-warp; lane 0 gets `first`.
__device__ __forceinline__ float shift_in(float H, float first) {
    float r;
    asm("{\n\t.reg .pred p;\n\t"
        "shfl.sync.up.b32 %0|p, %1, 1, 0x1000, -1;\n\t"
        "@!p mov.b32 %0, %2;\n\t}"
        : "=f"(r)
        : "f"(H), "f"(first));
    return r;
}

// States [n0, n0 + ns) (ns even) of the lane's channel over the chunk, accumulated into y.
// bc: the lane's first B float4 of the slab's state n0 (C is SL rows further); a, carry: this
// channel's A*log2(e) and carries at n0.
template <int SL>
__device__ __forceinline__ void scan_slab(const float* bc, const float* a, float* carry, int ns, bool first_lane, bool last_lane,
                                          const float (&dt)[kK], const float (&du)[kK], float (&y)[kK], float S) {
#pragma unroll 1
    for (int sn = 0; sn < ns; sn += 2, bc += 2 * kPn, a += 2, carry += 2) {
        const float2 an = *reinterpret_cast<const float2*>(a);
        const float2 cin = *reinterpret_cast<const float2*>(carry);
        float dA0[kK], dB0[kK], dA1[kK], dB1[kK];
#pragma unroll
        for (int q = 0; q < kK / 4; ++q) {
            const float4 b0 = *reinterpret_cast<const float4*>(bc + 64 * q);
            const float4 b1 = *reinterpret_cast<const float4*>(bc + kPn + 64 * q);
            const float bb0[4] = {b0.x, b0.y, b0.z, b0.w}, bb1[4] = {b1.x, b1.y, b1.z, b1.w};
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const int k = 4 * q + e;
                // A decay below 2^-126 is 0 for every purpose (ftz).
                dA0[k] = fk::ex2_ftz(dt[k] * an.x);
                dA1[k] = fk::ex2_ftz(dt[k] * an.y);
                dB0[k] = bb0[e] * du[k];
                dB1[k] = bb1[e] * du[k];
            }
        }
        // The lane's tokens as one map h -> P h + H.
        float H0 = dB0[0], H1 = dB1[0];
#pragma unroll
        for (int k = 1; k < kK; ++k) {
            H0 = fmaf(dA0[k], H0, dB0[k]);
            H1 = fmaf(dA1[k], H1, dB1[k]);
        }
        float P0 = fk::ex2_ftz(an.x * S), P1 = fk::ex2_ftz(an.y * S);
        // Lane 0 starts from the carry: the inclusive scan then gives absolute states.
        if (first_lane) {
            H0 = fmaf(P0, cin.x, H0);
            H1 = fmaf(P1, cin.y, H1);
        }
        static_assert(kLanes == 16, "4 scan steps");
        scan_step<1, true>(P0, H0);
        scan_step<1, true>(P1, H1);
        scan_step<2, true>(P0, H0);
        scan_step<2, true>(P1, H1);
        scan_step<4, true>(P0, H0);
        scan_step<4, true>(P1, H1);
        scan_step<8, false>(P0, H0);
        scan_step<8, false>(P1, H1);
        // State entering the lane's tokens: the previous lane's inclusive state (lane 0: carry).
        float h0 = shift_in(H0, cin.x), h1 = shift_in(H1, cin.y);
        const float* cp = bc + SL * kPn;
#pragma unroll
        for (int q = 0; q < kK / 4; ++q) {
            const float4 c0 = *reinterpret_cast<const float4*>(cp + 64 * q);
            const float4 c1 = *reinterpret_cast<const float4*>(cp + kPn + 64 * q);
            const float cc0[4] = {c0.x, c0.y, c0.z, c0.w}, cc1[4] = {c1.x, c1.y, c1.z, c1.w};
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const int k = 4 * q + e;
                h0 = fmaf(dA0[k], h0, dB0[k]);
                h1 = fmaf(dA1[k], h1, dB1[k]);
                y[k] = fmaf(cc0[e], h0, y[k]);
                y[k] = fmaf(cc1[e], h1, y[k]);
            }
        }
        if (last_lane) *reinterpret_cast<float2*>(carry) = make_float2(h0, h1);
    }
}

// The output tile (the z tile after the epilogue) -> rows [c0, c0 + rows) of out, with the
// copies' mapping (ActLane: conflict-free reads).
template <typename T>
__device__ __forceinline__ void store_out(const uint32_t* tile, T* out, int64_t stride, int64_t c0, int rows, int64_t d0, int64_t dim,
                                          bool vec) {
    using A = ActLane<T>;
    const A a(d0);
    if (a.dj >= dim) return;
    int t = a.t;
    T* g = out + (c0 + t) * stride + a.dj;
    const int64_t gstep = A::kTokStep * stride;
    const uint32_t* w = tile + a.word;
    if (vec && a.dj + Geo<T>::kEW <= dim) {
#pragma unroll 1
        for (; t < rows; t += A::kTokStep, g += gstep, w += A::kWordStep) *reinterpret_cast<uint32_t*>(g) = *w;
    } else {
#pragma unroll 1
        for (; t < rows; t += A::kTokStep, g += gstep, w += A::kWordStep) {
            const uint32_t v = *w;
#pragma unroll
            for (int x = 0; x < Geo<T>::kEW; ++x)
                if (a.dj + x < dim) g[x] = reinterpret_cast<const T*>(&v)[x];
        }
    }
}

template <typename T, int NS>
// 3 blocks per SM (<= 168 registers): 12 warps; d_state 64's shared memory allows 2.
__global__ void __launch_bounds__(kThreads, 3) scan_kernel(const fk_selective_scan_params p, const unsigned vec) {
    using G = Geo<T>;
    using S = Smem<T, NS>;
    extern __shared__ __align__(16) unsigned char smem[];
    uint32_t* const uTile = reinterpret_cast<uint32_t*>(smem + S::kAct);
    uint32_t* const dTile = uTile + S::kActWords;
    uint32_t* const zTile = dTile + S::kActWords;  // z, then the output
    unsigned char* const rawB = smem + S::kRaw;
    unsigned char* const rawC = rawB + S::kRawPairs * S::kPairBytes;
    float* const sbc = reinterpret_cast<float*>(smem + S::kBC);
    float* const sA = reinterpret_cast<float*>(smem + S::kA);
    float* const sCarry = reinterpret_cast<float*>(smem + S::kCarry);

    const int s = blockIdx.y, N = p.d_state;
    const int64_t start = p.cu_seqlens[s], end = p.cu_seqlens[s + 1];
    const int64_t d0 = static_cast<int64_t>(blockIdx.x) * kChan;
    const T* const u = static_cast<const T*>(p.u);
    const T* const delta = static_cast<const T*>(p.delta);
    const T* const z = static_cast<const T*>(p.z);
    const T* const Bm = static_cast<const T*>(p.B);
    const T* const Cm = static_cast<const T*>(p.C);

    // Scan role: channel c (0..7) of the block is half-warp c of the block; l its lane.
    // (Recomputed from fresh_tid() in each phase below.)
    const auto lane_of = [] { return fresh_tid() % kLanes; };
    const auto chan_of = [] { return fresh_tid() / kLanes; };
    const int64_t d = d0 + chan_of();
    const bool valid = d < p.dim;
    const float dbias = (valid && p.delta_bias) ? p.delta_bias[d] : 0.f;
    const float Dd = (valid && p.D) ? p.D[d] : 0.f;

    // Lane l owns states l, l+16, ... of its channel's carry row: it reads their initial values
    // here and writes their final values at the end (the same elements: in-place is safe).
#pragma unroll
    for (int i = 0; i < NS / kLanes; ++i) {
        const int n = lane_of() + kLanes * i;
        const bool in = valid && n < N;
        sA[chan_of() * S::kAP + n] = in ? p.A[d * N + n] * fk::kLog2e : 0.f;
        sCarry[chan_of() * S::kAP + n] = (in && p.initial_state) ? p.initial_state[(s * p.dim + d) * N + n] : 0.f;
    }

    const int nslabs = (N + S::kSL - 1) / S::kSL;
    if (start < end) {
        const int rows = chunk_rows(start, end);
        load_act<T>(uTile, u, p.u_stride, start, rows, d0, p.dim, vec & kVecU);
        load_act<T>(dTile, delta, p.delta_stride, start, rows, d0, p.dim, vec & kVecDelta);
        load_bc<T, NS>(rawB, Bm, p.b_stride, start, rows, N, vec & kVecB);
        load_bc<T, NS>(rawC, Cm, p.c_stride, start, rows, N, vec & kVecC);
    }
    cp_async_commit();

#pragma unroll 1
    for (int64_t c0 = start; c0 < end; c0 += kT) {
        const int rows = chunk_rows(c0, end);
        cp_async_wait<0>();
        // This chunk's u, delta, B, C have landed (every thread's copies); the previous chunk's
        // readers of the z/out tile and of the fp32 B/C tile are done.
        __syncthreads();
        if (z) load_act<T>(zTile, z, p.z_stride, c0, rows, d0, p.dim, vec & kVecZ);
        cp_async_commit();

        float dt[kK], du[kK], y[kK], Ssum;
        {
            const int l = lane_of(), c = chan_of(), nk = valid ? min(max(rows - l * kK, 0), kK) : 0;
            const uint32_t* ut = uTile + c / G::kEW * G::kPA;
            const uint32_t* dtt = dTile + c / G::kEW * G::kPA;
            const unsigned sel = Elem<T>::sel(c % G::kEW);
            if (p.delta_softplus)
                prepare<T, true>(ut, dtt, l, sel, nk, dbias, Dd, dt, du, y, Ssum);
            else
                prepare<T, false>(ut, dtt, l, sel, nk, dbias, Dd, dt, du, y, Ssum);
        }

#pragma unroll 1
        for (int slab = 0; slab < nslabs; ++slab) {
            if (slab > 0) __syncthreads();  // the previous slab's readers are done
            convert_slab<T, NS>(sbc, rawB, slab);
            __syncthreads();
            if (slab == nslabs - 1) {
                // Every thread has read this chunk's u, delta and raw B/C: fetch the next ones
                // into the same tiles while the states are scanned.
                const int64_t c1 = c0 + kT;
                if (c1 < end) {
                    const int rows1 = chunk_rows(c1, end);
                    load_act<T>(uTile, u, p.u_stride, c1, rows1, d0, p.dim, vec & kVecU);
                    load_act<T>(dTile, delta, p.delta_stride, c1, rows1, d0, p.dim, vec & kVecDelta);
                    load_bc<T, NS>(rawB, Bm, p.b_stride, c1, rows1, N, vec & kVecB);
                    load_bc<T, NS>(rawC, Cm, p.c_stride, c1, rows1, N, vec & kVecC);
                }
                cp_async_commit();  // possibly empty: keeps the group count of the waits fixed
            }
            // States of this slab, in pairs (the odd last state of an odd d_state is inert:
            // A, B, C and its carry are 0).
            const int n0 = slab * S::kSL, ns = min(S::kSL, N - n0), l = lane_of(), c = chan_of();
            scan_slab<S::kSL>(sbc + l * 4, sA + c * S::kAP + n0, sCarry + c * S::kAP + n0, (ns + 1) & ~1, l == 0, l == kLanes - 1,
                              dt, du, y, Ssum);
        }

        cp_async_wait<1>();  // z of this chunk (the next chunk's group may still be in flight)
        __syncthreads();
        {
            const int l = lane_of(), c = chan_of();
            const unsigned sel = Elem<T>::sel(c % G::kEW);
            uint32_t* zt = zTile + c / G::kEW * G::kPA;
            if (z) {
#pragma unroll
                for (int q = 0; q < kK / 4; ++q) {
                    const uint4 zw = *reinterpret_cast<const uint4*>(zt + slot(l, q, 0));
                    const uint32_t zz[4] = {zw.x, zw.y, zw.z, zw.w};
#pragma unroll
                    for (int e = 0; e < 4; ++e) y[4 * q + e] *= fk::silu(Elem<T>::get(zz[e], sel));
                }
                // 16-bit types: two channels share each 32-bit unit, and a thread reads whole
                // units of z (its neighbour's half too) where the other then writes its y.
                // Every read of the tile before any write (run 73's racecheck flagged the
                // overlap; the neighbour's half was never used, but the accesses raced).
                if constexpr (G::kEW > 1) __syncthreads();
            }
#pragma unroll
            for (int q = 0; q < kK / 4; ++q) {
                if (G::kEW == 1) {  // f32: the 4 tokens are 4 consecutive words
                    *reinterpret_cast<float4*>(zt + slot(l, q, 0)) = make_float4(y[4 * q], y[4 * q + 1], y[4 * q + 2], y[4 * q + 3]);
                } else {
                    // Each half-warp writes only its own channel's half of the units.
#pragma unroll
                    for (int e = 0; e < 4; ++e) Elem<T>::put(zt + slot(l, q, e), c % G::kEW, y[4 * q + e]);
                }
            }
        }
        __syncthreads();
        store_out<T>(zTile, static_cast<T*>(p.out), p.out_stride, c0, rows, d0, p.dim, vec & kVecOut);
    }
    cp_async_wait<0>();  // (only empty groups can be pending here)

    __syncthreads();  // the last carries (written by lane 15 of each half-warp) are visible
    if (valid && p.final_state) {
#pragma unroll
        for (int i = 0; i < NS / kLanes; ++i) {
            const int n = lane_of() + kLanes * i;
            if (n < N) p.final_state[(s * p.dim + d) * N + n] = sCarry[chan_of() * S::kAP + n];
        }
    }
}

#include "selective_scan_ring.cuh"
#include "selective_scan_ring32.cuh"

#if FK_SM90A
// FK_SCAN_RING32=0 keeps the cluster ring kernel out (A/B against the ring kernel).
inline bool ring32_enabled() {
    static const bool on = [] {
        const char* v = std::getenv("FK_SCAN_RING32");
        return v == nullptr || std::atoi(v) != 0;
    }();
    return on;
}
#endif

template <typename T, int NS>
cudaError_t launch_ns(const fk_selective_scan_params* p, unsigned vec, cudaStream_t stream) {
    const auto kernel = scan_kernel<T, NS>;
    constexpr int kSmem = Smem<T, NS>::kBytes;
    const cudaError_t e = use_smem(kernel, kSmem);  // (3 blocks of ~63 KB per SM)
    if (e != cudaSuccess) return e;
    const dim3 grid(static_cast<unsigned>(fk::ceil_div(p->dim, kChan)), static_cast<unsigned>(p->batch));
    kernel<<<grid, kThreads, kSmem, stream>>>(*p, vec);
    return cudaGetLastError();
}

template <typename T>
cudaError_t launch(const fk_selective_scan_params* p, cudaStream_t stream) {
#ifndef FK_SELECTIVE_SCAN_NO_RING  // (defined only by experiments/ssm's A/B of the two kernels)
    if constexpr (sizeof(T) == 2) {
#if FK_SM90A
        if (ring32_enabled() && ring32::fits(p)) {
            const cudaError_t e = ring32::launch<T>(p, stream);
            // A cluster of 4 CTAs that cannot be placed (a partitioned GPU) leaves the scan to
            // the ring kernel; the launch error is not sticky.
            if (e != cudaErrorInvalidClusterSize && e != cudaErrorLaunchOutOfResources) return e;
        }
#endif
        if (ring::fits(p)) return ring::launch<T>(p, stream);
    }
#endif
    // Activations move in 32-bit units (2 channels of 16-bit): base 4-byte aligned and row
    // strides a whole number of units. B and C move in 16-byte chunks of a row.
    constexpr int64_t kEW = Geo<T>::kEW, kEPC = 16 / sizeof(T);
    const auto unit_ok = [](const void* ptr, int64_t stride) {
        return reinterpret_cast<uintptr_t>(ptr) % 4 == 0 && stride % kEW == 0;
    };
    const auto chunk_ok = [](const void* ptr, int64_t stride) {
        return reinterpret_cast<uintptr_t>(ptr) % 16 == 0 && stride % kEPC == 0;
    };
    unsigned vec = 0;
    if (unit_ok(p->u, p->u_stride)) vec |= kVecU;
    if (unit_ok(p->delta, p->delta_stride)) vec |= kVecDelta;
    if (p->z && unit_ok(p->z, p->z_stride)) vec |= kVecZ;
    if (unit_ok(p->out, p->out_stride)) vec |= kVecOut;
    if (chunk_ok(p->B, p->b_stride)) vec |= kVecB;
    if (chunk_ok(p->C, p->c_stride)) vec |= kVecC;
    if (p->d_state <= 16) return launch_ns<T, 16>(p, vec, stream);
    if (p->d_state <= 32) return launch_ns<T, 32>(p, vec, stream);
    return launch_ns<T, 64>(p, vec, stream);
}

}  // namespace

FK_OP_LAUNCHER(selective_scan)(const fk_selective_scan_params* p, cudaStream_t stream) {
    FK_REQUIRE(p != nullptr && stream != nullptr);
    FK_REQUIRE(p->tokens >= 0 && p->dim > 0 && p->batch > 0 && p->batch <= 65535);
    FK_REQUIRE(p->d_state >= 1 && p->d_state <= FK_SELECTIVE_SCAN_MAX_DSTATE);
    FK_REQUIRE(p->u_stride >= p->dim && p->delta_stride >= p->dim && p->out_stride >= p->dim);
    FK_REQUIRE(p->z == nullptr || p->z_stride >= p->dim);
    FK_REQUIRE(p->b_stride >= p->d_state && p->c_stride >= p->d_state);
    FK_REQUIRE(p->cu_seqlens != nullptr && p->A != nullptr);
    FK_REQUIRE(p->tokens == 0 || (p->out && p->u && p->delta && p->B && p->C));
    FK_REQUIRE(fk::ceil_div(p->dim, kChan) <= 0x7fffffffLL);
    FK_DISPATCH_FLOAT(p->dtype, T, { return launch<T>(p, stream); });
    return cudaSuccess;
}
