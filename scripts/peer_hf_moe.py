#!/usr/bin/env python3
"""HF transformers peer for the MoE bench: `MixtralSparseMoeBlock` at Mixtral-8x7B shapes.

Runs where transformers, PyTorch and a GPU are (the device machine). Writes rows shaped like
peer_torch_ops.py's (fastkernels.peer.v1) whose op/shape equal fk-mixtral's L2 row
"MixtralSparseMoeBlock" (architectures/mixtral/benches/ops.rs), so the bench table gets a
PyTorch column; run.sh merges them into peer.json before the benches run.

What is timed: the whole HF block (router linear + softmax/top-2/renormalise + experts) in bf16,
once per experts implementation transformers offers: "eager" (the per-expert Python loop the
acceptance compares against: `eager_us`), and where present "grouped_mm" / "batched_mm"
(`grouped_mm_us`, `batched_mm_us`; extra fields, kept for the record). Both sides run the
router GEMM, top-2 and the experts.
Method as peer_torch_ops.py: 2 x L2 written before each call, CUDA events, warm-up, median.
Weights: randn scaled 1/sqrt(fan_in); hidden states randn, so routing is near-uniform as in our
bench's random router logits.

Usage: peer_hf_moe.py --out peer-moe.json [--tokens 1,2,4,...,4096] [--reps 50]
"""
import argparse
import json
import sys

import torch

from peer_torch_ops import time_us  # same method as the op peer (same folder in the bundle)

# mistralai/Mixtral-8x7B-Instruct-v0.1 (architectures/mixtral/configs/.../config.json)
HIDDEN, INTER, EXPERTS, TOP_K = 4096, 14336, 8, 2


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--tokens", default="1,2,4,8,16,32,64,128,256,512,1024,2048,4096")  # MOE_BENCH_TOKENS
    ap.add_argument("--reps", type=int, default=50)
    a = ap.parse_args()
    import transformers
    from transformers import MixtralConfig
    from transformers.models.mixtral.modeling_mixtral import MixtralSparseMoeBlock

    dev = torch.device("cuda")
    torch.manual_seed(0)
    cfg = MixtralConfig(hidden_size=HIDDEN, intermediate_size=INTER, num_local_experts=EXPERTS, num_experts_per_tok=TOP_K)
    block = MixtralSparseMoeBlock(cfg).to(dev, torch.bfloat16).eval()
    with torch.no_grad():
        for p in block.parameters():
            p.normal_(0.0, p.shape[-1] ** -0.5)
    props = torch.cuda.get_device_properties(dev)
    flush = torch.empty(2 * max(props.L2_cache_size, 32 << 20), dtype=torch.uint8, device=dev)
    experts = block.experts
    # transformers dispatches the experts' forward on config._experts_implementation where the
    # class is decorated with use_experts_implementation (it then holds the config).
    impls = ["eager", "grouped_mm", "batched_mm"] if hasattr(experts, "config") else ["eager"]
    rows = []
    for t in (int(x) for x in a.tokens.split(",")):
        x = torch.randn(1, t, HIDDEN, device=dev, dtype=torch.bfloat16)
        shape = f"[{t}, {HIDDEN}] E{EXPERTS} k{TOP_K} I={INTER}"
        row = {"op": "MixtralSparseMoeBlock", "shape": shape, "dtype": "bf16", "eager_us": None, "compile_us": None,
               "what": "transformers MixtralSparseMoeBlock (router + experts), per experts implementation"}
        for impl in impls:
            try:
                if hasattr(experts, "config"):
                    experts.config._experts_implementation = impl
                with torch.no_grad():
                    us = time_us(lambda: block(x), flush, a.reps)
                row[f"{impl}_us"] = us
                print(f"MixtralSparseMoeBlock {shape:<30} {impl:<10} {us:10.1f} us", flush=True)
            except Exception as e:  # an implementation this transformers/torch cannot run: say so
                row[f"{impl}_us"], row[f"{impl}_error"] = None, str(e).splitlines()[0][:200] if str(e) else type(e).__name__
                print(f"MixtralSparseMoeBlock {shape:<30} {impl:<10} unavailable: {row[f'{impl}_error']}", flush=True)
        rows.append(row)
    out = {"schema": "fastkernels.peer.v1", "torch": torch.__version__, "transformers": transformers.__version__,
           "device": props.name, "rows": rows}
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
