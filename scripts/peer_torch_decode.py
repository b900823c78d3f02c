#!/usr/bin/env python3
"""PyTorch peer for paged decode attention and sampling, timed like baselines/src/harness/bench.rs
(2 x L2 written before each call, CUDA events around the op alone, median).

What an eager user writes:
  paged_attention_decode: gather each sequence's K/V pages through the block table
    (key_cache[block_table] -> [b, ctx, kv_heads, d]), then F.scaled_dot_product_attention
    with enable_gqa (one query token per sequence).
  sample: greedy = argmax; otherwise logits / T, top-k and top-p masks on the sorted logits
    (vLLM's apply_top_k_top_p), softmax, torch.multinomial.

Shape labels equal the Rust side's Case::shape_label():
  paged_attention_decode  "[seqs, heads, kv_heads, head_dim] ctx N"
  sample                  "[batch, vocab] greedy" | "[batch, vocab] t0.7" | "... t0.7 k50 p0.9" | "... t0.7 p0.9"

Usage: peer_torch_decode.py --out peer.json [--reps 30]
"""
import argparse
import json
import statistics

import torch
import torch.nn.functional as F

from peer_torch_ops import time_us  # one timing method for every PyTorch peer (same folder)

HEADS, KV_HEADS, HEAD_DIM, VOCAB, BLOCK = 32, 8, 128, 128256, 16


def decode_eager(q, kc, vc, table, ctx, scale):
    b = q.shape[0]
    k = kc[table].reshape(b, -1, KV_HEADS, HEAD_DIM)[:, :ctx].transpose(1, 2)
    v = vc[table].reshape(b, -1, KV_HEADS, HEAD_DIM)[:, :ctx].transpose(1, 2)
    return F.scaled_dot_product_attention(q.unsqueeze(2), k, v, scale=scale, enable_gqa=True)


def sample_eager(logits, t, k, p, gen):
    if t <= 0:
        return logits.argmax(-1)
    x = logits / t
    if k > 0 or p < 1:
        srt, idx = x.sort(-1, descending=False)
        if k > 0:
            kth = srt[:, -k].unsqueeze(1)
            srt = srt.masked_fill(srt < kth, float("-inf"))
        if p < 1:
            probs = srt.softmax(-1)
            cum = probs.cumsum(-1)
            mask = cum <= 1 - p
            mask[:, -1] = False
            srt = srt.masked_fill(mask, float("-inf"))
        x = torch.empty_like(x).scatter_(-1, idx, srt)
    return torch.multinomial(x.softmax(-1), 1, generator=gen).squeeze(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--reps", type=int, default=30)
    a = ap.parse_args()
    dev = torch.device("cuda")
    props = torch.cuda.get_device_properties(dev)
    flush = torch.empty(2 * max(props.L2_cache_size, 32 << 20), dtype=torch.uint8, device=dev)
    g = torch.Generator(device=dev).manual_seed(0)
    rows = []
    for seqs, ctx in [(1, 4096), (1, 32768), (32, 1024), (32, 4096), (64, 4096)]:
        mb = (ctx + BLOCK - 1) // BLOCK
        nb = seqs * mb + 3
        kc = torch.randn(nb, BLOCK, KV_HEADS, HEAD_DIM, device=dev, dtype=torch.bfloat16, generator=g)
        vc = torch.randn_like(kc)
        table = torch.randperm(nb, device=dev, generator=g)[: seqs * mb].view(seqs, mb)
        q = torch.randn(seqs, HEADS, HEAD_DIM, device=dev, dtype=torch.bfloat16, generator=g)
        us = time_us(lambda: decode_eager(q, kc, vc, table, ctx, HEAD_DIM ** -0.5), flush, a.reps)
        shape = f"[{seqs}, {HEADS}, {KV_HEADS}, {HEAD_DIM}] ctx {ctx}"
        rows.append({"op": "paged_attention_decode", "shape": shape, "dtype": "bf16", "eager_us": us, "compile_us": None})
        print(f"paged_attention_decode {shape:<32} eager {us:9.2f} us", flush=True)
        del kc, vc
    for batch in (1, 32):
        logits = torch.randn(batch, VOCAB, device=dev, dtype=torch.float32, generator=g) * 2
        for t, k, p in [(0.0, 0, 1.0), (0.7, 0, 1.0), (0.7, 50, 0.9), (0.7, 0, 0.9)]:
            mode = "greedy" if t <= 0 else f"t{t}" + (f" k{k}" if k else "") + (f" p{p}" if p < 1 else "")
            shape = f"[{batch}, {VOCAB}] {mode}"
            us = time_us(lambda: sample_eager(logits, t, k, p, g), flush, a.reps)
            rows.append({"op": "sample", "shape": shape, "dtype": "f32", "eager_us": us, "compile_us": None})
            print(f"sample {shape:<32} eager {us:9.2f} us", flush=True)
    with open(a.out, "w") as f:
        json.dump({"rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
