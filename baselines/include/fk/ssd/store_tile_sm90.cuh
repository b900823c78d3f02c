// A warp's 16 rows of 128 bytes in shared memory, staged for one TMA store (SW128: row i's
// 16-byte chunk nb at chunk nb ^ (i % 8)), as both of ssd_chunk_scan's Hopper passes publish
// their results (the state pass its chunk states, the output pass its output rows). Lane
// (g = lane / 4, c4 = lane % 4) holds the mma fragment's word c4 of chunk nb of rows g and g + 8.
// The sequence: acquire (the tile's previous store has read it), put the words, publish (the
// generic-proxy writes fenced for the async proxy, then one lane issues the store and commits
// it as a bulk group).
#pragma once
#include "fk/attention/sm90_sync.cuh"

#include <cstdint>

namespace fk {
namespace ssd {

struct WarpStoreTile {
    uint32_t base;  // shared address of the warp's 2 KB tile (1024-byte aligned for SW128)
    int g, c4;
    // Before any put: wait until the store issued from this tile last has read it.
    __device__ __forceinline__ void acquire(int lane) const {
        if (lane == 0) attn::bulk_wait_group_read<0>();
        __syncwarp();
    }
    // Word `v` of this lane at row g + 8 r, chunk nb (pre-swizzle).
    __device__ __forceinline__ void put(int r, int nb, uint32_t v) const { attn::st_shared_b32(base + (g + 8 * r) * 128 + ((nb ^ g) << 4) + 4 * c4, v); }
    // After every lane's puts: `store()` (the TMA store of the tile, run by lane 0) and its commit.
    template <typename Store> __device__ __forceinline__ void publish(int lane, Store store) const {
        attn::fence_proxy_async();
        __syncwarp();
        if (lane == 0) {
            store();
            attn::bulk_commit_group();
        }
    }
};

}  // namespace ssd
}  // namespace fk
