//! Reading an HF `config.json` for every architecture crate: the file (a folder means its
//! config.json), parse errors and validation errors that name the file, and the small checks
//! every validated config repeats.

use fk_runtime::{Error, Result};
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};

/// The config.json a path names: a folder (existing or not) means its `config.json`.
pub fn config_file(path: &Path) -> PathBuf {
    let is_json = path.extension().is_some_and(|e| e == "json");
    if path.is_dir() || !is_json {
        path.join("config.json")
    } else {
        path.to_path_buf()
    }
}

/// Parse `text` into the lenient raw struct.
pub fn parse<R: DeserializeOwned>(text: &str) -> Result<R> {
    serde_json::from_str(text).map_err(|e| Error::config(format!("not a valid config.json: {e}")))
}

/// Read the file `path` names and run `validate` on its text; errors carry the file.
pub fn from_file<C>(path: &Path, validate: impl FnOnce(&str) -> Result<C>) -> Result<C> {
    let file = config_file(path);
    let text = std::fs::read_to_string(&file).map_err(|e| Error::io(format!("read {}", file.display()), e))?;
    validate(&text).map_err(|e| match e {
        Error::Config { message, .. } => Error::Config { file: Some(file.clone()), message },
        other => other,
    })
}

pub fn need<T>(v: Option<T>, key: &str) -> Result<T> {
    v.ok_or_else(|| Error::config(format!("missing required key `{key}`")))
}

pub fn positive(v: usize, key: &str) -> Result<usize> {
    if v == 0 {
        Err(Error::config(format!("`{key}` must be > 0")))
    } else {
        Ok(v)
    }
}

/// A norm epsilon: finite and > 0.
pub fn eps(v: f64, key: &str) -> Result<f32> {
    if v.is_finite() && v > 0.0 {
        Ok(v as f32)
    } else {
        Err(Error::config(format!("`{key}` = {v} must be > 0")))
    }
}

/// `hidden / heads`, which must divide evenly.
pub fn head_dim(hidden: usize, heads: usize) -> Result<usize> {
    if hidden % heads != 0 {
        return Err(Error::config(format!("hidden_size {hidden} is not divisible by num_attention_heads {heads}")));
    }
    Ok(hidden / heads)
}

/// `model_type`, if present, must be one of `allowed`.
pub fn check_model_type(found: Option<&str>, allowed: &[&str]) -> Result<()> {
    match found {
        Some(mt) if !allowed.contains(&mt) => Err(Error::config(format!("model_type is `{mt}`, expected {}", allowed.join(" or ")))),
        _ => Ok(()),
    }
}
