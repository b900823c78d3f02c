#!/usr/bin/env python3
"""Runs `cargo-fastkernels generate` (the CLI binary of a GPU bundle) on every golden Llama
folder and checks it against the transformers goldens: the --logits-out logits of every prompt
position (fp32 rel. L2 <= 1e-4, bf16 <= 2e-2) and, for the fp32 configs, the 32 greedy tokens.
Prints one line per config; exit code 1 if any check fails.

Usage: check_generate_cli.py --cli bundle/bin/cargo-fastkernels --goldens bundle/goldens/llama --out DIR
"""
import argparse
import json
import os
import subprocess
import sys

import torch
from safetensors.torch import load_file


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--goldens", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    ok = True
    for name in sorted(os.listdir(a.goldens)):
        d = os.path.join(a.goldens, name)
        gold = load_file(os.path.join(d, "golden.safetensors"))
        ids = gold["input_ids"].tolist()
        greedy = gold["greedy"].tolist()
        logits_file = os.path.join(a.out, f"cli-logits-{name}.safetensors")
        cmd = [a.cli, "generate", "--model", d, "--prompt-ids", ",".join(map(str, ids)), "--max-new-tokens", str(len(greedy)),
               "--ignore-eos", "--logits-out", logits_file, "--json"]
        run = subprocess.run(cmd, capture_output=True, text=True)
        if run.returncode != 0:
            print(f"{name}: FAILED: exit {run.returncode}: {run.stderr.strip()}")
            ok = False
            continue
        out = json.loads(run.stdout)
        ours = load_file(logits_file)["logits"].double()
        want = gold["logits"].double()
        rel = float((ours - want).norm() / want.norm())
        bar = 2e-2 if "bf16" in name else 1e-4
        same = out["output_ids"] == greedy
        passed = rel <= bar and (same or "bf16" in name)
        ok &= passed
        print(f"{name}: logits rel_l2 {rel:.2e} (bar {bar:g}); greedy {'identical' if same else 'differs'}; "
              f"decode {out['timing']['decode_tok_per_s']:.0f} tok/s -> {'ok' if passed else 'FAILED'}")
        os.remove(logits_file)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
