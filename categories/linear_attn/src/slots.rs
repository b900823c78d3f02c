//! Which recurrent-state slot each live sequence owns. A slot is a row of every layer's state
//! tensors; it is handed out when a sequence starts (its prefill then overwrites the row, so no
//! clearing is needed) and returned when it finishes or is preempted.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SlotError {
    #[error("recurrent state cache full: all {slots} slots are in use")]
    Exhausted { slots: usize },
    #[error("state slot {slot} is not allocated (freed twice, or never handed out)")]
    NotAllocated { slot: usize },
    #[error("state slot {slot} appears twice in one batch")]
    Duplicate { slot: usize },
    #[error("state slot {slot} is out of range: the cache has {slots} slots")]
    OutOfRange { slot: usize, slots: usize },
}

/// A free list over `0..slots`. Lowest free slot first, so that a batch started from an empty
/// cache occupies consecutive slots (which [`crate::RecurrentStateCache`] can then view in
/// place instead of gathering).
#[derive(Debug, Clone)]
pub struct SlotManager {
    used: Vec<bool>,
    /// Free slots, highest first (pop gives the lowest).
    free: Vec<usize>,
}

impl SlotManager {
    pub fn new(slots: usize) -> SlotManager {
        SlotManager {
            used: vec![false; slots],
            free: (0..slots).rev().collect(),
        }
    }

    pub fn num_slots(&self) -> usize {
        self.used.len()
    }

    pub fn num_free(&self) -> usize {
        self.free.len()
    }

    pub fn num_used(&self) -> usize {
        self.used.len() - self.free.len()
    }

    pub fn is_allocated(&self, slot: usize) -> bool {
        self.used.get(slot).copied().unwrap_or(false)
    }

    pub fn allocate(&mut self) -> Result<usize, SlotError> {
        let slot = self.free.pop().ok_or(SlotError::Exhausted {
            slots: self.used.len(),
        })?;
        self.used[slot] = true;
        Ok(slot)
    }

    /// `n` slots or none (a scheduler admits a batch whole, or preempts instead).
    pub fn allocate_many(&mut self, n: usize) -> Result<Vec<usize>, SlotError> {
        if n > self.free.len() {
            return Err(SlotError::Exhausted {
                slots: self.used.len(),
            });
        }
        (0..n).map(|_| self.allocate()).collect()
    }

    pub fn free(&mut self, slot: usize) -> Result<(), SlotError> {
        match self.used.get(slot) {
            None => Err(SlotError::OutOfRange {
                slot,
                slots: self.used.len(),
            }),
            Some(false) => Err(SlotError::NotAllocated { slot }),
            Some(true) => {
                self.used[slot] = false;
                // Keep the free list sorted descending so the lowest slot is reused first.
                let at = self.free.partition_point(|&s| s > slot);
                self.free.insert(at, slot);
                Ok(())
            }
        }
    }

    /// Checks that every slot of a batch is allocated and appears once.
    pub fn check_batch(&self, slots: &[usize]) -> Result<(), SlotError> {
        let mut seen = vec![false; self.used.len()];
        for &s in slots {
            if s >= self.used.len() {
                return Err(SlotError::OutOfRange {
                    slot: s,
                    slots: self.used.len(),
                });
            }
            if !self.used[s] {
                return Err(SlotError::NotAllocated { slot: s });
            }
            if std::mem::replace(&mut seen[s], true) {
                return Err(SlotError::Duplicate { slot: s });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocates_lowest_first_and_reuses_freed_slots() {
        let mut m = SlotManager::new(3);
        assert_eq!(
            (m.allocate(), m.allocate(), m.allocate()),
            (Ok(0), Ok(1), Ok(2))
        );
        assert_eq!(m.allocate(), Err(SlotError::Exhausted { slots: 3 }));
        m.free(1).unwrap();
        m.free(0).unwrap();
        assert_eq!((m.num_free(), m.num_used()), (2, 1));
        assert_eq!(m.allocate(), Ok(0));
        assert_eq!(m.allocate(), Ok(1));
        assert!(m.is_allocated(2) && !m.is_allocated(7));
    }

    #[test]
    fn double_free_and_out_of_range_are_errors() {
        let mut m = SlotManager::new(2);
        let s = m.allocate().unwrap();
        m.free(s).unwrap();
        assert_eq!(m.free(s), Err(SlotError::NotAllocated { slot: s }));
        assert_eq!(m.free(1), Err(SlotError::NotAllocated { slot: 1 }));
        assert_eq!(m.free(5), Err(SlotError::OutOfRange { slot: 5, slots: 2 }));
        let e = SlotError::Exhausted { slots: 2 }.to_string();
        assert!(e.contains("full") && e.contains('2'), "{e}");
    }

    #[test]
    fn allocate_many_is_all_or_nothing() {
        let mut m = SlotManager::new(4);
        assert_eq!(m.allocate_many(3), Ok(vec![0, 1, 2]));
        assert_eq!(m.allocate_many(2), Err(SlotError::Exhausted { slots: 4 }));
        assert_eq!(
            m.num_free(),
            1,
            "a failed allocate_many must not take slots"
        );
        assert_eq!(m.allocate_many(0), Ok(vec![]));
    }

    #[test]
    fn check_batch_rejects_free_duplicate_and_foreign_slots() {
        let mut m = SlotManager::new(4);
        m.allocate_many(2).unwrap();
        assert_eq!(m.check_batch(&[1, 0]), Ok(()));
        assert_eq!(
            m.check_batch(&[0, 0]),
            Err(SlotError::Duplicate { slot: 0 })
        );
        assert_eq!(
            m.check_batch(&[2]),
            Err(SlotError::NotAllocated { slot: 2 })
        );
        assert_eq!(
            m.check_batch(&[9]),
            Err(SlotError::OutOfRange { slot: 9, slots: 4 })
        );
    }

    #[test]
    fn churn_keeps_the_books_consistent() {
        // Pseudo-random allocate/free: every slot is either free or used, never both or lost.
        let mut m = SlotManager::new(16);
        let mut live = Vec::new();
        let mut x = 12345u64;
        for _ in 0..10_000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            if (x >> 33) % 3 != 0 {
                match m.allocate() {
                    Ok(s) => {
                        assert!(!live.contains(&s));
                        live.push(s);
                    }
                    Err(e) => assert_eq!((e, live.len()), (SlotError::Exhausted { slots: 16 }, 16)),
                }
            } else if !live.is_empty() {
                let s = live.swap_remove((x >> 40) as usize % live.len());
                m.free(s).unwrap();
            }
            assert_eq!(m.num_used(), live.len());
        }
    }
}
