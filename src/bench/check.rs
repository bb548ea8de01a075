//! Checking one case on one backend before timing it: the reference output (the f64
//! direct convolution for operator stacks, a reference backend for networks), the
//! comparison within the dtype's tolerance, then the measurement.

use crate::backend::{Backend, PconvImpl, Prepared, Settings};
use crate::device::DeviceSpec;
use crate::error::{Error, Result};
use crate::measure::memory::PeakRss;
use crate::measure::{CallTime, Measurement, SamplerConfig, measure_calls, summarize};
use crate::record::{OutputDigest, Record};
use crate::reference::{compare, run_op_stack};
use crate::spec::Dtype;
use crate::target::Case;

use super::flush::Flush;
use super::work::Work;

/// Relative tolerance (max abs error / max |reference|) for f32 outputs.
pub const F32_TOLERANCE: f64 = 1e-4;

/// The largest relative error (max |got − ref| / max |ref|) accepted for `dtype`: f32
/// [`F32_TOLERANCE`]; f16 (10 mantissa bits) 1e-2; bf16 (7 bits) 5e-2.
pub fn tolerance(dtype: Dtype) -> f64 {
    match dtype {
        Dtype::F32 => F32_TOLERANCE,
        Dtype::F16 => 1e-2,
        Dtype::Bf16 => 5e-2,
        // Checked in steps of the output's scale instead (see `int8_tolerance`).
        Dtype::Int8 => 0.0,
    }
}

/// The relative tolerance of a quantized graph (a model file, or a network flopsbench
/// quantized) checked against another runtime's
/// run of it: one computes in integers (ONNX Runtime's QLinearConv), the other may
/// simulate the graph in floats (tract), so a value on a rounding boundary lands one level
/// apart and the difference travels through the network's depth.
pub const QUANTIZED_GRAPH_TOLERANCE: f64 = 5e-2;

/// The name of the int8 reference.
const INT8_REFERENCE: &str = "f64 int8 arithmetic";
/// The name of the f64 reference of operator stacks.
const F64_REFERENCE: &str = "f64 direct convolution";

/// The relative tolerance of an int8 row: [`crate::quant::tolerance_steps`] steps of the
/// output's scale, relative to the reference's largest magnitude.
fn int8_tolerance(work: &Work, want: &[f64]) -> f64 {
    let Some(params) = work.model.as_ref().ok().and_then(|m| m.int8.as_ref()) else {
        return 0.0;
    };
    let scale = params
        .layers
        .last()
        .map_or(params.input.scale, |l| l.output.scale);
    let largest = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    crate::quant::tolerance_steps(params) * f64::from(scale) / largest.max(f64::MIN_POSITIVE)
}

/// Reference outputs already computed, by case id and reference name: the f64 reference
/// of an operator stack (a ten-layer stack costs seconds; every backend of the case is
/// checked against it), and backends' first outputs of a network (see [`prepare_cold`]).
/// The key holds neither settings nor device: a cache serves one round group on one
/// device, whose rows share one [`Settings`] and input per case.
pub(crate) type ReferenceCache = std::collections::HashMap<(String, String), Vec<f64>>;

/// What checking one case on one backend leaves behind, whether it succeeds or not.
pub(crate) struct Scratch<'a> {
    /// The references of this case so far.
    pub(crate) references: &'a mut ReferenceCache,
    /// The backend's largest absolute error, once its output was compared.
    pub(crate) max_abs_err: Option<f64>,
}

/// The backend that checks `backend`'s network outputs: of the registered backends that
/// offer themselves as a reference ([`Backend::reference_preference`]), the preferred one
/// other than `backend` itself.
pub fn reference_for(backend: &str) -> Result<&'static dyn Backend> {
    crate::backend::registry()
        .iter()
        .copied()
        .filter(|b| b.name() != backend)
        .filter_map(|b| b.reference_preference().map(|p| (p, b)))
        .min_by_key(|(p, _)| *p)
        .map(|(_, b)| b)
        .ok_or_else(|| Error::Backend {
            backend: backend.into(),
            message: "no other backend can serve as the reference of its output".into(),
        })
}

/// Whether `work` is a network quantized by flopsbench (QDQ around its convolutions).
fn int8_network(work: &Work) -> bool {
    work.model.as_ref().is_ok_and(|m| m.int8_net.is_some())
}

/// The backend that checks `backend` on `work`: [`reference_for`] where the work has a
/// spec model in floats; for a model file no spec network maps to, or a network at int8,
/// another backend that runs ONNX graphs as given and computes in `dtype` (tract checks
/// ort, ort checks tract) that is available on this host's CPU.
fn checker_for(work: &Work, backend: &str, dtype: Dtype) -> Result<&'static dyn Backend> {
    if work.model.is_ok() && !int8_network(work) {
        return reference_for(backend);
    }
    crate::backend::registry()
        .iter()
        .copied()
        .filter(|b| b.name() != backend && b.runs_files() && b.supports(dtype).is_ok())
        .find(|b| b.probe(&DeviceSpec::Cpu).is_ok())
        .ok_or_else(|| Error::Backend {
            backend: backend.into(),
            message: format!(
                "no other backend that runs ONNX graphs as given at {dtype} is available to check its output (tract and ort check each other)"
            ),
        })
}

/// The f32 model's output for a network checked at int8 (its `rel_err_vs_f32`): the
/// network without its quantization, on [`reference_for`], in f32.
fn f32_network_output(
    case: &Case,
    work: &Work,
    backend: &str,
    settings: &Settings,
    cache: &mut ReferenceCache,
) -> Result<Vec<f64>> {
    let checker = reference_for(backend)?;
    let key = (case.id.clone(), format!("{} f32 model", checker.name()));
    if let Some(values) = cache.get(&key) {
        return Ok(values.clone());
    }
    let mut model = work
        .model
        .as_ref()
        .map_err(|why| Error::Usage(why.clone()))?
        .clone();
    model.int8_net = None;
    let f32_settings = Settings {
        dtype: Dtype::F32,
        ..*settings
    };
    let mut p = checker.prepare(&model, &DeviceSpec::Cpu, &f32_settings)?;
    p.run()?;
    p.sync()?;
    let values: Vec<f64> = p.output()?.into_iter().map(f64::from).collect();
    cache.insert(key, values.clone());
    Ok(values)
}

/// A reference output for `work` when checking `backend`: the f64 direct convolution for
/// operator stacks, [`checker_for`] (in f32, on this host's CPU) for networks.
fn reference(
    case: &Case,
    work: &Work,
    backend: &str,
    settings: &Settings,
    cache: &mut ReferenceCache,
) -> Result<(Vec<f64>, String)> {
    let checker = if case.op.is_some() {
        None
    } else {
        Some(checker_for(work, backend, settings.dtype)?)
    };
    let int8 = checker.is_none() && settings.dtype == Dtype::Int8;
    let name = match checker {
        Some(b) => b.name(),
        None if int8 => INT8_REFERENCE,
        None => F64_REFERENCE,
    };
    let key = (case.id.clone(), name.to_string());
    if let Some(values) = cache.get(&key) {
        return Ok((values.clone(), name.into()));
    }
    let values = match (checker, &work.model) {
        (None, Ok(_)) if int8 => work
            .int8_reference
            .clone()
            .ok_or_else(|| Error::Usage("int8: the case was not quantized".into()))?,
        (None, Ok(model)) => run_op_stack(model)?,
        (None, Err(why)) => return Err(Error::Usage(why.clone())),
        (Some(checker), _) => {
            // A network at int8 is checked against the same QDQ graph; the others
            // against the f32 model.
            let f32_settings = Settings {
                dtype: if int8_network(work) {
                    Dtype::Int8
                } else {
                    Dtype::F32
                },
                ..*settings
            };
            // A model file at f16 that maps to spec layers: its spec network in f32 (the
            // file itself would run in f16 again on a runtime that runs files).
            let float_file = work.file.is_some() && settings.dtype != Dtype::F32;
            let run = || -> Result<Vec<f32>> {
                let mut p = match &work.model {
                    Ok(model) if float_file && !int8_network(work) => {
                        checker.prepare(model, &DeviceSpec::Cpu, &f32_settings)?
                    }
                    _ => work.prepare(checker, &DeviceSpec::Cpu, &f32_settings)?,
                };
                p.run()?;
                p.sync()?;
                p.output()
            };
            run()
                .map_err(|e| Error::Backend {
                    backend: backend.into(),
                    message: format!(
                        "its output cannot be checked: the reference {name} failed: {e}"
                    ),
                })?
                .into_iter()
                .map(f64::from)
                .collect()
        }
    };
    cache.insert(key, values.clone());
    Ok((values, name.into()))
}

pub(crate) struct Checked {
    pub(crate) measurement: Measurement,
    /// Preparation and the first (cold) call, ms.
    prepare_ms: f64,
    cold_ms: f64,
    /// Peak resident memory added while preparing and running the first call, MiB.
    peak_rss_added_mib: Option<f64>,
    max_abs_err: f64,
    reference: String,
    detail: String,
    pconv_impl: PconvImpl,
    /// The checked output's digest.
    pub(crate) output: OutputDigest,
    computed: String,
    rel_err_vs_f32: Option<f64>,
    /// The runtime's optimised graph, to keep in the run folder.
    pub(crate) optimised: Option<Vec<u8>>,
    /// Whether the caches were flushed before each timed call.
    l2_flush: bool,
}

/// A prepared model whose output passed the check: ready to be timed. Preparing and
/// checking is separate from timing so that an engine can prepare every backend of a case
/// first and then sample them round by round.
pub(crate) struct Verified {
    prepared: Box<dyn Prepared>,
    /// Preparation, ms.
    prepare_ms: f64,
    /// The first call after preparation (run and sync), ms.
    cold_ms: f64,
    /// Peak resident memory added by preparation and the cold call, MiB.
    peak_rss_added_mib: Option<f64>,
    max_abs_err: f64,
    reference: String,
    output: OutputDigest,
    rel_err_vs_f32: Option<f64>,
    /// What computed, asked before timing (tch's answer may take a child process).
    computed: String,
    /// What flushes the caches before each timed call (`--l2-flush`), and the backend.
    flush: Option<(Flush, &'static str)>,
    /// Whether the device keeps its own clock (a GPU's CUDA events): the cold call said
    /// its time.
    device_clock: bool,
}

/// A model prepared and run once (the cold call), its output not checked yet.
pub(crate) struct Cold {
    prepared: Box<dyn Prepared>,
    /// Preparation, ms.
    prepare_ms: f64,
    /// The first call after preparation (run and sync), ms.
    cold_ms: f64,
    /// Peak resident memory added by preparation and the cold call, MiB.
    peak_rss_added_mib: Option<f64>,
    output: Vec<f32>,
    /// Whether the cold call said its device time.
    device_clock: bool,
}

/// Prepares `work` on `backend` and makes the first (cold) call (untimed by the sampler).
///
/// A network's f32 output on the host CPU is what [`reference`] would compute with this
/// backend as the checker (same graph and input; the same settings, as the cache serves
/// rows that share them), so it is kept in `references` under the backend's name
/// ([`kept_as_reference`]): a row whose checker is this backend (tract checks candle,
/// candle checks tract) is checked against it instead of preparing and running that
/// backend once more — when that row comes later (in rounds every row of a group is
/// prepared and run before any is checked).
pub(crate) fn prepare_cold(
    case: &Case,
    work: &Work,
    backend: &dyn Backend,
    device: &DeviceSpec,
    settings: &Settings,
    references: &mut ReferenceCache,
) -> Result<Cold> {
    let rss = PeakRss::start();
    let started = std::time::Instant::now();
    let mut prepared = work.prepare(backend, device, settings)?;
    let prepare_ms = started.elapsed().as_secs_f64() * 1e3;
    let cold = std::time::Instant::now();
    prepared.run()?;
    prepared.sync()?;
    let cold_ms = cold.elapsed().as_secs_f64() * 1e3;
    let device_clock = prepared.device_ms().is_some();
    // The timed calls run the same graph on the same buffers as the cold call: the peak
    // so far is the case's (the reference computed later is not).
    let peak_rss_added_mib = rss.map(PeakRss::added_mib);
    let output = prepared.output()?;
    if kept_as_reference(case, device, settings) {
        references
            .entry((case.id.clone(), backend.name().to_string()))
            .or_insert_with(|| output.iter().copied().map(f64::from).collect());
    }
    Ok(Cold {
        prepared,
        prepare_ms,
        cold_ms,
        peak_rss_added_mib,
        output,
        device_clock,
    })
}

/// Whether a backend's first output of `case` is what a reference run of it would give:
/// a network (operator stacks have the f64 reference), in f32, on the host CPU (where and
/// how [`reference`] runs a checker).
pub(crate) fn kept_as_reference(case: &Case, device: &DeviceSpec, settings: &Settings) -> bool {
    case.op.is_none() && settings.dtype == Dtype::F32 && *device == DeviceSpec::Cpu
}

/// Checks a cold model's output against the reference: ready to be timed.
pub(crate) fn check(
    cold: Cold,
    case: &Case,
    work: &Work,
    backend: &str,
    settings: &Settings,
    scratch: &mut Scratch<'_>,
) -> Result<Verified> {
    let got = &cold.output;
    let (want, reference) = reference(case, work, backend, settings, scratch.references)?;
    let (abs, rel) = compare(got, &want).ok_or_else(|| Error::Backend {
        backend: backend.into(),
        message: format!(
            "output has {} values, the {reference} reference {}",
            got.len(),
            want.len()
        ),
    })?;
    scratch.max_abs_err = Some(abs);
    let output = OutputDigest::of(got);
    let quantized_file = work.file.as_ref().is_some_and(|f| f.quantized);
    let tol = match settings.dtype {
        Dtype::Int8 if case.op.is_some() => int8_tolerance(work, &want),
        _ if quantized_file || int8_network(work) => QUANTIZED_GRAPH_TOLERANCE,
        d => tolerance(d),
    };
    if rel.is_nan() || rel > tol {
        return Err(Error::Mismatch {
            reference,
            max_abs_err: abs,
            relative: rel,
            tolerance: tol,
        });
    }
    // Every float reference is the f32 model's; an int8 row's is its own arithmetic's,
    // so its cost against the f32 model is measured apart.
    let rel_err_vs_f32 = if quantized_file {
        // Checked against another runtime's run of the quantized graph: no f32 model here.
        None
    } else if int8_network(work) {
        // What the quantization costs; unknown (not an error: the row passed its check)
        // if the f32 network does not run.
        f32_network_output(case, work, backend, settings, scratch.references)
            .ok()
            .and_then(|f32_out| compare(got, &f32_out))
            .map(|(_, rel)| rel)
    } else if reference == INT8_REFERENCE {
        let model = work
            .model
            .as_ref()
            .map_err(|why| Error::Usage(why.clone()))?;
        let key = (case.id.clone(), F64_REFERENCE.to_string());
        let f32_out = match scratch.references.get(&key) {
            Some(v) => v.clone(),
            None => {
                let v = run_op_stack(model)?;
                scratch.references.insert(key, v.clone());
                v
            }
        };
        compare(got, &f32_out).map(|(_, rel)| rel)
    } else {
        Some(rel)
    };
    let computed = cold.prepared.computed();
    Ok(Verified {
        computed,
        prepared: cold.prepared,
        prepare_ms: cold.prepare_ms,
        cold_ms: cold.cold_ms,
        peak_rss_added_mib: cold.peak_rss_added_mib,
        max_abs_err: abs,
        reference,
        output,
        rel_err_vs_f32,
        flush: None,
        device_clock: cold.device_clock,
    })
}

/// Prepares `work` on `backend` and checks its output against the reference (untimed).
pub(crate) fn prepare_checked(
    case: &Case,
    work: &Work,
    backend: &dyn Backend,
    device: &DeviceSpec,
    settings: &Settings,
    scratch: &mut Scratch<'_>,
) -> Result<Verified> {
    let cold = prepare_cold(case, work, backend, device, settings, scratch.references)?;
    check(cold, case, work, backend.name(), settings, scratch)
}

impl Verified {
    /// Flushes the caches before each timed call from now on (`--l2-flush`), with
    /// `flush`; `backend` names the backend in its errors.
    pub(crate) fn flush_with(&mut self, flush: Flush, backend: &'static str) {
        self.flush = Some((flush, backend));
    }

    /// One timed call: a run followed by a sync. With a flush, the flush and a sync first,
    /// outside the clock; where the device keeps its own clock, the call is clocked here
    /// and the device's time read after the clock stops (so reading it costs the host's
    /// time nothing). Otherwise the sampler's clock runs around the call.
    pub(crate) fn call(&mut self) -> Result<CallTime> {
        if self.flush.is_none() && !self.device_clock {
            self.prepared.run()?;
            return self.prepared.sync().map(|()| CallTime::default());
        }
        if let Some((flush, backend)) = self.flush {
            flush.run(&mut *self.prepared, backend)?;
            self.prepared.sync()?;
        }
        let start = std::time::Instant::now();
        self.prepared.run()?;
        self.prepared.sync()?;
        let host = start.elapsed();
        Ok(CallTime {
            host: Some(host),
            device_ms: self.prepared.device_ms(),
        })
    }
}

/// Times a verified model on its own.
pub(crate) fn time(mut verified: Verified, sampler: &SamplerConfig, seed: u64) -> Result<Checked> {
    let measurement = measure_calls(sampler, seed, &mut || verified.call())?;
    Ok(checked(&verified, measurement))
}

/// A verified model's row data, with its measurement (the model itself stays with the
/// caller: in rounds it is dropped at the group's end, not between the others' samples).
pub(crate) fn checked(verified: &Verified, measurement: Measurement) -> Checked {
    Checked {
        measurement,
        prepare_ms: verified.prepare_ms,
        cold_ms: verified.cold_ms,
        peak_rss_added_mib: verified.peak_rss_added_mib,
        max_abs_err: verified.max_abs_err,
        reference: verified.reference.clone(),
        detail: verified.prepared.detail(),
        pconv_impl: verified.prepared.pconv_impl(),
        output: verified.output.clone(),
        computed: verified.computed.clone(),
        rel_err_vs_f32: verified.rel_err_vs_f32,
        optimised: verified.prepared.optimised_model().map(<[u8]>::to_vec),
        l2_flush: verified.flush.is_some(),
    }
}

pub(crate) fn fill(record: &mut Record, checked: &Checked, seed: u64, has_pconv: bool) {
    fill_timing(record, &checked.measurement, seed);
    record.max_abs_err = Some(checked.max_abs_err);
    record.prepare_ms = Some(checked.prepare_ms);
    record.cold_ms = Some(checked.cold_ms);
    record.peak_rss_added_mib = checked.peak_rss_added_mib;
    record.reference = checked.reference.clone();
    record.detail = checked.detail.clone();
    record.computed = checked.computed.clone();
    record.rel_err_vs_f32 = checked.rel_err_vs_f32;
    record.l2_flush = checked.l2_flush;

    if has_pconv {
        record.pconv_impl = checked.pconv_impl.to_string();
    }
}

/// A row's statistics and rates from its measurement (the rates from its counts).
pub(crate) fn fill_timing(record: &mut Record, m: &Measurement, seed: u64) {
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
    record.ci_target_met = m.ci_target_met;
    if !m.calls_ms.is_empty() {
        let mut calls = m.calls_ms.clone();
        calls.sort_by(f64::total_cmp);
        let rank = |p: f64| Some(crate::measure::stats::nearest_rank(&calls, p));
        record.call_p50_ms = rank(0.50);
        record.call_p90_ms = rank(0.90);
        record.call_p99_ms = rank(0.99);
        record.call_max_ms = calls.last().copied();
    }
    if !m.device_samples_ms.is_empty() {
        let gpu = summarize(&m.device_samples_ms, seed);
        record.gpu_median_ms = Some(gpu.median_ms);
        record.gpu_ci95_low_ms = Some(gpu.ci95_low_ms);
        record.gpu_ci95_high_ms = Some(gpu.ci95_high_ms);
    }
}
