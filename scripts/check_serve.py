#!/usr/bin/env python3
"""Smoke test of `cargo-fastkernels serve` on the GPU: serves one fp32 golden Llama folder,
asks for its 32 greedy tokens over HTTP (plain and streamed) and checks them against the
transformers goldens; then a malformed request must get a 400 and the server must keep
serving; SIGTERM must stop it. Exit code 1 on any failure.

Usage: check_serve.py --cli bundle/bin/cargo-fastkernels --golden bundle/goldens/llama/tiny-gqa-llama3-f32
"""
import argparse
import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

from safetensors.torch import load_file


def post(url, body):
    req = urllib.request.Request(url, data=body if isinstance(body, bytes) else json.dumps(body).encode(),
                                 headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--golden", required=True)
    ap.add_argument("--port", type=int, default=18731)
    a = ap.parse_args()
    gold = load_file(f"{a.golden}/golden.safetensors")
    ids, want = gold["input_ids"].tolist(), gold["greedy"].tolist()
    base = f"http://127.0.0.1:{a.port}"
    srv = subprocess.Popen([a.cli, "serve", "--model", a.golden, "--port", str(a.port), "--max-model-len", "128",
                            "--max-num-seqs", "8"], stderr=subprocess.PIPE, text=True)
    ok = True
    try:
        for _ in range(240):
            try:
                with urllib.request.urlopen(base + "/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except Exception:
                time.sleep(0.5)
        else:
            print("serve: never became healthy")
            return 1
        body = {"prompt": ids, "max_tokens": len(want), "temperature": 0, "ignore_eos": True}
        status, text = post(base + "/v1/completions", body)
        got = json.loads(text)["choices"][0]["token_ids"] if status == 200 else None
        print(f"serve: plain completion {status}, tokens {'identical to transformers' if got == want else f'DIFFER: {got}'}")
        ok &= got == want
        status, text = post(base + "/v1/completions", dict(body, stream=True))
        streamed = []
        for line in text.splitlines():
            if line.startswith("data: ") and line != "data: [DONE]":
                for c in json.loads(line[6:]).get("choices", []):
                    streamed += c.get("token_ids") or []
        print(f"serve: streamed completion {status}, tokens {'identical' if streamed == want else f'DIFFER: {streamed}'}")
        ok &= streamed == want and text.rstrip().endswith("data: [DONE]")
        status, _ = post(base + "/v1/completions", b"{not json")
        print(f"serve: malformed JSON -> {status}")
        ok &= status == 400
        status, _ = post(base + "/v1/completions", dict(body, max_tokens=1))
        ok &= status == 200
    finally:
        srv.send_signal(signal.SIGTERM)
        try:
            rc = srv.wait(timeout=60)
        except subprocess.TimeoutExpired:
            srv.kill()
            rc = "killed after 60 s"
        print(f"serve: SIGTERM -> exit {rc}")
        ok &= rc == 0
        if not ok:
            print(srv.stderr.read()[-3000:])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
