// Standalone GPU harness for prefill_attention (device machine: nvcc, no cargo).
// Build (here): see build.sh. Run: ./harness [probe] [check] [perf]
//  probe: wgmma building blocks alone (SS K-major QK^T, RS MN-major PV with LBO/SBO variants)
//  check: many shapes x kernel variants vs an fp32 GPU reference on sampled rows, plus
//         finite/poison checks and sm90-vs-sm80 agreement
//  perf:  batch-1 Llama-3.1-8B heads (32 q / 8 kv), seqlen 1k..16k, causal/non-causal,
//         head_dim 128/64, CUDA events, L2 flushed before each call, median of reps
#include "../../baselines/kernels/prefill_attention.cu"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#define CK(x)                                                                                        \
    do {                                                                                             \
        cudaError_t e_ = (x);                                                                        \
        if (e_ != cudaSuccess) {                                                                     \
            fprintf(stderr, "CUDA error %s at %s:%d: %s\n", cudaGetErrorName(e_), __FILE__, __LINE__, #x); \
            exit(1);                                                                                 \
        }                                                                                            \
    } while (0)

extern "C" cudaError_t fk_baseline_prefill_attention(const fk_prefill_attention_params*, cudaStream_t);

static uint64_t g_seed = 0x1234567ull;
__device__ __forceinline__ float hash_unit(uint64_t x) {
    x ^= x >> 33; x *= 0xff51afd7ed558ccdull; x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ull; x ^= x >> 33;
    return (float)((x >> 40) * (1.0 / 16777216.0));
}
template <typename T> __global__ void fill_kernel(T* p, int64_t n, uint64_t seed, float scale) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        // sum of 3 uniforms: roughly normal, std = scale
        float u = hash_unit(seed + 3 * i) + hash_unit(seed + 3 * i + 1) + hash_unit(seed + 3 * i + 2) - 1.5f;
        p[i] = fk::from_float<T>(u * 2.0f * scale);
    }
}
template <typename T> void fill(T* p, int64_t n, float scale = 1.f) {
    fill_kernel<T><<<1024, 256>>>(p, n, g_seed, scale);
    g_seed += 0x9E3779B97F4A7C15ull;
    CK(cudaGetLastError());
}

// ---------------- fp32 reference: one warp per (sampled row, head) ----------------
template <typename T>
__global__ void ref_kernel(fk_prefill_attention_params p, const int* rows, const int* seqs, int nrows, float* ref) {
    const int ri = blockIdx.x, h = blockIdx.y, lane = threadIdx.x;
    if (ri >= nrows) return;
    const int grow = rows[ri], b = seqs[ri];
    const int D = p.head_dim, E = D / 32;
    const int64_t q0 = p.cu_seqlens_q[b];
    const int len_q = p.cu_seqlens_q[b + 1] - (int)q0;
    int64_t k0 = 0;
    int len_k;
    if (p.block_size == 0) { k0 = p.cu_seqlens_k[b]; len_k = p.cu_seqlens_k[b + 1] - (int)k0; }
    else len_k = p.seq_lens_k[b];
    const int i = grow - (int)q0, shift = len_k - len_q;
    int hi = len_k, lo = 0;
    if (p.causal) hi = min(len_k, max(i + shift + 1, 0));
    if (p.window_left >= 0) lo = max(i + shift - p.window_left, 0);
    const int kvh = h / (p.heads / p.kv_heads);
    const T* q = (const T*)p.query + grow * p.query_stride + (int64_t)h * D;
    float qv[8], acc[8];
    for (int e = 0; e < E; ++e) { qv[e] = fk::to_float(q[lane * E + e]); acc[e] = 0.f; }
    auto krow = [&](int j) -> int64_t {
        if (p.block_size == 0) return k0 + j;
        return (int64_t)p.block_table[(int64_t)b * p.max_blocks_per_seq + j / p.block_size] * p.block_size + j % p.block_size;
    };
    float m = -INFINITY, l = 0.f;
    for (int j = lo; j < hi; ++j) {
        const int64_t r = krow(j);
        const T* k = (const T*)p.key + r * p.key_stride + (int64_t)kvh * D;
        float s = 0.f;
        for (int e = 0; e < E; ++e) s += qv[e] * fk::to_float(k[lane * E + e]);
        for (int o = 16; o; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
        s *= p.scale;
        const float mn = fmaxf(m, s), c = expf(m - mn), w = expf(s - mn);
        l = l * c + w;
        const T* v = (const T*)p.value + r * p.value_stride + (int64_t)kvh * D;
        for (int e = 0; e < E; ++e) acc[e] = acc[e] * c + w * fk::to_float(v[lane * E + e]);
        m = mn;
    }
    for (int e = 0; e < E; ++e) ref[((int64_t)ri * p.heads + h) * D + lane * E + e] = l > 0.f ? acc[e] / l : 0.f;
}
template <typename T> __global__ void count_bad_kernel(const T* out, int64_t n, unsigned long long* bad) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        if (!isfinite(fk::to_float(out[i]))) atomicAdd(bad, 1ull);
}

static float h2f(uint16_t v, bool bf16) {
    if (bf16) { uint32_t u = (uint32_t)v << 16; float f; memcpy(&f, &u, 4); return f; }
    __half hv; memcpy(&hv, &v, 2); return __half2float(hv);
}

struct Case {
    std::string name;
    std::vector<int> len_q, len_k;
    int heads, kv_heads, D;
    bool causal;
    int window;      // -1 none
    int block_size;  // 0 contiguous
    bool bf16;
    bool fused_qkv;  // q/k/v are column blocks of one [T, (H+2KV)D] buffer
    int sample;      // check every sample-th row (1 = all)
};

struct Inst {
    Case c;
    fk_prefill_attention_params p{};
    void *q = nullptr, *k = nullptr, *v = nullptr, *out = nullptr, *qkv = nullptr;
    int *cu_q = nullptr, *cu_k = nullptr, *table = nullptr, *lens_k = nullptr;
    int64_t total_q = 0, out_elems = 0;
    std::vector<int> hrows, hseqs;
    int *rows = nullptr, *seqs = nullptr;
    float* ref = nullptr;
    fk_status* status = nullptr;
    std::vector<void*> allocs;
    template <typename P> void alloc(P** ptr, size_t bytes) {
        CK(cudaMalloc((void**)ptr, bytes));
        allocs.push_back((void*)*ptr);
    }
};

template <typename T> void alloc_inst(Inst& I) {
    const Case& c = I.c;
    const int B = (int)c.len_q.size(), D = c.D;
    std::vector<int> cq(B + 1, 0), ck(B + 1, 0);
    for (int b = 0; b < B; ++b) { cq[b + 1] = cq[b] + c.len_q[b]; ck[b + 1] = ck[b] + c.len_k[b]; }
    I.total_q = cq[B];
    const int64_t total_k = ck[B];
    const int qw = c.heads * D, kw = c.kv_heads * D;
    auto& p = I.p;
    p.batch = B; p.heads = c.heads; p.kv_heads = c.kv_heads; p.head_dim = D;
    p.max_seqlen_q = *std::max_element(c.len_q.begin(), c.len_q.end());
    p.causal = c.causal; p.window_left = c.window; p.scale = 1.f / sqrtf((float)D);
    p.dtype = c.bf16 ? FK_DTYPE_BF16 : FK_DTYPE_F16;
    p.total_q = I.total_q;
    I.alloc(&I.cu_q, (B + 1) * 4);
    CK(cudaMemcpy(I.cu_q, cq.data(), (B + 1) * 4, cudaMemcpyHostToDevice));
    p.cu_seqlens_q = I.cu_q;
    if (c.fused_qkv) {
        const int64_t w = qw + 2 * kw;
        I.alloc(&I.qkv, I.total_q * w * sizeof(T));
        fill((T*)I.qkv, I.total_q * w);
        I.q = I.qkv; p.query_stride = w;
    } else {
        I.alloc(&I.q, I.total_q * qw * sizeof(T));
        fill((T*)I.q, I.total_q * qw);
        p.query_stride = qw;
    }
    p.query = I.q;
    if (c.block_size == 0) {
        if (c.fused_qkv) {
            if (total_k != I.total_q) { fprintf(stderr, "fused qkv needs len_k == len_q\n"); exit(1); }
            I.k = (T*)I.qkv + qw; I.v = (T*)I.qkv + qw + kw;
            p.key_stride = p.value_stride = qw + 2 * kw;
        } else {
            I.alloc(&I.k, total_k * kw * sizeof(T)); I.alloc(&I.v, total_k * kw * sizeof(T));
            fill((T*)I.k, total_k * kw); fill((T*)I.v, total_k * kw);
            p.key_stride = p.value_stride = kw;
        }
        I.alloc(&I.cu_k, (B + 1) * 4);
        CK(cudaMemcpy(I.cu_k, ck.data(), (B + 1) * 4, cudaMemcpyHostToDevice));
        p.cu_seqlens_k = I.cu_k; p.total_k = total_k;
    } else {
        const int bs = c.block_size;
        int maxb = 0;
        for (int L : c.len_k) maxb = std::max(maxb, (L + bs - 1) / bs);
        maxb = std::max(maxb, 1) + 1;  // one spare column
        const int nblocks = B * maxb + 5;
        std::vector<int> perm(nblocks);
        for (int i = 0; i < nblocks; ++i) perm[i] = i;
        srand(7);
        for (int i = nblocks - 1; i > 0; --i) std::swap(perm[i], perm[rand() % (i + 1)]);
        std::vector<int> tab(B * maxb);
        for (int i = 0; i < B * maxb; ++i) tab[i] = perm[i];
        const int64_t cache = (int64_t)nblocks * bs * kw;
        I.alloc(&I.k, cache * sizeof(T)); I.alloc(&I.v, cache * sizeof(T));
        fill((T*)I.k, cache); fill((T*)I.v, cache);
        I.alloc(&I.table, tab.size() * 4);
        CK(cudaMemcpy(I.table, tab.data(), tab.size() * 4, cudaMemcpyHostToDevice));
        I.alloc(&I.lens_k, B * 4);
        CK(cudaMemcpy(I.lens_k, c.len_k.data(), B * 4, cudaMemcpyHostToDevice));
        p.block_size = bs; p.max_blocks_per_seq = maxb; p.num_blocks = nblocks;
        p.block_table = I.table; p.seq_lens_k = I.lens_k;
        p.key_stride = p.value_stride = kw;
    }
    p.key = I.k; p.value = I.v;
    I.out_elems = I.total_q * qw;
    I.alloc(&I.out, I.out_elems * sizeof(T));
    p.out = I.out;
    I.alloc(&I.status, sizeof(fk_status));
    p.status = I.status;
    // sampled rows: every sample-th row plus the first and last row of every sequence
    for (int b = 0; b < B; ++b)
        for (int i = 0; i < c.len_q[b]; ++i)
            if (i % c.sample == 0 || i == c.len_q[b] - 1) { I.hrows.push_back(cq[b] + i); I.hseqs.push_back(b); }
    const int n = (int)I.hrows.size();
    I.alloc(&I.rows, std::max(n, 1) * 4); I.alloc(&I.seqs, std::max(n, 1) * 4);
    CK(cudaMemcpy(I.rows, I.hrows.data(), n * 4, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(I.seqs, I.hseqs.data(), n * 4, cudaMemcpyHostToDevice));
    I.alloc(&I.ref, (size_t)std::max(n, 1) * qw * 4);
    if (n) ref_kernel<T><<<dim3(n, c.heads), 32>>>(p, I.rows, I.seqs, n, I.ref);
    CK(cudaGetLastError());
    CK(cudaDeviceSynchronize());
}

void free_inst(Inst& I) {
    for (void* ptr : I.allocs) cudaFree(ptr);
    I.allocs.clear();
}

struct Err { double rel_l2, max_abs, max_viol; long bad; long nonfinite; };

// Compare sampled rows of out with the reference. max_viol: max over |d| / (atol + rtol|ref|).
Err compare(Inst& I, cudaStream_t st) {
    const int qw = I.c.heads * I.c.D, n = (int)I.hrows.size();
    std::vector<uint16_t> out(I.out_elems);
    CK(cudaStreamSynchronize(st));
    CK(cudaMemcpy(out.data(), I.out, I.out_elems * 2, cudaMemcpyDeviceToHost));
    std::vector<float> ref((size_t)n * qw);
    CK(cudaMemcpy(ref.data(), I.ref, ref.size() * 4, cudaMemcpyDeviceToHost));
    Err e{0, 0, 0, 0, 0};
    for (int64_t i = 0; i < I.out_elems; ++i) if (!std::isfinite(h2f(out[i], I.c.bf16))) ++e.nonfinite;
    const double atol = I.c.bf16 ? 1e-2 : 1e-3, rtol = I.c.bf16 ? 1.6e-2 : 2e-3;
    double num = 0, den = 0;
    for (int r = 0; r < n; ++r)
        for (int x = 0; x < qw; ++x) {
            const double o = h2f(out[(size_t)I.hrows[r] * qw + x], I.c.bf16), rf = ref[(size_t)r * qw + x];
            const double d = std::fabs(o - rf);
            num += d * d; den += rf * rf;
            e.max_abs = std::max(e.max_abs, d);
            const double viol = d / (atol + rtol * std::fabs(rf));
            e.max_viol = std::max(e.max_viol, viol);
            if (viol > 2.0 || !std::isfinite(o)) ++e.bad;
        }
    e.rel_l2 = den > 0 ? std::sqrt(num / den) : std::sqrt(num);
    return e;
}

static const char* vname(int v) { return v == 1 ? "sm80" : v == 2 ? "sm90" : v == 3 ? "sm90-ovl" : v == 4 ? "sm90-pp" : v == 5 ? "sm90-pp2" : "auto"; }

template <typename T> int check_case(const Case& c, const std::vector<int>& variants, cudaStream_t st) {
    Inst I; I.c = c;
    alloc_inst<T>(I);
    int fails = 0;
    std::vector<uint16_t> first;
    for (int v : variants) {
        I.p.variant = v;
        CK(cudaMemsetAsync(I.out, 0xff, I.out_elems * sizeof(T), st));
        cudaError_t e = fk_baseline_prefill_attention(&I.p, st);
        if (e != cudaSuccess) { printf("  %-48s %-8s LAUNCH ERROR %s\n", c.name.c_str(), vname(v), cudaGetErrorName(e)); ++fails; continue; }
        cudaError_t e2 = cudaStreamSynchronize(st);
        if (e2 != cudaSuccess) { printf("  %-48s %-8s KERNEL ERROR %s\n", c.name.c_str(), vname(v), cudaGetErrorName(e2)); exit(2); }
        fk_status hs;
        CK(cudaMemcpy(&hs, I.status, sizeof hs, cudaMemcpyDeviceToHost));
        Err r = compare(I, st);
        // determinism: a second run must be bit-identical
        std::vector<uint16_t> a(I.out_elems), b2(I.out_elems);
        CK(cudaMemcpy(a.data(), I.out, I.out_elems * 2, cudaMemcpyDeviceToHost));
        CK(cudaMemsetAsync(I.out, 0xff, I.out_elems * sizeof(T), st));
        CK(fk_baseline_prefill_attention(&I.p, st));
        CK(cudaStreamSynchronize(st));
        CK(cudaMemcpy(b2.data(), I.out, I.out_elems * 2, cudaMemcpyDeviceToHost));
        const bool det = a == b2;
        const double tol_rel = c.bf16 ? 1.6e-2 : 2e-3;
        const bool ok = r.nonfinite == 0 && r.bad == 0 && r.rel_l2 < tol_rel && det && hs.bad_count == 0;
        double vs_first = 0;
        if (first.empty()) first = a;
        else for (int64_t i = 0; i < I.out_elems; ++i)
            vs_first = std::max(vs_first, (double)std::fabs(h2f(a[i], c.bf16) - h2f(first[i], c.bf16)));
        printf("  %-48s %-8s rel_l2 %.2e max_abs %.2e viol %.2f bad %ld nonfinite %ld det %d status %llu vs_first %.2e  %s\n",
               c.name.c_str(), vname(v), r.rel_l2, r.max_abs, r.max_viol, r.bad, r.nonfinite, det, hs.bad_count, vs_first,
               ok ? "PASS" : "FAIL");
        fails += !ok;
    }
    free_inst(I);
    return fails;
}

// Comma-separated ints from an environment variable, or `dflt`.
static std::vector<int> env_list(const char* name, std::vector<int> dflt) {
    const char* v = getenv(name);
    if (!v || !*v) return dflt;
    std::vector<int> out;
    for (const char* c = v; *c;) {
        out.push_back(atoi(c));
        while (*c && *c != ',') ++c;
        if (*c == ',') ++c;
    }
    return out;
}

void run_checks(bool small) {
    cudaStream_t st;
    CK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
    std::vector<Case> cases = {
        {"b1 L1000 H32/8 D128 causal", {1000}, {1000}, 32, 8, 128, true, -1, 0, true, false, 1},
        {"varlen 1,7,100,257,1000 H8/2 D128 causal", {1, 7, 100, 257, 1000}, {1, 7, 100, 257, 1000}, 8, 2, 128, true, -1, 0, true, false, 1},
        {"varlen 1,7,100,257,1000 H8/2 D128 noncausal f16", {1, 7, 100, 257, 1000}, {1, 7, 100, 257, 1000}, 8, 2, 128, false, -1, 0, false, false, 1},
        {"varlen 3,130,513 H4/4 D64 causal f16", {3, 130, 513}, {3, 130, 513}, 4, 4, 64, true, -1, 0, false, false, 1},
        {"varlen 129,300 H12/1 D64 causal win100", {129, 300}, {129, 300}, 12, 1, 64, true, 100, 0, true, false, 1},
        {"varlen 200,77 H8/2 D128 noncausal win37", {200, 77}, {200, 77}, 8, 2, 128, false, 37, 0, true, false, 1},
        {"chunked q50,129,1 k300,129,700 paged16 D128", {50, 129, 1}, {300, 129, 700}, 8, 2, 128, true, -1, 16, true, false, 1},
        {"chunked q256,5 k1000,260 paged32 D64 f16", {256, 5}, {1000, 260}, 8, 1, 64, true, -1, 32, false, false, 1},
        {"paged1 q33 k70 D128 noncausal", {33}, {70}, 4, 2, 128, false, -1, 1, true, false, 1},
        {"q100 k30 causal (rows see nothing) D128", {100}, {30}, 4, 2, 128, true, -1, 0, true, false, 1},
        {"fused qkv 5,300 H32/8 D128 causal", {5, 300}, {5, 300}, 32, 8, 128, true, -1, 0, true, true, 1},
        {"fused qkv 1,64,65 H6/2 D64 causal f16", {1, 64, 65}, {1, 64, 65}, 6, 2, 64, true, -1, 0, false, true, 1},
        {"len_k 0 seq, H4/1 D128", {10, 20}, {0, 20}, 4, 1, 128, false, -1, 0, true, false, 1},
        {"b1 L4096 H32/8 D128 causal (sampled)", {4096}, {4096}, 32, 8, 128, true, -1, 0, true, false, 61},
        {"b1 L2048 H32/8 D64 noncausal (sampled)", {2048}, {2048}, 32, 8, 64, false, -1, 0, true, false, 31},
    };
    int fails = 0;
    const std::vector<int> vars = env_list("CHECK_VARIANTS", {1, 2, 3, 4, 5});
    for (auto& c : cases) {
        if (small && c.sample > 1) continue;  // compute-sanitizer runs: skip the big shapes
        fails += c.bf16 ? check_case<__nv_bfloat16>(c, vars, st) : check_case<__half>(c, vars, st);
    }
    std::vector<Case> d256 = {
        {"varlen 1,100,257 H4/2 D256 causal", {1, 100, 257}, {1, 100, 257}, 4, 2, 256, true, -1, 0, true, false, 1},
        {"paged16 q40 k200 H4/4 D256 f16 win50", {40}, {200}, 4, 4, 256, true, 50, 16, false, false, 1},
    };
    for (auto& c : d256) fails += c.bf16 ? check_case<__nv_bfloat16>(c, {0}, st) : check_case<__half>(c, {0}, st);
    printf("CHECK SUMMARY: %d failing (case, variant) pairs\n", fails);
}

// ---------------- perf ----------------
void run_perf(int reps) {
    cudaStream_t st;
    CK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
    void* flush;
    const size_t fbytes = 256u << 20;
    CK(cudaMalloc(&flush, fbytes));
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0)); CK(cudaEventCreate(&e1));
    struct P { int L, D; bool causal; };
    std::vector<P> shapes = {{1024, 128, true}, {2048, 128, true}, {4096, 128, true}, {8192, 128, true}, {16384, 128, true},
                             {1024, 128, false}, {2048, 128, false}, {4096, 128, false}, {8192, 128, false}, {16384, 128, false},
                             {8192, 64, true}, {8192, 64, false}, {2048, 64, true}};
    printf("%-34s %-9s %10s %9s\n", "shape", "kernel", "median_us", "TFLOP/s");
    for (auto& s : shapes) {
        Case c{"", {s.L}, {s.L}, 32, 8, s.D, s.causal, -1, 0, true, false, 97};
        Inst I; I.c = c;
        alloc_inst<__nv_bfloat16>(I);
        const double flops = 4.0 * s.L * (double)s.L * s.D * 32 / (s.causal ? 2.0 : 1.0);
        for (int v : env_list("PERF_VARIANTS", {1, 2, 3, 4, 5})) {
            I.p.variant = v;
            std::vector<float> t;
            for (int r = 0; r < reps + 3; ++r) {
                CK(cudaMemsetAsync(flush, r & 0xff, fbytes, st));
                CK(cudaEventRecord(e0, st));
                CK(fk_baseline_prefill_attention(&I.p, st));
                CK(cudaEventRecord(e1, st));
                CK(cudaEventSynchronize(e1));
                float ms; CK(cudaEventElapsedTime(&ms, e0, e1));
                if (r >= 3) t.push_back(ms);
            }
            std::sort(t.begin(), t.end());
            const double med = t[t.size() / 2] * 1e3;
            Err er = compare(I, st);
            char nm[64];
            snprintf(nm, sizeof nm, "s%d d%d %s", s.L, s.D, s.causal ? "causal" : "full");
            printf("%-34s %-9s %10.1f %9.1f   (rel_l2 %.1e, nonfinite %ld, bad %ld)\n", nm, vname(v), med, flops / (med * 1e-6) / 1e12,
                   er.rel_l2, er.nonfinite, er.bad);
            fflush(stdout);
        }
        free_inst(I);
    }
}

#include "probe.cuh"

int main(int argc, char** argv) {
    cudaDeviceProp prop;
    CK(cudaGetDeviceProperties(&prop, 0));
    printf("device %s sm_%d%d, %d SMs, L2 %d MB, FK_SM90A=%d\n", prop.name, prop.major, prop.minor, prop.multiProcessorCount,
           prop.l2CacheSize >> 20, FK_SM90A);
    bool all = argc == 1;
    for (int i = 1; i < argc || all; ++i) {
        std::string a = all ? "all" : argv[i];
        if (a == "probe" || a == "all") run_probe();
        if (a == "check" || a == "all") run_checks(false);
        if (a == "check-small") run_checks(true);
        if (a == "perf" || a == "all") run_perf(20);
        if (all) break;
    }
    return 0;
}
