//! Checks against tests/goldens/ssm_ops/goldens.json, written by
//! tests/goldens/make_ssm_op_goldens.py from HF transformers' torch paths in float64.

use super::*;
use serde_json::Value;

fn goldens() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/goldens/ssm_ops/goldens.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn f32s(v: &Value, key: &str) -> Vec<f32> {
    // The script's inputs are float32 values widened to float64, so this cast is exact.
    v[key].as_array().unwrap_or_else(|| panic!("missing {key}")).iter().map(|x| x.as_f64().unwrap() as f32).collect()
}

fn f64s(v: &Value, key: &str) -> Vec<f64> {
    v[key].as_array().unwrap_or_else(|| panic!("missing {key}")).iter().map(|x| x.as_f64().unwrap()).collect()
}

fn usz(v: &Value, key: &str) -> usize {
    v[key].as_u64().unwrap_or_else(|| panic!("missing {key}")) as usize
}

fn assert_rel_l2(name: &str, got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{name}: length");
    let num: f64 = got.iter().zip(want).map(|(a, b)| (a - b) * (a - b)).sum();
    let den: f64 = want.iter().map(|b| b * b).sum();
    let rel = (num / den.max(1e-300)).sqrt();
    assert!(rel <= 1e-10, "{name}: rel-L2 {rel:e}");
}

#[test]
fn conv_matches_hf() {
    let g = &goldens()["conv"];
    let dim = usz(g, "dim");
    let cu: Vec<usize> = g["cu_seqlens"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
    let (w, b) = (f32s(g, "weight"), f32s(g, "bias"));
    let (y, st) = causal_conv1d(&f32s(g, "x"), &cu, dim, &w, Some(&b), None, true).unwrap();
    assert_rel_l2("conv y", &y, &f64s(g, "y"));
    assert_rel_l2("conv final state", &st, &f64s(g, "final_state"));
    let mut state = f64s(g, "update_state_in");
    let yt = causal_conv1d_update(&f32s(g, "update_x"), dim, &mut state, &w, Some(&b), true).unwrap();
    assert_rel_l2("conv update y", &yt, &f64s(g, "update_y"));
    assert_rel_l2("conv update state", &state, &f64s(g, "update_state_out"));
}

#[test]
fn mamba1_scan_matches_hf_slow_forward() {
    let g = &goldens()["mamba1_scan"];
    let (u, delta, a, b, c) = (f32s(g, "u"), f32s(g, "delta"), f32s(g, "A"), f32s(g, "B"), f32s(g, "C"));
    let (d, z, db) = (f32s(g, "D"), f32s(g, "z"), f32s(g, "delta_bias"));
    let inp = ScanInputs {
        u: &u,
        delta: &delta,
        a: &a,
        b: &b,
        c: &c,
        d: Some(&d),
        z: Some(&z),
        delta_bias: Some(&db),
        delta_softplus: true,
        dim: usz(g, "dim"),
        d_state: usz(g, "d_state"),
    };
    let (y, h) = selective_scan(&inp, Some(&f64s(g, "initial_state"))).unwrap();
    assert_rel_l2("mamba1 y", &y, &f64s(g, "y"));
    assert_rel_l2("mamba1 state", &h, &f64s(g, "final_state"));
}

struct Ssd {
    x: Vec<f32>,
    dt: Vec<f32>,
    a: Vec<f32>,
    b: Vec<f32>,
    c: Vec<f32>,
    d: Vec<f32>,
    dtb: Vec<f32>,
    z: Option<Vec<f32>>,
}

fn ssd_data(g: &Value) -> Ssd {
    Ssd {
        x: f32s(g, "x"),
        dt: f32s(g, "dt"),
        a: f32s(g, "A"),
        b: f32s(g, "B"),
        c: f32s(g, "C"),
        d: f32s(g, "D"),
        dtb: f32s(g, "dt_bias"),
        z: g.get("z").map(|_| f32s(g, "z")),
    }
}

fn ssd_inputs<'a>(s: &'a Ssd, g: &Value) -> SsdInputs<'a> {
    SsdInputs {
        x: &s.x,
        dt: &s.dt,
        a: &s.a,
        b: &s.b,
        c: &s.c,
        d: Some(&s.d),
        z: s.z.as_deref(),
        dt_bias: Some(&s.dtb),
        dt_softplus: true,
        heads: usz(g, "heads"),
        head_dim: usz(g, "head_dim"),
        ngroups: usz(g, "ngroups"),
        d_state: usz(g, "d_state"),
    }
}

#[test]
fn ssd_matches_hf_chunk_scan() {
    let g = &goldens()["ssd"];
    let s = ssd_data(g);
    let inp = ssd_inputs(&s, g);
    let h0 = f64s(g, "initial_state");
    let (ys, hs) = ssd_sequential(&inp, Some(&h0)).unwrap();
    assert_rel_l2("ssd sequential y", &ys, &f64s(g, "y"));
    assert_rel_l2("ssd sequential state", &hs, &f64s(g, "final_state"));
    let (yc, hc) = ssd_chunked(&inp, Some(&h0), usz(g, "chunk_size")).unwrap();
    assert_rel_l2("ssd chunked y", &yc, &f64s(g, "y"));
    assert_rel_l2("ssd chunked state", &hc, &f64s(g, "final_state"));
}

#[test]
fn ssd_update_matches_hf_selective_state_update() {
    let g = &goldens()["ssd_update"];
    let s = ssd_data(g);
    let inp = ssd_inputs(&s, g);
    let mut st = f64s(g, "state_in");
    let y = selective_state_update_mamba2(&inp, &mut st).unwrap();
    assert_rel_l2("ssd update y", &y, &f64s(g, "y"));
    assert_rel_l2("ssd update state", &st, &f64s(g, "state_out"));
}

#[test]
fn norm_gated_matches_hf() {
    let g = &goldens()["norm_gated"];
    let y = rms_norm_gated(&f32s(g, "x"), &f32s(g, "z"), &f32s(g, "weight"), g["eps"].as_f64().unwrap(), usz(g, "group_size")).unwrap();
    assert_rel_l2("norm gated", &y, &f64s(g, "y"));
}
