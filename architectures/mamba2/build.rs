//! Builds this crate's candidate slot (kernels/*.cu, or $FASTKERNELS_SLOT_MAMBA2) against the
//! baseline contracts and writes OUT_DIR/candidates.rs. An empty slot = pure baselines.
use fk_runtime::build::{exit_on_error, CandidateSlot, ComputeCap, Toolkit};

fn main() {
    let slot = exit_on_error(CandidateSlot::from_env());
    let toolkit = exit_on_error(Toolkit::find(slot.slot_dir()));
    let cap = exit_on_error(ComputeCap::from_env());
    exit_on_error(slot.build(&toolkit, &cap));
}
