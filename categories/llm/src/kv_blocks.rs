//! Paged KV cache bookkeeping, on the host (vLLM's block manager without prefix sharing).
//!
//! The device caches are `[num_blocks, block_size, kv_heads, head_dim]`; a sequence's tokens
//! live in its blocks in order (token j in block `table[j / block_size]`, offset
//! `j % block_size`). This module hands out blocks, grows sequences atomically (all requested
//! slots or none, so a scheduler can preempt instead of half-allocating), frees them, and
//! produces what the kernels take: the slot of each new token for `reshape_and_cache` and
//! padded block-table rows for `paged_attention_decode`.

use std::collections::HashMap;

pub type SeqId = u64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KvBlockError {
    #[error("KV cache full: {needed} more blocks needed, {free} free")]
    OutOfBlocks { needed: usize, free: usize },
    #[error("sequence {0} is not in the KV cache")]
    UnknownSequence(SeqId),
    #[error("sequence {0} is already in the KV cache")]
    DuplicateSequence(SeqId),
    #[error("sequence {id} needs {blocks} blocks, more than a block-table row holds ({max})")]
    TableTooNarrow { id: SeqId, blocks: usize, max: usize },
}

#[derive(Debug, Default, Clone)]
struct Sequence {
    blocks: Vec<u32>,
    len: usize,
}

#[derive(Debug)]
pub struct KvBlockManager {
    block_size: usize,
    num_blocks: usize,
    /// Free physical blocks, used as a stack (recently freed blocks are reused first).
    free: Vec<u32>,
    seqs: HashMap<SeqId, Sequence>,
}

impl KvBlockManager {
    pub fn new(num_blocks: usize, block_size: usize) -> KvBlockManager {
        assert!(block_size > 0, "block_size must be > 0");
        assert!(num_blocks <= u32::MAX as usize, "block ids are u32");
        KvBlockManager { block_size, num_blocks, free: (0..num_blocks as u32).rev().collect(), seqs: HashMap::new() }
    }

    pub fn block_size(&self) -> usize {
        self.block_size
    }
    pub fn num_blocks(&self) -> usize {
        self.num_blocks
    }
    pub fn free_blocks(&self) -> usize {
        self.free.len()
    }
    pub fn used_blocks(&self) -> usize {
        self.num_blocks - self.free.len()
    }
    pub fn num_sequences(&self) -> usize {
        self.seqs.len()
    }

    pub fn add_sequence(&mut self, id: SeqId) -> Result<(), KvBlockError> {
        if self.seqs.contains_key(&id) {
            return Err(KvBlockError::DuplicateSequence(id));
        }
        self.seqs.insert(id, Sequence::default());
        Ok(())
    }

    pub fn seq_len(&self, id: SeqId) -> Result<usize, KvBlockError> {
        self.seqs.get(&id).map(|s| s.len).ok_or(KvBlockError::UnknownSequence(id))
    }

    pub fn block_table(&self, id: SeqId) -> Result<&[u32], KvBlockError> {
        self.seqs.get(&id).map(|s| s.blocks.as_slice()).ok_or(KvBlockError::UnknownSequence(id))
    }

    /// Blocks that growing `id` by `tokens` would take from the free list.
    pub fn blocks_needed(&self, id: SeqId, tokens: usize) -> Result<usize, KvBlockError> {
        let s = self.seqs.get(&id).ok_or(KvBlockError::UnknownSequence(id))?;
        Ok((s.len + tokens).div_ceil(self.block_size).saturating_sub(s.blocks.len()))
    }

    /// Grow `id` by `tokens` and return each new token's slot (`block * block_size + offset`).
    /// All or nothing: on `OutOfBlocks` the manager is unchanged.
    pub fn append(&mut self, id: SeqId, tokens: usize) -> Result<Vec<i64>, KvBlockError> {
        let needed = self.blocks_needed(id, tokens)?;
        if needed > self.free.len() {
            return Err(KvBlockError::OutOfBlocks { needed, free: self.free.len() });
        }
        let bs = self.block_size;
        let new_blocks = self.free.split_off(self.free.len() - needed);
        let s = self.seqs.get_mut(&id).ok_or(KvBlockError::UnknownSequence(id))?;
        s.blocks.extend(new_blocks.into_iter().rev());
        let slots = (s.len..s.len + tokens).map(|j| s.blocks[j / bs] as i64 * bs as i64 + (j % bs) as i64).collect();
        s.len += tokens;
        Ok(slots)
    }

    /// Remove `id` and return its blocks to the free list (finished or preempted sequences).
    pub fn free(&mut self, id: SeqId) -> Result<usize, KvBlockError> {
        let s = self.seqs.remove(&id).ok_or(KvBlockError::UnknownSequence(id))?;
        let n = s.blocks.len();
        self.free.extend(s.blocks.into_iter().rev());
        Ok(n)
    }

    /// Block-table rows (`[ids.len(), max_blocks]`, i32, padded with 0: rows are read only up
    /// to each sequence's length) and the lengths, as `paged_attention_decode` takes them.
    pub fn decode_tables(&self, ids: &[SeqId], max_blocks: usize) -> Result<(Vec<i32>, Vec<i32>), KvBlockError> {
        let mut table = vec![0i32; ids.len() * max_blocks];
        let mut lens = Vec::with_capacity(ids.len());
        for (r, &id) in ids.iter().enumerate() {
            let s = self.seqs.get(&id).ok_or(KvBlockError::UnknownSequence(id))?;
            if s.blocks.len() > max_blocks {
                return Err(KvBlockError::TableTooNarrow { id, blocks: s.blocks.len(), max: max_blocks });
            }
            for (c, &b) in s.blocks.iter().enumerate() {
                table[r * max_blocks + c] = b as i32;
            }
            lens.push(s.len as i32);
        }
        Ok((table, lens))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fk_runtime::rng::Rng;
    use std::collections::HashSet;

    #[test]
    fn slots_follow_the_block_table() {
        let mut m = KvBlockManager::new(8, 4);
        m.add_sequence(7).unwrap();
        let a = m.append(7, 6).unwrap(); // blocks 0, 1
        let b = m.append(7, 3).unwrap(); // fills block 1, starts block 2
        let t = m.block_table(7).unwrap().to_vec();
        assert_eq!(t.len(), 3);
        let all: Vec<i64> = a.into_iter().chain(b).collect();
        for (j, s) in all.iter().enumerate() {
            assert_eq!(*s, t[j / 4] as i64 * 4 + (j % 4) as i64);
        }
        let (table, lens) = m.decode_tables(&[7], 4).unwrap();
        assert_eq!(lens, vec![9]);
        assert_eq!(&table[..3], &t.iter().map(|&b| b as i32).collect::<Vec<_>>()[..]);
        assert!(matches!(m.decode_tables(&[7], 2), Err(KvBlockError::TableTooNarrow { .. })));
    }

    #[test]
    fn out_of_blocks_changes_nothing() {
        let mut m = KvBlockManager::new(3, 16);
        m.add_sequence(1).unwrap();
        m.append(1, 40).unwrap();
        let before = (m.free_blocks(), m.seq_len(1).unwrap(), m.block_table(1).unwrap().to_vec());
        assert_eq!(m.append(1, 20), Err(KvBlockError::OutOfBlocks { needed: 1, free: 0 })); // 60 tokens need a 4th block
        assert_eq!(before, (m.free_blocks(), m.seq_len(1).unwrap(), m.block_table(1).unwrap().to_vec()));
        assert_eq!(m.append(1, 8).unwrap().len(), 8); // fits in the last block's tail
        assert!(matches!(m.append(2, 1), Err(KvBlockError::UnknownSequence(2))));
        assert!(matches!(m.add_sequence(1), Err(KvBlockError::DuplicateSequence(1))));
    }

    /// Random add/append/free against a simple model: blocks are never shared, used + free
    /// always equals the total, lengths match, and freeing everything leaks nothing.
    #[test]
    fn random_operations_keep_the_invariants() {
        let mut rng = Rng::new(fk_runtime::rng::fresh_seed());
        let mut m = KvBlockManager::new(64, 16);
        let mut model: HashMap<SeqId, usize> = HashMap::new();
        let mut next_id = 0;
        for _ in 0..20_000 {
            match rng.range(0, 4) {
                0 => {
                    m.add_sequence(next_id).unwrap();
                    model.insert(next_id, 0);
                    next_id += 1;
                }
                1 | 2 if !model.is_empty() => {
                    let ids: Vec<SeqId> = model.keys().copied().collect();
                    let id = ids[rng.range(0, ids.len() as i64) as usize];
                    let n = rng.range(1, 70) as usize;
                    match m.append(id, n) {
                        Ok(slots) => {
                            assert_eq!(slots.len(), n);
                            *model.get_mut(&id).unwrap() += n;
                        }
                        Err(KvBlockError::OutOfBlocks { needed, free }) => assert!(needed > free),
                        Err(e) => panic!("{e}"),
                    }
                }
                _ if !model.is_empty() => {
                    let ids: Vec<SeqId> = model.keys().copied().collect();
                    let id = ids[rng.range(0, ids.len() as i64) as usize];
                    m.free(id).unwrap();
                    model.remove(&id);
                }
                _ => {}
            }
            let mut seen = HashSet::new();
            let mut used = 0;
            for (&id, &len) in &model {
                assert_eq!(m.seq_len(id).unwrap(), len);
                let t = m.block_table(id).unwrap();
                assert_eq!(t.len(), len.div_ceil(16));
                used += t.len();
                for &b in t {
                    assert!((b as usize) < 64 && seen.insert(b), "block {b} shared or out of range");
                }
            }
            assert_eq!(used + m.free_blocks(), 64);
        }
        for id in model.keys().copied().collect::<Vec<_>>() {
            m.free(id).unwrap();
        }
        assert_eq!((m.free_blocks(), m.num_sequences()), (64, 0));
    }
}
