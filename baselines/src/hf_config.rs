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

/// Parse `text` into the lenient raw struct. Python's bare `Infinity` / `-Infinity` / `NaN`
/// (what `json.dump` writes for non-finite floats, e.g. older Mamba-2 `time_step_limit`s) are
/// read as transformers' `{"__float__": "Infinity"}` objects; see [`float_value`].
pub fn parse<R: DeserializeOwned>(text: &str) -> Result<R> {
    serde_json::from_str(&python_non_finite(text)).map_err(|e| Error::config(format!("not a valid config.json: {e}")))
}

/// `text` with Python's non-standard non-finite float literals (outside strings) replaced by
/// `{"__float__": "<literal>"}`, the form transformers >= 5 writes; valid JSON is unchanged.
pub fn python_non_finite(text: &str) -> std::borrow::Cow<'_, str> {
    const LITERALS: [&str; 3] = ["-Infinity", "Infinity", "NaN"];
    if !LITERALS.iter().any(|l| text.contains(l)) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 32);
    let (mut in_string, mut escaped) = (false, false);
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
        } else if let Some(l) = LITERALS.iter().find(|l| rest.starts_with(**l)) {
            out.push_str(&format!("{{\"__float__\": \"{l}\"}}"));
            rest = &rest[l.len()..];
            continue;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    std::borrow::Cow::Owned(out)
}

/// A float config value: a JSON number or transformers' `{"__float__": "Infinity" | "-Infinity"
/// | "NaN"}` (how it serialises non-finite floats); `key` names it in the error.
pub fn float_value(v: &serde_json::Value, key: &str) -> Result<f64> {
    if let Some(x) = v.as_f64() {
        return Ok(x);
    }
    match v.get("__float__").and_then(|s| s.as_str()) {
        Some("Infinity" | "inf") => Ok(f64::INFINITY),
        Some("-Infinity" | "-inf") => Ok(f64::NEG_INFINITY),
        Some("NaN" | "nan") => Ok(f64::NAN),
        _ => Err(Error::config(format!("`{key}`: {v} is not a number"))),
    }
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

#[cfg(test)]
mod python_json_tests {
    use super::*;

    #[test]
    fn non_finite_literals_become_float_objects() {
        let v: serde_json::Value = parse(r#"{"a": [0.0, Infinity, -Infinity], "s": "Infinity \" NaN", "n": NaN}"#).unwrap();
        let a: Vec<f64> = v["a"].as_array().unwrap().iter().map(|x| float_value(x, "a").unwrap()).collect();
        assert_eq!(a, [0.0, f64::INFINITY, f64::NEG_INFINITY]);
        assert_eq!(v["s"], "Infinity \" NaN");
        assert!(float_value(&v["n"], "n").unwrap().is_nan());
        let e = float_value(&serde_json::json!("big"), "limit").unwrap_err().to_string();
        assert!(e.contains("`limit`"), "{e}");
        assert!(matches!(python_non_finite("{\"x\": 1}"), std::borrow::Cow::Borrowed(_)));
    }
}
