//! This crate's op tables: the baseline, and the baseline with this crate's candidate slot
//! (`kernels/*.cu`, compiled by build.rs) swapped in.

fk_baselines::candidate_slot!("fk-mamba2");
