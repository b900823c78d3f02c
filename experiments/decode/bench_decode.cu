// Standalone timing harness for paged_attention_decode: v0 (the previous baseline,
// v0_paged_attention_decode.cu) vs v1 (baselines/kernels/paged_attention_decode.cu) at the
// Llama-3.1-8B decode shapes, sweeping split_tokens for v1. bf16, block 16, shuffled
// physical blocks, all sequences at full context. Method as the Rust bench: 2x L2 written
// before each timed call, CUDA events, warm-up, median of 30. Prints v1-vs-v0 max |diff|
// as a sanity check (correctness proper is the Rust GPU tests against the CPU reference).
// Build: see build.sh. Run: ./bench_decode [reps]
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "fk/ops/paged_attention_decode.h"
#include "fk/ops/sample.h"

extern "C" cudaError_t s_sample(const fk_sample_params*, cudaStream_t);

typedef cudaError_t (*Launcher)(const fk_paged_attention_decode_params*, cudaStream_t);
#define FK_DECL(v) extern "C" cudaError_t v##_paged_attention_decode(const fk_paged_attention_decode_params*, cudaStream_t);
FK_DECL(v0)
FK_DECL(v1)
FK_DECL(v2c)
FK_DECL(v3a)
FK_DECL(v3b)
FK_DECL(v3c)
FK_DECL(v3d)
// (name, launcher, sweep splits): see build.sh for each variant's knobs.
struct Version {
    const char* name;
    Launcher f;
    bool sweep;
};
static const Version kVersions[] = {
    {"v0", v0_paged_attention_decode, false},    // previous baseline
    {"v1", v1_paged_attention_decode, false},    // run 1: tile 32, 16 lanes/token, 3 barriers/tile
    {"v2c", v2c_paged_attention_decode, false},  // run 2 best: tile 64, 256 thr, softmax in every warp
    {"v3a", v3a_paged_attention_decode, true},   // v1 + 8 lanes/token + block-id prefetch: 128 thr, 64 KB ring
    {"v3b", v3b_paged_attention_decode, true},   // v3, 128 thr, 48 KB ring, >= 4 CTAs/SM (<= 128 regs)
    {"v3c", v3c_paged_attention_decode, true},   // v3, 256 thr, 64 KB ring, >= 2 CTAs/SM
    {"v3d", v3d_paged_attention_decode, true},   // v3, 256 thr, 96 KB ring
};

#define CK(x)                                                                               \
    do {                                                                                    \
        cudaError_t e_ = (x);                                                               \
        if (e_ != cudaSuccess) {                                                            \
            std::fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_)); \
            std::exit(1);                                                                   \
        }                                                                                   \
    } while (0)

__global__ void fill_bf16(__nv_bfloat16* p, size_t n, unsigned seed) {
    for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x) {
        unsigned x = unsigned(i) * 2654435761u ^ seed;
        x ^= x >> 13;
        x *= 0x5bd1e995u;
        x ^= x >> 15;
        p[i] = __float2bfloat16((x & 0xffffff) / float(0x1000000) * 2.f - 1.f);
    }
}

// Mirrors DecodeSplits::for_device (baselines/src/ops/paged.rs).
static int auto_split(int seqs, int kv_heads, int max_blocks, int bs, int sms) {
    const long max_len = long(max_blocks) * bs, units = std::max(1L, long(seqs) * kv_heads);
    const long slots = long(std::max(1, sms)) * 3;
    const long min_split = (128 + bs - 1) / bs * bs;
    const long most = std::min(4096L, std::max(1L, (max_len + min_split - 1) / min_split));
    double best_cost = 1e300;
    long best = max_len;
    for (long want = 1; want <= most; ++want) {
        const long split = ((max_len + want - 1) / want + bs - 1) / bs * bs;
        const long waves = (units * ((max_len + split - 1) / split) + slots - 1) / slots;
        const double cost = double(waves) * double(split + 64);
        if (cost < best_cost) {
            best_cost = cost;
            best = split;
        }
    }
    return int(best);
}

// Capture one launch into a CUDA graph (global capture mode, as an engine would), replay it
// and require bit-identical output to the direct launch: the launcher must do nothing that
// capture forbids (host syncs, allocation, default-stream work).
template <typename Launch>
static void graph_check(const char* what, cudaStream_t st, Launch launch, void* out, size_t bytes) {
    std::vector<unsigned char> a(bytes), b(bytes);
    CK(launch());
    CK(cudaStreamSynchronize(st));
    CK(cudaMemcpy(a.data(), out, bytes, cudaMemcpyDeviceToHost));
    cudaGraph_t g;
    cudaGraphExec_t ge;
    CK(cudaStreamBeginCapture(st, cudaStreamCaptureModeGlobal));
    const cudaError_t le = launch();
    CK(cudaStreamEndCapture(st, &g));
    if (le != cudaSuccess) {
        std::printf("graph capture %s: launcher failed under capture: %s\n", what, cudaGetErrorString(le));
        return;
    }
    CK(cudaGraphInstantiate(&ge, g, 0));
    CK(cudaMemsetAsync(out, 0xff, bytes, st));
    CK(cudaGraphLaunch(ge, st));
    CK(cudaStreamSynchronize(st));
    CK(cudaMemcpy(b.data(), out, bytes, cudaMemcpyDeviceToHost));
    std::printf("graph capture %s: %s\n", what, a == b ? "OK (replay identical to direct launch)" : "MISMATCH");
    CK(cudaGraphExecDestroy(ge));
    CK(cudaGraphDestroy(g));
}

__global__ void fill_f32(float* p, size_t n, unsigned seed) {
    for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x) {
        unsigned x = unsigned(i) * 2654435761u ^ seed;
        x ^= x >> 13;
        x *= 0x5bd1e995u;
        x ^= x >> 15;
        p[i] = (x & 0xffffff) / float(0x1000000) * 8.f - 4.f;
    }
}

static void sample_graph_check(cudaStream_t st) {
    const int B = 4, V = 128256;
    float *logits, *temp, *topp;
    int *topk, *out;
    long long* rng;
    CK(cudaMalloc(&logits, size_t(B) * V * 4));
    CK(cudaMalloc(&temp, B * 4));
    CK(cudaMalloc(&topp, B * 4));
    CK(cudaMalloc(&topk, B * 4));
    CK(cudaMalloc(&out, B * 4));
    CK(cudaMalloc(&rng, B * 16));
    fill_f32<<<256, 256, 0, st>>>(logits, size_t(B) * V, 7);
    const float ht[B] = {0.f, 0.7f, 0.7f, 1.f}, hp[B] = {1.f, 0.9f, 1.f, 0.95f};
    const int hk[B] = {0, 50, 0, 0};
    const long long hr[2 * B] = {1, 0, 2, 0, 3, 0, 4, 0};
    CK(cudaMemcpy(temp, ht, sizeof ht, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(topp, hp, sizeof hp, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(topk, hk, sizeof hk, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(rng, hr, sizeof hr, cudaMemcpyHostToDevice));
    fk_sample_params p{};
    p.out = out;
    p.logits = logits;
    p.temperature = temp;
    p.top_k = topk;
    p.top_p = topp;
    p.rng = reinterpret_cast<const int64_t*>(rng);
    p.batch = B;
    p.vocab = V;
    p.logits_stride = V;
    p.dtype = FK_DTYPE_F32;
    graph_check("sample", st, [&] { return s_sample(&p, st); }, out, B * 4);
    CK(cudaFree(logits));
    CK(cudaFree(temp));
    CK(cudaFree(topp));
    CK(cudaFree(topk));
    CK(cudaFree(out));
    CK(cudaFree(rng));
}

int main(int argc, char** argv) {
    const int reps = argc > 1 ? std::atoi(argv[1]) : 30;
    const int H = 32, KVH = 8, D = 128, BS = 16;
    cudaStream_t st;
    CK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
    cudaDeviceProp prop;
    CK(cudaGetDeviceProperties(&prop, 0));
    const size_t flush_bytes = 2 * size_t(std::max(prop.l2CacheSize, 32 << 20));
    void* flush;
    CK(cudaMalloc(&flush, flush_bytes));
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    std::printf("device %s, %d SMs\n", prop.name, prop.multiProcessorCount);
    // Copy ceiling, as the Rust bench measures it.
    {
        void *a, *b;
        const size_t n = size_t(1) << 30;
        CK(cudaMalloc(&a, n));
        CK(cudaMalloc(&b, n));
        std::vector<float> t;
        for (int i = 0; i < 13; ++i) {
            CK(cudaEventRecord(e0, st));
            CK(cudaMemcpyAsync(b, a, n, cudaMemcpyDeviceToDevice, st));
            CK(cudaEventRecord(e1, st));
            CK(cudaEventSynchronize(e1));
            float ms;
            CK(cudaEventElapsedTime(&ms, e0, e1));
            if (i >= 3) t.push_back(ms);
        }
        std::sort(t.begin(), t.end());
        std::printf("copy bandwidth %.0f GB/s\n", 2.0 * n / (t[t.size() / 2] * 1e-3) / 1e9);
        CK(cudaFree(a));
        CK(cudaFree(b));
    }
    const int shapes[][2] = {{1, 4096}, {1, 32768}, {32, 1024}, {32, 4096}, {64, 4096}, {128, 2048}, {8, 8192}};
    std::mt19937 rng(1234);
    for (auto& sh : shapes) {
        const int seqs = sh[0], ctx = sh[1];
        const int mb = (ctx + BS - 1) / BS;
        const int nblocks = seqs * mb + 3;
        const size_t cache_elems = size_t(nblocks) * BS * KVH * D;
        __nv_bfloat16 *kc, *vc, *q, *out0, *out1;
        CK(cudaMalloc(&kc, cache_elems * 2));
        CK(cudaMalloc(&vc, cache_elems * 2));
        CK(cudaMalloc(&q, size_t(seqs) * H * D * 2));
        CK(cudaMalloc(&out0, size_t(seqs) * H * D * 2));
        CK(cudaMalloc(&out1, size_t(seqs) * H * D * 2));
        fill_bf16<<<1024, 256, 0, st>>>(kc, cache_elems, 1);
        fill_bf16<<<1024, 256, 0, st>>>(vc, cache_elems, 2);
        fill_bf16<<<64, 256, 0, st>>>(q, size_t(seqs) * H * D, 3);
        std::vector<int> phys(nblocks);
        for (int i = 0; i < nblocks; ++i) phys[i] = i;
        std::shuffle(phys.begin(), phys.end(), rng);
        std::vector<int> lens(seqs, ctx);
        int *table, *sl;
        CK(cudaMalloc(&table, size_t(seqs) * mb * 4));
        CK(cudaMalloc(&sl, seqs * 4));
        CK(cudaMemcpy(table, phys.data(), size_t(seqs) * mb * 4, cudaMemcpyHostToDevice));
        CK(cudaMemcpy(sl, lens.data(), seqs * 4, cudaMemcpyHostToDevice));
        const double bytes = 2.0 * seqs * ctx * KVH * D * 2 + 2.0 * seqs * H * D * 2;
        const int autos = auto_split(seqs, KVH, mb, BS, prop.multiProcessorCount);
        std::vector<std::pair<int, int>> runs = {{0, 512}};  // (version index, split)
        for (int v = 1; v < int(sizeof(kVersions) / sizeof(kVersions[0])); ++v) {
            runs.push_back({v, autos});
            if (!kVersions[v].sweep) continue;
            for (int s : {128, 256, 512, 1024, 2048})
                if (s != autos && s <= mb * BS && (seqs <= 8 || s >= 256)) runs.push_back({v, s});
        }
        float* ws = nullptr;
        size_t ws_floats = 0;
        for (auto& r : runs) {
            const int ms = (mb * BS + r.second - 1) / r.second;
            ws_floats = std::max(ws_floats, size_t(fk_paged_attention_workspace_floats(seqs, H, ms, D)));
        }
        CK(cudaMalloc(&ws, ws_floats * 4 + 16));
        for (auto& r : runs) {
            fk_paged_attention_decode_params p{};
            p.out = r.first == 0 ? out0 : out1;
            p.query = q;
            p.key_cache = kc;
            p.value_cache = vc;
            p.block_table = table;
            p.seq_lens = sl;
            p.workspace = ws;
            p.status = nullptr;
            p.seqs = seqs;
            p.query_stride = H * D;
            p.num_blocks = nblocks;
            p.heads = H;
            p.kv_heads = KVH;
            p.head_dim = D;
            p.block_size = BS;
            p.max_blocks_per_seq = mb;
            p.split_tokens = r.second;
            p.max_splits = (mb * BS + r.second - 1) / r.second;
            p.scale = 1.f / std::sqrt(float(D));
            p.dtype = FK_DTYPE_BF16;
            const Launcher f = kVersions[r.first].f;
            for (int i = 0; i < 3; ++i) CK(f(&p, st));
            std::vector<float> t;
            for (int i = 0; i < reps; ++i) {
                CK(cudaMemsetAsync(flush, i & 0xff, flush_bytes, st));
                CK(cudaEventRecord(e0, st));
                CK(f(&p, st));
                CK(cudaEventRecord(e1, st));
                CK(cudaEventSynchronize(e1));
                float ms_;
                CK(cudaEventElapsedTime(&ms_, e0, e1));
                t.push_back(ms_ * 1e3f);
            }
            std::sort(t.begin(), t.end());
            const float med = t[t.size() / 2];
            double maxdiff = 0;
            if (r.first != 0) {
                std::vector<__nv_bfloat16> a(size_t(seqs) * H * D), b(size_t(seqs) * H * D);
                CK(cudaMemcpy(a.data(), out0, a.size() * 2, cudaMemcpyDeviceToHost));
                CK(cudaMemcpy(b.data(), out1, b.size() * 2, cudaMemcpyDeviceToHost));
                for (size_t i = 0; i < a.size(); ++i) {
                    const double d = std::fabs(double(__bfloat162float(a[i])) - double(__bfloat162float(b[i])));
                    maxdiff = std::max(maxdiff, std::isnan(d) ? 1e30 : d);
                }
            }
            std::printf("b%-4d ctx %-6d %-4s split %-5d%s splits %-3d ctas %-6d %9.2f us  %7.0f GB/s  p10 %.2f p90 %.2f  maxdiff_vs_v0 %.4g\n",
                        seqs, ctx, kVersions[r.first].name, r.second, r.second == autos ? "*" : " ", p.max_splits,
                        p.max_splits * seqs * KVH, med, bytes / (med * 1e-6) / 1e9, t[t.size() / 10], t[t.size() * 9 / 10], maxdiff);
        }
        if (seqs == 32 && ctx == 1024) {
            fk_paged_attention_decode_params g{};
            g.out = out1; g.query = q; g.key_cache = kc; g.value_cache = vc; g.block_table = table; g.seq_lens = sl;
            g.workspace = ws; g.seqs = seqs; g.query_stride = H * D; g.num_blocks = nblocks; g.heads = H; g.kv_heads = KVH;
            g.head_dim = D; g.block_size = BS; g.max_blocks_per_seq = mb; g.split_tokens = autos;
            g.max_splits = (mb * BS + autos - 1) / autos; g.scale = 0.088f; g.dtype = FK_DTYPE_BF16;
            graph_check("paged_attention_decode (v3a, auto splits)", st, [&] { return v3a_paged_attention_decode(&g, st); }, out1, size_t(seqs) * H * D * 2);
        }
        CK(cudaFree(kc));
        CK(cudaFree(vc));
        CK(cudaFree(q));
        CK(cudaFree(out0));
        CK(cudaFree(out1));
        CK(cudaFree(table));
        CK(cudaFree(sl));
        CK(cudaFree(ws));
    }
    sample_graph_check(st);
    std::printf("done\n");
    return 0;
}
