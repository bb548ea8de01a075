//! One measured row: the schema of `results.csv` and `results.jsonl` (the column names
//! and order are part of the contract docs/results.md documents; new columns go at the end).
//! Typed fields serialise to the same strings the files have always had.

use serde::{Deserialize, Serialize};

use crate::count::Convention;
use crate::device::DeviceSpec;
use crate::spec::{CaseKind, Dtype};

/// A row's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Checked and timed.
    Ok,
    /// Failed (preparation, run, or output mismatch); `error` says why.
    Error,
    /// Not run (backend unavailable on the device); `error` says why.
    Skipped,
}

/// One measured case on one backend and device. Units are in the names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Identifies the invocation that produced the row.
    pub run_id: String,
    /// When the case finished (RFC 3339, UTC).
    pub timestamp: String,
    /// Host name.
    pub host: String,
    /// Device as given (`cpu`, `cuda:0`, `arm`, a name from devices.toml).
    pub device: DeviceSpec,
    /// CPU or GPU model.
    pub device_model: String,
    /// Architecture of the device.
    pub arch: String,
    /// Whether the device is emulated.
    pub emulated: bool,
    /// Backend name.
    pub backend: String,
    /// Backend library version.
    pub backend_version: String,
    /// Unique case id (every parameter but batch, dtype, threads, which have columns, unless
    /// a suite entry fixes them: `-b8`, `-t2`).
    pub case: String,
    /// Operator kind, `net` or `peak`.
    pub kind: CaseKind,
    /// Network or operator name.
    pub name: String,
    /// Input shape of one item, CxHxW.
    pub shape: String,
    /// Stack depth (operator cases).
    pub layers: Option<usize>,
    /// PConv ratio.
    pub ratio: Option<f64>,
    /// Groups (operator cases).
    pub groups: Option<usize>,
    /// Kernel size (operator cases).
    pub kernel: Option<usize>,
    /// Stride (operator cases).
    pub stride: Option<usize>,
    /// Batch size.
    pub batch: usize,
    /// Element type.
    pub dtype: Dtype,
    /// Threads the backend was given.
    pub threads: usize,
    /// Whether BatchNorm was folded.
    pub fused_bn: bool,
    /// Multiply-accumulates per item.
    pub macs: u64,
    /// FLOPs per item under `convention`.
    pub flops: u64,
    /// Reference parameters.
    pub params: u64,
    /// Memory traffic of one pass of the batch, bytes.
    pub mem_bytes: u64,
    /// Warm-up iterations.
    pub warmup_iters: Option<u64>,
    /// Number of samples.
    pub samples: Option<usize>,
    /// Iterations per sample.
    pub iters_per_sample: Option<u64>,
    /// Median latency per batch.
    pub median_ms: Option<f64>,
    /// Mean latency per batch.
    pub mean_ms: Option<f64>,
    /// Standard deviation.
    pub stddev_ms: Option<f64>,
    /// Bootstrap 95% CI of the median, low.
    pub ci95_low_ms: Option<f64>,
    /// Bootstrap 95% CI of the median, high.
    pub ci95_high_ms: Option<f64>,
    /// Fastest sample.
    pub min_ms: Option<f64>,
    /// Slowest sample.
    pub max_ms: Option<f64>,
    /// Outlying samples (kept).
    pub outliers: Option<usize>,
    /// Items per second at the median.
    pub throughput_per_s: Option<f64>,
    /// Achieved G multiply-accumulates per second.
    pub gmacs_per_s: Option<f64>,
    /// Achieved G FLOPs per second under `convention`.
    pub gflops_per_s: Option<f64>,
    /// Largest absolute difference from the reference output.
    pub max_abs_err: Option<f64>,
    /// ok, error or skipped.
    pub status: Status,
    /// Why it failed or was skipped.
    pub error: String,
    /// FLOPs convention of `flops` and `gflops_per_s`.
    pub convention: Convention,
    /// Network input resolution.
    pub resolution: Option<usize>,
    /// PConv forward that ran (`split-cat` or `slicing`; empty for cases without PConv).
    pub pconv_impl: String,
    /// What the output was checked against (`f64 direct conv`, `tract`).
    pub reference: String,
    /// Backend detail: PConv forward, optimised graph, executor.
    pub detail: String,
    /// The sampling loop's own overhead per iteration (not subtracted).
    pub overhead_ns: f64,
    /// Achieved memory traffic, G bytes per second: analytic `mem_bytes` / median.
    #[serde(default)]
    pub gbytes_per_s: Option<f64>,
    /// Memory traffic of one pass of the batch through the graph the backend ran (every
    /// node's inputs, weights and outputs; differs from `mem_bytes` for PConv, whose
    /// paper formula leaves out the untouched channels the graph copies).
    #[serde(default)]
    pub mem_bytes_graph: Option<u64>,
    /// The model file measured, as given (model-file cases only).
    #[serde(default)]
    pub model_path: String,
    /// SHA-256 of the model file, hex (model-file cases only).
    #[serde(default)]
    pub model_sha256: String,
    /// Nodes no counting rule covers (`2 nodes — Einsum ×2`): the counts are lower bounds.
    #[serde(default)]
    pub uncounted_nodes: String,
    /// Whether the row's 95% CI is within the run's target (empty without a target):
    /// `false` when sampling hit its time cap first.
    #[serde(default)]
    pub ci_target_met: Option<bool>,
    /// Per-call latency percentiles and maximum of the timed calls, per batch (calls of at
    /// least 50 µs, timed one by one; empty for shorter ones).
    #[serde(default)]
    pub call_p50_ms: Option<f64>,
    /// 90th percentile of the timed calls.
    #[serde(default)]
    pub call_p90_ms: Option<f64>,
    /// 99th percentile of the timed calls.
    #[serde(default)]
    pub call_p99_ms: Option<f64>,
    /// Slowest timed call.
    #[serde(default)]
    pub call_max_ms: Option<f64>,
    /// The first call after preparation (lazy initialisation, allocation, autotuning).
    #[serde(default)]
    pub cold_ms: Option<f64>,
    /// Preparation: building or loading the graph, optimising it, creating the session.
    #[serde(default)]
    pub prepare_ms: Option<f64>,
    /// Peak resident memory the case added over what the process held before it
    /// (preparing and the first call; the timed calls reuse its buffers), MiB; empty where
    /// the OS does not say.
    #[serde(default)]
    pub peak_rss_added_mib: Option<f64>,
    /// Whether the row was measured in interleaved rounds with the other rows of its group
    /// (the case's other backends, the other operator kinds of its feature map; sample i
    /// of each taken in round i).
    #[serde(default)]
    pub interleaved: bool,
    /// The Slurm job that ran the row (a Slurm device); empty otherwise.
    #[serde(default)]
    pub slurm_job_id: String,
    /// The Slurm partition the job ran in (a Slurm device); empty otherwise.
    #[serde(default)]
    pub partition: String,
    /// What actually computed: the arithmetic's element type and, where the runtime says,
    /// the operators that ran it (`int8 (QLinearConv ×10; …)`, `f32 (QDQ simulated)`,
    /// `bf16 (ATen ops, …)`); never a silent fallback.
    #[serde(default)]
    pub computed: String,
    /// The output's largest difference from the f32 model's (its f64 reference for
    /// operator stacks, the reference backend's f32 run for networks), relative to the
    /// largest reference magnitude: what the row's precision costs.
    #[serde(default)]
    pub rel_err_vs_f32: Option<f64>,
    /// The bytes one layer touches at once (input + output + weights, at the batch; a
    /// network's largest layer; `peak`'s bandwidth kernels: their buffers).
    #[serde(default)]
    pub working_set_bytes: Option<u64>,
    /// The smallest memory level of the host that holds the working set at the row's
    /// threads (`L1`, `L2`, `L3`, `DRAM`), from the cache sizes the OS reports; empty where
    /// it does not say.
    #[serde(default)]
    pub level: String,
    /// That level's bytes at the row's threads (private caches add up over threads);
    /// empty for DRAM.
    #[serde(default)]
    pub level_bytes: Option<u64>,
    /// Whether the caches were flushed before every timed call (`--l2-flush`: cold-cache
    /// figures; the flush is not timed).
    #[serde(default)]
    pub l2_flush: bool,
    /// The device's own time per batch (CUDA events recorded around each timed call's
    /// work: trtexec's "GPU Compute Time"; `median_ms` is the host's wall time from
    /// launch to synchronisation, its "Latency"), the median over the samples; empty on
    /// CPUs and where the device keeps no clock (tch's GPU rows have one).
    #[serde(default)]
    pub gpu_median_ms: Option<f64>,
    /// Bootstrap 95% CI of that median, low.
    #[serde(default)]
    pub gpu_ci95_low_ms: Option<f64>,
    /// Bootstrap 95% CI of that median, high.
    #[serde(default)]
    pub gpu_ci95_high_ms: Option<f64>,
}

/// The identity of a measured row within a run: the case on one device and backend, with
/// one dtype, batch and thread count. A run folder holds each key once (`--resume` relies
/// on it); `report` deduplicates by the run id and this key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RowKey {
    /// Case id.
    pub case: String,
    /// Device.
    pub device: DeviceSpec,
    /// Backend name.
    pub backend: String,
    /// Element type.
    pub dtype: Dtype,
    /// Batch.
    pub batch: usize,
    /// Threads.
    pub threads: usize,
}

impl RowKey {
    /// The key of `r`.
    pub fn of(r: &Record) -> RowKey {
        RowKey {
            case: r.case.clone(),
            device: r.device.clone(),
            backend: r.backend.clone(),
            dtype: r.dtype,
            batch: r.batch,
            threads: r.threads,
        }
    }
}

impl Record {
    /// The 95% CI's half-width relative to the median, when the row has both.
    pub fn ci_half_width(&self) -> Option<f64> {
        match (self.median_ms, self.ci95_low_ms, self.ci95_high_ms) {
            (Some(m), Some(lo), Some(hi)) if m > 0.0 => Some((hi - lo) / 2.0 / m),
            _ => None,
        }
    }
}

impl Status {
    /// The word written to files: `ok`, `error`, `skipped`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Error => "error",
            Status::Skipped => "skipped",
        }
    }
}

/// A record with its raw samples, as written to `results.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordWithSamples {
    /// The row.
    #[serde(flatten)]
    pub record: Record,
    /// Per-iteration time of every sample, ms.
    pub samples_ms: Vec<f64>,
    /// A digest of the checked output, to compare runs of the same case across hosts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<OutputDigest>,
}

/// What a case's output looked like: enough to tell whether two hosts (x86 and an ARM
/// board, say) computed the same thing, without shipping the tensor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputDigest {
    /// Number of values.
    pub len: usize,
    /// Sum of the values.
    pub sum: f64,
    /// Sum of their absolute values.
    pub sum_abs: f64,
    /// The first values (up to 16).
    pub head: Vec<f32>,
}

impl OutputDigest {
    /// The digest of `values`.
    pub fn of(values: &[f32]) -> Self {
        OutputDigest {
            len: values.len(),
            sum: values.iter().map(|&v| f64::from(v)).sum(),
            sum_abs: values.iter().map(|&v| f64::from(v).abs()).sum(),
            head: values.iter().take(16).copied().collect(),
        }
    }

    /// The largest relative difference from `other` (sums relative to `sum_abs`, head
    /// values relative to the largest head magnitude); infinite when lengths differ or
    /// either output has a NaN or infinity (a NaN never compares as "close").
    pub fn relative_difference(&self, other: &OutputDigest) -> f64 {
        if self.len != other.len || self.head.len() != other.head.len() {
            return f64::INFINITY;
        }
        let finite = |d: &OutputDigest| {
            d.sum.is_finite() && d.sum_abs.is_finite() && d.head.iter().all(|v| v.is_finite())
        };
        if !finite(self) || !finite(other) {
            return f64::INFINITY;
        }
        let scale = self.sum_abs.max(other.sum_abs).max(f64::MIN_POSITIVE);
        let head_scale = self
            .head
            .iter()
            .chain(&other.head)
            .map(|v| f64::from(v.abs()))
            .fold(f64::MIN_POSITIVE, f64::max);
        let head = self
            .head
            .iter()
            .zip(&other.head)
            .map(|(a, b)| f64::from((a - b).abs()) / head_scale)
            .fold(0.0, f64::max);
        ((self.sum - other.sum).abs() / scale)
            .max((self.sum_abs - other.sum_abs).abs() / scale)
            .max(head)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nan_output_never_matches() {
        let good = OutputDigest::of(&[1.0, 2.0, 3.0]);
        let nan = OutputDigest::of(&[1.0, f32::NAN, 3.0]);
        let late_nan = OutputDigest::of(
            &(0..40)
                .map(|i| if i == 30 { f32::NAN } else { i as f32 })
                .collect::<Vec<_>>(),
        );
        let late_good = OutputDigest::of(&(0..40).map(|i| i as f32).collect::<Vec<_>>());
        assert_eq!(good.relative_difference(&good), 0.0);
        assert_eq!(good.relative_difference(&nan), f64::INFINITY);
        assert_eq!(nan.relative_difference(&good), f64::INFINITY);
        assert_eq!(nan.relative_difference(&nan), f64::INFINITY);
        // A NaN past the head still reaches the sums.
        assert_eq!(late_good.relative_difference(&late_nan), f64::INFINITY);
        assert!(OutputDigest::of(&[1.0, 2.0, 3.5]).relative_difference(&good) > 0.0);
    }
}
