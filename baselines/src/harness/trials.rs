//! GPU correctness trials for op tables: every case runs on fresh random inputs (seed printed
//! on failure; replay with FASTKERNELS_SEED), outputs poisoned first, compared with the CPU
//! reference, re-run to catch races (a second run must be bit-identical), and, for a
//! candidate table, compared with the baseline too.

use super::cases::Case;
use super::instances::instantiate;
use crate::table::OpTable;
use fk_runtime::compare::compare;
use fk_runtime::gpu_test::{gpu_trial, TestTrial};
use fk_runtime::rng::{fresh_seed, Rng};
use std::sync::Arc;

#[derive(Clone, Default)]
pub struct TrialOptions {
    /// Prefix for trial names (e.g. "candidate/").
    pub prefix: String,
    /// Also require agreement with this table (the baseline) on the same inputs.
    pub baseline: Option<Arc<OpTable>>,
}

pub fn op_trials(table: Arc<OpTable>, cases: Vec<Case>, opts: TrialOptions) -> Vec<TestTrial> {
    cases
        .into_iter()
        .map(|case| {
            let table = table.clone();
            let opts = opts.clone();
            gpu_trial(format!("{}{}", opts.prefix, case.name()), move |dev| {
                let seed = fresh_seed();
                let ctx = |e: String| format!("{e}\n  [{} table `{}`, seed {seed}: replay with FASTKERNELS_SEED={seed}]", case.name(), table.name());
                let mut rng = Rng::new(seed);
                let mut inst = instantiate(dev, &case, &mut rng).map_err(|e| ctx(e.to_string()))?;
                inst.prepare().map_err(|e| ctx(e.to_string()))?;
                inst.run(&table).map_err(|e| ctx(e.to_string()))?;
                inst.check().map_err(ctx)?;
                let first = inst.outputs().map_err(|e| ctx(e.to_string()))?;

                inst.prepare().map_err(|e| ctx(e.to_string()))?;
                inst.run(&table).map_err(|e| ctx(e.to_string()))?;
                let second = inst.outputs().map_err(|e| ctx(e.to_string()))?;
                for (i, (a, b)) in first.iter().zip(&second).enumerate() {
                    if let Some(j) = a.iter().zip(b).position(|(x, y)| x.to_bits() != y.to_bits()) {
                        return Err(ctx(format!(
                            "output {i} differs between two runs on the same inputs at element {j} ({} vs {}): a race or uninitialised read",
                            a[j], b[j]
                        )));
                    }
                }

                if let Some(base) = &opts.baseline {
                    inst.prepare().map_err(|e| ctx(e.to_string()))?;
                    inst.run(base).map_err(|e| ctx(e.to_string()))?;
                    let b = inst.outputs().map_err(|e| ctx(e.to_string()))?;
                    // Both are within tolerance of the exact reference; against each other
                    // allow twice that (each may be off by the rounding of its own order).
                    let tol = inst.tolerance().scaled(2.0);
                    for (i, (cand, base)) in first.iter().zip(&b).enumerate() {
                        let base64: Vec<f64> = base.iter().map(|&v| v as f64).collect();
                        compare(cand, &base64, tol).check(&format!("candidate vs baseline, output {i}")).map_err(ctx)?;
                    }
                }
                Ok(())
            })
        })
        .collect()
}
