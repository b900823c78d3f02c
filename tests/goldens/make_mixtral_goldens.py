#!/usr/bin/env python3
"""Golden fixtures for fk-mixtral from HF transformers (MixtralForCausalLM, its eager path).

For each tiny random-weight Mixtral config below, writes tests/goldens/mixtral/<name>/:
  config.json, model.safetensors      an HF model folder in the hub's key layout
                                      (`block_sparse_moe.gate`, `block_sparse_moe.experts.<j>.w1/w2/w3`;
                                      transformers 5 converts to its fused layout on load and back on save)
  golden.safetensors                  input_ids [T] i64, layer_outputs.<i> [T, H] f32, final_norm [T, H],
                                      logits [T, V] f32, greedy [32] i64, and router_topk.<i> [T, k] i64:
                                      the experts each token is routed to in layer i, in the order
                                      torch.topk returns them (highest probability first)
  meta.json                           versions, seed, the smallest top-2 logit gap of the greedy steps and
                                      the smallest gap between the k-th and (k+1)-th router probability
                                      (how robust the token and expert matches are)
Configs: 8 experts top-2 with GQA; 4 experts top-2 with MHA, tied embeddings and odd sizes;
the first again in bf16. head_dim is 64 (the smallest the GPU attention kernels take).

Weights: torch.manual_seed(seed), initializer_range 0.2 (0.02 makes a toy model's logits nearly
uniform) and norm weights 1 + 0.1·N(0, 1). For fp32 configs the seed is advanced until every
greedy step's top-2 logit gap is >= 1e-3 and every router decision has a gap >= 1e-4.

Usage (any machine with torch + transformers; CPU is fine):
  python3 tests/goldens/make_mixtral_goldens.py [--out tests/goldens/mixtral]
"""
import argparse
import json
import os

import torch
import transformers
from safetensors.torch import load_file, save_file
from transformers import MixtralConfig, MixtralForCausalLM

from make_llama_goldens import greedy  # same greedy loop and top-2 gap as the Llama goldens

PROMPT_LEN, GREEDY_STEPS = 11, 32

BASE = dict(hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, head_dim=64, vocab_size=151, max_position_embeddings=256,
            rms_norm_eps=1e-5, rope_theta=1e6, tie_word_embeddings=False, num_local_experts=8,
            num_experts_per_tok=2)

CONFIGS = {
    "tiny-moe8-top2-f32": dict(dtype=torch.float32, config=BASE),
    "tiny-moe4-top2-mha-tied-f32": dict(dtype=torch.float32, config=dict(
        hidden_size=48, intermediate_size=80, num_hidden_layers=3, num_attention_heads=4,
        num_key_value_heads=4, head_dim=64, vocab_size=97, max_position_embeddings=128,
        rms_norm_eps=1e-6, rope_theta=10000.0, tie_word_embeddings=True, num_local_experts=4,
        num_experts_per_tok=2)),
    "tiny-moe8-top2-bf16": dict(dtype=torch.bfloat16, config=BASE),
}


def build(cfg_kwargs, dtype, seed):
    torch.manual_seed(seed)
    cfg = MixtralConfig(initializer_range=0.2, hidden_act="silu", bos_token_id=1, eos_token_id=2,
                        sliding_window=None, router_jitter_noise=0.0, attn_implementation="eager", **cfg_kwargs)
    model = MixtralForCausalLM(cfg).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
    return model.to(dtype), cfg


@torch.no_grad()
def run(model, ids, k):
    layer_out, routes = {}, {}
    hooks = [layer.register_forward_hook(
        lambda mod, args, out, i=i: layer_out.__setitem__(i, (out[0] if isinstance(out, tuple) else out).detach()))
        for i, layer in enumerate(model.model.layers)]
    # The router's own outputs: (logits, scores, indices) as the experts receive them.
    hooks += [layer.mlp.gate.register_forward_hook(lambda mod, args, out, i=i: routes.__setitem__(i, out))
              for i, layer in enumerate(model.model.layers)]
    norm_out = {}
    hooks.append(model.model.norm.register_forward_hook(lambda m, a, out: norm_out.__setitem__(0, out.detach())))
    logits = model(ids[None]).logits[0]
    for h in hooks:
        h.remove()
    router_gap = float("inf")
    for logits_i, _, _ in routes.values():
        probs = torch.softmax(logits_i.float(), dim=-1)
        top = torch.topk(probs, k + 1, dim=-1).values
        router_gap = min(router_gap, float((top[:, k - 1] - top[:, k]).min()))
    return logits, layer_out, norm_out[0][0], {i: r[2] for i, r in routes.items()}, router_gap


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "mixtral"))
    a = ap.parse_args()
    for name, spec in CONFIGS.items():
        cfg_kwargs = spec["config"]
        k = cfg_kwargs["num_experts_per_tok"]
        seed = 0
        while True:
            model, cfg = build(cfg_kwargs, spec["dtype"], seed)
            g = torch.Generator().manual_seed(1000 + seed)
            ids = torch.randint(3, cfg.vocab_size, (PROMPT_LEN,), generator=g)
            tokens, min_gap = greedy(model, ids, GREEDY_STEPS)
            logits, layer_out, final_norm, routes, router_gap = run(model, ids, k)
            if spec["dtype"] != torch.float32 or (min_gap >= 1e-3 and router_gap >= 1e-4):
                break
            seed += 1
        d = os.path.join(a.out, name)
        os.makedirs(d, exist_ok=True)
        model.save_pretrained(d, safe_serialization=True)
        for extra in ("generation_config.json",):
            if os.path.exists(os.path.join(d, extra)):
                os.remove(os.path.join(d, extra))
        keys = set(load_file(os.path.join(d, "model.safetensors")).keys())
        assert "model.layers.0.block_sparse_moe.experts.0.w1.weight" in keys, f"not the hub layout: {sorted(keys)[:8]}"
        golden = {"input_ids": ids.to(torch.int64), "logits": logits.float().contiguous(),
                  "final_norm": final_norm.float().contiguous(), "greedy": tokens.to(torch.int64)}
        for i, t in layer_out.items():
            golden[f"layer_outputs.{i}"] = t[0].float().contiguous()
        for i, r in routes.items():
            golden[f"router_topk.{i}"] = r.to(torch.int64).contiguous()
        save_file(golden, os.path.join(d, "golden.safetensors"))
        meta = {"torch": torch.__version__, "transformers": transformers.__version__, "seed": seed,
                "dtype": str(spec["dtype"]), "min_greedy_top2_gap": min_gap, "min_router_gap": router_gap}
        with open(os.path.join(d, "meta.json"), "w") as f:
            json.dump(meta, f, indent=1)
        print(f"{name}: seed {seed}, min greedy gap {min_gap:.2e}, min router gap {router_gap:.2e}, greedy {tokens.tolist()[:8]}…")


if __name__ == "__main__":
    main()
