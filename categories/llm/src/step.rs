//! One forward step of an LLM over a batch of sequences, as the kernels want it.
//!
//! A step runs some sequences' *decode* tokens (one new token over a cached context) and some
//! sequences' *prefill* chunks (several new tokens, possibly after a cached prefix). Rows are
//! ordered decode first, then prefill, so each attention kernel sees one contiguous block of
//! rows (vLLM orders its batches the same way). [`StepPlan`] is the host-side description
//! built from the block manager's tables; [`StepBuffers`] holds the device copies in
//! buffers allocated once at their maximum size, so a decode step of `b` sequences always
//! uses the same addresses and can be captured in a CUDA graph and replayed.

use fk_runtime::{DType, Device, Error, Result, Tensor};

/// What one sequence contributes to a step.
#[derive(Clone, Copy, Debug)]
pub struct SeqStep<'a> {
    /// The tokens to run now (1 for a decode step).
    pub tokens: &'a [u32],
    /// Tokens already in the KV cache; the new tokens take positions `context_len..`.
    pub context_len: usize,
    /// The sequence's KV blocks, covering at least `context_len + tokens.len()` tokens.
    pub block_table: &'a [u32],
}

impl SeqStep<'_> {
    fn is_decode(&self) -> bool {
        self.tokens.len() == 1 && self.context_len > 0
    }
}

/// Host-side inputs of one step (see the module docs for the row order).
#[derive(Clone, Debug, Default)]
pub struct StepPlan {
    pub input_ids: Vec<i32>,
    pub positions: Vec<i64>,
    /// Cache slot of every new token (`block * block_size + offset`).
    pub slot_mapping: Vec<i64>,
    /// Width of every block-table row.
    pub max_blocks: usize,
    /// Rows `0..num_decode` are decode tokens, one per sequence.
    pub num_decode: usize,
    pub decode_block_tables: Vec<i32>,
    pub decode_seq_lens: Vec<i32>,
    pub prefill: Option<PrefillPlan>,
    /// For each sequence, in the order given to [`StepPlan::new`], the row of its last token
    /// (whose logits predict the next token).
    pub logits_rows: Vec<i32>,
    /// For each sequence in the given order, its first row and number of rows.
    pub seq_rows: Vec<(usize, usize)>,
}

/// The prefill part of a step: rows `num_decode..num_decode + num_tokens`.
#[derive(Clone, Debug, Default)]
pub struct PrefillPlan {
    pub num_tokens: usize,
    /// Offsets of each prefill sequence's rows within the prefill part: `[0, n0, n0+n1, …]`.
    pub cu_seqlens_q: Vec<i32>,
    pub max_seqlen_q: usize,
    /// True when no prefill sequence has a cached prefix: keys are exactly the new rows.
    pub fresh: bool,
    pub block_tables: Vec<i32>,
    /// Keys per prefill sequence (cached prefix + new tokens).
    pub seq_lens_k: Vec<i32>,
    /// Per-token view for attention kernels that run prefill as one decode query per token:
    /// each token's sequence block table and `position + 1` keys. Built on request.
    pub token_block_tables: Vec<i32>,
    pub token_seq_lens: Vec<i32>,
}

const OP: &str = "StepPlan";

impl StepPlan {
    /// Build the step for `seqs`. `per_token_view` also fills the prefill part's per-token
    /// tables (for models whose prefill attention runs through the decode kernel).
    pub fn new(seqs: &[SeqStep<'_>], block_size: usize, max_blocks: usize, per_token_view: bool) -> Result<StepPlan> {
        if block_size == 0 || max_blocks == 0 {
            return Err(Error::shape(OP, format!("block_size {block_size} and max_blocks {max_blocks} must be > 0")));
        }
        let mut p = StepPlan { max_blocks, ..StepPlan::default() };
        let order: Vec<usize> = (0..seqs.len()).filter(|&i| seqs[i].is_decode()).chain((0..seqs.len()).filter(|&i| !seqs[i].is_decode())).collect();
        p.seq_rows = vec![(0, 0); seqs.len()];
        let mut pre = PrefillPlan { cu_seqlens_q: vec![0], fresh: true, ..PrefillPlan::default() };
        for &i in &order {
            let s = &seqs[i];
            if s.tokens.is_empty() {
                return Err(Error::bad_input(OP, format!("sequence {i} has no tokens to run")));
            }
            let total = s.context_len + s.tokens.len();
            let need = total.div_ceil(block_size);
            if s.block_table.len() < need || need > max_blocks {
                return Err(Error::bad_input(
                    OP,
                    format!("sequence {i}: {total} tokens need {need} blocks of {block_size}; its table has {}, rows hold {max_blocks}", s.block_table.len()),
                ));
            }
            let row: Vec<i32> = (0..max_blocks).map(|c| s.block_table.get(c).map_or(0, |&b| b as i32)).collect();
            let first_row = p.input_ids.len();
            for (j, &t) in s.tokens.iter().enumerate() {
                let pos = s.context_len + j;
                p.input_ids.push(t as i32);
                p.positions.push(pos as i64);
                p.slot_mapping.push(s.block_table[pos / block_size] as i64 * block_size as i64 + (pos % block_size) as i64);
            }
            p.seq_rows[i] = (first_row, s.tokens.len());
            if s.is_decode() {
                p.num_decode += 1;
                p.decode_block_tables.extend_from_slice(&row);
                p.decode_seq_lens.push(total as i32);
            } else {
                pre.num_tokens += s.tokens.len();
                pre.cu_seqlens_q.push(pre.num_tokens as i32);
                pre.max_seqlen_q = pre.max_seqlen_q.max(s.tokens.len());
                pre.fresh &= s.context_len == 0;
                pre.block_tables.extend_from_slice(&row);
                pre.seq_lens_k.push(total as i32);
                if per_token_view {
                    for j in 0..s.tokens.len() {
                        pre.token_block_tables.extend_from_slice(&row);
                        pre.token_seq_lens.push((s.context_len + j + 1) as i32);
                    }
                }
            }
        }
        if p.input_ids.len() > i32::MAX as usize {
            return Err(Error::bad_input(OP, "too many tokens in one step"));
        }
        p.logits_rows = p.seq_rows.iter().map(|&(r, n)| (r + n - 1) as i32).collect();
        if pre.num_tokens > 0 {
            p.prefill = Some(pre);
        }
        Ok(p)
    }

    /// Compute logits for every row (each prompt position), not only each sequence's last:
    /// what `--logits-out` and golden tests compare.
    pub fn all_logits(mut self) -> StepPlan {
        self.logits_rows = (0..self.num_tokens() as i32).collect();
        self
    }

    /// Append `n` padding decode rows to a decode-only step, so a batch of `b` sequences can
    /// replay the CUDA graph captured for a larger bucket. A padding row runs token 0 at
    /// position 0 over one key (block 0, slot 0: the cache is zero-initialised, so its
    /// output is finite), writes nothing into the cache (slot -1, which `reshape_and_cache`
    /// skips), and its logits row is computed and ignored.
    pub fn pad_decode(&mut self, n: usize) -> Result<()> {
        if self.prefill.is_some() {
            return Err(Error::bad_input(OP, "only decode-only steps are padded"));
        }
        for _ in 0..n {
            let row = self.input_ids.len();
            self.input_ids.push(0);
            self.positions.push(0);
            self.slot_mapping.push(-1);
            self.num_decode += 1;
            self.decode_block_tables.extend(std::iter::repeat_n(0, self.max_blocks));
            self.decode_seq_lens.push(1);
            self.seq_rows.push((row, 1));
            self.logits_rows.push(row as i32);
        }
        Ok(())
    }

    pub fn num_tokens(&self) -> usize {
        self.input_ids.len()
    }

    /// Sequences in the step.
    pub fn num_seqs(&self) -> usize {
        self.seq_rows.len()
    }

    pub fn num_prefill_seqs(&self) -> usize {
        self.prefill.as_ref().map_or(0, |p| p.seq_lens_k.len())
    }
}

/// Device copies of a [`StepPlan`]: views into [`StepBuffers`].
pub struct ForwardBatch {
    pub num_tokens: usize,
    pub input_ids: Tensor,
    pub positions: Tensor,
    pub slot_mapping: Tensor,
    pub decode: Option<DecodeBatch>,
    pub prefill: Option<PrefillBatch>,
    /// `[num_seqs]` i32: the rows whose logits are computed.
    pub logits_rows: Tensor,
}

pub struct DecodeBatch {
    pub num_seqs: usize,
    /// `[num_seqs, max_blocks]` i32.
    pub block_tables: Tensor,
    /// `[num_seqs]` i32.
    pub seq_lens: Tensor,
}

pub struct PrefillBatch {
    /// First row of the prefill part.
    pub first_row: usize,
    pub num_tokens: usize,
    pub num_seqs: usize,
    pub cu_seqlens_q: Tensor,
    pub max_seqlen_q: usize,
    pub fresh: bool,
    pub block_tables: Tensor,
    pub seq_lens_k: Tensor,
    /// `[num_tokens, max_blocks]` and `[num_tokens]`, when the plan built the per-token view.
    pub token_view: Option<(Tensor, Tensor)>,
}

/// Device buffers for steps of up to `max_tokens` rows and `max_seqs` sequences.
pub struct StepBuffers {
    pub max_tokens: usize,
    pub max_seqs: usize,
    pub max_blocks: usize,
    input_ids: Tensor,
    positions: Tensor,
    slot_mapping: Tensor,
    decode_tables: Tensor,
    decode_lens: Tensor,
    cu_seqlens_q: Tensor,
    prefill_tables: Tensor,
    prefill_lens: Tensor,
    token_tables: Option<Tensor>,
    token_lens: Tensor,
    logits_rows: Tensor,
}

fn upload_i32(t: &Tensor, v: &[i32]) -> Result<Tensor> {
    let view = t.narrow(0, 0, v.len() / t.shape()[1..].iter().product::<usize>().max(1))?;
    if !v.is_empty() {
        let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        view.device().htod(view.ptr(), &bytes)?;
    }
    Ok(view)
}

fn upload_i64(t: &Tensor, v: &[i64]) -> Result<Tensor> {
    let view = t.narrow(0, 0, v.len())?;
    if !v.is_empty() {
        let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        view.device().htod(view.ptr(), &bytes)?;
    }
    Ok(view)
}

impl StepBuffers {
    /// `per_token_view`: also hold per-token block tables for `max_tokens` prefill rows.
    pub fn new(dev: &Device, max_tokens: usize, max_seqs: usize, max_blocks: usize, per_token_view: bool) -> Result<StepBuffers> {
        if max_tokens == 0 || max_seqs == 0 || max_blocks == 0 {
            return Err(Error::config(format!("step buffers: max_tokens {max_tokens}, max_seqs {max_seqs}, max_blocks {max_blocks} must be > 0")));
        }
        let i32s = |shape: &[usize]| Tensor::zeros(dev, shape, DType::I32);
        let i64s = |shape: &[usize]| Tensor::zeros(dev, shape, DType::I64);
        Ok(StepBuffers {
            max_tokens,
            max_seqs,
            max_blocks,
            input_ids: i32s(&[max_tokens])?,
            positions: i64s(&[max_tokens])?,
            slot_mapping: i64s(&[max_tokens])?,
            decode_tables: i32s(&[max_seqs, max_blocks])?,
            decode_lens: i32s(&[max_seqs])?,
            cu_seqlens_q: i32s(&[max_seqs + 1])?,
            prefill_tables: i32s(&[max_seqs, max_blocks])?,
            prefill_lens: i32s(&[max_seqs])?,
            token_tables: if per_token_view { Some(i32s(&[max_tokens, max_blocks])?) } else { None },
            token_lens: i32s(&[max_tokens])?,
            logits_rows: i32s(&[max_seqs.max(max_tokens)])?,
        })
    }

    /// Copy `plan` to the device (synchronously: the host vectors may be dropped after) and
    /// return views sized to it. The same plan sizes always give the same addresses.
    pub fn upload(&self, plan: &StepPlan) -> Result<ForwardBatch> {
        let (t, s) = (plan.num_tokens(), plan.num_seqs());
        if plan.logits_rows.len() > self.logits_rows.dim(0) {
            return Err(Error::bad_input("StepBuffers", format!("{} logits rows exceed the buffers' {}", plan.logits_rows.len(), self.logits_rows.dim(0))));
        }
        if t > self.max_tokens || s > self.max_seqs || plan.max_blocks != self.max_blocks {
            return Err(Error::bad_input(
                "StepBuffers",
                format!(
                    "step of {t} tokens / {s} sequences / {}-block rows exceeds the buffers ({} tokens, {} sequences, {} blocks)",
                    plan.max_blocks, self.max_tokens, self.max_seqs, self.max_blocks
                ),
            ));
        }
        let decode = if plan.num_decode > 0 {
            Some(DecodeBatch {
                num_seqs: plan.num_decode,
                block_tables: upload_i32(&self.decode_tables, &plan.decode_block_tables)?,
                seq_lens: upload_i32(&self.decode_lens, &plan.decode_seq_lens)?,
            })
        } else {
            None
        };
        let prefill = match &plan.prefill {
            None => None,
            Some(p) => {
                let token_view = match (&self.token_tables, p.token_seq_lens.is_empty()) {
                    (Some(tables), false) => Some((upload_i32(tables, &p.token_block_tables)?, upload_i32(&self.token_lens, &p.token_seq_lens)?)),
                    (None, false) => return Err(Error::config("the plan has a per-token view but the step buffers were made without one")),
                    _ => None,
                };
                Some(PrefillBatch {
                    first_row: plan.num_decode,
                    num_tokens: p.num_tokens,
                    num_seqs: p.seq_lens_k.len(),
                    cu_seqlens_q: upload_i32(&self.cu_seqlens_q, &p.cu_seqlens_q)?,
                    max_seqlen_q: p.max_seqlen_q,
                    fresh: p.fresh,
                    block_tables: upload_i32(&self.prefill_tables, &p.block_tables)?,
                    seq_lens_k: upload_i32(&self.prefill_lens, &p.seq_lens_k)?,
                    token_view,
                })
            }
        };
        Ok(ForwardBatch {
            num_tokens: t,
            input_ids: upload_i32(&self.input_ids, &plan.input_ids)?,
            positions: upload_i64(&self.positions, &plan.positions)?,
            slot_mapping: upload_i64(&self.slot_mapping, &plan.slot_mapping)?,
            decode,
            prefill,
            logits_rows: upload_i32(&self.logits_rows, &plan.logits_rows)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_rows_come_first_and_slots_follow_the_tables() {
        let (bs, mb) = (4, 3);
        let prompt = [5u32, 6, 7, 8, 9];
        let seqs = [
            SeqStep { tokens: &prompt, context_len: 0, block_table: &[7, 2] },
            SeqStep { tokens: &[11], context_len: 6, block_table: &[1, 3] },
            SeqStep { tokens: &[12, 13], context_len: 3, block_table: &[4, 0] },
        ];
        let p = StepPlan::new(&seqs, bs, mb, true).unwrap();
        assert_eq!(p.num_decode, 1);
        assert_eq!(p.input_ids, vec![11, 5, 6, 7, 8, 9, 12, 13]);
        assert_eq!(p.positions, vec![6, 0, 1, 2, 3, 4, 3, 4]);
        // decode token at position 6 → block 3 offset 2; prompt pos 4 → block 2 offset 0.
        assert_eq!(p.slot_mapping, vec![14, 28, 29, 30, 31, 8, 19, 0]);
        assert_eq!(p.decode_block_tables, vec![1, 3, 0]);
        assert_eq!(p.decode_seq_lens, vec![7]);
        let pre = p.prefill.as_ref().unwrap();
        assert_eq!(pre.cu_seqlens_q, vec![0, 5, 7]);
        assert_eq!(pre.max_seqlen_q, 5);
        assert!(!pre.fresh, "the third sequence has a cached prefix");
        assert_eq!(pre.seq_lens_k, vec![5, 5]);
        assert_eq!(pre.token_seq_lens, vec![1, 2, 3, 4, 5, 4, 5]);
        assert_eq!(&pre.token_block_tables[..3], &[7, 2, 0]);
        assert_eq!(p.seq_rows, vec![(1, 5), (0, 1), (6, 2)]);
        assert_eq!(p.logits_rows, vec![5, 0, 7]);
    }

    #[test]
    fn short_tables_and_empty_sequences_are_errors() {
        let e = StepPlan::new(&[SeqStep { tokens: &[1, 2, 3], context_len: 2, block_table: &[0] }], 4, 4, false).unwrap_err();
        assert!(e.to_string().contains("need 2 blocks"), "{e}");
        let e = StepPlan::new(&[SeqStep { tokens: &[1; 9], context_len: 0, block_table: &[0, 1, 2] }], 4, 2, false).unwrap_err();
        assert!(e.to_string().contains("rows hold 2"), "{e}");
        let e = StepPlan::new(&[SeqStep { tokens: &[], context_len: 2, block_table: &[0] }], 4, 4, false).unwrap_err();
        assert!(e.to_string().contains("no tokens"), "{e}");
    }

    #[test]
    fn padding_rows_write_nothing_and_read_one_key() {
        let seqs = [SeqStep { tokens: &[4], context_len: 5, block_table: &[2, 3] }];
        let mut p = StepPlan::new(&seqs, 4, 2, false).unwrap();
        p.pad_decode(2).unwrap();
        assert_eq!(p.num_decode, 3);
        assert_eq!(p.input_ids, vec![4, 0, 0]);
        assert_eq!(p.slot_mapping, vec![13, -1, -1]);
        assert_eq!(p.decode_seq_lens, vec![6, 1, 1]);
        assert_eq!(p.decode_block_tables, vec![2, 3, 0, 0, 0, 0]);
        assert_eq!(p.logits_rows, vec![0, 1, 2]);
        let pre = [SeqStep { tokens: &[1, 2], context_len: 0, block_table: &[0] }];
        assert!(StepPlan::new(&pre, 4, 2, false).unwrap().pad_decode(1).is_err());
    }
}
