//! `StateSlots`: which row of a recurrent-state cache holds each sequence of a decode batch
//! (vLLM's `state_indices`), for `causal_conv1d_update` and `selective_state_update`. The slots
//! are checked on the host (each < the cache's capacity, no slot twice: two rows of one step
//! writing the same state would race) and kept in one device buffer that [`StateSlots::set`]
//! rewrites in place, so a CUDA graph captured over a decode step reads the current slots at
//! every replay. Rows beyond the live sequences are padding (index -1): the kernels skip them,
//! which lets a graph captured for a batch bucket run any smaller batch.

use fk_runtime::{Device, Error, Result, Tensor};

pub struct StateSlots {
    host: Vec<i32>,
    dev: Tensor,
    capacity: usize,
}

/// The index the kernels read as "no sequence in this row".
const PADDING: i32 = -1;

impl StateSlots {
    /// `rows` batch rows over a cache of `capacity` slots, all padding until [`Self::set`].
    pub fn new(device: &Device, rows: usize, capacity: usize) -> Result<StateSlots> {
        if rows == 0 || capacity == 0 || capacity > i32::MAX as usize {
            return Err(Error::bad_input("StateSlots", format!("{rows} rows over {capacity} slots: both must be > 0 (and slots < 2^31)")));
        }
        let host = vec![PADDING; rows];
        let dev = Tensor::from_i32(device, &host, &[rows])?;
        Ok(StateSlots { host, dev, capacity })
    }

    /// Sequence b of the batch uses slot `slots[b]`; rows past `slots.len()` become padding.
    /// The new values are copied to the device on its stream, so launches enqueued after this
    /// (a graph replay included) see them.
    pub fn set(&mut self, slots: &[usize]) -> Result<()> {
        let host = indices(slots, self.host.len(), self.capacity)?;
        if host != self.host {
            let bytes: Vec<u8> = host.iter().flat_map(|v| v.to_le_bytes()).collect();
            self.dev.device().htod(self.dev.ptr(), &bytes)?;
            self.host = host;
        }
        Ok(())
    }

    /// Batch rows (live sequences + padding).
    pub fn rows(&self) -> usize {
        self.host.len()
    }

    /// Slots of the cache the indices point into.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The indices as the kernels read them (`-1` = padding).
    pub fn host(&self) -> &[i32] {
        &self.host
    }

    pub fn tensor(&self) -> &Tensor {
        &self.dev
    }
}

/// The kernels' indices for `slots` in a batch of `rows` rows over `capacity` slots.
fn indices(slots: &[usize], rows: usize, capacity: usize) -> Result<Vec<i32>> {
    if slots.len() > rows {
        return Err(Error::bad_input("StateSlots", format!("{} sequences for a batch of {rows} rows", slots.len())));
    }
    let mut seen = vec![false; capacity];
    for (b, &s) in slots.iter().enumerate() {
        if s >= capacity {
            return Err(Error::bad_input("StateSlots", format!("sequence {b}: slot {s} is outside the cache's {capacity} slots")));
        }
        if std::mem::replace(&mut seen[s], true) {
            return Err(Error::bad_input("StateSlots", format!("slot {s} is given to two sequences of one step")));
        }
    }
    let mut out = vec![PADDING; rows];
    for (o, &s) in out.iter_mut().zip(slots) {
        *o = s as i32;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_pad_and_reject_bad_slots() {
        assert_eq!(indices(&[3, 0], 4, 5).unwrap(), [3, 0, -1, -1]);
        assert_eq!(indices(&[], 2, 1).unwrap(), [-1, -1]);
        let err = |r: Result<Vec<i32>>| r.unwrap_err().to_string();
        assert!(err(indices(&[5], 2, 5)).contains("slot 5 is outside"));
        assert!(err(indices(&[1, 1], 2, 5)).contains("slot 1 is given to two"));
        assert!(err(indices(&[0, 1, 2], 2, 5)).contains("3 sequences for a batch of 2"));
    }
}
