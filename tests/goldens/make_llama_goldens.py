#!/usr/bin/env python3
"""Golden fixtures for fk-llama from HF transformers (the oracle for modules and models).

For each tiny random-weight Llama config below, writes tests/goldens/llama/<name>/:
  config.json, model.safetensors      an HF model folder (what `--model DIR` takes)
  golden.safetensors                  input_ids [T] i64, layer_outputs.<i> [T, H] f32 (output of
                                      decoder layer i, via forward hooks), final_norm [T, H],
                                      logits [T, V] f32 for every prompt position, greedy [32] i64
  meta.json                           versions, seed, dtype, smallest top-2 logit gap of the
                                      greedy steps (how robust the token match is)
Configs cover GQA and MQA, head_dim != hidden/heads (64, the smallest head_dim the GPU attention
kernels take, against hidden sizes of 64 and 48), llama3 rope scaling (all three frequency
bands), tied embeddings, odd sizes, and fp32 and bf16.

Weights: torch.manual_seed(seed), `initializer_range` 0.2 (the checkpoint default 0.02 makes a
64-wide toy model's logits nearly uniform, so greedy decoding would hinge on ties) and norm
weights 1 + 0.1·N(0, 1) so a kernel that ignores them fails. For the fp32 configs the seed is
advanced until every greedy step's top-2 logit gap is >= 1e-3.

Usage (any machine with torch + transformers; CPU is fine):
  python3 tests/goldens/make_llama_goldens.py [--out tests/goldens/llama]
"""
import argparse
import json
import os

import torch
import transformers
from safetensors.torch import save_file
from transformers import LlamaConfig, LlamaForCausalLM

PROMPT_LEN, GREEDY_STEPS = 11, 32

CONFIGS = {
    "tiny-gqa-llama3-f32": dict(
        dtype=torch.float32,
        config=dict(hidden_size=64, intermediate_size=112, num_hidden_layers=2, num_attention_heads=4,
                    num_key_value_heads=2, head_dim=64, vocab_size=151, max_position_embeddings=256,
                    rms_norm_eps=1e-5, rope_theta=500000.0, tie_word_embeddings=False,
                    rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0,
                                      high_freq_factor=4.0, original_max_position_embeddings=32)),
    ),
    "tiny-mqa-headdim-tied-f32": dict(
        dtype=torch.float32,
        config=dict(hidden_size=48, intermediate_size=80, num_hidden_layers=3, num_attention_heads=4,
                    num_key_value_heads=1, head_dim=64, vocab_size=97, max_position_embeddings=128,
                    rms_norm_eps=1e-6, rope_theta=10000.0, tie_word_embeddings=True),
    ),
    "tiny-gqa-llama3-bf16": dict(
        dtype=torch.bfloat16,
        config=None,  # same as tiny-gqa-llama3-f32
    ),
}


def build(cfg_kwargs, dtype, seed):
    torch.manual_seed(seed)
    cfg = LlamaConfig(initializer_range=0.2, attention_bias=False, mlp_bias=False, hidden_act="silu",
                      bos_token_id=1, eos_token_id=2, attn_implementation="eager", **cfg_kwargs)
    model = LlamaForCausalLM(cfg).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
    return model.to(dtype), cfg


@torch.no_grad()
def run(model, ids):
    layer_out = {}
    hooks = [layer.register_forward_hook(
        lambda mod, args, out, i=i: layer_out.__setitem__(i, (out[0] if isinstance(out, tuple) else out).detach()))
        for i, layer in enumerate(model.model.layers)]
    norm_out = {}
    hooks.append(model.model.norm.register_forward_hook(lambda m, a, out: norm_out.__setitem__(0, out.detach())))
    logits = model(ids[None]).logits[0]
    for h in hooks:
        h.remove()
    return logits, layer_out, norm_out[0][0]


@torch.no_grad()
def greedy(model, ids, steps):
    seq, gaps = ids.clone(), []
    for _ in range(steps):
        last = model(seq[None]).logits[0, -1].float()
        top = torch.topk(last, 2)
        gaps.append(float(top.values[0] - top.values[1]))
        seq = torch.cat([seq, top.indices[:1]])
    return seq[len(ids):], min(gaps)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "llama"))
    a = ap.parse_args()
    for name, spec in CONFIGS.items():
        cfg_kwargs = spec["config"] or CONFIGS["tiny-gqa-llama3-f32"]["config"]
        seed = 0
        while True:
            model, cfg = build(cfg_kwargs, spec["dtype"], seed)
            g = torch.Generator().manual_seed(1000 + seed)
            ids = torch.randint(3, cfg.vocab_size, (PROMPT_LEN,), generator=g)
            tokens, min_gap = greedy(model, ids, GREEDY_STEPS)
            if spec["dtype"] != torch.float32 or min_gap >= 1e-3:
                break
            seed += 1
        logits, layer_out, final_norm = run(model, ids)
        d = os.path.join(a.out, name)
        os.makedirs(d, exist_ok=True)
        model.save_pretrained(d, safe_serialization=True)
        for extra in ("generation_config.json",):
            if os.path.exists(os.path.join(d, extra)):
                os.remove(os.path.join(d, extra))
        golden = {"input_ids": ids.to(torch.int64), "logits": logits.float().contiguous(),
                  "final_norm": final_norm.float().contiguous(), "greedy": tokens.to(torch.int64)}
        for i, t in layer_out.items():
            golden[f"layer_outputs.{i}"] = t[0].float().contiguous()
        save_file(golden, os.path.join(d, "golden.safetensors"))
        meta = {"torch": torch.__version__, "transformers": transformers.__version__, "seed": seed,
                "dtype": str(spec["dtype"]).replace("torch.", ""), "prompt_len": PROMPT_LEN,
                "greedy_steps": GREEDY_STEPS, "min_top2_gap": min_gap, "attn_implementation": "eager"}
        with open(os.path.join(d, "meta.json"), "w") as f:
            json.dump(meta, f, indent=1)
        print(f"{name}: seed {seed}, min top-2 gap {min_gap:.3g}, greedy {tokens.tolist()}")


if __name__ == "__main__":
    main()
