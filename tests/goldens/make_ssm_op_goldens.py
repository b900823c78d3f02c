"""Goldens for the SSM op references (baselines/src/reference/ssm): HF transformers' torch-only
paths in float64 on small random inputs (fixed seed). Inputs are float32 values widened to
float64, so the Rust side (f32 slices, f64 arithmetic) sees exactly the same numbers.

    PYTHONPATH=/tmp/hf python3 tests/goldens/make_ssm_op_goldens.py

Where transformers has a torch fallback it is called (Mamba2 `causal_conv1d_fn`,
`causal_conv1d_update`, `mamba2_selective_state_update`, `mamba2_chunk_scan`). Those upcast
with `Tensor.float()`, which would round our float64 inputs to float32; for the duration of
the calls `Tensor.float` leaves float64 tensors alone so the goldens keep f64 precision.
Mamba-1's scan (the loop inside `MambaMixer.slow_forward`) and `MambaRMSNormGated.forward`
(which casts to float32 with `.to`) are not standalone functions; they are written out below
op for op in float64.
"""
import json
import pathlib

import torch
import torch.nn.functional as F
from transformers.models.mamba2 import modeling_mamba2 as m2

torch.manual_seed(7)
OUT = pathlib.Path(__file__).parent / "ssm_ops" / "goldens.json"


def rnd(*shape, scale=1.0):
    return (torch.randn(*shape, dtype=torch.float32) * scale).double()


def flat(t):
    return [float(v) for v in t.reshape(-1).tolist()]


class keep_f64:
    """Makes `Tensor.float()` a no-op on float64 tensors inside the block."""

    def __enter__(self):
        self.orig = torch.Tensor.float
        orig = self.orig
        torch.Tensor.float = lambda t, *a, **k: t if t.dtype == torch.float64 else orig(t, *a, **k)

    def __exit__(self, *exc):
        torch.Tensor.float = self.orig


def conv_case():
    # [batch, dim, L] as HF holds it; the Rust side takes [tokens, dim] with cu_seqlens.
    b, dim, L, w = 2, 4, 6, 4
    x, weight, bias = rnd(b, dim, L), rnd(dim, w), rnd(dim)
    y = m2.causal_conv1d_fn(x, weight, bias, activation="silu")
    # decode: a width-1 state per sequence, one token each
    state, xt = rnd(b, dim, w - 1), rnd(b, dim, 1)
    new_state = state.clone()
    yt = m2.causal_conv1d_update(xt, new_state, weight, bias, activation="silu")
    return {
        "dim": dim, "width": w, "cu_seqlens": [0, L, 2 * L],
        "x": flat(x.permute(0, 2, 1)), "weight": flat(weight), "bias": flat(bias), "y": flat(y.permute(0, 2, 1)),
        "final_state": flat(x[:, :, L - (w - 1):]),
        "update_x": flat(xt[:, :, 0]), "update_state_in": flat(state), "update_y": flat(yt[:, :, 0]),
        "update_state_out": flat(new_state),
    }


def mamba1_scan_case():
    # MambaMixer.slow_forward's discretisation and loop, batch 1, with a cached ssm_state.
    L, D, N = 7, 4, 3
    u, delta, delta_bias = rnd(L, D), rnd(L, D), rnd(D)
    A = (-torch.exp(rnd(D, N))).float().double()  # A = -exp(A_log), kept f32-exact
    B, C, Dskip, z, h0 = rnd(L, N), rnd(L, N), rnd(D), rnd(L, D), rnd(D, N)
    dt = F.softplus(delta + delta_bias).T[None]  # [1, D, L]
    hs, gate = u.T[None], z.T[None]
    discrete_A = torch.exp(A[None, :, None, :] * dt[:, :, :, None])
    deltaB_u = dt[:, :, :, None] * B[None, None, :, :] * hs[:, :, :, None]
    ssm_state = h0[None].clone()
    ys = []
    for i in range(L):
        ssm_state = discrete_A[:, :, i, :] * ssm_state + deltaB_u[:, :, i, :]
        ys.append(torch.matmul(ssm_state, C[None, i, :].unsqueeze(-1))[:, :, 0])
    y = torch.stack(ys, dim=-1)
    y = y + hs * Dskip[None, :, None]
    y = y * F.silu(gate)
    return {
        "L": L, "dim": D, "d_state": N, "u": flat(u), "delta": flat(delta), "delta_bias": flat(delta_bias),
        "A": flat(A), "B": flat(B), "C": flat(C), "D": flat(Dskip), "z": flat(z),
        "initial_state": flat(h0), "y": flat(y[0].T), "final_state": flat(ssm_state[0]),
    }


def mamba2_inputs(L, H, P, G, N):
    return dict(x=rnd(1, L, H, P), dt=rnd(1, L, H), A=-torch.exp(rnd(H)).float().double(), B=rnd(1, L, G, N),
                C=rnd(1, L, G, N), D=rnd(H), dt_bias=rnd(H))


def ssd_case():
    L, H, P, G, N, cs = 11, 4, 3, 2, 5, 4
    t = mamba2_inputs(L, H, P, G, N)
    h0 = rnd(1, H, P, N)
    with keep_f64():
        y, final = m2.mamba2_chunk_scan(t["x"], t["dt"], t["A"], t["B"], t["C"], cs, D=t["D"], dt_bias=t["dt_bias"],
                                        initial_states=h0, dt_softplus=True, return_final_states=True)
    assert y.dtype == torch.float64
    out = {k: flat(v) for k, v in t.items()}
    out.update(L=L, heads=H, head_dim=P, ngroups=G, d_state=N, chunk_size=cs, initial_state=flat(h0),
               y=flat(y), final_state=flat(final))
    return out


def ssd_update_case():
    S, H, P, G, N = 2, 4, 3, 2, 5
    t = mamba2_inputs(S, H, P, G, N)
    t = {k: (v[0] if v.dim() > 1 and v.shape[0] == 1 else v) for k, v in t.items()}  # seqs as the batch
    z, state = rnd(S, H, P), rnd(S, H, P, N)
    st = state.clone()
    with keep_f64():
        # Expanded per head_dim channel exactly as Mamba2Mixer.torch_forward's decode branch does.
        y = m2.mamba2_selective_state_update(
            st, t["x"], t["dt"][:, :, None].expand(-1, -1, P), t["A"][:, None, None].expand(-1, P, N), t["B"], t["C"],
            D=t["D"][:, None].expand(-1, P), dt_bias=t["dt_bias"][:, None].expand(-1, P), dt_softplus=True, z=z)
    assert y.dtype == torch.float64
    out = {k: flat(v) for k, v in t.items()}
    out.update(seqs=S, heads=H, head_dim=P, ngroups=G, d_state=N, z=flat(z), state_in=flat(state), y=flat(y),
               state_out=flat(st))
    return out


def norm_gated_case():
    # MambaRMSNormGated.forward (norm_before_gate=False) in float64, without its float32 cast.
    T, hidden, group, eps = 3, 8, 4, 1e-6
    x, z, w = rnd(T, hidden), rnd(T, hidden), rnd(hidden)
    h = x * F.silu(z)
    hg = h.view(T, hidden // group, group)
    hg = hg * torch.rsqrt(hg.pow(2).mean(-1, keepdim=True) + eps)
    y = w * hg.view(T, hidden)
    return {"hidden": hidden, "group_size": group, "eps": eps, "x": flat(x), "z": flat(z), "weight": flat(w),
            "y": flat(y)}


def main():
    cases = {"conv": conv_case(), "mamba1_scan": mamba1_scan_case(), "ssd": ssd_case(),
             "ssd_update": ssd_update_case(), "norm_gated": norm_gated_case()}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(cases, indent=None, separators=(",", ":")))
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
