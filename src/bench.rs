//! Runs cases × devices × backends: prepare (untimed), check the output against a
//! reference, measure, and record. A failing case becomes an error row; the run goes on.

use std::io::Write;
use std::path::PathBuf;

use crate::backend::{Backend, PconvImpl, Selection, Settings};
use crate::cases::{Case, cases};
use crate::count::{Convention, CountOptions, count_net};
use crate::device::DeviceSpec;
use crate::error::{Error, Result};
use crate::measure::{Measurement, SamplerConfig, calibrate_overhead, measure, summarize};
use crate::meta;
use crate::model::Model;
use crate::output::progress::Progress;
use crate::record::{Record, Status};
use crate::reference::{compare, run_op_stack};
use crate::results::{DirLock, ResultsWriter, prepare_dir, row_key};
use crate::spec::{Dtype, Layer, OpSweep};

/// Relative tolerance (max abs error / max |reference|) for f32 outputs.
pub const F32_TOLERANCE: f64 = 1e-4;

/// The largest relative error (max |got − ref| / max |ref|) accepted for `dtype`: f32
/// [`F32_TOLERANCE`]; f16 (10 mantissa bits) 1e-2; bf16 (7 bits) 5e-2.
pub fn tolerance(dtype: Dtype) -> f64 {
    match dtype {
        Dtype::F32 => F32_TOLERANCE,
        Dtype::F16 => 1e-2,
        Dtype::Bf16 => 5e-2,
    }
}

/// What to measure.
#[derive(Debug, Clone, PartialEq)]
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

/// Reference outputs already computed for the current case, by reference name (the f64
/// reference of a ten-layer stack costs seconds; every backend is checked against it).
type ReferenceCache = Vec<(String, Vec<f64>)>;

/// What checking one case on one backend leaves behind, whether it succeeds or not.
struct Scratch<'a> {
    /// The references of this case so far.
    references: &'a mut ReferenceCache,
    /// The backend's largest absolute error, once its output was compared.
    max_abs_err: Option<f64>,
}

/// A reference output for `model` when checking `backend`: the f64 direct convolution for
/// operator stacks, the other pure-Rust backend (in f32, on this host's CPU) for networks.
fn reference(
    case: &Case,
    model: &Model,
    backend: &str,
    settings: &Settings,
    cache: &mut ReferenceCache,
) -> Result<(Vec<f64>, String)> {
    let name = if case.op.is_some() {
        "f64 direct convolution"
    } else if backend == "tract" {
        "candle"
    } else {
        "tract"
    };
    if let Some((_, values)) = cache.iter().find(|(n, _)| n == name) {
        return Ok((values.clone(), name.into()));
    }
    let values = if case.op.is_some() {
        run_op_stack(model)?
    } else {
        let f32_settings = Settings {
            dtype: Dtype::F32,
            ..*settings
        };
        let mut p =
            crate::backend::by_name(name)?.prepare(model, &DeviceSpec::Cpu, &f32_settings)?;
        p.run()?;
        p.sync()?;
        p.output()?.into_iter().map(f64::from).collect()
    };
    cache.push((name.into(), values.clone()));
    Ok((values, name.into()))
}

struct Checked {
    measurement: Measurement,
    max_abs_err: f64,
    reference: String,
    detail: String,
    pconv_impl: PconvImpl,
}

fn check_and_time(
    case: &Case,
    model: &Model,
    backend: &dyn Backend,
    device: &DeviceSpec,
    settings: &Settings,
    sampler: &SamplerConfig,
    scratch: &mut Scratch<'_>,
) -> Result<Checked> {
    let mut prepared = backend.prepare(model, device, settings)?;
    prepared.run()?;
    prepared.sync()?;
    let got = prepared.output()?;
    let (want, reference) = reference(case, model, backend.name(), settings, scratch.references)?;
    let (abs, rel) = compare(&got, &want).ok_or_else(|| Error::Backend {
        backend: backend.name().into(),
        message: format!(
            "output has {} values, the {reference} reference {}",
            got.len(),
            want.len()
        ),
    })?;
    scratch.max_abs_err = Some(abs);
    let tol = tolerance(settings.dtype);
    if rel.is_nan() || rel > tol {
        return Err(Error::Mismatch {
            reference,
            max_abs_err: abs,
            relative: rel,
            tolerance: tol,
        });
    }
    let measurement = measure(sampler, &mut || {
        prepared.run()?;
        prepared.sync()
    })?;
    Ok(Checked {
        measurement,
        max_abs_err: abs,
        reference,
        detail: prepared.detail(),
        pconv_impl: prepared.pconv_impl(),
    })
}

fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// Runs every case on the backends [`plan`] finds; rows are appended to the run's files
/// as they finish and printed to `log` (unless quiet). Errors in a case become rows;
/// only setup errors return `Err`.
pub fn run(config: &BenchConfig, log: &mut dyn Write) -> Result<Outcome> {
    validate(config)?;
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

fn run_cases(
    config: &BenchConfig,
    cases: &[Case],
    plan: &Plan<'_>,
    log: &mut dyn Write,
) -> Result<Outcome> {
    let started = now();
    let host = meta::host_name();
    let stamp: String = started
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let run_id = format!("{stamp}-{host}-{}", std::process::id());
    let dir = config
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("reports").join(format!("{stamp}-{host}")));
    prepare_dir(&dir)?;
    let flag = if config.resume { "--resume" } else { "--out" };
    let _lock = DirLock::take(&dir, flag)?;
    let overhead_ns = calibrate_overhead();
    let versions = plan
        .iter()
        .flat_map(|(_, b)| b.iter().map(|b| (b.name().to_string(), b.version())))
        .fold(Vec::new(), |mut acc: Vec<(String, String)>, v| {
            if !acc.contains(&v) {
                acc.push(v);
            }
            acc
        });
    let (mut writer, done, run_id) = if config.resume {
        // Resumed rows keep the run's id: the folder stays one run, each case once.
        let (writer, kept) = ResultsWriter::resume(&dir)?;
        let id = kept.first().map_or(run_id, |r| r.run_id.clone());
        (writer, kept, id)
    } else {
        let meta = meta::collect(&run_id, &started, versions, overhead_ns);
        (ResultsWriter::create(&dir, &meta)?, Vec::new(), run_id)
    };
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
            let opts = CountOptions {
                batch,
                dtype: config.dtype,
                fuse_bn: config.fuse_bn,
                convention: config.convention,
            };
            let counts = count_net(&case.net, &opts, false);
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
                            "[{index}/{total}] {} · {} · {device}: already ok in {}, kept",
                            case.id,
                            backend.name(),
                            dir.display()
                        ),
                    );
                    records.push(kept.clone());
                    continue;
                }
                bar.start(&format!("{} · {} · {device}", case.id, backend.name()));
                let mut record = Record {
                    run_id: run_id.clone(),
                    timestamp: String::new(),
                    host: host.clone(),
                    device: device.to_string(),
                    device_model: device_model.clone(),
                    arch: std::env::consts::ARCH.to_string(),
                    emulated: false,
                    backend: backend.name().into(),
                    backend_version: backend.version(),
                    case: case.id.clone(),
                    kind: case.kind.clone(),
                    name: case.name.clone(),
                    shape: case.net.input.to_string(),
                    layers: case.op.map(|o| o.layers),
                    ratio: case.op.and_then(|o| o.ratio).map(|r| r.as_f64()),
                    groups: case.op.map(|o| o.groups),
                    kernel: case.op.map(|o| o.kernel),
                    stride: case.op.map(|o| o.stride),
                    batch,
                    dtype: config.dtype.to_string(),
                    threads: settings.threads,
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
                    overhead_ns,
                    gbytes_per_s: None,
                };
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
                let samples = match result {
                    Ok(checked) => {
                        let has_pconv = case
                            .net
                            .nodes
                            .iter()
                            .any(|n| matches!(n.layer, Layer::PConv(_)));
                        fill(&mut record, &checked, config.seed, has_pconv);
                        checked.measurement.samples_ms
                    }
                    Err(e) => {
                        record.status = Status::Error;
                        record.error = e.to_string();
                        Vec::new()
                    }
                };
                record.timestamp = now();
                writer.append(&record, &samples)?;
                bar.finished(log, config.quiet, index, total, &record);
                records.push(record);
            }
        }
    }
    bar.done();
    Ok(Outcome {
        records,
        dir: writer.dir().to_path_buf(),
    })
}

fn fill(record: &mut Record, checked: &Checked, seed: u64, has_pconv: bool) {
    let m = &checked.measurement;
    let s = summarize(&m.samples_ms, seed);
    let seconds = s.median_ms / 1e3;
    let items = record.batch as f64;
    record.warmup_iters = Some(m.warmup_iters);
    record.samples = Some(m.samples_ms.len());
    record.iters_per_sample = Some(m.iters_per_sample);
    record.median_ms = Some(s.median_ms);
    record.mean_ms = Some(s.mean_ms);
    record.stddev_ms = Some(s.stddev_ms);
    record.ci95_low_ms = Some(s.ci95_low_ms);
    record.ci95_high_ms = Some(s.ci95_high_ms);
    record.min_ms = Some(s.min_ms);
    record.max_ms = Some(s.max_ms);
    record.outliers = Some(s.outliers);
    record.throughput_per_s = Some(items / seconds);
    record.gmacs_per_s = Some(record.macs as f64 * items / seconds / 1e9);
    record.gflops_per_s = Some(record.flops as f64 * items / seconds / 1e9);
    record.gbytes_per_s = Some(record.mem_bytes as f64 / seconds / 1e9);
    record.max_abs_err = Some(checked.max_abs_err);
    record.reference = checked.reference.clone();
    record.detail = checked.detail.clone();
    if has_pconv {
        record.pconv_impl = checked.pconv_impl.to_string();
    }
}
