//! Runs cases × devices × backends: prepare (untimed), check the output against a
//! reference, measure, and record. A failing case becomes an error row; the run goes on.

use std::io::Write;
use std::path::PathBuf;

use crate::backend::{Backend, PconvImpl, Selection, Settings};
use crate::count::{Convention, CountOptions, count_net};
use crate::device::DeviceSpec;
use crate::error::{Error, Result};
use crate::measure::{Measurement, SamplerConfig, calibrate_overhead, measure, summarize};
use crate::meta;
use crate::model::Model;
use crate::record::{Record, Status};
use crate::reference::{compare, run_op_stack};
use crate::results::{ResultsWriter, prepare_dir};
use crate::spec::{Dtype, Layer, Net, OpCase, OpSweep};
use crate::zoo;

/// Relative tolerance (max abs error / max |reference|) for f32 outputs.
pub const F32_TOLERANCE: f64 = 1e-4;

/// What to measure.
#[derive(Debug, Clone, PartialEq)]
pub enum BenchTarget {
    /// Operator stacks.
    Ops(OpSweep),
    /// Zoo networks by name.
    Nets(Vec<String>),
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
}

/// The rows of a finished run and where they were written.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Every row, in order.
    pub records: Vec<Record>,
    /// The run's folder.
    pub dir: PathBuf,
}

struct Case {
    id: String,
    kind: String,
    name: String,
    net: Net,
    op: Option<OpCase>,
    resolution: Option<usize>,
}

fn cases(config: &BenchConfig) -> Result<Vec<Case>> {
    match &config.target {
        BenchTarget::Ops(sweep) => sweep
            .expand()?
            .into_iter()
            .map(|op| {
                Ok(Case {
                    id: op.id(),
                    kind: op.kind.to_string(),
                    name: op.kind.to_string(),
                    net: op.to_net()?,
                    op: Some(op),
                    resolution: None,
                })
            })
            .collect(),
        BenchTarget::Nets(names) => {
            let mut out = Vec::new();
            for n in names {
                let list: Vec<&str> = if n == "all" {
                    zoo::NAMES.to_vec()
                } else {
                    vec![zoo::check_name(n)?]
                };
                for name in list {
                    out.push(Case {
                        id: format!("{name}-{}", config.resolution),
                        kind: "net".into(),
                        name: name.into(),
                        net: zoo::build(name, config.resolution)?,
                        op: None,
                        resolution: Some(config.resolution),
                    });
                }
            }
            Ok(out)
        }
    }
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
    if config.dtype != Dtype::F32 {
        return Err(Error::flag(
            "--dtype",
            format!(
                "{}: the backends of this version run f32 only",
                config.dtype
            ),
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
        return Err(Error::flag(
            "--backend",
            format!(
                "no selected backend can run on the selected device(s): {}",
                reasons.join("; ")
            ),
        ));
    }
    Ok(plan)
}

/// A reference output for `model` when checking `backend`: the f64 direct convolution for
/// operator stacks, the other pure-Rust backend for networks.
fn reference(
    case: &Case,
    model: &Model,
    backend: &str,
    device: &DeviceSpec,
    settings: &Settings,
) -> Result<(Vec<f64>, String)> {
    if case.op.is_some() {
        return Ok((run_op_stack(model)?, "f64 direct convolution".into()));
    }
    let other = if backend == "tract" {
        "candle"
    } else {
        "tract"
    };
    let mut p = crate::backend::by_name(other)?.prepare(model, device, settings)?;
    p.run()?;
    p.sync()?;
    Ok((
        p.output()?.into_iter().map(f64::from).collect(),
        other.into(),
    ))
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
    max_abs_err: &mut Option<f64>,
) -> Result<Checked> {
    let mut prepared = backend.prepare(model, device, settings)?;
    prepared.run()?;
    prepared.sync()?;
    let got = prepared.output()?;
    let (want, reference) = reference(case, model, backend.name(), device, settings)?;
    let (abs, rel) = compare(&got, &want).ok_or_else(|| Error::Backend {
        backend: backend.name().into(),
        message: format!(
            "output has {} values, the {reference} reference {}",
            got.len(),
            want.len()
        ),
    })?;
    *max_abs_err = Some(abs);
    if rel.is_nan() || rel > F32_TOLERANCE {
        return Err(Error::Mismatch {
            reference,
            max_abs_err: abs,
            relative: rel,
            tolerance: F32_TOLERANCE,
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
    let meta = meta::collect(&run_id, &started, versions, overhead_ns);
    let mut writer = ResultsWriter::create(&dir, &meta)?;
    let total: usize = plan.iter().map(|(_, b)| b.len()).sum::<usize>() * cases.len();
    let mut records = Vec::new();
    let mut index = 0;
    for (device, backends) in plan {
        let (paper_batch, paper_threads) = device.paper_protocol();
        let batch = config.batch.unwrap_or(paper_batch);
        let settings = Settings {
            threads: config.threads.unwrap_or(paper_threads),
            pconv_impl: config.pconv_impl,
        };
        for case in cases {
            let opts = CountOptions {
                batch,
                dtype: config.dtype,
                fuse_bn: config.fuse_bn,
                convention: config.convention,
            };
            let counts = count_net(&case.net, &opts, false);
            let model = Model::new(&case.net, batch, config.seed, config.fuse_bn);
            for backend in backends {
                index += 1;
                let mut record = Record {
                    run_id: run_id.clone(),
                    timestamp: String::new(),
                    host: host.clone(),
                    device: device.to_string(),
                    device_model: meta.cpu_model.clone(),
                    arch: meta.arch.clone(),
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
                };
                let mut err = None;
                let result = check_and_time(
                    case,
                    &model,
                    *backend,
                    device,
                    &settings,
                    &config.sampler,
                    &mut err,
                );
                record.max_abs_err = err;
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
                if !config.quiet {
                    crate::output::progress::line(log, index, total, &record);
                }
                records.push(record);
            }
        }
    }
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
    record.max_abs_err = Some(checked.max_abs_err);
    record.reference = checked.reference.clone();
    record.detail = checked.detail.clone();
    if has_pconv {
        record.pconv_impl = checked.pconv_impl.to_string();
    }
}
