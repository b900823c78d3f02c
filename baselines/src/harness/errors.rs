//! Bad-input trials: each wrong call must come back as a clear `Err` naming the problem,
//! never a crash, a hang or garbage.

use crate::ops::{self, DecodeSplits, DeviceStatus, PagedKv, PrefillKv, PrefillParams, Rotary};
use crate::table::OpTable;
use fk_runtime::gpu_test::{gpu_trial, TestTrial};
use fk_runtime::{DType, Error, Tensor};

pub(super) fn expect_err<T: std::fmt::Debug>(r: fk_runtime::Result<T>, what: &str, pred: impl Fn(&Error) -> bool, needle: &str) -> Result<(), String> {
    match r {
        Ok(v) => Err(format!("{what}: expected an error, got Ok({v:?})")),
        Err(e) if pred(&e) && e.to_string().contains(needle) => Ok(()),
        Err(e) => Err(format!("{what}: wrong error (want one mentioning {needle:?}): {e}")),
    }
}

pub fn error_trials() -> Vec<TestTrial> {
    let t = OpTable::baseline;
    vec![
        gpu_trial("errors/rms_norm wrong weight shape, dtype and int input", move |dev| {
            let x = Tensor::zeros(dev, &[4, 64], DType::BF16).map_err(|e| e.to_string())?;
            let out = Tensor::zeros(dev, &[4, 64], DType::BF16).map_err(|e| e.to_string())?;
            let w_bad = Tensor::zeros(dev, &[63], DType::BF16).map_err(|e| e.to_string())?;
            expect_err(ops::rms_norm(&t(), &x, &w_bad, 1e-5, &out), "weight [63]", |e| matches!(e, Error::Shape { .. }), "weight")?;
            let w_f32 = Tensor::zeros(dev, &[64], DType::F32).map_err(|e| e.to_string())?;
            expect_err(ops::rms_norm(&t(), &x, &w_f32, 1e-5, &out), "f32 weight", |e| matches!(e, Error::DType { .. }), "weight is f32")?;
            let xi = Tensor::zeros(dev, &[4, 64], DType::I32).map_err(|e| e.to_string())?;
            expect_err(ops::rms_norm(&t(), &xi, &w_f32, 1e-5, &out), "i32 input", |e| matches!(e, Error::DType { .. }), "i32")?;
            let w = Tensor::zeros(dev, &[64], DType::BF16).map_err(|e| e.to_string())?;
            expect_err(ops::rms_norm(&t(), &x, &w, f32::NAN, &out), "NaN eps", |e| matches!(e, Error::BadInput { .. }), "eps")?;
            let big = Tensor::zeros(dev, &[1, 40000], DType::BF16).map_err(|e| e.to_string())?;
            let wb = Tensor::zeros(dev, &[40000], DType::BF16).map_err(|e| e.to_string())?;
            expect_err(ops::rms_norm(&t(), &big, &wb, 1e-5, &big), "hidden 40000", |e| matches!(e, Error::Shape { .. }), "hidden 40000")
        }),
        gpu_trial("errors/overlap: q and k blocks of one qkv buffer are disjoint, a view and itself are not", move |_dev| {
            let qkv = Tensor::zeros(_dev, &[5, 48], DType::BF16).map_err(|e| e.to_string())?;
            let (q, k, v) = (qkv.narrow(1, 0, 32).map_err(|e| e.to_string())?, qkv.narrow(1, 32, 8).map_err(|e| e.to_string())?, qkv.narrow(1, 40, 8).map_err(|e| e.to_string())?);
            let k_rows = k.narrow(0, 2, 2).map_err(|e| e.to_string())?;
            let checks = [(q.overlaps(&k), false), (k.overlaps(&v), false), (k.overlaps(&k_rows), true), (q.overlaps(&qkv), true), (qkv.narrow(1, 30, 4).map_err(|e| e.to_string())?.overlaps(&k), true)];
            match checks.iter().position(|(got, want)| got != want) {
                None => Ok(()),
                Some(i) => Err(format!("overlap check #{i} wrong: {checks:?}")),
            }
        }),
        gpu_trial("errors/fused_add_rms_norm aliasing input and residual", move |dev| {
            let x = Tensor::zeros(dev, &[4, 64], DType::BF16).map_err(|e| e.to_string())?;
            let w = Tensor::zeros(dev, &[64], DType::BF16).map_err(|e| e.to_string())?;
            expect_err(ops::fused_add_rms_norm(&t(), &x, &x, &w, 1e-5), "same tensor", |e| matches!(e, Error::Shape { .. }), "overlap")
        }),
        gpu_trial("errors/silu_and_mul odd width and wrong out", move |dev| {
            let x = Tensor::zeros(dev, &[3, 7], DType::F16).map_err(|e| e.to_string())?;
            let out = Tensor::zeros(dev, &[3, 3], DType::F16).map_err(|e| e.to_string())?;
            expect_err(ops::silu_and_mul(&t(), &x, &out), "width 7", |e| matches!(e, Error::Shape { .. }), "2*d")?;
            let x = Tensor::zeros(dev, &[3, 8], DType::F16).map_err(|e| e.to_string())?;
            expect_err(ops::silu_and_mul(&t(), &x, &out), "out [3, 3]", |e| matches!(e, Error::Shape { .. }), "[..., 4]")
        }),
        gpu_trial("errors/embedding out-of-range id is an error naming the token, row zeroed", move |dev| {
            let w = Tensor::from_f32(dev, &vec![1.0; 10 * 8], &[10, 8], DType::BF16).map_err(|e| e.to_string())?;
            let out = Tensor::empty(dev, &[3, 8], DType::BF16).map_err(|e| e.to_string())?;
            let status = DeviceStatus::new(dev).map_err(|e| e.to_string())?;
            let ids = Tensor::from_i64(dev, &[1, 10, 2], &[3]).map_err(|e| e.to_string())?;
            expect_err(ops::embedding_checked(&t(), &ids, &w, &out, &status), "id 10 of vocab 10", |e| matches!(e, Error::BadInput { .. }), "token 1 has id 10")?;
            let v = out.to_f32().map_err(|e| e.to_string())?;
            if v[8..16].iter().any(|&x| x != 0.0) || v[..8].iter().any(|&x| x != 1.0) {
                return Err(format!("bad row must be zero and good rows copied, got {v:?}"));
            }
            let ids = Tensor::from_i32(dev, &[-1, 0, 0], &[3]).map_err(|e| e.to_string())?;
            expect_err(ops::embedding_checked(&t(), &ids, &w, &out, &status), "id -1", |e| matches!(e, Error::BadInput { .. }), "token 0 has id -1")?;
            let ids = Tensor::from_i32(dev, &[0, 9, 3], &[3]).map_err(|e| e.to_string())?;
            ops::embedding_checked(&t(), &ids, &w, &out, &status).map_err(|e| format!("valid ids must pass: {e}"))
        }),
        gpu_trial("errors/rotary position past the cache is reported, q unchanged", move |dev| {
            let cache = Tensor::zeros(dev, &[16, 8], DType::F32).map_err(|e| e.to_string())?;
            let q = Tensor::from_f32(dev, &[0.5; 2 * 8], &[2, 8], DType::F32).map_err(|e| e.to_string())?;
            let pos = Tensor::from_i64(dev, &[3, 16], &[2]).map_err(|e| e.to_string())?;
            let status = DeviceStatus::new(dev).map_err(|e| e.to_string())?;
            let rope = Rotary { head_size: 8, cos_sin_cache: &cache, is_neox_style: true };
            ops::rotary_embedding(&t(), &rope, &pos, &q, None, &status).map_err(|e| e.to_string())?;
            expect_err(status.check("rotary_embedding", |r| format!("token {r}")), "position 16 of 16", |e| matches!(e, Error::BadInput { .. }), "token 1")?;
            if q.to_f32().map_err(|e| e.to_string())?[8..].iter().any(|&v| v != 0.5) {
                return Err("the out-of-range token must be left unrotated".into());
            }
            let pos32 = Tensor::from_i32(dev, &[0, 1], &[2]).map_err(|e| e.to_string())?;
            expect_err(ops::rotary_embedding(&t(), &rope, &pos32, &q, None, &status), "i32 positions", |e| matches!(e, Error::DType { .. }), "i64")
        }),
        gpu_trial("errors/paged ops: unsupported head_dim, wrong index dtypes, slot past the cache", move |dev| {
            let e = |r: fk_runtime::Result<Tensor>| r.map_err(|e| e.to_string());
            let (kc, vc) = (e(Tensor::zeros(dev, &[4, 16, 2, 96], DType::BF16))?, e(Tensor::zeros(dev, &[4, 16, 2, 96], DType::BF16))?);
            let kv = PagedKv { key_cache: &kc, value_cache: &vc };
            let q = e(Tensor::zeros(dev, &[1, 4 * 96], DType::BF16))?;
            let out = e(Tensor::zeros(dev, &[1, 4, 96], DType::BF16))?;
            let table = e(Tensor::from_i32(dev, &[0, 1], &[1, 2]))?;
            let lens = e(Tensor::from_i32(dev, &[20], &[1]))?;
            let status = DeviceStatus::new(dev).map_err(|e| e.to_string())?;
            let splits = DecodeSplits::new(2, 16, 512).map_err(|e| e.to_string())?;
            expect_err(ops::paged_attention_decode(&t(), &q, &kv, &table, &lens, splits, None, 0.1, &out, &status), "head_dim 96", |e| matches!(e, Error::Shape { .. }), "head_dim 96")?;
            // The index-dtype check needs an otherwise valid call: head_dim 64 caches.
            let (kc64, vc64) = (e(Tensor::zeros(dev, &[4, 16, 2, 64], DType::BF16))?, e(Tensor::zeros(dev, &[4, 16, 2, 64], DType::BF16))?);
            let kv64 = PagedKv { key_cache: &kc64, value_cache: &vc64 };
            let (q64, out64) = (e(Tensor::zeros(dev, &[1, 4 * 64], DType::BF16))?, e(Tensor::zeros(dev, &[1, 4, 64], DType::BF16))?);
            let table64 = e(Tensor::from_i64(dev, &[0, 1], &[1, 2]))?;
            expect_err(ops::paged_attention_decode(&t(), &q64, &kv64, &table64, &lens, splits, None, 0.1, &out64, &status), "i64 block_table", |e| matches!(e, Error::DType { .. }), "block_table")?;
            let k = e(Tensor::zeros(dev, &[2, 2 * 96], DType::BF16))?;
            let slots = e(Tensor::from_i64(dev, &[3, 64], &[2]))?; // 4 blocks x 16 = 64 slots: 64 is past the end
            ops::reshape_and_cache(&t(), &k, &k.duplicate().map_err(|e| e.to_string())?, &kv, &slots, &status).map_err(|e| e.to_string())?;
            expect_err(status.check("reshape_and_cache", |r| format!("token {r}")), "slot 64", |e| matches!(e, Error::BadInput { .. }), "token 1")
        }),
        gpu_trial("errors/skinny_gemm too many rows, unaligned in_features, mismatched out", move |dev| {
            let e = |r: fk_runtime::Result<Tensor>| r.map_err(|e| e.to_string());
            let w = e(Tensor::zeros(dev, &[32, 64], DType::BF16))?;
            let x9 = e(Tensor::zeros(dev, &[9, 64], DType::BF16))?;
            let o9 = e(Tensor::zeros(dev, &[9, 32], DType::BF16))?;
            expect_err(ops::skinny_gemm(&t(), &x9, &w, None, &o9), "9 rows", |e| matches!(e, Error::Shape { .. }), "at most 8")?;
            let w100 = e(Tensor::zeros(dev, &[32, 100], DType::BF16))?;
            let x100 = e(Tensor::zeros(dev, &[2, 100], DType::BF16))?;
            let o2 = e(Tensor::zeros(dev, &[2, 32], DType::BF16))?;
            expect_err(ops::skinny_gemm(&t(), &x100, &w100, None, &o2), "k 100", |e| matches!(e, Error::Shape { .. }), "16-byte")?;
            let x2 = e(Tensor::zeros(dev, &[2, 64], DType::BF16))?;
            let o_bad = e(Tensor::zeros(dev, &[2, 31], DType::BF16))?;
            expect_err(ops::skinny_gemm(&t(), &x2, &w, None, &o_bad), "out [2, 31]", |e| matches!(e, Error::Shape { .. }), "out")?;
            // ops::linear routes 9 rows to cuBLASLt and 1 row to skinny_gemm: both work.
            let ctx = crate::Context::new(dev, t()).map_err(|e| e.to_string())?;
            let lin = fk_runtime::Linear::new(w.clone(), None).map_err(|e| e.to_string())?;
            let x1 = x2.narrow(0, 0, 1).map_err(|e| e.to_string())?;
            if ops::takes_skinny_path(&x9, &lin) || !ops::takes_skinny_path(&x1, &lin) {
                return Err("linear routes 9 rows to skinny_gemm or 1 row away from it".into());
            }
            ops::linear(&ctx, &x9, &lin, &o9).map_err(|e| e.to_string())?;
            ops::linear(&ctx, &x1, &lin, &e(Tensor::zeros(dev, &[1, 32], DType::BF16))?).map_err(|e| e.to_string())
        }),
        gpu_trial("errors/prefill_attention: dtypes, head_dim, head counts, index dtypes, shapes, alignment, scale", move |dev| {
            let e = |r: fk_runtime::Result<Tensor>| r.map_err(|e| e.to_string());
            let p = PrefillParams { head_dim: 64, causal: true, scale: 0.125, window_left: None, max_seqlen_q: 10 };
            let (q, k, v) = (e(Tensor::zeros(dev, &[10, 256], DType::BF16))?, e(Tensor::zeros(dev, &[10, 128], DType::BF16))?, e(Tensor::zeros(dev, &[10, 128], DType::BF16))?);
            let out = e(Tensor::zeros(dev, &[10, 256], DType::BF16))?;
            let cu = e(Tensor::from_i32(dev, &[0, 10], &[2]))?;
            let kv = || PrefillKv::Contiguous { key: &k, value: &v, cu_seqlens_k: &cu };
            ops::prefill_attention(&t(), &q, kv(), &cu, &p, &out).map_err(|e| format!("a valid call must pass: {e}"))?;
            let (q32, k32, o32) = (e(Tensor::zeros(dev, &[10, 256], DType::F32))?, e(Tensor::zeros(dev, &[10, 128], DType::F32))?, e(Tensor::zeros(dev, &[10, 256], DType::F32))?);
            expect_err(ops::prefill_attention(&t(), &q32, PrefillKv::Contiguous { key: &k32, value: &k32, cu_seqlens_k: &cu }, &cu, &p, &o32), "f32", |e| matches!(e, Error::DType { .. }), "f32")?;
            expect_err(ops::prefill_attention(&t(), &q, kv(), &cu, &PrefillParams { head_dim: 48, ..p }, &out), "head_dim 48", |e| matches!(e, Error::Shape { .. }), "head_dim 48")?;
            let q3 = e(Tensor::zeros(dev, &[10, 192], DType::BF16))?;
            let o3 = e(Tensor::zeros(dev, &[10, 192], DType::BF16))?;
            expect_err(ops::prefill_attention(&t(), &q3, kv(), &cu, &p, &o3), "3 heads over 2 kv heads", |e| matches!(e, Error::Shape { .. }), "multiple")?;
            let cu64 = e(Tensor::from_i64(dev, &[0, 10], &[2]))?;
            expect_err(ops::prefill_attention(&t(), &q, kv(), &cu64, &p, &out), "i64 cu_seqlens_q", |e| matches!(e, Error::DType { .. }), "cu_seqlens_q")?;
            let cu3 = e(Tensor::from_i32(dev, &[0, 5, 10], &[3]))?;
            expect_err(ops::prefill_attention(&t(), &q, kv(), &cu3, &p, &out), "cu_seqlens_k of another batch", |e| matches!(e, Error::DType { .. }), "cu_seqlens_k")?;
            let o_bad = e(Tensor::zeros(dev, &[10, 255], DType::BF16))?;
            expect_err(ops::prefill_attention(&t(), &q, kv(), &cu, &p, &o_bad), "out [10, 255]", |e| matches!(e, Error::Shape { .. }), "out")?;
            let wide = e(Tensor::zeros(dev, &[10, 264], DType::BF16))?;
            let q_mis = e(wide.narrow(1, 4, 256))?;
            expect_err(ops::prefill_attention(&t(), &q_mis, kv(), &cu, &p, &out), "view starting 8 bytes in", |e| matches!(e, Error::Shape { .. }), "aligned")?;
            expect_err(ops::prefill_attention(&t(), &q, kv(), &cu, &PrefillParams { scale: f32::NAN, ..p }, &out), "NaN scale", |e| matches!(e, Error::BadInput { .. }), "scale")?;
            expect_err(ops::prefill_attention(&t(), &q, kv(), &cu, &PrefillParams { max_seqlen_q: 0, ..p }, &out), "max_seqlen_q 0", |e| matches!(e, Error::Shape { .. }), "max_seqlen_q")?;
            expect_err(ops::prefill_attention(&t(), &q, kv(), &cu, &p, &q), "out aliasing query", |e| matches!(e, Error::Shape { .. }), "overlap")?;
            let (kc, vc) = (e(Tensor::zeros(dev, &[4, 16, 2, 128], DType::BF16))?, e(Tensor::zeros(dev, &[4, 16, 2, 128], DType::BF16))?);
            let (table, lens) = (e(Tensor::from_i32(dev, &[0, 1], &[1, 2]))?, e(Tensor::from_i32(dev, &[10], &[1]))?);
            let paged = PrefillKv::Paged { kv: PagedKv { key_cache: &kc, value_cache: &vc }, block_table: &table, seq_lens_k: &lens };
            expect_err(ops::prefill_attention(&t(), &q, paged, &cu, &p, &out), "caches of head_dim 128", |e| matches!(e, Error::Shape { .. }), "caches")?;
            let (kc64, vc64) = (e(Tensor::zeros(dev, &[4, 16, 2, 64], DType::BF16))?, e(Tensor::zeros(dev, &[4, 16, 2, 64], DType::BF16))?);
            let table64 = e(Tensor::from_i64(dev, &[0, 1], &[1, 2]))?;
            let paged = PrefillKv::Paged { kv: PagedKv { key_cache: &kc64, value_cache: &vc64 }, block_table: &table64, seq_lens_k: &lens };
            expect_err(ops::prefill_attention(&t(), &q, paged, &cu, &p, &out), "i64 block_table", |e| matches!(e, Error::DType { .. }), "block_table")
        }),
        gpu_trial("errors/prefill_attention: bad cu_seqlens, seq_lens_k, block ids, max_seqlen_q are reported, never read out of bounds", move |dev| {
            let e = |r: fk_runtime::Result<Tensor>| r.map_err(|e| e.to_string());
            let status = DeviceStatus::new(dev).map_err(|e| e.to_string())?;
            let p = PrefillParams { head_dim: 64, causal: true, scale: 0.125, window_left: None, max_seqlen_q: 16 };
            let q = e(Tensor::from_f32(dev, &vec![0.5; 10 * 256], &[10, 256], DType::BF16))?;
            let kv_rows = e(Tensor::from_f32(dev, &vec![0.25; 10 * 128], &[10, 128], DType::BF16))?;
            let out = e(Tensor::empty(dev, &[10, 256], DType::BF16))?;
            let run = |cu_q: &[i32], cu_k: &[i32], p: &PrefillParams| -> fk_runtime::Result<()> {
                let cq = Tensor::from_i32(dev, cu_q, &[cu_q.len()])?;
                let ck = Tensor::from_i32(dev, cu_k, &[cu_k.len()])?;
                ops::prefill_attention_checked(&t(), &q, PrefillKv::Contiguous { key: &kv_rows, value: &kv_rows, cu_seqlens_k: &ck }, &cq, p, &out, &status)
            };
            run(&[0, 4, 10], &[0, 4, 10], &p).map_err(|e| format!("valid lengths must pass: {e}"))?;
            expect_err(run(&[0, 6, 4, 10], &[0, 6, 4, 10], &p), "decreasing cu_seqlens", |e| matches!(e, Error::BadInput { .. }), "sequence 1")?;
            expect_err(run(&[0, 4, 12], &[0, 4, 10], &p), "cu_seqlens_q past total_q", |e| matches!(e, Error::BadInput { .. }), "sequence 1")?;
            expect_err(run(&[0, 4, 10], &[-3, 4, 10], &p), "negative cu_seqlens_k", |e| matches!(e, Error::BadInput { .. }), "sequence 0")?;
            expect_err(run(&[0, 10], &[0, 10], &PrefillParams { max_seqlen_q: 4, ..p }), "len_q 10 > max_seqlen_q 4", |e| matches!(e, Error::BadInput { .. }), "sequence 0")?;
            let (kc, vc) = (e(Tensor::zeros(dev, &[4, 4, 2, 64], DType::BF16))?, e(Tensor::zeros(dev, &[4, 4, 2, 64], DType::BF16))?);
            let cq = e(Tensor::from_i32(dev, &[0, 5, 10], &[3]))?;
            let paged = |table: &[i32], lens: &[i32]| -> fk_runtime::Result<()> {
                let bt = Tensor::from_i32(dev, table, &[2, 3])?;
                let sl = Tensor::from_i32(dev, lens, &[2])?;
                ops::prefill_attention_checked(&t(), &q, PrefillKv::Paged { kv: PagedKv { key_cache: &kc, value_cache: &vc }, block_table: &bt, seq_lens_k: &sl }, &cq, &p, &out, &status)
            };
            paged(&[0, 1, 2, 3, 2, 1], &[9, 12]).map_err(|e| format!("valid block tables must pass: {e}"))?;
            expect_err(paged(&[0, 1, 2, 3, 99, 1], &[9, 12]), "block id 99 of 4", |e| matches!(e, Error::BadInput { .. }), "sequence 1")?;
            expect_err(paged(&[0, -1, 2, 3, 2, 1], &[9, 12]), "block id -1", |e| matches!(e, Error::BadInput { .. }), "sequence 0")?;
            expect_err(paged(&[0, 1, 2, 3, 2, 1], &[13, 12]), "seq_lens_k 13 past 3 blocks of 4", |e| matches!(e, Error::BadInput { .. }), "sequence 0")?;
            let v = out.to_f32().map_err(|e| e.to_string())?;
            if v.iter().any(|x| !x.is_finite()) {
                return Err("rows of sequences with bad data must still be written with finite values".into());
            }
            Ok(())
        }),
        gpu_trial("errors/launchers reject a null stream and bad sizes", move |dev| {
            let x = Tensor::zeros(dev, &[2, 64], DType::BF16).map_err(|e| e.to_string())?;
            let mut p = crate::ffi::RmsNormParams {
                out: x.ptr(),
                input: x.ptr(),
                weight: x.ptr(),
                rows: 2,
                hidden: 64,
                input_stride: 64,
                out_stride: 64,
                eps: 1e-5,
                dtype: DType::BF16.code(),
            };
            dev.bind().map_err(|e| e.to_string())?;
            // SAFETY: valid params for a [2, 64] bf16 tensor; the launcher must refuse the
            // null (legacy default) stream before touching anything.
            let code = unsafe { crate::ffi::fk_baseline_rms_norm(&p as *const _ as *const _, std::ptr::null_mut()) };
            if code != 1 {
                return Err(format!("null stream: expected cudaErrorInvalidValue (1), got {code}"));
            }
            p.rows = -1;
            // SAFETY: as above; negative rows must be rejected before any launch.
            let code = unsafe { crate::ffi::fk_baseline_rms_norm(&p as *const _ as *const _, dev.stream()) };
            if code != 1 {
                return Err(format!("rows -1: expected cudaErrorInvalidValue (1), got {code}"));
            }
            Ok(())
        }),
    ]
}
