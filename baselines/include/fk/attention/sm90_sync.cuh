// Hopper (sm_90a) synchronisation and descriptor building blocks of the warp-specialised
// kernels (prefill attention, the MoE grouped GEMM, the streaming GEMV and conv): mbarriers
// (init, arrive, parity wait, cp.async completion arrive, TMA transaction counts), TMA tile
// loads and 1-D bulk copies, the proxy fence between cp.async writes (generic proxy) and wgmma
// reads (async proxy), wgmma fence /
// commit / wait, register-pinning fences, setmaxnreg, and shared-memory matrix descriptors
// for the 128-byte-swizzled layout.
//
// Shared-memory tile format used by every wgmma operand here ("SW128 tile"): a tile of R rows
// and C (a multiple of 64) 16-bit columns is stored as C/64 column blocks of R rows x 128 bytes,
// block after block; 16-byte chunk c (0..7) of row r sits at chunk c ^ (r % 8) of that row.
// Each column block must start 1024-byte aligned. This is CUTLASS's Layout_K_SW128 atom for a
// K-major operand (rows = M or N, columns = K) and Layout_MN_SW128 for an MN-major one (rows =
// K, columns = M or N), so one producer routine fills Q, K and V tiles.
#pragma once
#include <stdint.h>

namespace fk {
namespace attn {

__device__ __forceinline__ void mbar_init(uint32_t bar, uint32_t count) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count) : "memory");
}
// Makes mbarrier inits visible to the async proxy / other threads (before a __syncthreads).
__device__ __forceinline__ void mbar_init_fence() {
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
}
__device__ __forceinline__ void mbar_arrive(uint32_t bar) {
    asm volatile("{\n.reg .b64 st;\nmbarrier.arrive.shared::cta.b64 st, [%0];\n}\n" ::"r"(bar) : "memory");
}
// Blocks until the phase with parity `parity` of the barrier has completed.
__device__ __forceinline__ void mbar_wait(uint32_t bar, uint32_t parity) {
    asm volatile(
        "{\n.reg .pred done;\n"
        "WAIT:\n"
        "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n"
        "@!done bra WAIT;\n}\n" ::"r"(bar),
        "r"(parity)
        : "memory");
}
// The barrier counts one arrival of this thread once all its earlier cp.async copies have
// landed (.noinc: the arrival is part of the count given at init).
__device__ __forceinline__ void cp_async_arrive_noinc(uint32_t bar) {
    asm volatile("cp.async.mbarrier.arrive.noinc.shared::cta.b64 [%0];\n" ::"r"(bar) : "memory");
}
__device__ __forceinline__ void cp_async_wait_all() { asm volatile("cp.async.wait_all;\n" ::: "memory"); }

// Adds one arrival and raises the phase's expected transaction bytes: the phase completes once
// every arrival is in and TMA copies have delivered `bytes` (see tma_load_3d).
__device__ __forceinline__ void mbar_arrive_expect_tx(uint32_t bar, uint32_t bytes) {
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}
// TMA: copies the box at element coordinates (c0 innermost, c1, c2) of the tensor `tmap`
// describes (a __grid_constant__ kernel parameter) to shared memory at `dst`, laid out and
// swizzled as the map says; the bytes count against `bar`'s transaction count. Boxes that
// reach past the tensor are zero-filled.
__device__ __forceinline__ void tma_load_3d(uint32_t dst, const void* tmap, uint32_t bar, int c0, int c1, int c2) {
    asm volatile(
        "cp.async.bulk.tensor.3d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%3, %4, %5}], [%2];\n" ::"r"(dst),
        "l"(reinterpret_cast<uint64_t>(tmap)), "r"(bar), "r"(c0), "r"(c1), "r"(c2)
        : "memory");
}

// TMA stores: the box at element coordinates (c0 innermost, ...) of the tensor `tmap` describes,
// from shared memory at `src` laid out and swizzled as the map says, as an operation of this
// thread's current bulk group (commit with bulk_commit_group). Parts of the box past the tensor
// are not written.
__device__ __forceinline__ void tma_store_3d(const void* tmap, uint32_t src, int c0, int c1, int c2) {
    asm volatile("cp.async.bulk.tensor.3d.global.shared::cta.bulk_group [%0, {%2, %3, %4}], [%1];\n" ::"l"(reinterpret_cast<uint64_t>(tmap)), "r"(src),
                 "r"(c0), "r"(c1), "r"(c2)
                 : "memory");
}
__device__ __forceinline__ void tma_store_4d(const void* tmap, uint32_t src, int c0, int c1, int c2, int c3) {
    asm volatile("cp.async.bulk.tensor.4d.global.shared::cta.bulk_group [%0, {%2, %3, %4, %5}], [%1];\n" ::"l"(reinterpret_cast<uint64_t>(tmap)),
                 "r"(src), "r"(c0), "r"(c1), "r"(c2), "r"(c3)
                 : "memory");
}
__device__ __forceinline__ void bulk_commit_group() { asm volatile("cp.async.bulk.commit_group;\n" ::: "memory"); }
// This thread's bulk groups but the newest N have finished reading their shared memory...
template <int N> __device__ __forceinline__ void bulk_wait_group_read() { asm volatile("cp.async.bulk.wait_group.read %0;\n" ::"n"(N) : "memory"); }
// ... or have completed.
template <int N> __device__ __forceinline__ void bulk_wait_group() { asm volatile("cp.async.bulk.wait_group %0;\n" ::"n"(N) : "memory"); }

// 1-D bulk copy (cp.async.bulk, TMA without a tensor map) global -> shared: `bytes` a multiple of
// 16, both addresses 16-byte aligned; the bytes count against `bar`'s transaction count.
__device__ __forceinline__ void bulk_load(uint32_t dst, const void* src, uint32_t bytes, uint32_t bar) {
    asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];\n" ::"r"(dst),
                 "l"(reinterpret_cast<uint64_t>(src)), "r"(bytes), "r"(bar)
                 : "memory");
}

// Thread-block clusters (sm_90): this CTA's rank, the whole cluster's barrier (every thread of
// every CTA; release/acquire orders shared-memory accesses across the cluster), and access to
// another CTA's shared memory: `cluster_map` turns a local shared address into the same
// variable's address in CTA `rank`, which st_async_cluster takes.
__device__ __forceinline__ uint32_t cluster_ctarank() {
    uint32_t r;
    asm volatile("mov.u32 %0, %%cluster_ctarank;\n" : "=r"(r));
    return r;
}
__device__ __forceinline__ void cluster_sync() {
    asm volatile("barrier.cluster.arrive.release.aligned;\nbarrier.cluster.wait.acquire.aligned;\n" ::: "memory");
}
__device__ __forceinline__ uint32_t cluster_map(uint32_t local, uint32_t rank) {
    uint32_t r;
    asm volatile("mapa.shared::cluster.u32 %0, %1, %2;\n" : "=r"(r) : "r"(local), "r"(rank));
    return r;
}
// 4 bytes into (possibly) another CTA's shared memory at `addr`, counted as transaction bytes
// on that CTA's barrier `bar` (both from cluster_map): an asynchronous store that needs no
// fence (a release arrival at cluster scope costs a GPU-wide MEMBAR per thread). The reader
// raises the phase's expected bytes (mbar_arrive_expect_tx) and waits as for a TMA load.
__device__ __forceinline__ void st_async_cluster(uint32_t addr, float v, uint32_t bar) {
    asm volatile("st.async.shared::cluster.mbarrier::complete_tx::bytes.b32 [%0], %1, [%2];\n" ::"r"(addr), "r"(__float_as_uint(v)), "r"(bar)
                 : "memory");
}

// cp.async writes through the generic proxy; wgmma reads shared memory through the async proxy.
__device__ __forceinline__ void fence_proxy_async() { asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); }

__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
template <int N> __device__ __forceinline__ void wgmma_wait() {
    asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
}
// Pin registers that an in-flight wgmma reads or writes: the compiler may neither move their
// producers past this point nor reuse them before it.
template <int N> __device__ __forceinline__ void reg_fence(float (&r)[N]) {
#pragma unroll
    for (int i = 0; i < N; ++i) asm volatile("" : "+f"(r[i])::"memory");
}
template <int N> __device__ __forceinline__ void reg_fence(uint32_t (&r)[N]) {
#pragma unroll
    for (int i = 0; i < N; ++i) asm volatile("" : "+r"(r[i])::"memory");
}
template <int N, int M> __device__ __forceinline__ void reg_fence(uint32_t (&r)[N][M]) {
#pragma unroll
    for (int i = 0; i < N; ++i) reg_fence(r[i]);
}

// Named CTA barriers (0 is __syncthreads'): `threads` arrivals complete a phase; sync waits,
// arrive does not.
__device__ __forceinline__ void named_bar_sync(int id, int threads) {
    asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}
__device__ __forceinline__ void named_bar_arrive(int id, int threads) {
    asm volatile("bar.arrive %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}

template <int REGS> __device__ __forceinline__ void setmaxnreg_inc() {
    asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(REGS));
}
template <int REGS> __device__ __forceinline__ void setmaxnreg_dec() {
    asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(REGS));
}

// Shared-memory matrix descriptor for a SW128 tile (PTX "matrix descriptor": start address,
// leading and stride byte offsets in 16-byte units, layout type 1 = 128-byte swizzle).
//   K-major operand:  lbo unused (1), sbo = 1024 (8 rows x 128 B).
//   MN-major operand: lbo = bytes between 64-column blocks, sbo = 1024 (8 K-rows x 128 B).
// Advancing along K inside a 64-wide block (K-major) adds 32 bytes per 16 columns to the
// start address; along K for MN-major adds 16 rows x 128 B = 2048 bytes.
__device__ __forceinline__ uint64_t sw128_desc(uint32_t smem_addr, uint32_t lbo_bytes, uint32_t sbo_bytes) {
    uint64_t d = (smem_addr & 0x3FFFFu) >> 4;
    d |= uint64_t((lbo_bytes >> 4) & 0x3FFFu) << 16;
    d |= uint64_t((sbo_bytes >> 4) & 0x3FFFu) << 32;
    d |= uint64_t(1) << 62;
    return d;
}
// Byte offset of 16-byte chunk `chunk` (0 .. C/8-1) of row `row` in a SW128 tile of R rows.
template <int R> __device__ __forceinline__ uint32_t sw128_offset(int row, int chunk) {
    return uint32_t((chunk >> 3) * (R * 128) + row * 128 + (((chunk & 7) ^ (row & 7)) << 4));
}
// One 32-bit store to shared address `addr` (a TMA store's staging tile, e.g.
// fk::ssd::WarpStoreTile: its address math stays inline, where the compiler knows the row's
// swizzle phase).
__device__ __forceinline__ void st_shared_b32(uint32_t addr, uint32_t v) { asm volatile("st.shared.b32 [%0], %1;\n" ::"r"(addr), "r"(v) : "memory"); }

}  // namespace attn
}  // namespace fk
