#!/usr/bin/env python3
"""Golden fixtures for fk-mamba (and the coming fk-mamba2) from HF transformers
(MambaForCausalLM / Mamba2ForCausalLM, their pure-PyTorch paths).

For each tiny random-weight config below, writes tests/goldens/<arch>/<name>/:
  config.json, model.safetensors   an HF model folder (`backbone.layers.<i>.mixer.in_proj`, ...)
  golden.safetensors               input_ids [T] i64; layer_outputs.<i> [T, H] f32 (each MambaBlock's
                                   output, residual included); final_norm [T, H]; logits [T, V];
                                   conv_state.<i> [intermediate, conv_kernel-1] and ssm_state.<i>
                                   [intermediate, state_size] f32 (Mamba-2: conv_state [conv_dim,
                                   conv_kernel-1], ssm_state [num_heads, head_dim, state_size]): layer i's
                                   recurrent state after the
                                   prompt (conv state oldest input first, as causal_conv1d_update keeps
                                   it); greedy [32] i64 and greedy_logits [32, V] f32: the continuation
                                   decoded one token at a time through HF's cache (row j: the logits
                                   token j was chosen from; row 0 is the prompt's last row)
  meta.json                        versions, seed, smallest top-2 logit gap of the greedy steps
Mamba configs: tied embeddings with state 16 and kernel 4; untied with biases (use_bias), state 8,
kernel 3 and an explicit time_step_rank; the first again in bf16. Mamba-2 configs: 8 heads of 16
in 2 groups with chunk_size 4 (the 11-token prompt spans three chunks, one partial), untied; the
same tied with 1 group, kernel 3 and use_bias; the first again in bf16.

Only the slow torch path runs: the model is on the CPU in eval mode (the fused `mamba_inner_fn`
runs only when training; the hub kernels for `causal_conv1d` / `mamba_ssm` are CUDA-only and
never loaded here, which main() asserts by checking the functions' module).

Weights: torch.manual_seed(seed), initializer_range 0.2, norm weights 1 + 0.1·N(0, 1), A_log and D
(and Mamba-2's dt_bias) perturbed by 0.1·N(0, 1) (the init makes every channel's A the same ramp). For fp32 configs
the seed is advanced until every greedy step's top-2 logit gap is >= 1e-3.

Usage: python3 tests/goldens/make_mamba_goldens.py [--arch mamba|mamba2] [--out tests/goldens/<arch>]
"""
import argparse
import json
import os

import torch
import transformers
from safetensors.torch import save_file
from transformers import DynamicCache, Mamba2Config, Mamba2ForCausalLM, MambaConfig, MambaForCausalLM
from transformers.models.mamba import modeling_mamba
from transformers.models.mamba2 import modeling_mamba2

PROMPT_LEN, GREEDY_STEPS = 11, 32

BASE = dict(hidden_size=64, num_hidden_layers=3, state_size=16, vocab_size=301, expand=2, conv_kernel=4,
            use_bias=False, use_conv_bias=True, layer_norm_epsilon=1e-5, tie_word_embeddings=True)

CONFIGS = {
    "tiny-tied-f32": dict(dtype=torch.float32, config=BASE),
    "tiny-untied-bias-f32": dict(dtype=torch.float32, config=dict(
        hidden_size=48, num_hidden_layers=2, state_size=8, vocab_size=157, expand=2, conv_kernel=3,
        time_step_rank=6, use_bias=True, use_conv_bias=True, layer_norm_epsilon=1e-6,
        tie_word_embeddings=False)),
    "tiny-tied-bf16": dict(dtype=torch.bfloat16, config=BASE),
}

BASE2 = dict(hidden_size=64, num_hidden_layers=2, state_size=16, vocab_size=301, expand=2, conv_kernel=4,
             num_heads=8, head_dim=16, n_groups=2, chunk_size=4, use_bias=False, use_conv_bias=True,
             layer_norm_epsilon=1e-5, tie_word_embeddings=False)

CONFIGS2 = {
    "tiny-g2-chunk4-f32": dict(dtype=torch.float32, config=BASE2),
    "tiny-g1-tied-bias-f32": dict(dtype=torch.float32, config=dict(
        BASE2, hidden_size=48, num_heads=6, head_dim=16, n_groups=1, state_size=8, vocab_size=157, conv_kernel=3,
        num_hidden_layers=3, use_bias=True, tie_word_embeddings=True, layer_norm_epsilon=1e-6)),
    "tiny-g2-chunk4-bf16": dict(dtype=torch.bfloat16, config=BASE2),
}

# Per architecture: the model classes, the configs, and the torch fallbacks that must be the ones running.
ARCHS = {
    "mamba": dict(config=MambaConfig, model=MambaForCausalLM, configs=CONFIGS, extra={},
                  torch_path=lambda: (modeling_mamba.causal_conv1d_fn, modeling_mamba.mamba_selective_scan,
                                      modeling_mamba.mamba_selective_state_update), module="modeling_mamba"),
    "mamba2": dict(config=Mamba2Config, model=Mamba2ForCausalLM, configs=CONFIGS2, extra={"pad_token_id": 1},
                   torch_path=lambda: (modeling_mamba2.causal_conv1d_fn, modeling_mamba2.mamba2_chunk_scan,
                                       modeling_mamba2.mamba2_selective_state_update), module="modeling_mamba2"),
}


def build(arch, cfg_kwargs, dtype, seed):
    torch.manual_seed(seed)
    a = ARCHS[arch]
    common = dict(initializer_range=0.2, hidden_act="silu", bos_token_id=0, eos_token_id=0, pad_token_id=0,
                  residual_in_fp32=True)
    if arch == "mamba":
        common["use_mambapy"] = False
    cfg = a["config"](**(common | a["extra"]), **cfg_kwargs)
    model = a["model"](cfg).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight") or name.endswith("norm_f.weight"):
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
            elif name.endswith("A_log") or name.endswith(".D") or name.endswith("dt_bias"):
                p.add_(0.1 * torch.randn_like(p))
    return model.to(dtype), cfg


@torch.no_grad()
def prefill(model, ids):
    layer_out, norm_out = {}, {}
    hooks = [layer.register_forward_hook(lambda mod, args, out, i=i: layer_out.__setitem__(i, out.detach()))
             for i, layer in enumerate(model.backbone.layers)]
    hooks.append(model.backbone.norm_f.register_forward_hook(lambda m, a, out: norm_out.__setitem__(0, out.detach())))
    cache = DynamicCache(config=model.config)
    logits = model(ids[None], cache=cache, use_cache=True).logits[0]
    for h in hooks:
        h.remove()
    return logits, layer_out, norm_out[0][0], cache


@torch.no_grad()
def greedy_cached(model, logits, cache, steps):
    """Decode one token at a time through the cache (HF's recurrent path, seq_len 1)."""
    rows, tokens, gaps = [], [], []
    last = logits[-1]
    for _ in range(steps):
        last = last.float()
        top = torch.topk(last, 2)
        gaps.append(float(top.values[0] - top.values[1]))
        rows.append(last)
        tokens.append(int(top.indices[0]))
        last = model(torch.tensor([[tokens[-1]]]), cache=cache, use_cache=True).logits[0, -1]
    return torch.tensor(tokens), torch.stack(rows), min(gaps)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", default="mamba", choices=sorted(ARCHS))
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    out = a.out or os.path.join(os.path.dirname(__file__), a.arch)
    arch = ARCHS[a.arch]
    # The reference must be transformers' torch fallbacks, not hub CUDA kernels.
    for fn in arch["torch_path"]():
        assert getattr(fn, "__module__", "").endswith(arch["module"]), f"{fn} is not the torch path"
    for name, spec in arch["configs"].items():
        cfg_kwargs = spec["config"]
        seed = 0
        while True:
            model, cfg = build(a.arch, cfg_kwargs, spec["dtype"], seed)
            g = torch.Generator().manual_seed(1000 + seed)
            ids = torch.randint(1, cfg.vocab_size, (PROMPT_LEN,), generator=g)
            logits, layer_out, final_norm, cache = prefill(model, ids)
            k = cfg.conv_kernel
            states = {i: (cache.layers[i].conv_states[0][0, :, -(k - 1):].float().clone(),
                          cache.layers[i].recurrent_states[0][0].float().clone()) for i in range(cfg.num_hidden_layers)}
            tokens, greedy_logits, min_gap = greedy_cached(model, logits, cache, GREEDY_STEPS)
            if spec["dtype"] != torch.float32 or min_gap >= 1e-3:
                break
            seed += 1
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        model.save_pretrained(d, safe_serialization=True)
        if os.path.exists(os.path.join(d, "generation_config.json")):
            os.remove(os.path.join(d, "generation_config.json"))
        golden = {"input_ids": ids.to(torch.int64), "logits": logits.float().contiguous(),
                  "final_norm": final_norm.float().contiguous(), "greedy": tokens.to(torch.int64),
                  "greedy_logits": greedy_logits.float().contiguous()}
        for i, t in layer_out.items():
            golden[f"layer_outputs.{i}"] = t[0].float().contiguous()
        for i, (conv, ssm) in states.items():
            golden[f"conv_state.{i}"] = conv.contiguous()
            golden[f"ssm_state.{i}"] = ssm.contiguous()
        save_file(golden, os.path.join(d, "golden.safetensors"))
        meta = {"torch": torch.__version__, "transformers": transformers.__version__, "seed": seed,
                "dtype": str(spec["dtype"]), "min_greedy_top2_gap": min_gap}
        with open(os.path.join(d, "meta.json"), "w") as f:
            json.dump(meta, f, indent=1)
        print(f"{name}: seed {seed}, min greedy gap {min_gap:.2e}, greedy {tokens.tolist()[:8]}…")


if __name__ == "__main__":
    main()
