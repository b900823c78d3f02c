//! HF transformers golden fixtures as the architecture crates' tests read them: one folder
//! per case under `tests/goldens/<arch>/`, each an HF model folder (config.json +
//! model.safetensors) plus `golden.safetensors` (inputs and expected outputs).

use fk_runtime::safetensors::Checkpoint;
use fk_runtime::{Error, Result};
use std::path::{Path, PathBuf};

pub struct GoldenCase {
    /// Folder name, e.g. `tiny-padded-f32`.
    pub name: String,
    /// The HF model folder.
    pub dir: PathBuf,
    /// Inputs and expected outputs.
    pub golden: Checkpoint,
}

impl GoldenCase {
    pub fn is_bf16(&self) -> bool {
        self.name.contains("bf16")
    }

    /// An integer tensor (saved as i64) as i64 values.
    pub fn ints(&self, key: &str) -> Result<Vec<i64>> {
        let info = self.golden.info(key)?;
        if info.dtype != fk_runtime::DType::I64 {
            return Err(Error::dtype("golden", format!("`{key}` in {} is {}, expected i64", self.dir.display(), info.dtype)));
        }
        Ok(self.golden.host_bytes(key)?.chunks_exact(8).map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]])).collect())
    }

    /// The shape of a golden tensor.
    pub fn shape(&self, key: &str) -> Result<Vec<usize>> {
        Ok(self.golden.info(key)?.shape)
    }

    pub fn expected(&self, key: &str) -> Result<Vec<f64>> {
        Ok(self.golden.host_f32(key)?.into_iter().map(f64::from).collect())
    }
}

/// `$FASTKERNELS_GOLDENS/<arch>` if set; else `<workspace>/tests/goldens/<arch>` as seen from
/// the crate at `manifest_dir` (two levels below the root); else `tests/goldens/<arch>` under
/// the working directory (a test binary copied to another machine runs from a checkout).
pub fn golden_root(arch: &str, manifest_dir: &str) -> PathBuf {
    if let Some(dir) = std::env::var_os("FASTKERNELS_GOLDENS") {
        return PathBuf::from(dir).join(arch);
    }
    let built = Path::new(manifest_dir).join("../../tests/goldens").join(arch);
    if built.is_dir() {
        built
    } else {
        PathBuf::from("tests/goldens").join(arch)
    }
}

/// Every case folder under `root`, sorted by name.
pub fn load_cases(root: &Path) -> Result<Vec<GoldenCase>> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .map_err(|e| Error::io(format!("read {}", root.display()), e))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("golden.safetensors").is_file())
        .collect();
    dirs.sort();
    dirs.into_iter()
        .map(|dir| {
            Ok(GoldenCase {
                name: dir.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default(),
                golden: Checkpoint::open(dir.join("golden.safetensors"))?,
                dir,
            })
        })
        .collect()
}

/// Model-level bars: fp32 differs from transformers only in summation order (rel. L2 1e-4,
/// the acceptance bar); bf16 rounds at different points (attention probabilities, fused
/// kernels), and the differences compound through the layers: rel. L2 2e-2 with a loose
/// elementwise bound.
pub fn model_tolerance(bf16: bool) -> fk_runtime::compare::Tolerance {
    if bf16 {
        fk_runtime::compare::Tolerance { atol: 0.25, rtol: 0.25, max_rel_l2: 2e-2 }
    } else {
        fk_runtime::compare::Tolerance { atol: 1e-4, rtol: 1e-3, max_rel_l2: 1e-4 }
    }
}

impl GoldenCase {
    /// Compare `(key, ours)` pairs with the golden tensors of the same keys; returns each
    /// key's relative L2 error, or a message naming the first key out of tolerance.
    pub fn check(&self, pairs: &[(String, &[f32])]) -> std::result::Result<Vec<(String, f64)>, String> {
        let tol = model_tolerance(self.is_bf16());
        let mut out = Vec::with_capacity(pairs.len());
        for (key, ours) in pairs {
            let expected = self.expected(key).map_err(|e| format!("{}: {e}", self.name))?;
            if expected.len() != ours.len() {
                return Err(format!("{} {key}: {} values, golden has {}", self.name, ours.len(), expected.len()));
            }
            let c = fk_runtime::compare::compare(ours, &expected, tol);
            c.check(&format!("{} {key}", self.name))?;
            out.push((key.clone(), c.rel_l2));
        }
        Ok(out)
    }
}

/// The keys every encoder golden has, paired with our output: `embeddings`,
/// `layer_outputs.<i>`, `last_hidden_state`, and `pooler_output` when both sides have one.
pub fn encoder_pairs(out: &crate::reference::modules::EncoderOutput) -> Vec<(String, &[f32])> {
    let mut pairs: Vec<(String, &[f32])> = vec![("embeddings".into(), &out.hidden_states[0][..])];
    for (i, h) in out.hidden_states[1..].iter().enumerate() {
        pairs.push((format!("layer_outputs.{i}"), &h[..]));
    }
    pairs.push(("last_hidden_state".into(), &out.last_hidden_state[..]));
    if let Some(p) = &out.pooler_output {
        pairs.push(("pooler_output".into(), &p[..]));
    }
    pairs
}

/// The cases of `arch` (see [`golden_root`]), at least `min` of them: fewer means the fixture
/// folder is missing or was not regenerated, which a test must report, not pass over.
pub fn arch_cases(arch: &str, manifest_dir: &str, min: usize) -> Result<Vec<GoldenCase>> {
    let root = golden_root(arch, manifest_dir);
    let cases = load_cases(&root)?;
    if cases.len() < min {
        return Err(Error::io(format!("{}: {} golden cases, expected at least {min}", root.display(), cases.len()), std::io::ErrorKind::NotFound.into()));
    }
    Ok(cases)
}

/// `r` must be an error whose message mentions every needle (a bad input named, not just
/// refused). The message says what was expected and what came.
pub fn expect_err<T>(r: Result<T>, what: &str, needles: &[&str]) -> std::result::Result<(), String> {
    match r {
        Ok(_) => Err(format!("{what}: expected an error")),
        Err(e) => {
            let m = e.to_string();
            match needles.iter().find(|n| !m.contains(*n)) {
                Some(n) => Err(format!("{what}: error `{m}` should mention `{n}`")),
                None => Ok(()),
            }
        }
    }
}

/// One trial of a GPU golden test: the check for one case.
pub type GoldenCheck = fn(&fk_runtime::Device, &GoldenCase) -> std::result::Result<(), String>;

/// The trials an encoder crate's GPU golden test runs per case: a case whose head_dim has no
/// attention kernel must be refused by name (`unsupported`); any other must match
/// transformers, pass the architecture's batching trial (`batching`: its name and check: a
/// padded batch or a batch of images against each input alone), and — f32 cases — name bad
/// input.
pub struct EncoderGoldenTrials {
    pub has_kernel: fn(&GoldenCase) -> bool,
    pub unsupported: GoldenCheck,
    pub matches: GoldenCheck,
    pub batching: (&'static str, GoldenCheck),
    pub bad_input: GoldenCheck,
}

impl EncoderGoldenTrials {
    pub fn trials(&self, cases: Vec<GoldenCase>) -> Vec<fk_runtime::gpu_test::TestTrial> {
        use fk_runtime::gpu_test::gpu_trial;
        let mut trials = Vec::new();
        for g in cases.into_iter().map(std::sync::Arc::new) {
            let name = g.name.clone();
            let case = |check: GoldenCheck| {
                let g = g.clone();
                move |dev: &fk_runtime::Device| check(dev, &g)
            };
            if !(self.has_kernel)(&g) {
                trials.push(gpu_trial(format!("goldens/{name}/unsupported head_dim is a named error"), case(self.unsupported)));
                continue;
            }
            trials.push(gpu_trial(format!("goldens/{name}/matches transformers"), case(self.matches)));
            trials.push(gpu_trial(format!("goldens/{name}/{}", self.batching.0), case(self.batching.1)));
            if !g.is_bf16() {
                trials.push(gpu_trial(format!("goldens/{name}/bad input is a named error"), case(self.bad_input)));
            }
        }
        trials
    }
}
