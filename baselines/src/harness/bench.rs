//! The benchmark runner behind every `benches/ops.rs` (and `cargo fastkernels bench`).
//!
//! Method (see DESIGN §6): CUDA events on the device stream around the op alone; before each
//! timed call the untimed `prepare` (restore in-place inputs, poison outputs) and a write of
//! 2×L2 bytes that evicts the inputs from L2; warm-up, then `reps` timed calls per table with
//! baseline and candidate interleaved, in alternating order (so drift and order effects hit
//! both); median, p10, p90. One
//! randomly chosen timed call of each table is audited against the CPU reference. The copy
//! bandwidth ceiling is measured in the same process; `--self-test` times the baseline
//! against itself (must give 1.00×). `--peer FILE` adds PyTorch times from the peer script.

use super::cases::Case;
use super::instances::instantiate;
use super::Workload;
use crate::table::{OpId, OpTable};
use fk_runtime::device::DeviceInfo;
use fk_runtime::event::Event;
use fk_runtime::rng::{fresh_seed, Rng};
use fk_runtime::{driver, DType, Device, Result, Tensor};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

type Make = Box<dyn Fn(&Device, &mut Rng) -> Result<Box<dyn Workload>>>;
/// Measures a compute ceiling (e.g. the bf16 GEMM rate) on the device.
type Ceiling = Box<dyn Fn(&Device) -> Result<f64>>;

/// One benchmark row: an op (L1) or a module (L2+) at one shape and dtype.
pub struct BenchSpec {
    pub op: String,
    pub level: &'static str,
    pub shape: String,
    pub dtype: DType,
    /// The L1 ops it runs: the candidate is timed only if the candidate table replaces one.
    pub uses: Vec<OpId>,
    pub make: Make,
}

impl BenchSpec {
    pub fn l1(case: Case) -> BenchSpec {
        BenchSpec {
            op: case.op.name().to_string(),
            level: "L1",
            shape: case.shape_label(),
            dtype: case.dtype,
            uses: vec![case.op],
            make: Box::new(move |dev, rng| Ok(instantiate(dev, &case, rng)? as Box<dyn Workload>)),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Stats {
    pub median: f64,
    pub p10: f64,
    pub p90: f64,
    pub reps: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Row {
    pub op: String,
    pub level: String,
    pub shape: String,
    pub dtype: String,
    pub bytes: u64,
    pub flops: u64,
    pub baseline_us: f64,
    pub candidate_us: Option<f64>,
    pub speedup: Option<f64>,
    pub gbs: f64,
    pub tflops: Option<f64>,
    pub pct_roofline: f64,
    pub correct: bool,
    pub replaced: bool,
    pub baseline: Stats,
    pub candidate: Option<Stats>,
    pub error: Option<String>,
    pub torch_eager_us: Option<f64>,
    pub torch_compile_us: Option<f64>,
    /// Best PyTorch time / our time (baseline kernels): > 1 means we are faster.
    pub vs_torch: Option<f64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Summary {
    pub geomean_speedup: Option<f64>,
    pub fast_p: Option<std::collections::BTreeMap<String, f64>>,
    pub replaced_ops: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    pub schema: String,
    #[serde(rename = "crate")]
    pub crate_name: String,
    pub skipped: Option<String>,
    pub device: Option<DeviceInfo>,
    pub compute_cap: String,
    pub nvcc: String,
    pub git: Option<String>,
    pub copy_bandwidth_gbs: Option<f64>,
    pub gemm_peak_tflops: Option<f64>,
    pub self_test: bool,
    pub rows: Vec<Row>,
    pub summary: Summary,
}

#[derive(Default)]
struct Args {
    ops: Vec<String>,
    json: Option<PathBuf>,
    peer: Option<PathBuf>,
    quick: bool,
    self_test: bool,
    criterion: bool,
    /// cargo passes `--bench` to bench targets; without it (`cargo test --all-targets` runs
    /// bench binaries too) do a smoke run: 3 timed calls per row.
    smoke: bool,
}

fn parse_args() -> std::result::Result<Args, String> {
    let mut a = Args { smoke: !std::env::args().any(|x| x == "--bench"), ..Args::default() };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--bench" | "--nocapture" => {}
            // An empty filter would match every row: refused rather than silently widened.
            "--op" => match value("--op")? {
                v if v.trim().is_empty() => return Err("--op needs a non-empty op name or \"op shape\" prefix".into()),
                v => a.ops.push(v),
            },
            "--json" => a.json = Some(PathBuf::from(value("--json")?)),
            "--peer" => a.peer = Some(PathBuf::from(value("--peer")?)),
            "--quick" => a.quick = true,
            "--self-test" => a.self_test = true,
            "--criterion" => a.criterion = true,
            "--help" | "-h" => {
                return Err("usage: ops [--op OP|'OP SHAPE-PREFIX']... [--json FILE] [--peer FILE] [--quick] [--self-test] [--criterion]".into())
            }
            other if other.starts_with('-') => return Err(format!("unknown flag {other}")),
            other => a.ops.push(other.to_string()), // cargo bench -- <filter>
        }
    }
    Ok(a)
}

/// Extra context an architecture crate can supply.
#[derive(Default)]
pub struct BenchEnv {
    /// Measured dense bf16 GEMM rate for the roofline of flop-heavy rows.
    pub gemm_peak_tflops: Option<Ceiling>,
}

/// Entry point of a `benches/ops.rs`: parse args, time `specs` with the baseline table and
/// `candidate` (if any op is replaced), print a table, write JSON. Exits the process.
pub fn main(crate_name: &str, candidate: Option<OpTable>, specs: Vec<BenchSpec>, env: BenchEnv) -> ! {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    match run(crate_name, candidate, specs, env, &args) {
        Ok(report) => {
            if let Some(path) = &args.json {
                let write = serde_json::to_string_pretty(&report).map_err(|e| e.to_string()).and_then(|s| {
                    if let Some(dir) = path.parent() {
                        let _ = std::fs::create_dir_all(dir);
                    }
                    std::fs::write(path, s).map_err(|e| e.to_string())
                });
                if let Err(e) = write {
                    eprintln!("cannot write {}: {e}", path.display());
                    std::process::exit(1);
                }
            }
            let failed = report.rows.iter().any(|r| !r.correct);
            std::process::exit(if failed { 1 } else { 0 })
        }
        Err(e) => {
            eprintln!("bench failed: {e}");
            std::process::exit(1)
        }
    }
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn stats(mut t: Vec<f64>) -> Stats {
    t.sort_by(|a, b| a.total_cmp(b));
    Stats { median: percentile(&t, 0.5), p10: percentile(&t, 0.1), p90: percentile(&t, 0.9), reps: t.len() }
}

/// Device-to-device copy rate (bytes read + written per second), 1 GiB, median of 20.
pub fn copy_bandwidth_gbs(dev: &Device) -> Result<f64> {
    let bytes = 1usize << 30;
    let a = Tensor::empty(dev, &[bytes], DType::U8)?;
    let b = Tensor::empty(dev, &[bytes], DType::U8)?;
    dev.memset(a.ptr(), 0x5a, bytes)?;
    let (start, end) = (Event::new(dev)?, Event::new(dev)?);
    let mut t = Vec::new();
    for i in 0..23 {
        start.record()?;
        dev.dtod(b.ptr(), a.ptr(), bytes)?;
        end.record()?;
        let ms = start.elapsed_ms(&end)?;
        if i >= 3 {
            t.push(ms);
        }
    }
    Ok(2.0 * bytes as f64 / (stats(t).median * 1e-3) / 1e9)
}

/// cuBLASLt bf16 GEMM rate at 8192³ (random inputs, median of 10 after 3 warm-ups): the
/// compute ceiling for flop-heavy rows, measured in the same process as they are.
pub fn gemm_peak_tflops(dev: &Device) -> Result<f64> {
    let n = 8192usize;
    let mut rng = Rng::new(fresh_seed());
    let a = Tensor::from_f32(dev, &rng.uniform_vec(n * n, -1.0, 1.0), &[n, n], DType::BF16)?;
    let b = Tensor::from_f32(dev, &rng.uniform_vec(n * n, -1.0, 1.0), &[n, n], DType::BF16)?;
    let c = Tensor::empty(dev, &[n, n], DType::BF16)?;
    let gemm = fk_runtime::gemm::Gemm::new(dev)?;
    let (start, end) = (Event::new(dev)?, Event::new(dev)?);
    let mut t = Vec::new();
    for i in 0..13 {
        start.record()?;
        gemm.linear(&a, &b, None, &c)?;
        end.record()?;
        let ms = start.elapsed_ms(&end)?;
        if i >= 3 {
            t.push(ms);
        }
    }
    Ok(2.0 * (n as f64).powi(3) / (stats(t).median * 1e-3) / 1e12)
}

struct Timer {
    start: Event,
    end: Event,
    flush: Tensor,
}

impl Timer {
    fn new(dev: &Device) -> Result<Timer> {
        let l2 = dev.info().l2_bytes.max(32 << 20);
        Ok(Timer { start: Event::new(dev)?, end: Event::new(dev)?, flush: Tensor::empty(dev, &[2 * l2], DType::U8)? })
    }

    /// prepare → evict L2 → [start] run [end]; returns µs.
    fn time_once(&self, w: &mut dyn Workload, table: &OpTable) -> Result<f64> {
        w.prepare()?;
        self.flush.device().memset(self.flush.ptr(), 0, self.flush.nbytes())?;
        self.start.record()?;
        w.run(table)?;
        self.end.record()?;
        Ok(self.start.elapsed_ms(&self.end)? * 1e3)
    }
}

fn run(crate_name: &str, candidate: Option<OpTable>, specs: Vec<BenchSpec>, env: BenchEnv, args: &Args) -> Result<Report> {
    let baseline = OpTable::baseline();
    // Self-test: a second copy of the baseline table, timed as if it were a candidate for
    // every row; any speedup away from 1.00x is harness noise or bias.
    let candidate = if args.self_test {
        Some(OpTable::with_candidates("baseline (self-test)", &[])?)
    } else {
        candidate.filter(|c| !c.replaced().is_empty())
    };
    let replaced_ops: Vec<String> = candidate.as_ref().map(|c| c.replaced().iter().map(|o| o.name().to_string()).collect()).unwrap_or_default();
    let mut report = Report {
        schema: "fastkernels.bench.v1".into(),
        crate_name: crate_name.into(),
        skipped: None,
        device: None,
        compute_cap: crate::COMPUTE_CAP.into(),
        nvcc: crate::NVCC_VERSION.into(),
        git: std::env::var("FASTKERNELS_GIT_SHA").ok(),
        copy_bandwidth_gbs: None,
        gemm_peak_tflops: None,
        self_test: args.self_test,
        rows: Vec::new(),
        summary: Summary { geomean_speedup: None, fast_p: None, replaced_ops },
    };
    if let Some(reason) = driver::unavailable_reason() {
        println!("{crate_name}: benchmarks skipped: no GPU ({reason})");
        report.skipped = Some(format!("no GPU: {reason}"));
        return Ok(report);
    }
    let dev = Device::new(0)?;
    report.device = Some(dev.info().clone());
    let copy = copy_bandwidth_gbs(&dev)?;
    report.copy_bandwidth_gbs = Some(copy);
    if let Some(f) = &env.gemm_peak_tflops {
        report.gemm_peak_tflops = Some(f(&dev)?);
    }
    let peer = load_peer(args.peer.as_deref());
    let (reps, warmup) = if args.smoke {
        (3, 1)
    } else if args.quick {
        (30, 3)
    } else {
        (100, 10)
    };
    println!(
        "{crate_name}: {} on {} (sm_{}), copy bandwidth {copy:.0} GB/s{}, {reps} reps, L2 flushed, baseline vs {}",
        if args.self_test { "self-test" } else { "bench" },
        dev.info().name,
        crate::COMPUTE_CAP,
        report.gemm_peak_tflops.map(|t| format!(", bf16 GEMM {t:.0} TFLOP/s")).unwrap_or_default(),
        candidate.as_ref().map(|c| c.name().to_string()).unwrap_or_else(|| "(no candidates)".into())
    );
    let timer = Timer::new(&dev)?;
    let seed = fresh_seed();
    let mut rng = Rng::new(seed);
    // `--op` matches a row's op name or "op shape" ("fused_moe gate_up [1024," picks one size).
    let selected: Vec<&BenchSpec> =
        specs.iter().filter(|s| args.ops.is_empty() || args.ops.iter().any(|o| s.op.contains(o.as_str()) || format!("{} {}", s.op, s.shape).contains(o.as_str()))).collect();
    for spec in selected {
        let cand = candidate.as_ref().filter(|c| args.self_test || spec.uses.iter().any(|&op| c.is_replaced(op)));
        let row = bench_one(&dev, &timer, spec, &baseline, cand, &mut rng, reps, warmup, copy, report.gemm_peak_tflops, &peer, args)
            .unwrap_or_else(|e| error_row(spec, cand.is_some(), e.to_string()));
        print_row(&row);
        report.rows.push(row);
    }
    report.summary = summarize(&report.rows, report.summary.replaced_ops.clone());
    print_summary(&report);
    Ok(report)
}

#[allow(clippy::too_many_arguments)]
fn bench_one(
    dev: &Device,
    timer: &Timer,
    spec: &BenchSpec,
    baseline: &OpTable,
    cand: Option<&OpTable>,
    rng: &mut Rng,
    reps: usize,
    warmup: usize,
    copy_gbs: f64,
    gemm_tflops: Option<f64>,
    peer: &[PeerRow],
    args: &Args,
) -> Result<Row> {
    let mut w = (spec.make)(dev, rng)?;
    let tables: Vec<&OpTable> = std::iter::once(baseline).chain(cand).collect();
    for t in &tables {
        for _ in 0..warmup {
            w.prepare()?;
            w.run(t)?;
        }
    }
    dev.synchronize()?;
    let audit = rng.range(0, reps as i64) as usize;
    let mut times = vec![Vec::with_capacity(reps); tables.len()];
    let mut errors = vec![None; tables.len()];
    for rep in 0..reps {
        // Alternate which table goes first: with a fixed order the self-test showed the
        // second table ~0.2 µs slower on 5 µs kernels.
        let order: Vec<usize> = if rep % 2 == 0 { (0..tables.len()).collect() } else { (0..tables.len()).rev().collect() };
        for i in order {
            let t = tables[i];
            times[i].push(timer.time_once(w.as_mut(), t)?);
            if rep == audit {
                if let Err(e) = w.check() {
                    errors[i] = Some(format!("{} table failed its audit (timed call {rep}): {e}", t.name()));
                }
            }
        }
    }
    if args.criterion {
        criterion_pass(timer, spec, w.as_mut(), &tables);
    }
    let base = stats(std::mem::take(&mut times[0]));
    let cand_stats = (tables.len() > 1).then(|| stats(std::mem::take(&mut times[1])));
    let (bytes, flops) = (w.bytes(), w.flops());
    let secs = base.median * 1e-6;
    let floor = (bytes as f64 / (copy_gbs * 1e9)).max(gemm_tflops.map(|p| flops as f64 / (p * 1e12)).unwrap_or(0.0));
    let p = peer.iter().find(|p| p.op == spec.op && p.shape == spec.shape && p.dtype == spec.dtype.name());
    let best_torch = p.and_then(|p| match (p.eager_us, p.compile_us) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    });
    Ok(Row {
        op: spec.op.clone(),
        level: spec.level.into(),
        shape: spec.shape.clone(),
        dtype: spec.dtype.name().into(),
        bytes,
        flops,
        baseline_us: base.median,
        candidate_us: cand_stats.as_ref().map(|s| s.median),
        speedup: cand_stats.as_ref().map(|s| base.median / s.median),
        gbs: bytes as f64 / secs / 1e9,
        tflops: (flops > 0).then(|| flops as f64 / secs / 1e12),
        pct_roofline: 100.0 * floor / secs,
        correct: errors.iter().all(Option::is_none),
        replaced: cand.is_some(),
        baseline: base.clone(),
        candidate: cand_stats,
        error: errors.into_iter().flatten().reduce(|a, b| format!("{a}; {b}")),
        torch_eager_us: p.and_then(|p| p.eager_us),
        torch_compile_us: p.and_then(|p| p.compile_us),
        vs_torch: best_torch.map(|t| t / base.median),
    })
}

fn error_row(spec: &BenchSpec, replaced: bool, e: String) -> Row {
    let nan = Stats { median: f64::NAN, p10: f64::NAN, p90: f64::NAN, reps: 0 };
    Row {
        op: spec.op.clone(),
        level: spec.level.into(),
        shape: spec.shape.clone(),
        dtype: spec.dtype.name().into(),
        bytes: 0,
        flops: 0,
        baseline_us: f64::NAN,
        candidate_us: None,
        speedup: None,
        gbs: 0.0,
        tflops: None,
        pct_roofline: 0.0,
        correct: false,
        replaced,
        baseline: nan,
        candidate: None,
        error: Some(e),
        torch_eager_us: None,
        torch_compile_us: None,
        vs_torch: None,
    }
}

/// Criterion statistics over the same workload (interactive use, `--criterion`): each
/// iteration is one event-timed call with the same untimed prepare + L2 eviction.
fn criterion_pass(timer: &Timer, spec: &BenchSpec, w: &mut dyn Workload, tables: &[&OpTable]) {
    let mut c = criterion::Criterion::default()
        .warm_up_time(Duration::from_millis(200))
        .measurement_time(Duration::from_secs(1))
        .sample_size(20)
        .without_plots();
    let mut group = c.benchmark_group(format!("{}/{}/{}", spec.op, spec.shape, spec.dtype));
    for t in tables {
        group.bench_function(t.name().to_string(), |b| {
            b.iter_custom(|iters| {
                let mut total = 0.0;
                for _ in 0..iters {
                    total += timer.time_once(w, t).unwrap_or(f64::NAN);
                }
                Duration::from_secs_f64(total * 1e-6)
            })
        });
    }
    group.finish();
}

#[derive(Clone, Debug, Deserialize)]
struct PeerRow {
    op: String,
    shape: String,
    dtype: String,
    eager_us: Option<f64>,
    compile_us: Option<f64>,
}

fn load_peer(path: Option<&std::path::Path>) -> Vec<PeerRow> {
    #[derive(Deserialize)]
    struct PeerFile {
        rows: Vec<PeerRow>,
    }
    let Some(path) = path else { return Vec::new() };
    match std::fs::read_to_string(path).map_err(|e| e.to_string()).and_then(|s| serde_json::from_str::<PeerFile>(&s).map_err(|e| e.to_string())) {
        Ok(f) => f.rows,
        Err(e) => {
            eprintln!("warning: peer file {}: {e} (no PyTorch column)", path.display());
            Vec::new()
        }
    }
}

pub fn summarize(rows: &[Row], replaced_ops: Vec<String>) -> Summary {
    let cand: Vec<&Row> = rows.iter().filter(|r| r.speedup.is_some()).collect();
    if cand.is_empty() {
        return Summary { geomean_speedup: None, fast_p: None, replaced_ops };
    }
    let ln: f64 = cand.iter().map(|r| r.speedup.unwrap_or(1.0).ln()).sum::<f64>() / cand.len() as f64;
    let fast = |p: f64| cand.iter().filter(|r| r.correct && r.speedup.unwrap_or(0.0) > p).count() as f64 / cand.len() as f64;
    let mut fp = std::collections::BTreeMap::new();
    fp.insert("0".into(), cand.iter().filter(|r| r.correct).count() as f64 / cand.len() as f64);
    for (k, p) in [("1", 1.0), ("1.2", 1.2), ("2", 2.0)] {
        fp.insert(k.into(), fast(p));
    }
    Summary { geomean_speedup: Some(ln.exp()), fast_p: Some(fp), replaced_ops }
}

fn fmt_opt(v: Option<f64>, prec: usize) -> String {
    v.map(|x| format!("{x:.prec$}")).unwrap_or_else(|| "-".into())
}

fn print_row(r: &Row) {
    println!(
        "{:<20} {:<3} {:<26} {:<5} {:>10} {:>10} {:>7} {:>8.0} {:>6.1}% {:>10} {:>7} {}",
        r.op,
        r.level,
        r.shape,
        r.dtype,
        format!("{:.2}", r.baseline_us),
        fmt_opt(r.candidate_us, 2),
        r.speedup.map(|s| format!("{s:.2}x")).unwrap_or_else(|| "-".into()),
        r.gbs,
        r.pct_roofline,
        fmt_opt(r.torch_eager_us.zip(r.torch_compile_us).map(|(a, b)| a.min(b)).or(r.torch_eager_us).or(r.torch_compile_us), 2),
        r.vs_torch.map(|s| format!("{s:.2}x")).unwrap_or_else(|| "-".into()),
        if r.correct { String::new() } else { format!("INCORRECT: {}", r.error.clone().unwrap_or_default()) }
            + &r.tflops.map(|t| format!(" {t:.1} TFLOP/s")).unwrap_or_default()
    );
}

fn print_summary(report: &Report) {
    println!(
        "{:<20} {:<3} {:<26} {:<5} {:>10} {:>10} {:>7} {:>8} {:>7} {:>10} {:>7}",
        "op", "lvl", "shape", "dtype", "base µs", "cand µs", "speedup", "GB/s", "%roof", "torch µs", "vs torch"
    );
    match (&report.summary.geomean_speedup, &report.summary.fast_p) {
        (Some(g), Some(fp)) => println!(
            "geomean speedup {g:.3}x over {} candidate rows; fast_0 {:.2} fast_1 {:.2} fast_1.2 {:.2} fast_2 {:.2}; replaced: {}",
            report.rows.iter().filter(|r| r.speedup.is_some()).count(),
            fp["0"],
            fp["1"],
            fp["1.2"],
            fp["2"],
            report.summary.replaced_ops.join(", ")
        ),
        _ => println!("no candidate kernels: baseline times only"),
    }
    let bad = report.rows.iter().filter(|r| !r.correct).count();
    if bad > 0 {
        println!("{bad} rows INCORRECT (see above)");
    }
}
