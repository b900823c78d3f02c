//! The architecture registry (`registry/architectures.toml`), embedded at build time so an
//! installed `cargo fastkernels` knows all 47 entries without a checkout.

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

/// The registry file, as shipped in the workspace.
pub const REGISTRY_TOML: &str = include_str!("../../registry/architectures.toml");
pub const SCHEMA: &str = "fastkernels.registry.v1";

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Family {
    pub key: String,
    pub name: String,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Architecture {
    pub module: String,
    pub name: String,
    pub family: String,
    /// HF transformers `model_type`; `None` for models outside transformers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_type: Option<String>,
    /// Upstream library of models without a transformers `model_type` (diffusers, timm).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub library: Option<String>,
    pub checkpoint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub tp: u32,
    pub dtype: String,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registry {
    pub schema: String,
    #[serde(rename = "family")]
    pub families: Vec<Family>,
    #[serde(rename = "architecture")]
    pub architectures: Vec<Architecture>,
}

impl Registry {
    /// The embedded registry, parsed and checked for internal consistency.
    pub fn embedded() -> Result<Registry> {
        Registry::parse(REGISTRY_TOML).context("the registry embedded in cargo-fastkernels (registry/architectures.toml) is invalid")
    }

    pub fn parse(text: &str) -> Result<Registry> {
        let reg: Registry = toml::from_str(text)?;
        if reg.schema != SCHEMA {
            bail!("schema is {:?}, expected {SCHEMA:?}", reg.schema);
        }
        let mut seen = std::collections::HashSet::new();
        for f in &reg.families {
            if !seen.insert(f.key.as_str()) {
                bail!("family {:?} is listed twice", f.key);
            }
        }
        let mut seen = std::collections::HashSet::new();
        for a in &reg.architectures {
            if !seen.insert(a.module.as_str()) {
                bail!("module {:?} is listed twice", a.module);
            }
            if reg.family(&a.family).is_none() {
                bail!("module {:?} has family {:?}, which is not a [[family]]", a.module, a.family);
            }
        }
        Ok(reg)
    }

    pub fn family(&self, key: &str) -> Option<&Family> {
        self.families.iter().find(|f| f.key == key)
    }

    pub fn get(&self, module: &str) -> Option<&Architecture> {
        self.architectures.iter().find(|a| a.module == module)
    }

    pub fn family_keys(&self) -> Vec<&str> {
        self.families.iter().map(|f| f.key.as_str()).collect()
    }
}

/// Normalise what a user typed for an architecture to a registry module name:
/// `fk-gpt-oss`, `gpt-oss` and `GPT_OSS` all mean `gpt_oss`.
pub fn normalize_arch(input: &str) -> String {
    let s = input.trim();
    let s = s.strip_prefix("fk-").unwrap_or(s);
    s.replace('-', "_").to_lowercase()
}

/// Crate name for a registry module (`gpt_oss` -> `fk-gpt-oss`).
pub fn crate_name(module: &str) -> String {
    format!("fk-{}", module.replace('_', "-"))
}

/// The candidate closest to `word` by edit distance, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (levenshtein(word, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_registry_is_complete() {
        let reg = Registry::embedded().unwrap();
        assert_eq!(reg.architectures.len(), 47);
        assert_eq!(reg.families.len(), 8);
        assert_eq!(reg.get("llama").unwrap().model_type.as_deref(), Some("llama"));
        assert!(!reg.get("deepseek").unwrap().enabled);
    }

    #[test]
    fn names_normalise() {
        assert_eq!(normalize_arch("fk-gpt-oss"), "gpt_oss");
        assert_eq!(normalize_arch("Qwen3-Next"), "qwen3_next");
        assert_eq!(crate_name("gpt_oss"), "fk-gpt-oss");
    }

    #[test]
    fn suggestions() {
        let names = ["llama", "mixtral", "mamba2"];
        assert_eq!(did_you_mean("lama", names), Some("llama"));
        assert_eq!(did_you_mean("mixtrl", names), Some("mixtral"));
        assert_eq!(did_you_mean("nosuch", names), None);
    }
}
