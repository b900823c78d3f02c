//! The HF transformers golden fixtures of the family's architectures
//! (`tests/goldens/<arch>/<config>/`, made by `tests/goldens/make_<arch>_goldens.py`) as the
//! CPU and GPU tests read them.

use fk_runtime::compare::Tolerance;
use fk_runtime::safetensors::Checkpoint;
use fk_runtime::Result;
use std::path::{Path, PathBuf};

pub struct Golden {
    /// Folder name, e.g. `tiny-gqa-llama3-f32`.
    pub name: String,
    /// The HF model folder (config.json + model.safetensors).
    pub dir: PathBuf,
    pub input_ids: Vec<u32>,
    /// transformers' greedy continuation of `input_ids`.
    pub greedy: Vec<u32>,
    /// `layer_outputs.<i>`, `final_norm`, `logits` (f32), and per-architecture extras
    /// (e.g. Mixtral's `router_topk.<i>`).
    pub outputs: Checkpoint,
}

impl Golden {
    pub fn is_bf16(&self) -> bool {
        self.name.contains("bf16")
    }

    /// Model-level bars: fp32 only differs in summation order (rel. L2 1e-4, the acceptance
    /// bar); bf16 rounds at different points than HF and the differences compound through
    /// the layers to ~20 ulps on a few elements, so rel. L2 2e-2 with a loose elementwise bound.
    pub fn tolerance(&self) -> Tolerance {
        if self.is_bf16() {
            Tolerance { atol: 0.25, rtol: 0.25, max_rel_l2: 2e-2 }
        } else {
            Tolerance { atol: 1e-4, rtol: 1e-3, max_rel_l2: 1e-4 }
        }
    }

    /// The tensors to compare, by key, in order: each layer's output, final norm, logits.
    pub fn keys(&self) -> Vec<String> {
        let mut layers: Vec<String> = self.outputs.names().into_iter().filter(|n| n.starts_with("layer_outputs.")).map(String::from).collect();
        layers.sort_by_key(|n| n["layer_outputs.".len()..].parse::<usize>().unwrap_or(usize::MAX));
        layers.extend(["final_norm".to_string(), "logits".to_string()]);
        layers
    }

    pub fn expected(&self, key: &str) -> Result<Vec<f64>> {
        Ok(self.outputs.host_f32(key)?.into_iter().map(f64::from).collect())
    }
}

/// An i64 tensor of token (or expert) ids.
pub fn ids(ckpt: &Checkpoint, name: &str) -> Result<Vec<u32>> {
    Ok(ckpt.host_bytes(name)?.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")) as u32).collect())
}

/// The repository's golden folder of `arch`: `$FASTKERNELS_GOLDENS/<arch>` if set; else the
/// source tree this crate was built from; else `tests/goldens/<arch>` under the working
/// directory (a test binary copied to a GPU machine runs from a checkout at another path).
pub fn golden_root(arch: &str) -> PathBuf {
    if let Some(dir) = std::env::var_os("FASTKERNELS_GOLDENS") {
        return PathBuf::from(dir).join(arch);
    }
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/goldens").join(arch);
    if built.is_dir() {
        built
    } else {
        PathBuf::from("tests/goldens").join(arch)
    }
}

/// Every golden fixture of `arch`, sorted by name.
pub fn load_all(arch: &str) -> Result<Vec<Golden>> {
    let root = golden_root(arch);
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .map_err(|e| fk_runtime::Error::io(format!("read {}", root.display()), e))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs.into_iter()
        .map(|dir| {
            let outputs = Checkpoint::open(dir.join("golden.safetensors"))?;
            Ok(Golden {
                name: dir.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default(),
                input_ids: ids(&outputs, "input_ids")?,
                greedy: ids(&outputs, "greedy")?,
                outputs,
                dir,
            })
        })
        .collect()
}

impl Golden {
    /// Check a CPU reference's outputs against the golden (every layer's output, the final
    /// norm, the logits; and for fp32 configs the greedy continuation `greedy(prompt, n)`
    /// produces). Prints the rel-L2 of each; the error names the first mismatch.
    pub fn check_reference(
        &self,
        out: &crate::reference::ReferenceOutput,
        greedy: impl FnOnce(&[u32], usize) -> Result<Vec<u32>>,
    ) -> std::result::Result<(), String> {
        let name = &self.name;
        let mut ours: Vec<&Vec<f32>> = out.layer_outputs.iter().collect();
        ours.push(&out.final_norm);
        ours.push(&out.logits);
        let keys = self.keys();
        if keys.len() != ours.len() {
            return Err(format!("{name}: the golden has {keys:?}, the reference {} tensors", ours.len()));
        }
        for (key, ours) in keys.iter().zip(ours) {
            let c = fk_runtime::compare::compare(ours, &self.expected(key).map_err(|e| e.to_string())?, self.tolerance());
            eprintln!("{name} {key}: rel_l2 {:.2e}", c.rel_l2);
            if !c.passed() {
                return Err(format!("{name} {key}: {c}"));
            }
        }
        if !self.is_bf16() {
            let got = greedy(&self.input_ids, self.greedy.len()).map_err(|e| e.to_string())?;
            if got != self.greedy {
                return Err(format!("{name}: greedy continuation differs from transformers:\n ours {got:?}\n  hf  {:?}", self.greedy));
            }
        }
        Ok(())
    }
}
