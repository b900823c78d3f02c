//! Reading bench results (`fastkernels.bench.v1`, one file per crate), the aggregates
//! (geometric-mean speedup, fast_p) and the combined summary (`fastkernels.bench-report.v1`).
//!
//! Aggregates are recomputed here from the rows, not taken from each file's `summary`, so
//! every crate and the overall figure follow one definition:
//! * geomean speedup: over the rows that have a candidate (`speedup` non-null);
//! * fast_p: the share of those rows that are correct AND have speedup > p
//!   (so fast_0 is the share that is correct), for p in 0, 1, 1.2, 2.

use crate::output::{emit, line};
use crate::table::Table;
use anyhow::{bail, Context, Result};
use clap::Args;
use serde::Deserialize;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

pub const BENCH_SCHEMA: &str = "fastkernels.bench.v1";
pub const REPORT_SCHEMA: &str = "fastkernels.bench-report.v1";
pub const FAST_P: [(&str, f64); 4] = [("0", 0.0), ("1", 1.0), ("1.2", 1.2), ("2", 2.0)];

#[derive(Args)]
pub struct ReportArgs {
    /// Bench result files (`fastkernels.bench.v1` JSON, one per crate)
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Also write the combined report (`fastkernels.bench-report.v1`) to this file
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

pub fn run(args: ReportArgs) -> Result<i32> {
    let mut outcomes = Vec::new();
    for f in &args.files {
        outcomes.push(Outcome::Loaded(CrateResult::load(f)?));
    }
    finish(&outcomes, args.json.as_deref())
}

/// One row of a bench file; lenient, so an extra or missing field never stops a report.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Row {
    pub op: String,
    pub level: String,
    pub shape: Value,
    pub dtype: String,
    pub baseline_us: Option<f64>,
    pub candidate_us: Option<f64>,
    pub speedup: Option<f64>,
    pub pct_roofline: Option<f64>,
    pub correct: bool,
    pub replaced: bool,
}

#[derive(Clone, Debug, Deserialize)]
pub struct BenchFile {
    pub schema: String,
    #[serde(rename = "crate")]
    pub krate: String,
    #[serde(default)]
    pub skipped: Option<String>,
    #[serde(default)]
    pub rows: Vec<Row>,
}

/// A bench file as read: the typed view for the aggregates, the raw JSON for the report.
pub struct CrateResult {
    pub file: BenchFile,
    pub raw: Value,
}

impl CrateResult {
    pub fn load(path: &Path) -> Result<CrateResult> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read bench results {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("{} is not a valid {BENCH_SCHEMA} file", path.display()))
    }

    pub fn parse(text: &str) -> Result<CrateResult> {
        let raw: Value = serde_json::from_str(text)?;
        let file: BenchFile = serde_json::from_value(raw.clone())?;
        if file.schema != BENCH_SCHEMA {
            bail!("schema is {:?}, expected {BENCH_SCHEMA:?}", file.schema);
        }
        Ok(CrateResult { file, raw })
    }
}

pub enum Outcome {
    Loaded(CrateResult),
    /// The bench of this crate failed or wrote nothing usable.
    Failed {
        krate: String,
        error: String,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Stats {
    pub rows: usize,
    pub candidate_rows: usize,
    pub geomean: Option<f64>,
    /// Share per p of [`FAST_P`]; `None` without candidate rows.
    pub fast_p: Option<[f64; 4]>,
}

pub fn stats<'a>(rows: impl IntoIterator<Item = &'a Row>) -> Stats {
    let mut n = 0;
    let mut cand = Vec::new();
    for r in rows {
        n += 1;
        if let Some(s) = r.speedup {
            cand.push((s, r.correct));
        }
    }
    // A non-finite or non-positive speedup is a broken measurement: it counts against fast_p
    // but cannot enter a geometric mean.
    let logs: Vec<f64> = cand.iter().filter(|(s, _)| s.is_finite() && *s > 0.0).map(|(s, _)| s.ln()).collect();
    let geomean = (!logs.is_empty()).then(|| (logs.iter().sum::<f64>() / logs.len() as f64).exp());
    let fast_p = (!cand.is_empty())
        .then(|| FAST_P.map(|(_, p)| cand.iter().filter(|(s, ok)| *ok && s.is_finite() && *s > p).count() as f64 / cand.len() as f64));
    Stats { rows: n, candidate_rows: cand.len(), geomean, fast_p }
}

fn fast_p_json(f: Option<[f64; 4]>) -> Value {
    match f {
        Some(v) => Value::Object(FAST_P.iter().zip(v).map(|((k, _), x)| (k.to_string(), json!(x))).collect()),
        None => Value::Null,
    }
}

fn pct(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

fn stat_cells(s: &Stats) -> Vec<String> {
    let mut cells =
        vec![s.rows.to_string(), s.candidate_rows.to_string(), s.geomean.map(|g| format!("{g:.3}x")).unwrap_or_else(|| "—".into())];
    match s.fast_p {
        Some(f) => cells.extend(f.iter().map(|x| pct(*x))),
        None => cells.extend(std::iter::repeat_n("—".to_string(), 4)),
    }
    cells
}

/// Print the combined summary, write the report if asked; the exit code is 1 when a bench
/// failed. Skipped benches (no GPU) are reported as such and are not failures.
pub fn finish(outcomes: &[Outcome], json_out: Option<&Path>) -> Result<i32> {
    let measured: Vec<&CrateResult> = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Loaded(r) if r.file.skipped.is_none() => Some(r),
            _ => None,
        })
        .collect();
    let skipped: Vec<(&str, &str)> = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Loaded(r) => r.file.skipped.as_deref().map(|s| (r.file.krate.as_str(), s)),
            _ => None,
        })
        .collect();
    let failed: Vec<(&str, &str)> = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Failed { krate, error } => Some((krate.as_str(), error.as_str())),
            _ => None,
        })
        .collect();

    line("");
    line("== fastkernels bench summary ==");
    let mut detail =
        Table::new(&["CRATE", "OP", "LEVEL", "SHAPE", "DTYPE", "BASELINE_US", "CANDIDATE_US", "SPEEDUP", "CORRECT", "ROOFLINE"])
            .right_align(&[5, 6, 7, 9]);
    for r in &measured {
        for row in r.file.rows.iter().filter(|row| row.speedup.is_some()) {
            let shape = match &row.shape {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                v => v.to_string(),
            };
            let num = |x: Option<f64>, d: usize| x.map(|v| format!("{v:.d$}")).unwrap_or_else(|| "—".into());
            detail.row(vec![
                r.file.krate.clone(),
                row.op.clone(),
                row.level.clone(),
                shape,
                row.dtype.clone(),
                num(row.baseline_us, 2),
                num(row.candidate_us, 2),
                row.speedup.map(|s| format!("{s:.3}x")).unwrap_or_default(),
                if row.correct { "yes" } else { "NO" }.into(),
                row.pct_roofline.map(|p| format!("{p:.1}%")).unwrap_or_else(|| "—".into()),
            ]);
        }
    }
    if !detail.is_empty() {
        line("Candidate rows:");
        emit(&detail.render());
        line("");
    }

    let headers = ["CRATE", "ROWS", "CANDIDATE_ROWS", "GEOMEAN", "FAST_0", "FAST_1", "FAST_1.2", "FAST_2"];
    let mut t = Table::new(&headers).right_align(&[1, 2, 3, 4, 5, 6, 7]);
    let mut crate_summaries = Vec::new();
    for r in &measured {
        let s = stats(&r.file.rows);
        let mut cells = vec![r.file.krate.clone()];
        cells.extend(stat_cells(&s));
        t.row(cells);
        crate_summaries.push(json!({
            "crate": r.file.krate, "rows": s.rows, "candidate_rows": s.candidate_rows,
            "geomean_speedup": s.geomean, "fast_p": fast_p_json(s.fast_p),
        }));
    }
    let overall = stats(measured.iter().flat_map(|r| r.file.rows.iter()));
    if !measured.is_empty() {
        if measured.len() > 1 {
            let mut cells = vec!["overall".to_string()];
            cells.extend(stat_cells(&overall));
            t.row(cells);
        }
        emit(&t.render());
        if overall.candidate_rows == 0 {
            line("No candidate rows: every measured op ran its baseline (empty slots), so there is no speedup to report.");
        }
    }
    for (krate, why) in &skipped {
        line(format!("{krate}: SKIPPED, nothing was measured ({why})"));
    }
    for (krate, err) in &failed {
        line(format!("{krate}: FAILED: {err}"));
    }
    if measured.is_empty() && failed.is_empty() && !skipped.is_empty() {
        line("No results: every bench was skipped (see the reasons above). Nothing here is a measurement.");
    }

    if let Some(path) = json_out {
        let report = json!({
            "schema": REPORT_SCHEMA,
            "crates": outcomes.iter().filter_map(|o| match o { Outcome::Loaded(r) => Some(r.raw.clone()), _ => None }).collect::<Vec<_>>(),
            "failed": failed.iter().map(|(k, e)| json!({"crate": k, "error": e})).collect::<Vec<_>>(),
            "summary": {
                "measured_crates": measured.iter().map(|r| r.file.krate.as_str()).collect::<Vec<_>>(),
                "skipped_crates": skipped.iter().map(|(k, why)| json!({"crate": k, "reason": why})).collect::<Vec<_>>(),
                "per_crate": crate_summaries,
                "candidate_rows": overall.candidate_rows,
                "geomean_speedup": overall.geomean,
                "fast_p": fast_p_json(overall.fast_p),
            },
        });
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let text = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, text + "\n").with_context(|| format!("cannot write {}", path.display()))?;
        line(format!("Combined report written to {}", path.display()));
    }
    Ok(if failed.is_empty() { 0 } else { 1 })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(speedup: Option<f64>, correct: bool) -> Row {
        Row { op: "rms_norm".into(), speedup, correct, ..Row::default() }
    }

    #[test]
    fn aggregates_follow_the_definition() {
        let rows = [row(None, true), row(Some(2.0), true), row(Some(0.5), true), row(Some(1.5), false), row(Some(1.1), true)];
        let s = stats(&rows);
        assert_eq!((s.rows, s.candidate_rows), (5, 4));
        let g = s.geomean.unwrap();
        assert!((g - (2.0f64 * 0.5 * 1.5 * 1.1).powf(0.25)).abs() < 1e-12, "{g}");
        assert_eq!(s.fast_p.unwrap(), [0.75, 0.5, 0.25, 0.0]);
    }

    #[test]
    fn no_candidates_no_aggregates() {
        let s = stats(&[row(None, true)]);
        assert_eq!((s.geomean, s.fast_p), (None, None));
    }

    #[test]
    fn parses_the_schema() {
        let text = r#"{"schema":"fastkernels.bench.v1","crate":"fk-llama","skipped":null,"device":null,
            "copy_bandwidth_gbs":null,"rows":[{"op":"rms_norm","level":"L1","shape":"[8192, 4096]","dtype":"bf16",
            "bytes":1,"flops":1,"baseline_us":10.0,"candidate_us":5.0,"speedup":2.0,"gbs":1.0,"tflops":null,
            "pct_roofline":50.0,"correct":true,"replaced":true}],"summary":{"geomean_speedup":2.0,
            "fast_p":{"0":1.0,"1":1.0,"1.2":1.0,"2":0.0},"replaced_ops":["rms_norm"]}}"#;
        let r = CrateResult::parse(text).unwrap();
        assert_eq!(r.file.krate, "fk-llama");
        assert_eq!(stats(&r.file.rows).geomean, Some(2.0));
        assert!(CrateResult::parse(&text.replace("bench.v1", "bench.v0")).is_err());
    }
}
