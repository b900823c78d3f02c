#!/usr/bin/env python3
"""HF transformers peer for fk-mamba's L2 row: `MambaMixer` at state-spaces/mamba-2.8b-hf shapes.

Runs where transformers, PyTorch and a GPU are (the device machine). Writes fastkernels.peer.v1
rows whose op/shape equal fk-mamba's "MambaMixer" rows (architectures/mamba/benches/ops.rs:
"prefill [T, 2560]"), so the bench table gets a PyTorch column (`eager_us`).

Which path transformers takes is recorded (`path`): its fast path needs the mamba_ssm and
causal_conv1d CUDA packages; without them `MambaMixer.forward` runs `slow_forward`, a Python
loop over the sequence. That is "the fastest path available in the image" the issue names.
The slow path at 8k tokens takes seconds per call, so it is timed with few repetitions.
Method as peer_torch_ops.py otherwise: L2 flushed before each call, CUDA events, median.

Usage: peer_hf_mamba.py --out peer-mamba.json [--tokens 2048,8192] [--reps 3]
"""
import argparse
import importlib.util
import json
import os
import sys

import torch

from peer_torch_ops import time_us

HERE = os.path.dirname(os.path.abspath(__file__))


def find_config():
    for base in (os.path.join(HERE, ".."), HERE):
        p = os.path.join(base, "architectures/mamba/configs/mamba-2.8b-hf/config.json")
        if os.path.exists(p):
            return p
    p = os.path.join(HERE, "configs/mamba/config.json")
    return p if os.path.exists(p) else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--tokens", default="2048,8192")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--config", default=None, help="mamba-2.8b-hf config.json (default: the shipped one)")
    a = ap.parse_args()
    import transformers
    from transformers import MambaConfig
    from transformers.models.mamba import modeling_mamba

    path_cfg = a.config or find_config()
    if path_cfg is None:
        print("peer_hf_mamba: no config.json found (give --config)", file=sys.stderr)
        return 2
    cfg = MambaConfig.from_json_file(path_cfg)
    dev = torch.device("cuda")
    torch.manual_seed(0)
    mixer = modeling_mamba.MambaMixer(cfg, layer_idx=0).to(dev, torch.bfloat16).eval()
    missing = [m for m in ("mamba_ssm", "causal_conv1d") if importlib.util.find_spec(m) is None]
    path = "CUDA kernels (mamba_ssm, causal_conv1d)" if not missing else f"PyTorch reference path ({', '.join(missing)} not installed)"
    print(f"MambaMixer path: {path}", flush=True)
    props = torch.cuda.get_device_properties(dev)
    flush = torch.empty(2 * max(props.L2_cache_size, 32 << 20), dtype=torch.uint8, device=dev)
    rows = []
    for t in (int(x) for x in a.tokens.split(",")):
        x = torch.randn(1, t, cfg.hidden_size, device=dev, dtype=torch.bfloat16)
        shape = f"prefill [{t}, {cfg.hidden_size}]"
        with torch.no_grad():
            us = time_us(lambda: mixer(x), flush, a.reps, warmup=1)
        rows.append({"op": "MambaMixer", "shape": shape, "dtype": "bf16", "eager_us": us, "compile_us": None,
                     "path": path, "what": "transformers MambaMixer.forward, one layer, batch 1"})
        print(f"MambaMixer {shape:<24} {us:12.1f} us", flush=True)
    out = {"schema": "fastkernels.peer.v1", "torch": torch.__version__, "transformers": transformers.__version__,
           "device": props.name, "rows": rows}
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
