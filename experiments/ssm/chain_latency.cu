// What does a kernel boundary cost in a decode step's chain of small dependent kernels?
// Mamba-1's batch-1 decode step (issue 7: >= 80 % of the weight-streaming roofline; we are at
// 63 %) is five dependent launches per layer, ~13 us per layer beyond its 19.5 us of weights.
// This program measures the synchronisation alone: a chain of kStages kernels, each CTA of
// stage s reading one value that another CTA of stage s-1 wrote (a true all-to-all dependency
// through memory, as between a GEMV and the next kernel) and writing one value, captured as a
// CUDA graph and replayed. Modes:
//   serial     plain launches: each kernel starts after the previous one has drained
//   pdl        programmatic dependent launch, griddepcontrol.wait then launch_dependents at the
//              start of each kernel (what the baselines do: fk::pdl_grid_sync)
//   pdl_late   the same, but launch_dependents after the stage's store (the next grid's CTAs
//              are not resident and waiting while this one runs)
//   flag       programmatic launch, but no griddepcontrol.wait: each CTA spins (acquire) on a
//              counter the previous stage's CTAs increment (release) after their stores; the
//              next launch is released once the inputs are in
//   persistent one kernel, the stages separated by a grid-wide barrier (counter + spin): the
//              floor of any persistent decode kernel's synchronisation
// A second table replays Mamba-1's decode step pattern instead, 64 layers of five stages with
// the step's grids (the norm's 1 CTA, in_proj's 2560, x_proj's 192, the state update's 160,
// out_proj's 2560), by plain launches, PDL everywhere, or PDL except on the two 2560-CTA
// stages (mode "pdl_small": uniform chains of 2560-CTA grids were slower with PDL).
// Every replay starts from zeroed buffers and counters (memset nodes) and stage s adds 1 to
// what it read, so the last stage must read kStages - 1 everywhere: the program checks it (a
// stale read would show a smaller value). Times: CUDA events around 50 replays after 10
// warm-ups, median of 7 such batches, reported per stage.
// Build and run (CUDA 12.3+, sm_90): nvcc -O3 -arch=sm_90 chain_latency.cu -o chain_latency && ./chain_latency
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "bench_util.cuh"

constexpr int kStages = 64, kThreads = 128, kMaxGrid = 4096;
constexpr int kPatternLayers = 64, kPatternStages = 5 * kPatternLayers;
constexpr int kMaxStages = kPatternStages;

enum Mode { kSerial, kPdl, kPdlLate, kFlag, kPersistent };
const char* kModeNames[] = {"serial", "pdl", "pdl_late", "flag", "persistent"};
constexpr int kModes = 5;

// buf: [kMaxStages + 1][kMaxGrid] ints; flags: [kMaxStages + 1] counters.
__device__ __forceinline__ int ld_acquire(const int* p) {
    int v;
    asm volatile("ld.acquire.gpu.global.b32 %0, [%1];" : "=r"(v) : "l"(p) : "memory");
    return v;
}
__device__ __forceinline__ void red_release(int* p, int v) {
    asm volatile("red.release.gpu.global.add.s32 [%0], %1;" ::"l"(p), "r"(v) : "memory");
}
__device__ __forceinline__ int ld_cg(const int* p) { return __ldcg(p); }

// One stage's work for this CTA: read a value a CTA of the previous stage (prev CTAs) wrote,
// add 1.
__device__ __forceinline__ void stage_work(int* buf, int s, int prev) {
    if (threadIdx.x == 0) {
        const int src = (blockIdx.x * 7 + 3) % prev;
        const int v = s == 0 ? 0 : ld_cg(buf + (s - 1) * kMaxGrid + src) + 1;
        buf[s * kMaxGrid + blockIdx.x] = v;
    }
}

template <Mode M> __global__ void __launch_bounds__(kThreads) stage_kernel(int* buf, int* flags, int s, int prev) {
    if constexpr (M == kPdl || M == kPdlLate) asm volatile("griddepcontrol.wait;" ::: "memory");
    if constexpr (M == kPdl) asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
    if constexpr (M == kFlag) {
        if (threadIdx.x == 0 && s > 0)
            while (ld_acquire(flags + s - 1) < prev) {
            }
        __syncthreads();
        asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
    }
    stage_work(buf, s, prev);
    if constexpr (M == kPdlLate) {
        __syncthreads();
        asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
    }
    if constexpr (M == kFlag) {
        if (threadIdx.x == 0) red_release(flags + s, 1);
    }
}

// All stages in one kernel: a grid barrier (flags[s] counts arrivals) between them.
__global__ void __launch_bounds__(kThreads) persistent_kernel(int* buf, int* flags, int grid) {
    for (int s = 0; s < kStages; ++s) {
        stage_work(buf, s, grid);
        if (threadIdx.x == 0) {
            red_release(flags + s, 1);
            while (ld_acquire(flags + s) < grid) {
            }
        }
        __syncthreads();
    }
}

// grids[s]: stage s's CTAs. pdl_big: launch stages of >= 2560 CTAs with PDL too.
cudaGraphExec_t capture(Mode m, const std::vector<int>& grids, bool pdl_big, int* buf, int* flags, cudaStream_t st) {
    cudaGraph_t g;
    CHECK(cudaStreamBeginCapture(st, cudaStreamCaptureModeThreadLocal));
    CHECK(cudaMemsetAsync(buf, 0, sizeof(int) * (kMaxStages + 1) * kMaxGrid, st));
    CHECK(cudaMemsetAsync(flags, 0, sizeof(int) * (kMaxStages + 1), st));
    if (m == kPersistent) {
        persistent_kernel<<<grids[0], kThreads, 0, st>>>(buf, flags, grids[0]);
        CHECK(cudaGetLastError());
    } else {
        for (size_t s = 0; s < grids.size(); ++s) {
            const int grid = grids[s], prev = s == 0 ? 1 : grids[s - 1];
            cudaLaunchConfig_t cfg = {};
            cfg.gridDim = dim3(grid);
            cfg.blockDim = dim3(kThreads);
            cfg.stream = st;
            cudaLaunchAttribute attr[1];
            attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
            attr[0].val.programmaticStreamSerializationAllowed = 1;
            cfg.attrs = attr;
            cfg.numAttrs = m == kSerial || (!pdl_big && grid >= 2560) ? 0 : 1;
            const int si = static_cast<int>(s);
            if (m == kSerial) CHECK(cudaLaunchKernelEx(&cfg, stage_kernel<kSerial>, buf, flags, si, prev));
            if (m == kPdl) CHECK(cudaLaunchKernelEx(&cfg, stage_kernel<kPdl>, buf, flags, si, prev));
            if (m == kPdlLate) CHECK(cudaLaunchKernelEx(&cfg, stage_kernel<kPdlLate>, buf, flags, si, prev));
            if (m == kFlag) CHECK(cudaLaunchKernelEx(&cfg, stage_kernel<kFlag>, buf, flags, si, prev));
        }
    }
    CHECK(cudaStreamEndCapture(st, &g));
    cudaGraphExec_t ex;
    CHECK(cudaGraphInstantiate(&ex, g, 0));
    CHECK(cudaGraphDestroy(g));
    return ex;
}

// Replays `ex` (10 warm-ups, then 7 batches of 50): sorted us per replay, and whether the last
// stage read stages - 1 everywhere (every dependency respected).
std::vector<float> measure(cudaGraphExec_t ex, int stages, int last_grid, const int* buf, cudaStream_t st, cudaEvent_t a, cudaEvent_t b, bool* ok) {
    for (int i = 0; i < 10; ++i) CHECK(cudaGraphLaunch(ex, st));
    std::vector<float> us;
    for (int rep = 0; rep < 7; ++rep) {
        CHECK(cudaEventRecord(a, st));
        for (int i = 0; i < 50; ++i) CHECK(cudaGraphLaunch(ex, st));
        CHECK(cudaEventRecord(b, st));
        CHECK(cudaEventSynchronize(b));
        float ms = 0;
        CHECK(cudaEventElapsedTime(&ms, a, b));
        us.push_back(ms * 1000.f / 50);
    }
    std::sort(us.begin(), us.end());
    std::vector<int> last(last_grid);
    CHECK(cudaMemcpy(last.data(), buf + (stages - 1) * kMaxGrid, sizeof(int) * last_grid, cudaMemcpyDeviceToHost));
    *ok = std::all_of(last.begin(), last.end(), [&](int v) { return v == stages - 1; });
    return us;
}

int main() {
    int dev = 0, sms = 0;
    CHECK(cudaGetDevice(&dev));
    CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
    cudaDeviceProp prop;
    CHECK(cudaGetDeviceProperties(&prop, dev));
    int *buf, *flags;
    CHECK(cudaMalloc(&buf, sizeof(int) * (kMaxStages + 1) * kMaxGrid));
    CHECK(cudaMalloc(&flags, sizeof(int) * (kMaxStages + 1)));
    cudaStream_t st;
    CHECK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
    cudaEvent_t a, b;
    CHECK(cudaEventCreate(&a));
    CHECK(cudaEventCreate(&b));
    std::printf("{\"gpu\": \"%s\", \"sms\": %d, \"stages\": %d, \"results\": [\n", prop.name, sms, kStages);
    // The decode step's grids: one CTA per SM, x_proj (192), 2 per SM, out_proj (2560).
    const int grids[] = {sms, 192, 2 * sms, 2560};
    bool first = true, all_ok = true;
    for (int grid : grids) {
        for (int mi = 0; mi < kModes; ++mi) {
            const Mode m = static_cast<Mode>(mi);
            // The persistent barrier needs the whole grid resident: 16 CTAs of 128 threads per SM.
            if (m == kPersistent && grid > 16 * sms) continue;
            cudaGraphExec_t ex = capture(m, std::vector<int>(kStages, grid), true, buf, flags, st);
            bool ok = false;
            const std::vector<float> us = measure(ex, kStages, grid, buf, st, a, b, &ok);
            all_ok = all_ok && ok;
            std::printf("%s  {\"mode\": \"%s\", \"grid\": %d, \"us_per_stage_median\": %.3f, \"min\": %.3f, \"max\": %.3f, \"dependencies_respected\": %s}", first ? "" : ",\n",
                        kModeNames[mi], grid, us[3] / kStages, us.front() / kStages, us.back() / kStages, ok ? "true" : "false");
            first = false;
            CHECK(cudaGraphExecDestroy(ex));
        }
    }
    // Mamba-1's decode step: norm, in_proj, x_proj, state update, out_proj, per layer.
    std::vector<int> pattern;
    for (int l = 0; l < kPatternLayers; ++l)
        for (int g : {1, 2560, 192, 160, 2560}) pattern.push_back(g);
    std::printf("\n], \"step_pattern\": {\"layers\": %d, \"grids\": [1, 2560, 192, 160, 2560], \"results\": [\n", kPatternLayers);
    const struct { Mode m; bool pdl_big; const char* name; } pm[] = {{kSerial, true, "serial"}, {kPdl, true, "pdl"}, {kPdl, false, "pdl_small"}, {kFlag, true, "flag"}};
    first = true;
    for (const auto& v : pm) {
        cudaGraphExec_t ex = capture(v.m, pattern, v.pdl_big, buf, flags, st);
        bool ok = false;
        const std::vector<float> us = measure(ex, kPatternStages, 2560, buf, st, a, b, &ok);
        all_ok = all_ok && ok;
        std::printf("%s  {\"mode\": \"%s\", \"us_per_layer_median\": %.3f, \"min\": %.3f, \"max\": %.3f, \"dependencies_respected\": %s}", first ? "" : ",\n", v.name,
                    us[3] / kPatternLayers, us.front() / kPatternLayers, us.back() / kPatternLayers, ok ? "true" : "false");
        first = false;
        CHECK(cudaGraphExecDestroy(ex));
    }
    std::printf("\n]}, \"all_dependencies_respected\": %s}\n", all_ok ? "true" : "false");
    return all_ok ? 0 : 2;
}
