//! The device side of the recurrent-state cache: `reset` zeroes one slot's rows in every layer
//! and nothing else; a batch of consecutive slots is a view of the cache (kernels update it in
//! place); a batch of other slots is gathered in batch order and scattered back, leaving the
//! slots outside the batch untouched. GPU trials are ignored without a GPU.

use fk_linear_attn::{RecurrentStateCache, StateCacheSpec};
use fk_runtime::gpu_test::{gpu_trial, run};
use fk_runtime::{DType, Device, Tensor};

fn s<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

const SPEC: StateCacheSpec = StateCacheSpec {
    layers: 2,
    conv_dim: 5,
    d_conv: 4,
    ssm_heads: 5,
    ssm_head_dim: 1,
    d_state: 3,
    conv_dtype: DType::F32,
};
const SLOTS: usize = 4;

/// Fill every state tensor with distinct values: value = 1000·layer + flat index (+0.5 for ssm).
fn filled(dev: &Device) -> Result<RecurrentStateCache, String> {
    let mut cache = RecurrentStateCache::new(dev, SPEC, SLOTS).map_err(s)?;
    cache.slots_mut().allocate_many(SLOTS).map_err(s)?;
    for l in 0..SPEC.layers {
        for (t, off) in [
            (cache.conv(l).map_err(s)?, 0.0),
            (cache.ssm(l).map_err(s)?, 0.5),
        ] {
            let vals: Vec<f32> = (0..t.numel())
                .map(|i| 1000.0 * l as f32 + i as f32 + off)
                .collect();
            t.copy_from(&Tensor::from_f32(dev, &vals, t.shape(), t.dtype()).map_err(s)?)
                .map_err(s)?;
        }
    }
    Ok(cache)
}

fn rows(t: &Tensor, slot: usize) -> Result<Vec<f32>, String> {
    t.narrow(0, slot, 1).and_then(|r| r.to_f32()).map_err(s)
}

fn reset_zeroes_one_slot(dev: &Device) -> Result<(), String> {
    let cache = filled(dev)?;
    let before: Vec<Vec<f32>> = (0..SPEC.layers)
        .map(|l| cache.ssm(l).unwrap().to_f32().unwrap())
        .collect();
    cache.reset(2).map_err(s)?;
    for (l, before) in before.iter().enumerate() {
        for slot in 0..SLOTS {
            let (c, m) = (
                rows(cache.conv(l).map_err(s)?, slot)?,
                rows(cache.ssm(l).map_err(s)?, slot)?,
            );
            let zero = c.iter().chain(&m).all(|&x| x == 0.0);
            if (slot == 2) != zero {
                return Err(format!(
                    "layer {l} slot {slot}: zeroed = {zero} after reset(2)"
                ));
            }
        }
        let per = before.len() / SLOTS;
        if rows(cache.ssm(l).map_err(s)?, 3)? != before[3 * per..] {
            return Err(format!("layer {l}: slot 3 changed"));
        }
    }
    let mut cache = cache;
    cache.slots_mut().free(1).map_err(s)?;
    match cache.reset(1) {
        Err(e) if e.to_string().contains("slot 1") => Ok(()),
        other => Err(format!(
            "reset of a free slot: expected an error naming it, got {:?}",
            other.map(|_| ())
        )),
    }
}

fn consecutive_batches_are_views(dev: &Device) -> Result<(), String> {
    let cache = filled(dev)?;
    let mut b = cache.batch(&[1, 2]).map_err(s)?;
    let st = b.layer(1).map_err(s)?;
    let whole = cache.conv(1).map_err(s)?;
    let row = SPEC.conv_dim * (SPEC.d_conv - 1) * 4;
    if st.conv.ptr() != whole.ptr() + row as u64
        || st.conv.shape() != [2, 5, 3]
        || st.ssm.shape() != [2, 5, 3]
    {
        return Err(format!(
            "batch [1, 2] is not a view of rows 1..3: {:?} vs {whole:?}",
            st.conv
        ));
    }
    b.finish().map_err(s)
}

fn scattered_batches_round_trip(dev: &Device) -> Result<(), String> {
    let cache = filled(dev)?;
    let orig: Vec<(Vec<f32>, Vec<f32>)> = (0..SPEC.layers)
        .map(|l| {
            (
                cache.conv(l).unwrap().to_f32().unwrap(),
                cache.ssm(l).unwrap().to_f32().unwrap(),
            )
        })
        .collect();
    let batch = [2, 3, 0]; // runs: slots 2..4 in one copy, then slot 0
    let mut b = cache.batch(&batch).map_err(s)?;
    for l in 0..SPEC.layers {
        let st = b.layer(l).map_err(s)?;
        // Gathered in batch order.
        for (i, &slot) in batch.iter().enumerate() {
            if rows(&st.ssm, i)? != rows(cache.ssm(l).map_err(s)?, slot)?
                || rows(&st.conv, i)? != rows(cache.conv(l).map_err(s)?, slot)?
            {
                return Err(format!("layer {l}: batch row {i} is not slot {slot}"));
            }
        }
        // What a kernel would do: overwrite the batch's states (negated).
        for t in [&st.conv, &st.ssm] {
            let neg: Vec<f32> = t.to_f32().map_err(s)?.iter().map(|x| -x).collect();
            t.copy_from(&Tensor::from_f32(dev, &neg, t.shape(), t.dtype()).map_err(s)?)
                .map_err(s)?;
        }
    }
    b.finish().map_err(s)?;
    for (l, (conv0, ssm0)) in orig.iter().enumerate() {
        for (t, before) in [
            (cache.conv(l).map_err(s)?, conv0),
            (cache.ssm(l).map_err(s)?, ssm0),
        ] {
            let per = before.len() / SLOTS;
            for slot in 0..SLOTS {
                let want: Vec<f32> = before[slot * per..(slot + 1) * per]
                    .iter()
                    .map(|&x| if batch.contains(&slot) { -x } else { x })
                    .collect();
                if rows(t, slot)? != want {
                    return Err(format!(
                        "layer {l} slot {slot}: not {} after the batch",
                        if batch.contains(&slot) {
                            "updated"
                        } else {
                            "untouched"
                        }
                    ));
                }
            }
        }
    }
    Ok(())
}

fn bad_batches_are_errors(dev: &Device) -> Result<(), String> {
    let mut cache = filled(dev)?;
    cache.slots_mut().free(2).map_err(s)?;
    for (batch, needle) in [
        (&[0usize, 2][..], "slot 2"),
        (&[1, 1][..], "twice"),
        (&[9][..], "out of range"),
        (&[][..], "empty"),
    ] {
        match cache.batch(batch) {
            Err(e) if e.to_string().contains(needle) => {}
            Err(e) => {
                return Err(format!(
                    "batch {batch:?}: error `{e}` should mention {needle}"
                ))
            }
            Ok(_) => return Err(format!("batch {batch:?}: expected an error")),
        }
    }
    Ok(())
}

fn main() {
    run(vec![
        gpu_trial("state_cache/reset zeroes one slot", reset_zeroes_one_slot),
        gpu_trial(
            "state_cache/consecutive batch is a view",
            consecutive_batches_are_views,
        ),
        gpu_trial(
            "state_cache/other batches gather and scatter",
            scattered_batches_round_trip,
        ),
        gpu_trial("state_cache/bad batches are errors", bad_batches_are_errors),
    ])
}
