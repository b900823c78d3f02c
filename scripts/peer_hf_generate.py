#!/usr/bin/env python3
"""HF transformers peer for fk-llama's end-to-end bench (architectures/llama/benches/generate.rs).

Same model and workload on the same GPU: Llama-3.1-8B-Instruct's real config.json with random
bf16 weights (nothing is downloaded), SDPA attention, a 128-token prompt, 128 greedy new tokens
with EOS ignored (min_new_tokens = max_new_tokens), batch 1 and a fixed batch of 32.
TTFT = one forward over the prompt (what generate does first); decode tok/s per sequence =
(new tokens - 1) / (generate time - TTFT). Warm-up run first; median of --reps runs.
This is what a user of `model.generate` gets out of the box (dynamic KV cache, eager).

Usage: peer_hf_generate.py --config architectures/llama/configs/Llama-3.1-8B-Instruct/config.json --out hf.json
"""
import argparse
import json
import statistics
import time

import torch
import transformers
from transformers import LlamaConfig, LlamaForCausalLM

PROMPT, NEW = 128, 128


def timed(fn):
    torch.cuda.synchronize()
    t = time.perf_counter()
    out = fn()
    torch.cuda.synchronize()
    return out, time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--batches", default="1,32")
    a = ap.parse_args()
    cfg = LlamaConfig.from_json_file(a.config)
    cfg._attn_implementation = "sdpa"
    torch.manual_seed(0)
    torch.set_default_dtype(torch.bfloat16)
    with torch.device("cuda"):
        model = LlamaForCausalLM(cfg).eval()
    torch.set_default_dtype(torch.float32)
    runs = []
    for batch in [int(b) for b in a.batches.split(",")]:
        ids = torch.tensor([[(b * 7919 + j * 104729 + 1) % cfg.vocab_size for j in range(PROMPT)] for b in range(batch)], device="cuda")
        mask = torch.ones_like(ids)
        gen = lambda: model.generate(ids, attention_mask=mask, max_new_tokens=NEW, min_new_tokens=NEW, do_sample=False, pad_token_id=0)
        with torch.no_grad():
            gen()  # warm-up
            ttft, decode = [], []
            for _ in range(a.reps):
                _, t_prefill = timed(lambda: model(ids, attention_mask=mask, use_cache=True))
                out, t_all = timed(gen)
                assert out.shape[1] == PROMPT + NEW, out.shape
                ttft.append(t_prefill * 1e3)
                decode.append((NEW - 1) / (t_all - t_prefill))
        r = {"batch": batch, "ttft_ms": statistics.median(ttft), "decode_tok_per_s_per_seq": statistics.median(decode)}
        print(f"HF transformers {transformers.__version__} batch {batch}: TTFT {r['ttft_ms']:.2f} ms, decode {r['decode_tok_per_s_per_seq']:.1f} tok/s/seq", flush=True)
        runs.append(r)
    with open(a.out, "w") as f:
        json.dump({"schema": "fastkernels.peer.hf_generate.v1", "transformers": transformers.__version__, "torch": torch.__version__,
                   "device": torch.cuda.get_device_name(), "attn_implementation": "sdpa", "cache": "dynamic",
                   "prompt_tokens": PROMPT, "new_tokens": NEW, "runs": runs}, f, indent=1)


if __name__ == "__main__":
    main()
