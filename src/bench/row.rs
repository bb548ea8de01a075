//! A row before it is measured: the case's counts and the run's parameters, every
//! measured field empty; the run's id and clock; and what a row is called (its optimised
//! graph's file, its dtype in progress labels) and how long it sampled.

use std::time::Duration;

use crate::bench::Experiment;
use crate::count::CaseCount;
use crate::device::DeviceSpec;
use crate::meta;
use crate::record::{Record, Status};
use crate::target::Case;

/// What a row needs besides its case: who ran it, where, with what.
pub struct RowBase {
    /// The run's id.
    pub run_id: String,
    /// Host name.
    pub host: String,
    /// Device as named.
    pub device: DeviceSpec,
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

/// The current time, RFC 3339 to the second (UTC).
pub fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
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

/// The row of `case` before it is measured: `counts` (none when the case could not be
/// built: its row is an error row) and parameters filled, status ok, every measured field
/// empty.
pub fn blank_record(
    experiment: &Experiment,
    case: &Case,
    row: &RowBase,
    counts: Option<&CaseCount>,
) -> Record {
    let count = |f: fn(&CaseCount) -> u64| counts.map_or(0, f);
    let model = case.model_file();
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
        kind: case.kind,
        name: case.name.clone(),
        shape: counts.map_or(String::new(), |c| c.input_shape.clone()),
        layers: case.op.map(|o| o.layers),
        ratio: case.op.and_then(|o| o.ratio).map(|r| r.as_f64()),
        groups: case.op.map(|o| o.groups),
        kernel: case.op.map(|o| o.kernel),
        stride: case.op.map(|o| o.stride),
        batch: row.batch,
        dtype: experiment.dtype(),
        threads: row.threads,
        fused_bn: experiment.fuse_bn,
        macs: count(|c| c.macs),
        flops: count(|c| c.flops),
        params: count(|c| c.params),
        mem_bytes: count(|c| c.mem_bytes),
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
        convention: experiment.convention,
        resolution: case.resolution,
        pconv_impl: String::new(),
        reference: String::new(),
        detail: String::new(),
        overhead_ns: row.overhead_ns,
        gbytes_per_s: None,
        mem_bytes_graph: None,
        model_path: model.map_or(String::new(), |m| m.path.display().to_string()),
        model_sha256: model.map_or(String::new(), |m| m.sha256.clone()),
        uncounted_nodes: counts
            .and_then(CaseCount::uncounted_text)
            .unwrap_or_default(),
        ci_target_met: None,
        call_p50_ms: None,
        call_p90_ms: None,
        call_p99_ms: None,
        call_max_ms: None,
        cold_ms: None,
        prepare_ms: None,
        peak_rss_added_mib: None,
        interleaved: false,
        slurm_job_id: String::new(),
        partition: String::new(),
        computed: String::new(),
        rel_err_vs_f32: None,
        working_set_bytes: None,
        level: String::new(),
        level_bytes: None,
        // An error or skipped row of a cold-cache run says so too (compare and reports
        // never pair it with a warm one).
        l2_flush: experiment.sampler.l2_flush,
        gpu_median_ms: None,
        gpu_ci95_low_ms: None,
        gpu_ci95_high_ms: None,
    }
}

/// The file name of a row's optimised graph: its key, safe as a file name.
pub fn graph_file_name(r: &Record) -> String {
    let key = format!(
        "{}.{}.{}.{}.b{}.t{}",
        r.case, r.backend, r.device, r.dtype, r.batch, r.threads
    );
    let safe: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{safe}.onnx")
}

/// ` · int8`: a progress label's dtype, when not f32.
pub(super) fn dtype_label(dtype: crate::spec::Dtype) -> String {
    match dtype {
        crate::spec::Dtype::F32 => String::new(),
        d => format!(" · {d}"),
    }
}

/// The time a row spent sampling (zero for an error row).
pub(super) fn sampled(record: &Record) -> Duration {
    match (record.samples, record.iters_per_sample, record.mean_ms) {
        (Some(n), Some(iters), Some(mean)) => {
            Duration::from_secs_f64(n as f64 * iters as f64 * mean / 1e3)
        }
        _ => Duration::ZERO,
    }
}
