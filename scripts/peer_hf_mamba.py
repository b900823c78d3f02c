#!/usr/bin/env python3
"""HF transformers peer for fk-mamba's and fk-mamba2's L2 and L4 prefill rows.

Runs where transformers, PyTorch and a GPU are (the device machine). Writes fastkernels.peer.v1
rows whose op/shape equal the bench rows of `cargo fastkernels bench --arch mamba|mamba2`
(`fk_linear_attn::bench`: L2 "prefill [T, hidden]" of the mixer, L4 "prefill T tokens, L layers"
of the causal LM), so the bench table gets a PyTorch column (`eager_us`):

- `--arch mamba`: `MambaMixer` / `MambaForCausalLM` at state-spaces/mamba-2.8b-hf's config;
- `--arch mamba2`: `Mamba2Mixer` / `Mamba2ForCausalLM` at mistralai/Mamba-Codestral-7B-v0.1's.

Weights are random (bf16) at the real shapes. Which path transformers takes is recorded
(`path`): its fast path needs the mamba_ssm and causal_conv1d CUDA packages; without them
Mamba-1 runs `slow_forward` (a Python loop over the sequence) and Mamba-2 `torch_forward`
(chunked, in PyTorch). That is "the fastest path available in the image" the issue names. The
slow paths take seconds per call at 8k tokens (a minute for Mamba-1's 64 layers), so they are
timed with few repetitions and the whole model once (`--model-reps`), after a short warm-up
call. The model computes the last position's logits only (`logits_to_keep=1`), as our L4
prefill does. Method as peer_torch_ops.py otherwise: L2 flushed before each call, CUDA
events, median.

Usage: peer_hf_mamba.py --out peer-mamba.json [--arch mamba|mamba2] [--tokens 2048,8192]
       [--reps 3] [--model-tokens 8192] [--model-reps 1] [--config FILE]
"""
import argparse
import importlib.util
import inspect
import json
import os
import sys

import torch

from peer_torch_ops import time_us

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIGS = {
    "mamba": "architectures/mamba/configs/mamba-2.8b-hf/config.json",
    "mamba2": "architectures/mamba2/configs/Mamba-Codestral-7B-v0.1/config.json",
}


def find_config(arch):
    for base in (os.path.join(HERE, ".."), HERE):
        p = os.path.join(base, CONFIGS[arch])
        if os.path.exists(p):
            return p
    p = os.path.join(HERE, f"configs/{arch}/config.json")
    return p if os.path.exists(p) else None


def classes(arch):
    import transformers

    if arch == "mamba":
        from transformers.models.mamba import modeling_mamba as m

        return transformers.MambaConfig, m.MambaMixer, transformers.MambaForCausalLM
    from transformers.models.mamba2 import modeling_mamba2 as m

    return transformers.Mamba2Config, m.Mamba2Mixer, transformers.Mamba2ForCausalLM


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--arch", choices=sorted(CONFIGS), default="mamba")
    ap.add_argument("--tokens", default="2048,8192", help="mixer (L2) prefill lengths")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--model-tokens", default="", help="whole-model (L4) prefill lengths, e.g. 8192 (empty: none)")
    ap.add_argument("--model-reps", type=int, default=1)
    ap.add_argument("--config", default=None, help="config.json (default: the shipped real one)")
    a = ap.parse_args()
    import transformers

    cfg_cls, mixer_cls, lm_cls = classes(a.arch)
    path_cfg = a.config or find_config(a.arch)
    if path_cfg is None:
        print("peer_hf_mamba: no config.json found (give --config)", file=sys.stderr)
        return 2
    cfg = cfg_cls.from_json_file(path_cfg)
    dev = torch.device("cuda")
    torch.manual_seed(0)
    missing = [m for m in ("mamba_ssm", "causal_conv1d") if importlib.util.find_spec(m) is None]
    slow = "slow_forward, a Python loop over tokens" if a.arch == "mamba" else "torch_forward, chunked in PyTorch"
    path = "CUDA kernels (mamba_ssm, causal_conv1d)" if not missing else f"PyTorch reference path ({slow}; {', '.join(missing)} not installed)"
    print(f"{mixer_cls.__name__} path: {path}", flush=True)
    props = torch.cuda.get_device_properties(dev)
    flush = torch.empty(2 * max(props.L2_cache_size, 32 << 20), dtype=torch.uint8, device=dev)
    rows = []
    mixer = mixer_cls(cfg, layer_idx=0).to(dev, torch.bfloat16).eval()
    for t in (int(x) for x in a.tokens.split(",") if x):
        x = torch.randn(1, t, cfg.hidden_size, device=dev, dtype=torch.bfloat16)
        shape = f"prefill [{t}, {cfg.hidden_size}]"
        with torch.no_grad():
            us, note = timed_or_oom(lambda: time_us(lambda: mixer(x), flush, a.reps, warmup=1))
        rows.append({"op": mixer_cls.__name__, "shape": shape, "dtype": "bf16", "eager_us": us, "compile_us": None,
                     "path": path, "what": f"transformers {mixer_cls.__name__}.forward, one layer, batch 1", **note})
        print(f"{mixer_cls.__name__} {shape:<24} {fmt(us)}", flush=True)
        save(a.out, rows, props)
    del mixer
    model_tokens = [int(x) for x in a.model_tokens.split(",") if x]
    if model_tokens:
        model = lm_cls(cfg).to(dev, torch.bfloat16).eval()
        keep = "logits_to_keep" in inspect.signature(model.forward).parameters
        kw = {"logits_to_keep": 1} if keep else {}
        layers = cfg.num_hidden_layers
        with torch.no_grad():
            model(torch.randint(0, cfg.vocab_size, (1, 16), device=dev), use_cache=False, **kw)  # warm-up
            for t in model_tokens:
                ids = torch.randint(0, cfg.vocab_size, (1, t), device=dev)
                us, note = timed_or_oom(lambda: time_us(lambda: model(ids, use_cache=False, **kw), flush, a.model_reps, warmup=0))
                shape = f"prefill {t} tokens, {layers} layers"
                rows.append({"op": lm_cls.__name__, "shape": shape, "dtype": "bf16", "eager_us": us, "compile_us": None, "path": path,
                             "what": f"transformers {lm_cls.__name__}.forward, batch 1, " + ("last position's logits" if keep else "every position's logits"), **note})
                print(f"{lm_cls.__name__} {shape:<30} {fmt(us)}", flush=True)
                save(a.out, rows, props)
    save(a.out, rows, props)
    return 0


def timed_or_oom(run):
    """(µs, {}) or, when PyTorch runs out of device memory, (None, {"note": why}): Mamba-2's
    torch_forward materialises a [chunks, Q, Q, heads, N]-sized product (128 GiB at 8192
    tokens of Codestral), so long rows may not run at all on that path. The row is kept, with
    no time, so the table says so instead of silently lacking a column."""
    try:
        return run(), {}
    except torch.OutOfMemoryError as e:
        torch.cuda.empty_cache()
        first = str(e).splitlines()[0][:160]
        return None, {"note": f"transformers ran out of GPU memory: {first}"}


def fmt(us):
    return f"{us:14.1f} us" if us is not None else "  out of memory"


def save(path, rows, props):
    """Written after every row, so a run cut short keeps what it measured."""
    import transformers

    out = {"schema": "fastkernels.peer.v1", "torch": torch.__version__, "transformers": transformers.__version__,
           "device": props.name, "rows": rows}
    with open(path, "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
