//! This crate's op tables: the baseline, and the baseline with this crate's candidate slot
//! (`kernels/*.cu`, compiled by build.rs) swapped in.

use fk_baselines::OpTable;

mod slot {
    include!(concat!(env!("OUT_DIR"), "/candidates.rs"));
}

pub use slot::{CANDIDATES, SLOT_DIR};

/// The baseline with fk-colbertv2's candidates in place (equal to the baseline for an empty slot).
pub fn candidate_table() -> OpTable {
    // The generated list names only ops the build helper checked against the baseline's op
    // list, so this cannot fail at run time.
    OpTable::with_candidates("fk-colbertv2 candidates", CANDIDATES).expect("build.rs validated the candidate op names")
}
