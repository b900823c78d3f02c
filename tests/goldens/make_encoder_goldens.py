#!/usr/bin/env python3
"""Golden fixtures for the encoder crates (fk-colbertv2, fk-bge-m3, fk-siglip2, fk-dinov3) from
HF transformers: the oracle for their CPU references (and, later, GPU modules).

For each tiny random-weight config below, writes tests/goldens/<arch>/<name>/:
  config.json, model.safetensors   an HF model folder
  golden.safetensors               inputs (i64 ids/masks/shapes, f32 pixels) and f32 outputs:
                                   embeddings (output of the embeddings module), layer_outputs.<i>
                                   (output of encoder layer i, via forward hooks),
                                   last_hidden_state, pooler_output, and per architecture:
                                   colbertv2 token_embeddings (normalize(linear(last_hidden_state)),
                                   padding rows zero), bge_m3 dense_embedding (normalize(CLS))
  meta.json                        versions, seed, dtype
Every text case is a padded batch (two sequences of different lengths, attention_mask); the
script checks that transformers' real-token rows equal each sequence run alone, so the goldens
encode "padding changes nothing". SigLIP-2 takes naflex patch inputs (pixel_values
[B, max_patches, C*p*p], pixel_attention_mask, spatial_shapes) whose grids differ from the
position-embedding grid in both directions (upsampling and antialiased downsampling); DINOv3 has
register tokens, random layer scales, gated (SwiGLU) and plain MLPs, and non-square images of a
size other than config.image_size.

Weights: torch.manual_seed(seed), initializer_range 0.1, LayerNorm weights 1 + 0.1·N(0, 1) and
biases 0.1·N(0, 1) (so a kernel that ignores them fails), layer scales 1 + 0.5·N(0, 1).

Usage (torch + transformers, CPU is fine):
  python3 tests/goldens/make_encoder_goldens.py [--out tests/goldens]
"""
import argparse
import json
import os

import torch
import transformers
from safetensors.torch import save_file
from transformers import (BertConfig, BertModel, DINOv3ViTConfig, DINOv3ViTModel, Siglip2VisionConfig,
                          Siglip2VisionModel, XLMRobertaConfig, XLMRobertaModel)

F32, BF16 = torch.float32, torch.bfloat16


def randomize(model):
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "layernorm" in name.lower() or "norm" in name.split(".")[-2].lower():
                if name.endswith("weight"):
                    p.copy_(1.0 + 0.1 * torch.randn_like(p))
                elif name.endswith("bias"):
                    p.copy_(0.1 * torch.randn_like(p))
            if name.endswith("lambda1"):
                p.copy_(1.0 + 0.5 * torch.randn_like(p))


def hooks(layers, embeddings):
    got = {}
    hs = [layer.register_forward_hook(
        lambda m, a, out, i=i: got.__setitem__(f"layer_outputs.{i}", (out[0] if isinstance(out, tuple) else out).detach()))
        for i, layer in enumerate(layers)]
    hs.append(embeddings.register_forward_hook(
        lambda m, a, out: got.__setitem__("embeddings", (out[0] if isinstance(out, tuple) else out).detach())))
    return got, hs


@torch.no_grad()
def run_hooked(model, layers, **inputs):
    """model(**inputs) with the embeddings' and every layer's output captured."""
    got, hs = hooks(layers, model.embeddings)
    out = model(**inputs)
    for h in hs:
        h.remove()
    return out, got


def flat(t):
    """[B, S, H] -> [B*S, H] f32 contiguous (what the Rust side compares)."""
    t = t.float()
    return t.reshape(-1, t.shape[-1]).contiguous() if t.dim() == 3 else t.contiguous()


def save_case(out_dir, arch, name, model, golden, meta, extra_weights=None, prefix=""):
    d = os.path.join(out_dir, arch, name)
    os.makedirs(d, exist_ok=True)
    model.config.save_pretrained(d)
    state = {prefix + k: v.contiguous() for k, v in model.state_dict().items()}
    state.update(extra_weights or {})
    save_file(state, os.path.join(d, "model.safetensors"), metadata={"format": "pt"})
    save_file({k: v.contiguous().clone() for k, v in golden.items()}, os.path.join(d, "golden.safetensors"))
    meta = dict(meta, torch=torch.__version__, transformers=transformers.__version__, attn_implementation="eager")
    with open(os.path.join(d, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print(f"{arch}/{name}: {sorted(golden)}")


def padded_text_inputs(vocab, pad_id, lens, seed, first_id):
    g = torch.Generator().manual_seed(seed)
    seq = max(lens)
    ids = torch.full((len(lens), seq), pad_id, dtype=torch.long)
    mask = torch.zeros((len(lens), seq), dtype=torch.long)
    for b, n in enumerate(lens):
        body = torch.randint(first_id, vocab, (n,), generator=g)
        ids[b, :n] = body
        mask[b, :n] = 1
    return ids, mask


@torch.no_grad()
def run_text(model, layers, ids, mask, token_type_ids):
    out, got = run_hooked(model, layers, input_ids=ids, attention_mask=mask, token_type_ids=token_type_ids)
    # Padding must not change real rows: each sequence alone (no padding) gives the same rows.
    for b in range(ids.shape[0]):
        n = int(mask[b].sum())
        alone = model(input_ids=ids[b:b + 1, :n], attention_mask=mask[b:b + 1, :n],
                      token_type_ids=token_type_ids[b:b + 1, :n]).last_hidden_state[0]
        diff = (alone.float() - out.last_hidden_state[b, :n].float()).abs().max().item()
        tol = 1e-5 if alone.dtype == F32 else 0.1
        assert diff < tol, f"transformers: padding changed real rows by {diff}"
    return out, got


def text_golden(out, got, ids, mask, tt):
    g = {"input_ids": ids, "attention_mask": mask, "token_type_ids": tt,
         "last_hidden_state": flat(out.last_hidden_state), "pooler_output": flat(out.pooler_output)}
    g.update({k: flat(v) for k, v in got.items()})
    return g


# The GPU attention kernels take head_dim 32/64/72/80/128/256 only, so each text architecture (and SigLIP-2) has a
# second, GPU-shaped pair of cases (`hd64-*`: hidden 128, 2 heads of 64) next to the tiny ones.
ENCODER_SHAPES = [("tiny", dict(hidden_size=32, num_attention_heads=4)), ("hd64", dict(hidden_size=128, num_attention_heads=2))]


def colbertv2(out_dir):
    for tag, shape in ENCODER_SHAPES:
        colbertv2_case(out_dir, tag, shape)


def colbertv2_case(out_dir, tag, shape):
    cfg = BertConfig(**shape, num_hidden_layers=2, intermediate_size=56, vocab_size=131,
                     max_position_embeddings=40, type_vocab_size=2, layer_norm_eps=1e-12, hidden_act="gelu",
                     initializer_range=0.1, pad_token_id=0, attn_implementation="eager",
                     architectures=["HF_ColBERT"])
    for name, dtype in [(f"{tag}-padded-f32", F32), (f"{tag}-padded-bf16", BF16)]:
        torch.manual_seed(0)
        model = BertModel(cfg).eval()
        randomize(model)
        linear = torch.nn.Linear(cfg.hidden_size, 24, bias=False)
        torch.nn.init.normal_(linear.weight, std=0.1)
        model, linear = model.to(dtype), linear.to(dtype)
        ids, mask = padded_text_inputs(cfg.vocab_size, 0, [13, 7], 1, 1)
        tt = torch.zeros_like(ids)
        tt[0, 8:13] = 1  # a second segment in the first sequence
        out, got = run_text(model, model.encoder.layer, ids, mask, tt)
        with torch.no_grad():
            # ColBERT: D = normalize(linear(bert(...)[0]) * mask) per token.
            d = linear(out.last_hidden_state) * mask[..., None].to(dtype)
            d = torch.nn.functional.normalize(d, p=2, dim=2)
        golden = text_golden(out, got, ids, mask, tt)
        golden["token_embeddings"] = flat(d)
        # colbert-ir/colbertv2.0 stores the encoder under `bert.` and the projection as `linear.weight`.
        save_case(out_dir, "colbertv2", name, model, golden, {"seed": 0, "dtype": str(dtype)},
                  extra_weights={"linear.weight": linear.weight.detach().contiguous()}, prefix="bert.")


def bge_m3(out_dir):
    for tag, shape in ENCODER_SHAPES:
        bge_m3_case(out_dir, tag, shape)


def bge_m3_case(out_dir, tag, shape):
    cfg = XLMRobertaConfig(**shape, num_hidden_layers=2, intermediate_size=48, vocab_size=150,
                           max_position_embeddings=40, type_vocab_size=1, layer_norm_eps=1e-5, hidden_act="gelu",
                           initializer_range=0.1, pad_token_id=1, bos_token_id=0, eos_token_id=2,
                           attn_implementation="eager", architectures=["XLMRobertaModel"])
    for name, dtype in [(f"{tag}-padded-f32", F32), (f"{tag}-padded-bf16", BF16)]:
        torch.manual_seed(1)
        model = XLMRobertaModel(cfg).eval()
        randomize(model)
        model = model.to(dtype)
        ids, mask = padded_text_inputs(cfg.vocab_size, 1, [9, 16], 2, 3)
        ids[:, 0] = torch.where(mask[:, 0] == 1, 0, ids[:, 0])  # <s> first, as the tokenizer does
        tt = torch.zeros_like(ids)
        out, got = run_text(model, model.encoder.layer, ids, mask, tt)
        golden = text_golden(out, got, ids, mask, tt)
        golden["dense_embedding"] = torch.nn.functional.normalize(out.last_hidden_state[:, 0].float(), dim=-1).contiguous()
        save_case(out_dir, "bge_m3", name, model, golden, {"seed": 1, "dtype": str(dtype)})


def siglip2(out_dir):
    for tag, shape in ENCODER_SHAPES:
        siglip2_case(out_dir, tag, shape)


@torch.no_grad()
def siglip2_case(out_dir, tag, shape):
    cfg = Siglip2VisionConfig(**shape, intermediate_size=48, num_hidden_layers=2,
                              num_channels=3, num_patches=16, patch_size=4, layer_norm_eps=1e-6,
                              hidden_act="gelu_pytorch_tanh", vision_use_head=True, attn_implementation="eager")
    # Image 0: a 4x6 grid (24 patches, the whole max length; wider than the 4x4 table: upsampled
    # along x). Image 1: 3x5 (15 real patches, 9 padding; fewer rows: antialiased downsampling).
    shapes = [(4, 6), (3, 5)]
    max_patches, pdim = 24, 3 * 4 * 4
    for name, dtype in [(f"{tag}-naflex-f32", F32), (f"{tag}-naflex-bf16", BF16)]:
        torch.manual_seed(2)
        model = Siglip2VisionModel(cfg).eval()
        randomize(model)
        with torch.no_grad():
            model.head.probe.normal_()
        model = model.to(dtype)
        g = torch.Generator().manual_seed(3)
        pixels = torch.zeros(len(shapes), max_patches, pdim)
        mask = torch.zeros(len(shapes), max_patches, dtype=torch.long)
        for b, (h, w) in enumerate(shapes):
            pixels[b, :h * w] = torch.rand(h * w, pdim, generator=g) * 2 - 1
            mask[b, :h * w] = 1
        spatial = torch.tensor(shapes, dtype=torch.long)
        out, got = run_hooked(model, model.encoder.layers, pixel_values=pixels.to(dtype), pixel_attention_mask=mask,
                              spatial_shapes=spatial)
        golden = {"pixel_values": pixels.float(), "pixel_attention_mask": mask, "spatial_shapes": spatial,
                  "last_hidden_state": flat(out.last_hidden_state), "pooler_output": flat(out.pooler_output)}
        golden.update({k: flat(v) for k, v in got.items()})
        save_case(out_dir, "siglip2", name, model, golden, {"seed": 2, "dtype": str(dtype)})


@torch.no_grad()
def dinov3(out_dir):
    base = dict(hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4, patch_size=4,
                image_size=16, layer_norm_eps=1e-5, rope_theta=100.0, initializer_range=0.1,
                attn_implementation="eager")
    cases = [
        # 7B-like: SwiGLU, no q/k/v bias, 2 registers; a 20x12 image (5x3 patches, not the 4x4 default).
        ("tiny-gated-f32", F32, dict(use_gated_mlp=True, hidden_act="silu", num_register_tokens=2, query_bias=False,
                                     key_bias=False, value_bias=False, layerscale_value=1e-5), (20, 12)),
        ("tiny-gated-bf16", BF16, None, (20, 12)),
        # ViT-S/B-like: plain GELU MLP, q and v biases, 1 register, the default 16x16 size.
        ("tiny-plain-f32", F32, dict(use_gated_mlp=False, hidden_act="gelu", num_register_tokens=1, query_bias=True,
                                     key_bias=False, value_bias=True, layerscale_value=1.0), (16, 16)),
    ]
    # GPU-shaped twins (hidden 128, 2 heads of 64: the GPU attention kernels' head dims).
    cases += [("hd64" + name[4:], dtype, extra, size) for name, dtype, extra, size in cases]
    first = cases[0][2]
    for name, dtype, extra, (h, w) in cases:
        shape = dict(hidden_size=128, num_attention_heads=2) if name.startswith("hd64") else {}
        cfg = DINOv3ViTConfig(**dict(base, **shape), **(extra or first))
        torch.manual_seed(4)
        model = DINOv3ViTModel(cfg).eval()
        randomize(model)
        with torch.no_grad():
            model.embeddings.register_tokens.normal_()
        model = model.to(dtype)
        g = torch.Generator().manual_seed(5)
        pixels = torch.randn(2, 3, h, w, generator=g)
        out, got = run_hooked(model, model.model.layer, pixel_values=pixels.to(dtype))
        golden = {"pixel_values": pixels.float(), "last_hidden_state": flat(out.last_hidden_state),
                  "pooler_output": flat(out.pooler_output)}
        golden.update({k: flat(v) for k, v in got.items()})
        save_case(out_dir, "dinov3", name, model, golden, {"seed": 4, "dtype": str(dtype)})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--only", nargs="*", default=["colbertv2", "bge_m3", "siglip2", "dinov3"])
    a = ap.parse_args()
    for arch in a.only:
        globals()[arch](a.out)


if __name__ == "__main__":
    main()
