#!/usr/bin/env python3
"""PyTorch peer for the L1 op benchmarks: the same ops at the same shapes, timed the same way.

Runs where PyTorch and a GPU are (the device machine). Method matches
baselines/src/harness/bench.rs: before each timed call, write 2 x L2 bytes to evict the inputs;
CUDA events around the op alone; warm-up, then the median of `--reps` calls. Eager PyTorch is
what a user writes (HF-style modules); `torch.compile` (default mode, static shapes) is timed at
the largest token count for rms_norm, fused_add_rms_norm and silu_and_mul only, because
compiling every shape costs minutes of device time.

Shape labels must equal the Rust side's `Case::shape_label()`:
  rms_norm, fused_add_rms_norm   "[T, H]"
  silu_and_mul, gelu_and_mul     "[T, 2d]"   (input shape)
  rotary_embedding               "[T, heads, kv_heads, head_dim]"
  embedding                      "[T, vocab, hidden]"
  skinny_gemm                    "[M, K] x [N, K]"          (F.linear, cuBLAS)
  prefill_attention              "[batch, seqlen, heads, kv_heads, head_dim] causal|full"

prefill_attention: torch.nn.functional.scaled_dot_product_attention with sdpa_kernel forcing
FLASH_ATTENTION, then CUDNN_ATTENTION (q [1, heads, s, d] as a transposed [1, s, heads, d]
tensor; GQA via enable_gqa, or K/V repeat_interleave'd outside the timed call if a backend
refuses it). eager_us is the faster of the two; flash_us / cudnn_us / *_gqa say which did what.

Usage: peer_torch_ops.py --out peer.json [--tokens 1,16,128,2048,8192] [--no-compile]
                         [--only prefill_attention[,rms_norm...]]
"""
import argparse
import json
import statistics
import sys

import torch
import torch.nn.functional as F

# meta-llama/Llama-3.1-8B-Instruct (architectures/llama/configs/.../config.json)
HIDDEN, INTER, HEADS, KV_HEADS, HEAD_DIM, VOCAB, EPS = 4096, 14336, 32, 8, 128, 128256, 1e-5
MAX_POS, THETA = 131072, 500000.0


def rms_norm_hf(x, w, eps=EPS):
    # transformers LlamaRMSNorm.forward
    xf = x.float()
    xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)
    return w * xf.to(x.dtype)


def rms_norm_eager(x, w):
    return F.rms_norm(x, (x.shape[-1],), w, EPS)


def fused_add_rms_norm_eager(x, r, w):
    r = x + r
    return F.rms_norm(r, (r.shape[-1],), w, EPS), r


def fused_add_rms_norm_hf(x, r, w):
    r = x + r
    return rms_norm_hf(r, w), r


def silu_and_mul(x):
    d = x.shape[-1] // 2
    return F.silu(x[..., :d]) * x[..., d:]


def gelu_tanh_and_mul(x):
    d = x.shape[-1] // 2
    return F.gelu(x[..., :d], approximate="tanh") * x[..., d:]


def rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def rotary(q, k, positions, cos_cache, sin_cache):
    # transformers apply_rotary_pos_emb with cos/sin gathered at the positions
    cos = cos_cache[positions].unsqueeze(1).to(q.dtype)
    sin = sin_cache[positions].unsqueeze(1).to(q.dtype)
    return q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin


# Prefill attention rows: (seqlen, head_dim, causal) at Llama-3.1-8B heads, batch 1.
PREFILL = [(s, HEAD_DIM, c) for c in (True, False) for s in (1024, 2048, 4096, 8192, 16384)] + [(8192, 64, True), (8192, 64, False)]


def sdpa_peer(backend, q, k, v, causal):
    """A callable timing SDPA on `backend`, and how it handled GQA ("enable_gqa" or "repeat")."""
    from torch.nn.attention import sdpa_kernel

    def call_gqa():
        with sdpa_kernel(backend):
            return F.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=True)

    try:
        call_gqa()
        torch.cuda.synchronize()
        return call_gqa, "enable_gqa"
    except Exception:  # backend refuses enable_gqa: materialise the repeated K/V once
        rep = q.shape[1] // k.shape[1]
        kr, vr = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)

        def call_rep():
            with sdpa_kernel(backend):
                return F.scaled_dot_product_attention(q, kr, vr, is_causal=causal)

        call_rep()
        torch.cuda.synchronize()
        return call_rep, "repeat"


def prefill_rows(randn, flush, reps, rows):
    from torch.nn.attention import SDPBackend

    for s, d, causal in PREFILL:
        q = randn(1, s, HEADS, d).transpose(1, 2)
        k = randn(1, s, KV_HEADS, d).transpose(1, 2)
        v = randn(1, s, KV_HEADS, d).transpose(1, 2)
        shape = f"[1, {s}, {HEADS}, {KV_HEADS}, {d}] {'causal' if causal else 'full'}"
        flops = 4.0 * s * s * d * HEADS / (2 if causal else 1)
        row = {"op": "prefill_attention", "shape": shape, "dtype": "bf16", "eager_us": None, "compile_us": None}
        for name, backend in (("flash", SDPBackend.FLASH_ATTENTION), ("cudnn", SDPBackend.CUDNN_ATTENTION)):
            try:
                fn, how = sdpa_peer(backend, q, k, v, causal)
                us = time_us(fn, flush, reps)
                row[f"{name}_us"], row[f"{name}_gqa"] = us, how
                print(f"prefill_attention    {shape:<34} {name:<5} {us:10.1f} us {flops / us / 1e6:7.1f} TFLOP/s ({how})", flush=True)
            except Exception as e:  # a backend that cannot run this shape: say so, keep going
                row[f"{name}_us"], row[f"{name}_error"] = None, str(e).splitlines()[0][:200]
                print(f"prefill_attention    {shape:<34} {name:<5} unavailable: {row[f'{name}_error']}", flush=True)
        times = [t for t in (row.get("flash_us"), row.get("cudnn_us")) if t]
        row["eager_us"] = min(times) if times else None
        rows.append(row)
        del q, k, v


def time_us(fn, flush, reps, warmup=10):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    starts = [torch.cuda.Event(enable_timing=True) for _ in range(reps)]
    ends = [torch.cuda.Event(enable_timing=True) for _ in range(reps)]
    for i in range(reps):
        flush.zero_()
        starts[i].record()
        fn()
        ends[i].record()
    torch.cuda.synchronize()
    return statistics.median(s.elapsed_time(e) * 1e3 for s, e in zip(starts, ends))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--tokens", default="1,16,128,2048,8192")
    ap.add_argument("--reps", type=int, default=100)
    ap.add_argument("--no-compile", action="store_true")
    ap.add_argument("--only", default="", help="comma-separated ops to run (default: all)")
    a = ap.parse_args()
    only = set(filter(None, a.only.split(",")))
    tokens = [int(t) for t in a.tokens.split(",")]
    dev = torch.device("cuda")
    dt = torch.bfloat16
    props = torch.cuda.get_device_properties(dev)
    flush = torch.empty(2 * max(props.L2_cache_size, 32 << 20), dtype=torch.uint8, device=dev)
    g = torch.Generator(device=dev).manual_seed(0)

    def randn(*shape, dtype=dt):
        return torch.randn(*shape, device=dev, dtype=dtype, generator=g)

    inv = 1.0 / (THETA ** (torch.arange(0, HEAD_DIM, 2, device=dev, dtype=torch.float32) / HEAD_DIM))
    ang = torch.arange(MAX_POS, device=dev, dtype=torch.float32)[:, None] * inv[None, :]
    cos_cache = torch.cat([ang.cos(), ang.cos()], -1)
    sin_cache = torch.cat([ang.sin(), ang.sin()], -1)
    emb_w = randn(VOCAB, HIDDEN)
    w = randn(HIDDEN) * 0.1 + 1

    # Compiled peers only for the ops whose bandwidth/parity the acceptance names (each
    # compile costs tens of seconds of device time); the others are eager only.
    compiled = {}
    if not a.no_compile and (not only or only & {"rms_norm", "fused_add_rms_norm", "silu_and_mul"}):
        compiled = {
            "rms_norm": torch.compile(rms_norm_hf),
            "fused_add_rms_norm": torch.compile(fused_add_rms_norm_hf),
            "silu_and_mul": torch.compile(silu_and_mul),
        }
    rows = []

    def add(op, shape, eager, comp_args=None, comp_call=None):
        if only and op not in only:
            return
        row = {"op": op, "shape": shape, "dtype": "bf16", "eager_us": time_us(eager, flush, a.reps), "compile_us": None}
        if comp_call is not None:
            row["compile_us"] = time_us(comp_call, flush, a.reps)
        rows.append(row)
        print(f"{op:<20} {shape:<26} eager {row['eager_us']:9.2f} us"
              + (f"  compile {row['compile_us']:9.2f} us" if row["compile_us"] else ""), flush=True)

    biggest = max(tokens)
    for t in tokens:
        use_c = compiled and t == biggest
        x, r = randn(t, HIDDEN), randn(t, HIDDEN)
        add("rms_norm", f"[{t}, {HIDDEN}]", lambda: rms_norm_eager(x, w),
            comp_call=(lambda: compiled["rms_norm"](x, w)) if use_c else None)
        add("fused_add_rms_norm", f"[{t}, {HIDDEN}]", lambda: fused_add_rms_norm_eager(x, r, w),
            comp_call=(lambda: compiled["fused_add_rms_norm"](x, r, w)) if use_c else None)
        for d in (INTER, HIDDEN):
            gu = randn(t, 2 * d) * 2
            add("silu_and_mul", f"[{t}, {2 * d}]", lambda gu=gu: silu_and_mul(gu),
                comp_call=(lambda gu=gu: compiled["silu_and_mul"](gu)) if use_c else None)
        gu = randn(t, 2 * INTER) * 2
        add("gelu_and_mul", f"[{t}, {2 * INTER}]", lambda: gelu_tanh_and_mul(gu),
            comp_call=None)
        q, k = randn(t, HEADS, HEAD_DIM), randn(t, KV_HEADS, HEAD_DIM)
        pos = torch.randint(0, MAX_POS, (t,), device=dev, generator=g)
        add("rotary_embedding", f"[{t}, {HEADS}, {KV_HEADS}, {HEAD_DIM}]", lambda: rotary(q, k, pos, cos_cache, sin_cache),
            comp_call=None)
        ids = torch.randint(0, VOCAB, (t,), device=dev, generator=g)
        add("embedding", f"[{t}, {VOCAB}, {HIDDEN}]", lambda: F.embedding(ids, emb_w),
            comp_call=None)

    # Decode-time linear layers: F.linear (cuBLAS) at the skinny_gemm bench shapes.
    q_out, kv_out = HEADS * HEAD_DIM, KV_HEADS * HEAD_DIM
    for m in ((1, 8, 16, 32, 64) if not only or "skinny_gemm" in only else ()):
        for n, k in ((q_out + 2 * kv_out, HIDDEN), (HIDDEN, q_out), (2 * INTER, HIDDEN), (HIDDEN, INTER), (VOCAB, HIDDEN)):
            xm, wm = randn(m, k), randn(n, k) * k ** -0.5
            add("skinny_gemm", f"[{m}, {k}] x [{n}, {k}]", lambda xm=xm, wm=wm: F.linear(xm, wm))
    if not only or "prefill_attention" in only:
        prefill_rows(randn, flush, a.reps, rows)

    out = {"schema": "fastkernels.peer.v1", "torch": torch.__version__, "device": props.name, "rows": rows}
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
