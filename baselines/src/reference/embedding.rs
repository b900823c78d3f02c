/// `out[t] = weight[ids[t]]`; out-of-range ids give a zero row (as the kernel does, and the
/// wrapper reports them as an error).
pub fn embedding(ids: &[i64], weight: &[f32], hidden: usize) -> Vec<f64> {
    let vocab = (weight.len() / hidden) as i64;
    let mut out = Vec::with_capacity(ids.len() * hidden);
    for &id in ids {
        if (0..vocab).contains(&id) {
            out.extend(weight[id as usize * hidden..][..hidden].iter().map(|&v| v as f64));
        } else {
            out.extend(std::iter::repeat_n(0.0, hidden));
        }
    }
    out
}
