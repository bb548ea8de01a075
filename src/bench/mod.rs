//! Runs cases × devices × backends: prepare (untimed), check the output against a
//! reference, measure, and record. A failing case becomes an error row; the run goes on.

mod check;

use check::{ReferenceCache, Scratch, check_and_time, fill};

use std::io::Write;
use std::path::PathBuf;

use crate::backend::{Backend, PconvImpl, Selection, Settings};
use crate::cases::{Case, cases};
use crate::count::{Convention, CountOptions, count_net};
use crate::device::DeviceSpec;
use crate::error::{Error, Result};
use crate::measure::{SamplerConfig, calibrate_overhead};
use crate::meta;
use crate::model::Model;
use crate::output::progress::Progress;
use crate::record::{Record, Status};
use crate::results::{DirLock, ResultsWriter, Sink, prepare_dir, row_key};
use crate::spec::{Dtype, Layer, OpSweep};

pub use check::{F32_TOLERANCE, tolerance};

/// What to measure.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BenchTarget {
    /// Operator stacks.
    Ops(OpSweep),
    /// Zoo networks by name.
    Nets(Vec<String>),
    /// The device's ceilings: dense GEMM on one and on all threads, a streaming pass.
    Peak,
    /// Cases expanded from a suite file.
    Cases(Vec<Case>),
}

/// Everything `op` and `net` need.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchConfig {
    /// Cases.
    pub target: BenchTarget,
    /// Network input resolution.
    pub resolution: usize,
    /// Devices.
    pub devices: Vec<DeviceSpec>,
    /// Backends.
    pub backends: Selection,
    /// Batch (default: the device's paper protocol).
    pub batch: Option<usize>,
    /// Threads (default: the device's paper protocol).
    pub threads: Option<usize>,
    /// Element type.
    pub dtype: Dtype,
    /// Fold BN.
    pub fuse_bn: bool,
    /// FLOPs convention of the rows.
    pub convention: Convention,
    /// PConv forward for candle.
    pub pconv_impl: PconvImpl,
    /// When to stop sampling.
    pub sampler: SamplerConfig,
    /// Seed of weights, inputs and the bootstrap.
    pub seed: u64,
    /// Output folder (default `reports/<UTC timestamp>-<host>/`).
    pub out: Option<PathBuf>,
    /// No per-case lines on stderr.
    pub quiet: bool,
    /// A progress bar on stderr (when it is a terminal).
    pub progress: bool,
    /// Complete the run folder `out` instead of starting a new one: cases already `ok`
    /// there are kept and skipped, failed ones rerun.
    pub resume: bool,
    /// Where named devices are defined, and whether to build binaries for them.
    pub fleet: crate::fleet::FleetOptions,
}

impl BenchConfig {
    /// `target` with the defaults of the command line: this host's CPU, every available
    /// backend, the paper's protocol, f32, BN folded, the built-in sampler, seed 0, the
    /// default folder, quiet.
    pub fn new(target: BenchTarget) -> Self {
        BenchConfig {
            target,
            resolution: 224,
            devices: vec![DeviceSpec::Cpu],
            backends: Selection::All,
            batch: None,
            threads: None,
            dtype: Dtype::F32,
            fuse_bn: true,
            convention: Convention::Paper,
            pconv_impl: PconvImpl::SplitCat,
            sampler: SamplerConfig::default(),
            seed: 0,
            out: None,
            quiet: true,
            progress: false,
            resume: false,
            fleet: crate::fleet::FleetOptions::default(),
        }
    }
}

/// The rows of a finished run and where they were written.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Every row, in order.
    pub records: Vec<Record>,
    /// The run's folder.
    pub dir: PathBuf,
}

/// Checks the options that apply to every case, naming the flag at fault.
pub fn validate(config: &BenchConfig) -> Result<()> {
    if let Some(t) = config.threads
        && !(1..=1024).contains(&t)
    {
        return Err(Error::flag("--threads", format!("{t} is outside 1..=1024")));
    }
    if let Some(b) = config.batch
        && !(1..=crate::spec::shape::MAX_BATCH).contains(&b)
    {
        return Err(Error::flag(
            "--batch",
            format!("{b} is outside 1..={}", crate::spec::shape::MAX_BATCH),
        ));
    }
    if config.resume {
        let dir = config.out.as_deref().unwrap_or(std::path::Path::new("."));
        if !dir.join("results.csv").is_file() {
            return Err(Error::flag(
                "--resume",
                format!("{} has no results.csv to resume", dir.display()),
            ));
        }
    }
    if let Some(t) = config.sampler.target_ci
        && !(t > 0.0 && t < 1.0)
    {
        return Err(Error::flag(
            "--target-ci",
            format!("{t} is outside (0, 1); e.g. 0.02 for ±2%"),
        ));
    }
    if config.sampler.runs == Some(0) {
        return Err(Error::flag("--runs", "must be ≥ 1"));
    }
    if config.sampler.min_time > config.sampler.max_time {
        return Err(Error::flag(
            "--min-time",
            format!(
                "{:?} is longer than --max-time {:?}",
                config.sampler.min_time, config.sampler.max_time
            ),
        ));
    }
    Ok(())
}

/// Devices, each with the backends that will run on it.
pub type Plan<'a> = Vec<(DeviceSpec, Vec<&'a dyn Backend>)>;

/// The backends that can run on each device; prints one line per unavailable one.
pub fn plan(config: &BenchConfig, log: &mut dyn Write) -> Result<Plan<'static>> {
    let mut plan = Vec::new();
    let mut reasons = Vec::new();
    for device in &config.devices {
        let mut usable = Vec::new();
        for backend in config.backends.backends() {
            if !backend.supports(config.dtype) {
                let why = format!("computes in f32 only, not {}", config.dtype);
                writeln!(log, "{} skipped on {device}: {why}", backend.name()).ok();
                reasons.push(format!("{} {why}", backend.name()));
                continue;
            }
            match backend.probe(device) {
                Ok(()) => usable.push(backend),
                Err(why) => {
                    writeln!(log, "{} unavailable on {device}: {why}", backend.name()).ok();
                    reasons.push(format!("{} on {device}: {why}", backend.name()));
                }
            }
        }
        plan.push((device.clone(), usable));
    }
    if plan.iter().all(|(_, b)| b.is_empty()) {
        let flag = if config.dtype == Dtype::F32 {
            "--backend"
        } else {
            "--dtype"
        };
        return Err(Error::flag(
            flag,
            format!(
                "no selected backend can run on the selected device(s): {}",
                reasons.join("; ")
            ),
        ));
    }
    Ok(plan)
}

fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// Runs every case on the backends [`plan`] finds; rows are appended to the run's files
/// as they finish and printed to `log` (unless quiet). Errors in a case become rows;
/// only setup errors return `Err`.
pub fn run(config: &BenchConfig, log: &mut dyn Write) -> Result<Outcome> {
    validate(config)?;
    let places = crate::fleet::place(config)?;
    if places
        .iter()
        .any(|p| matches!(p, crate::fleet::Place::Remote(_)))
    {
        return crate::fleet::run(config, &places, log);
    }
    let cases = cases(config)?;
    let plan = plan(config, log)?;
    run_cases(config, &cases, &plan, log)
}

/// [`run`] on an explicit plan (devices and backends), e.g. one with a backend of the
/// caller's.
pub fn run_on(config: &BenchConfig, plan: &Plan<'_>, log: &mut dyn Write) -> Result<Outcome> {
    validate(config)?;
    run_cases(config, &cases(config)?, plan, log)
}

/// A new run's id: its start time, host and process.
pub fn new_run_id(started: &str) -> String {
    format!(
        "{}-{}-{}",
        stamp(started),
        meta::host_name(),
        std::process::id()
    )
}

/// `started` with only its letters and digits: `20261126T061000Z`.
pub fn stamp(started: &str) -> String {
    started
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect()
}

/// The run folder of `config`: `--out`, or `reports/<UTC timestamp>-<host>/`.
pub fn run_dir(config: &BenchConfig, started: &str) -> PathBuf {
    config.out.clone().unwrap_or_else(|| {
        PathBuf::from("reports").join(format!("{}-{}", stamp(started), meta::host_name()))
    })
}

/// The backend name → version pairs of a plan, each once.
pub fn plan_versions(plan: &Plan<'_>) -> Vec<(String, String)> {
    plan.iter()
        .flat_map(|(_, b)| b.iter().map(|b| (b.name().to_string(), b.version())))
        .fold(Vec::new(), |mut acc: Vec<(String, String)>, v| {
            if !acc.contains(&v) {
                acc.push(v);
            }
            acc
        })
}

/// Runs `cases` on `plan` into the folder `dir` (created, locked, and resumed when the
/// configuration says so).
pub(crate) fn run_local(
    config: &BenchConfig,
    cases: &[Case],
    plan: &Plan<'_>,
    dir: &std::path::Path,
    log: &mut dyn Write,
) -> Result<Vec<Record>> {
    let started = now();
    let run_id = new_run_id(&started);
    prepare_dir(dir)?;
    let flag = if config.resume { "--resume" } else { "--out" };
    let _lock = DirLock::take(dir, flag)?;
    let overhead_ns = calibrate_overhead();
    let (mut writer, done, run_id) = if config.resume {
        // Resumed rows keep the run's id: the folder stays one run, each case once.
        let (writer, kept) = ResultsWriter::resume(dir)?;
        let id = kept.first().map_or(run_id, |r| r.run_id.clone());
        (writer, kept, id)
    } else {
        let meta = meta::collect(&run_id, &started, plan_versions(plan), overhead_ns);
        (ResultsWriter::create(dir, &meta)?, Vec::new(), run_id)
    };
    let context = RunContext {
        run_id,
        overhead_ns,
        done,
    };
    measure_cases(config, cases, plan, &context, &mut writer, log)
}

fn run_cases(
    config: &BenchConfig,
    cases: &[Case],
    plan: &Plan<'_>,
    log: &mut dyn Write,
) -> Result<Outcome> {
    let dir = run_dir(config, &now());
    let records = run_local(config, cases, plan, &dir, log)?;
    Ok(Outcome { records, dir })
}

/// What every row of a run shares.
pub struct RunContext {
    /// The run's id.
    pub run_id: String,
    /// The sampling loop's calibrated overhead, ns.
    pub overhead_ns: f64,
    /// Rows already ok (a resumed run): kept, not rerun.
    pub done: Vec<Record>,
}

/// Checks and times every case on every backend of `plan`, handing each row to `sink`
/// as it finishes (and printing it to `log` unless quiet). A failing case is an error
/// row; only a sink that cannot write stops the run.
pub fn measure_cases(
    config: &BenchConfig,
    cases: &[Case],
    plan: &Plan<'_>,
    context: &RunContext,
    sink: &mut dyn Sink,
    log: &mut dyn Write,
) -> Result<Vec<Record>> {
    let RunContext {
        run_id,
        overhead_ns,
        done,
    } = context;
    let overhead_ns = *overhead_ns;
    let host = meta::host_name();
    let device_model = meta::cpu_model();
    let total: usize = plan.iter().map(|(_, b)| b.len()).sum::<usize>() * cases.len();
    let mut bar = Progress::new(total, config.progress && !config.quiet);
    let mut records = Vec::new();
    let mut index = 0;
    for (device, backends) in plan {
        let (paper_batch, paper_threads) = device.paper_protocol();
        let default_batch = config.batch.unwrap_or(paper_batch);
        let default_settings = Settings {
            threads: config.threads.unwrap_or(paper_threads),
            pconv_impl: config.pconv_impl,
            dtype: config.dtype,
        };
        for case in cases {
            let settings = Settings {
                threads: case.threads.unwrap_or(default_settings.threads),
                ..default_settings
            };
            let batch = case.batch.unwrap_or(default_batch);
            let model = Model::new(&case.net, batch, config.seed, config.fuse_bn);
            let mut cache = ReferenceCache::new();
            for backend in backends {
                index += 1;
                let key = (
                    case.id.clone(),
                    device.to_string(),
                    backend.name().to_string(),
                    config.dtype.to_string(),
                    batch,
                    settings.threads,
                );
                if let Some(kept) = done.iter().find(|r| row_key(r) == key) {
                    bar.skip(
                        log,
                        config.quiet,
                        &format!(
                            "[{index}/{total}] {} · {} · {device}: already ok, kept",
                            case.id,
                            backend.name(),
                        ),
                    );
                    records.push(kept.clone());
                    continue;
                }
                bar.start(&format!("{} · {} · {device}", case.id, backend.name()));
                let mut record = blank_record(
                    config,
                    case,
                    &RowBase {
                        run_id: run_id.clone(),
                        host: host.clone(),
                        device: device.to_string(),
                        device_model: device_model.clone(),
                        arch: std::env::consts::ARCH.to_string(),
                        backend: backend.name().into(),
                        backend_version: backend.version(),
                        batch,
                        threads: settings.threads,
                        overhead_ns,
                    },
                );
                let mut scratch = Scratch {
                    references: &mut cache,
                    max_abs_err: None,
                };
                let result = check_and_time(
                    case,
                    &model,
                    *backend,
                    device,
                    &settings,
                    &config.sampler,
                    &mut scratch,
                );
                record.max_abs_err = scratch.max_abs_err;
                let (samples, output) = match result {
                    Ok(checked) => {
                        let has_pconv = case
                            .net
                            .nodes
                            .iter()
                            .any(|n| matches!(n.layer, Layer::PConv(_)));
                        fill(&mut record, &checked, config.seed, has_pconv);
                        (checked.measurement.samples_ms, Some(checked.output))
                    }
                    Err(e) => {
                        record.status = Status::Error;
                        record.error = e.to_string();
                        (Vec::new(), None)
                    }
                };
                record.timestamp = now();
                sink.append(&record, &samples, output.as_ref())?;
                bar.finished(log, config.quiet, index, total, &record);
                records.push(record);
            }
        }
    }
    bar.done();
    Ok(records)
}

/// What a row needs besides its case: who ran it, where, with what.
pub struct RowBase {
    /// The run's id.
    pub run_id: String,
    /// Host name.
    pub host: String,
    /// Device as named.
    pub device: String,
    /// CPU or GPU model.
    pub device_model: String,
    /// Architecture.
    pub arch: String,
    /// Backend name.
    pub backend: String,
    /// Backend version.
    pub backend_version: String,
    /// Batch.
    pub batch: usize,
    /// Threads.
    pub threads: usize,
    /// The sampling loop's overhead, ns.
    pub overhead_ns: f64,
}

/// The row of `case` before it is measured: counts and parameters filled, status ok,
/// every measured field empty.
pub fn blank_record(config: &BenchConfig, case: &Case, row: &RowBase) -> Record {
    let opts = CountOptions {
        batch: row.batch,
        dtype: config.dtype,
        fuse_bn: config.fuse_bn,
        convention: config.convention,
    };
    let counts = count_net(&case.net, &opts, false);
    Record {
        run_id: row.run_id.clone(),
        timestamp: String::new(),
        host: row.host.clone(),
        device: row.device.clone(),
        device_model: row.device_model.clone(),
        arch: row.arch.clone(),
        emulated: false,
        backend: row.backend.clone(),
        backend_version: row.backend_version.clone(),
        case: case.id.clone(),
        kind: case.kind.clone(),
        name: case.name.clone(),
        shape: case.net.input.to_string(),
        layers: case.op.map(|o| o.layers),
        ratio: case.op.and_then(|o| o.ratio).map(|r| r.as_f64()),
        groups: case.op.map(|o| o.groups),
        kernel: case.op.map(|o| o.kernel),
        stride: case.op.map(|o| o.stride),
        batch: row.batch,
        dtype: config.dtype.to_string(),
        threads: row.threads,
        fused_bn: config.fuse_bn,
        macs: counts.macs,
        flops: counts.flops,
        params: counts.params,
        mem_bytes: counts.mem_bytes,
        warmup_iters: None,
        samples: None,
        iters_per_sample: None,
        median_ms: None,
        mean_ms: None,
        stddev_ms: None,
        ci95_low_ms: None,
        ci95_high_ms: None,
        min_ms: None,
        max_ms: None,
        outliers: None,
        throughput_per_s: None,
        gmacs_per_s: None,
        gflops_per_s: None,
        max_abs_err: None,
        status: Status::Ok,
        error: String::new(),
        convention: config.convention.to_string(),
        resolution: case.resolution,
        pconv_impl: String::new(),
        reference: String::new(),
        detail: String::new(),
        overhead_ns: row.overhead_ns,
        gbytes_per_s: None,
    }
}

#[cfg(test)]
mod tests;
