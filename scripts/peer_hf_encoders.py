#!/usr/bin/env python3
"""HF transformers peer for the encoder workloads of `cargo fastkernels eval` (issue 6).

For each of colbertv2 (BertModel + ColBERT's linear projection, per-token L2 normalisation),
bge_m3 (XLMRobertaModel, normalised CLS), siglip2 (Siglip2VisionModel, attention-pool head) and
dinov3 (DINOv3ViTModel, CLS): the model is built from our shipped config.json with random
weights (nothing is downloaded), in --dtype (bf16) with attn_implementation="sdpa", eager, on
--device, and runs the same workloads as `fk_runtime::embed::workloads` (same seeded request
sizes, same batches):

- Embed.batch1: 128 texts (lengths uniform in 16..=512 from SplitMix64, below) or 64 images at
  the native resolution, each alone; per-request time = median over --reps of CUDA-event times.
- Embed.throughput: 2048 texts sorted by length and cut into batches of <= 64 sequences and
  <= 64*512 padded tokens (our batcher's plan: HF gets the same length-bucketed batches,
  each padded to its longest), or 512 images in batches of 32. Time = median over
  --throughput-reps of the whole pass.

Both sides time the request path: host inputs -> device -> forward -> embedding back on the
host. With --save-dir DIR/<arch>, the random model is also written as an HF folder (our eval's
--model DIR runs the same weights).

Usage: peer_hf_encoders.py --out hf-encoders.json [--arch colbertv2,bge_m3,siglip2,dinov3]
       [--save-dir DIR] [--device cpu --reps 1 --tiny]   # --tiny: a CPU smoke test
"""
import argparse
import json
import os
import statistics
import time

import torch
import torch.nn.functional as F
import transformers

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
CONFIGS = {
    "colbertv2": "architectures/colbertv2/configs/colbertv2.0/config.json",
    "bge_m3": "architectures/bge-m3/configs/bge-m3/config.json",
    "siglip2": "architectures/siglip2/configs/siglip2-so400m-patch16-naflex/config.json",
    "dinov3": "architectures/dinov3/configs/dinov3-vit7b16-pretrain-lvd1689m/config.json",
}
COLBERT_DIM = 128
MASK64 = (1 << 64) - 1
MIN_TEXT_LEN, MAX_TEXT_LEN = 16, 512
TEXT_BATCH, IMAGE_BATCH = 64, 32


def splitmix64(x):
    z = (x + 0x9E3779B97F4A7C15) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def text_lengths(n, seed, lo, hi):
    """fk_runtime::embed::workloads::text_lengths."""
    return [lo + splitmix64((seed * 1_000_003 + i) & MASK64) % (hi - lo + 1) for i in range(n)]


def plan_text(lengths, max_batch, budget):
    """fk_runtime::embed::plan_batches for text: sort by (length, index), cut greedily."""
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    batches, cur = [], []
    for i in order:
        if cur and not (len(cur) < max_batch and (len(cur) + 1) * lengths[i] <= budget):
            batches.append(cur)
            cur = []
        cur.append(i)
    if cur:
        batches.append(cur)
    return batches


def build(arch, tiny, dtype, device):
    path = os.path.join(ROOT, CONFIGS[arch])
    if arch == "colbertv2":
        cfg = transformers.BertConfig.from_json_file(path)
    elif arch == "bge_m3":
        cfg = transformers.XLMRobertaConfig.from_json_file(path)
    elif arch == "siglip2":
        cfg = transformers.Siglip2Config.from_json_file(path).vision_config
    else:
        cfg = transformers.DINOv3ViTConfig.from_json_file(path)
    if tiny:  # a CPU smoke test of this script, not a measurement
        cfg.num_hidden_layers, cfg.hidden_size, cfg.intermediate_size, cfg.num_attention_heads = 1, 64, 128, 2
    cfg._attn_implementation = "sdpa"
    torch.manual_seed(0)
    torch.set_default_dtype(dtype)
    with torch.device(device):
        if arch == "colbertv2":
            model = transformers.BertModel(cfg, add_pooling_layer=False)
            model.linear = torch.nn.Linear(cfg.hidden_size, COLBERT_DIM, bias=False)
        elif arch == "bge_m3":
            model = transformers.XLMRobertaModel(cfg, add_pooling_layer=False)
        elif arch == "siglip2":
            model = transformers.Siglip2VisionModel(cfg)
        else:
            model = transformers.DINOv3ViTModel(cfg)
    torch.set_default_dtype(torch.float32)
    return model.eval(), cfg


def save(model, arch, cfg, out_dir):
    """An HF folder our loaders read: config.json + model.safetensors (ColBERT: bert.* keys
    next to linear.weight, as colbert-ir/colbertv2.0 ships them)."""
    from safetensors.torch import save_file

    os.makedirs(out_dir, exist_ok=True)
    cfg.to_json_file(os.path.join(out_dir, "config.json"))
    sd = {k: v.contiguous() for k, v in model.state_dict().items()}
    if arch == "colbertv2":
        sd = {("linear.weight" if k == "linear.weight" else "bert." + k): v for k, v in sd.items()}
    elif arch == "siglip2":
        sd = {k if k.startswith("vision_model.") else "vision_model." + k: v for k, v in sd.items()}
    save_file(sd, os.path.join(out_dir, "model.safetensors"))


def text_forward(arch, model, cfg, ids_list, device):
    """One padded batch from host ids; the embedding comes back to the host."""
    seq = max(len(x) for x in ids_list)
    pad = cfg.pad_token_id or 0
    ids = torch.full((len(ids_list), seq), pad, dtype=torch.long)
    mask = torch.zeros((len(ids_list), seq), dtype=torch.long)
    for b, x in enumerate(ids_list):
        ids[b, : len(x)] = torch.tensor(x)
        mask[b, : len(x)] = 1
    ids, mask = ids.to(device, non_blocking=True), mask.to(device, non_blocking=True)
    h = model(input_ids=ids, attention_mask=mask).last_hidden_state
    if arch == "colbertv2":
        out = F.normalize(model.linear(h), p=2, dim=2) * mask.unsqueeze(2)
    else:
        out = F.normalize(h[:, 0], p=2, dim=-1)
    return out.float().cpu()


def image_forward(arch, model, cfg, pixels, device):
    """One batch of host NCHW images (SigLIP-2: patchified like Siglip2ImageProcessor)."""
    if arch == "siglip2":
        b, c, hh, ww = pixels.shape
        p = cfg.patch_size
        patches = pixels.reshape(b, c, hh // p, p, ww // p, p).permute(0, 2, 4, 3, 5, 1).reshape(b, (hh // p) * (ww // p), p * p * c)
        n = patches.shape[1]
        out = model(
            pixel_values=patches.to(device, non_blocking=True),
            pixel_attention_mask=torch.ones((b, n), dtype=torch.long, device=device),
            spatial_shapes=torch.tensor([[hh // p, ww // p]] * b, device=device),
        ).pooler_output
    else:
        out = model(pixel_values=pixels.to(device, non_blocking=True)).pooler_output
    return out.float().cpu()


def timed(fn, device):
    if device == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda.synchronize()
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        return start.elapsed_time(end) / 1e3
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def pct(xs, p):
    v = sorted(xs)
    return v[min(len(v), max(1, -(-len(v) * p // 100))) - 1] if v else 0.0


def run_arch(arch, a, dtype):
    model, cfg = build(arch, a.tiny, dtype, a.device)
    if a.save_dir:
        save(model, arch, cfg, os.path.join(a.save_dir, arch))
    text = arch in ("colbertv2", "bge_m3")
    if text:
        max_len = cfg.max_position_embeddings - (cfg.pad_token_id + 1 if arch == "bge_m3" else 0)
        hi = min(MAX_TEXT_LEN, max_len)
        vocab = cfg.vocab_size
    else:
        side = (int(cfg.num_patches**0.5) * cfg.patch_size) if arch == "siglip2" else cfg.image_size
    runs = []
    for name in a.workloads.split(","):
        batch1 = name == "Embed.batch1"
        if text:
            n = a.limit or (128 if batch1 else 2048)
            lens = text_lengths(n, a.seed, min(MIN_TEXT_LEN, hi), hi)
            reqs = [[5 + splitmix64(a.seed ^ (i << 32) ^ t ^ 0x5EED) % (vocab - 5) for t in range(l)] for i, l in enumerate(lens)]
            max_batch = 1 if batch1 else TEXT_BATCH
            plan = plan_text(lens, max_batch, max_batch * hi)
            step = lambda batch: text_forward(arch, model, cfg, [reqs[i] for i in batch], a.device)
        else:
            n = a.limit or (64 if batch1 else 512)
            gen = torch.Generator().manual_seed(a.seed)
            pixels = torch.rand((n, cfg.num_channels, side, side), generator=gen) * 2 - 1
            max_batch = 1 if batch1 else IMAGE_BATCH
            plan = [list(range(i, min(n, i + max_batch))) for i in range(0, n, max_batch)]
            step = lambda batch: image_forward(arch, model, cfg, pixels[batch[0] : batch[-1] + 1].to(dtype), a.device)
        with torch.inference_mode():
            step(plan[0])  # warm-up
            if batch1:
                lat = [statistics.median(timed(lambda: step(b), a.device) for _ in range(a.reps)) for b in plan]
                wall = sum(lat)
            else:
                wall = statistics.median(timed(lambda: [step(b) for b in plan], a.device) for _ in range(a.throughput_reps))
                lat = []
        r = {
            "arch": arch,
            "workload": name,
            "requests": n,
            "max_batch": max_batch,
            "batches": len(plan),
            "unit": "seq/s" if text else "img/s",
            "per_s": n / wall,
            "wall_s": wall,
            "reps": a.reps if batch1 else a.throughput_reps,
        }
        if lat:
            r["latency"] = {"p50_ms": 1e3 * pct(lat, 50), "p90_ms": 1e3 * pct(lat, 90), "p99_ms": 1e3 * pct(lat, 99)}
        print(f"{arch} {name}: {r['per_s']:.1f} {r['unit']} ({len(plan)} batches, {wall:.3f} s)", flush=True)
        runs.append(r)
    del model
    if a.device == "cuda":
        torch.cuda.empty_cache()
    return runs


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", default="colbertv2,bge_m3,siglip2,dinov3")
    ap.add_argument("--workloads", default="Embed.batch1,Embed.throughput")
    ap.add_argument("--out", required=True)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--dtype", default="bf16", choices=["bf16", "f32"])
    ap.add_argument("--reps", type=int, default=20, help="batch 1: timed runs per request (median)")
    ap.add_argument("--throughput-reps", type=int, default=5, help="throughput: timed passes (median)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=int, default=0, help="fewer requests (smoke tests)")
    ap.add_argument("--save-dir", default=None)
    ap.add_argument("--tiny", action="store_true", help="1 layer, hidden 64: test this script on a CPU")
    a = ap.parse_args()
    for w in a.workloads.split(","):
        if w not in ("Embed.batch1", "Embed.throughput"):
            ap.error(f"unknown workload {w}")
    dtype = torch.bfloat16 if a.dtype == "bf16" else torch.float32
    runs = []
    for arch in a.arch.split(","):
        if arch not in CONFIGS:
            ap.error(f"unknown arch {arch} ({', '.join(CONFIGS)})")
        runs += run_arch(arch, a, dtype)
    info = {"device": torch.cuda.get_device_name() if a.device == "cuda" else a.device, "torch": torch.__version__, "transformers": transformers.__version__}
    with open(a.out, "w") as f:
        json.dump({"schema": "fastkernels.peer-hf-encoders.v1", **info, "dtype": a.dtype, "attn_implementation": "sdpa", "runs": runs}, f, indent=1)


if __name__ == "__main__":
    main()
