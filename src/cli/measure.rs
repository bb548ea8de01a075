//! The measuring flags shared by `op`, `net`, `suite` and `peak` (sampling, devices,
//! backends, output), their value types, and how they become a [`BenchCommand`].

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::app::BenchCommand;
use crate::backend::{PconvImpl, Selection};
use crate::bench::Experiment;
use crate::count::Convention;
use crate::device::DeviceSpec;
use crate::measure::SamplerOverrides;
use crate::output::Format;
use crate::run::RunOptions;
use crate::spec::{Dtype, OpKind};
use crate::target::Target;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(super) enum PconvImplArg {
    /// Split channels, convolve the first part, concatenate (the authors' forward)
    SplitCat,
    /// Write the convolved part into a copy of the input (inference only)
    Slicing,
}

#[derive(Debug, Args)]
pub(super) struct BenchArgs {
    #[arg(long, default_value = "all", value_parser = parse_backends, help = crate::backend::help(), help_heading = "Measurement")]
    pub(super) backend: Selection,

    /// Devices: cpu, gpu (= cuda:0), cuda:N, arm, names from devices.toml (SSH boards,
    /// emulators, Slurm partitions), `all` (every device in it); a comma list runs the same
    /// cases on each (hosts and Slurm jobs in parallel)
    #[arg(long, value_delimiter = ',', default_value = "cpu", value_parser = parse_device, help_heading = "Measurement")]
    pub(super) device: Vec<DeviceSpec>,

    #[command(flatten)]
    pub(super) fleet: FleetArgs,

    #[command(flatten)]
    pub(super) ort: OrtArgs,

    /// Batch size [default: the paper's protocol: 1 on CPU/ARM, 32 on GPU]
    #[arg(long, help_heading = "Measurement")]
    pub(super) batch: Option<usize>,

    /// Threads per backend [default: 1, the paper's protocol]
    #[arg(long, help_heading = "Measurement")]
    pub(super) threads: Option<usize>,

    /// Element types, a comma list that sweeps like --kind: f32, f16, bf16, int8. A
    /// backend that cannot compute in one gives skipped rows saying why; the `computed`
    /// column says what ran. f16: every backend; bf16: tch (outputs checked to 1e-2 /
    /// 5e-2 relative); int8: flopsbench's static QDQ quantization (operator stacks
    /// throughout, checked against the quantized arithmetic in f64; networks' convolutions
    /// each on its own, ort and tract checking each other) on ort (QLinearConv) and tract
    /// (simulated in f32), and peak's GEMM on tch (torch._int_mm). A model file runs in its
    /// own precision [default: f32 and each model file's own, or the suite's `dtype`]
    #[arg(long, value_enum, value_delimiter = ',', help_heading = "Measurement")]
    pub(super) dtype: Vec<DtypeArg>,

    /// Warm-up time before sampling, after the first (checked, cold) call: `1s`, `500ms`,
    /// `0.3` [default: 1s, or the suite's]
    #[arg(long, value_parser = parse_duration, allow_hyphen_values = true, help_heading = "Measurement")]
    pub(super) warmup: Option<Duration>,

    /// Sample at least this long (and at least 10 samples) [default: 2s, or the suite's]
    #[arg(long, value_parser = parse_duration, allow_hyphen_values = true, help_heading = "Measurement")]
    pub(super) min_time: Option<Duration>,

    /// Never sample longer than this [default: 30s, or the suite's]
    #[arg(long, value_parser = parse_duration, allow_hyphen_values = true, help_heading = "Measurement")]
    pub(super) max_time: Option<Duration>,

    /// Take exactly N samples (overrides --min-time)
    #[arg(long, help_heading = "Measurement")]
    pub(super) runs: Option<usize>,

    /// After --min-time, keep sampling (up to --max-time) until the 95% CI of the median is
    /// within this fraction of it, e.g. 0.02 [default: off, or the suite's]
    #[arg(long, value_name = "FRACTION", help_heading = "Measurement")]
    pub(super) target_ci: Option<f64>,

    /// Wall time of the whole run: each case samples at most its share of what is left
    /// (within --min-time and --max-time, at least 10 samples), so time quiet cases leave
    /// goes to the noisy ones (of the same rounds first, then after them) [default: off,
    /// or the suite's]
    #[arg(long, value_parser = parse_duration, allow_hyphen_values = true, help_heading = "Measurement")]
    pub(super) budget: Option<Duration>,

    /// Measure every row on its own, one after the other, instead of in interleaved rounds
    /// (A B C A B C …, the default: a case's backends, and the operator kinds of one
    /// feature map, take their samples in turn)
    #[arg(long, help_heading = "Measurement")]
    pub(super) no_interleave: bool,

    /// Flush the caches before every timed call, outside the timed part, for cold-cache
    /// figures: on a CPU a write of twice its largest cache, on a GPU (tch) a 256 MiB
    /// write over its L2; calls are then timed one by one [default: off (warm caches, as
    /// in the paper), or the suite's]
    #[arg(long, help_heading = "Measurement")]
    pub(super) l2_flush: bool,

    /// Seed of weights, inputs and the bootstrap [default: 0, or the suite's]
    #[arg(long, help_heading = "Measurement")]
    pub(super) seed: Option<u64>,

    /// PConv forward of candle and tch (ONNX backends always run split-cat)
    #[arg(
        long,
        value_enum,
        default_value = "split-cat",
        help_heading = "Measurement"
    )]
    pub(super) pconv_impl: PconvImplArg,

    /// Keep BatchNorm as its own layer (default: folded into the conv)
    #[arg(long, help_heading = "Measurement")]
    pub(super) no_fuse_bn: bool,

    /// How FLOPs (and FLOP/s) are derived from multiply-adds
    #[arg(long, value_enum, default_value = "paper", help_heading = "Output")]
    pub(super) convention: ConventionArg,

    /// Result folder [default: reports/<UTC timestamp>-<host>/]; a folder another run is
    /// writing is refused (lock file)
    #[arg(long, help_heading = "Output")]
    pub(super) out: Option<PathBuf>,

    /// Complete an interrupted run in DIR: cases already ok there are kept, failed and
    /// missing ones run, every case ends up in its files once (on every device of a fleet
    /// run: boards, emulators, Slurm partitions)
    #[arg(
        long,
        value_name = "DIR",
        conflicts_with = "out",
        help_heading = "Output"
    )]
    pub(super) resume: Option<PathBuf>,

    /// Summary format on stdout (the files always get CSV and JSON lines)
    #[arg(long, value_enum, default_value = "table", help_heading = "Output")]
    pub(super) format: FormatArg,

    /// No per-case lines or progress bar on stderr
    #[arg(long, short, help_heading = "Output")]
    pub(super) quiet: bool,
}

/// The ONNX Runtime library (for the commands that load backends).
#[derive(Debug, Args)]
pub(super) struct OrtArgs {
    /// ONNX Runtime library to load [default: ORT_DYLIB_PATH, then .deps/ (scripts/setup-ort),
    /// then the system]
    #[arg(long, value_name = "PATH", help_heading = "Backends")]
    pub(super) ort_lib: Option<PathBuf>,
}

/// Where named devices come from (shared by the measuring commands).
#[derive(Debug, Args)]
pub(super) struct FleetArgs {
    /// The devices file [default: ./devices.toml]; `--devices all` = `--device all`, every
    /// device in it
    #[arg(long, value_name = "FILE|all", help_heading = "Devices")]
    pub(super) devices: Option<PathBuf>,

    /// Build the worker binary for the devices' architecture first (cargo build --release
    /// --target aarch64-unknown-linux-gnu; scripts/setup-arm installs the cross tools)
    #[arg(long, help_heading = "Devices")]
    pub(super) build: bool,
}

impl FleetArgs {
    pub(super) fn options(&self) -> crate::fleet::FleetOptions {
        let all = self.devices.as_deref() == Some(std::path::Path::new("all"));
        crate::fleet::FleetOptions {
            devices_file: self.devices.clone().filter(|_| !all),
            build: self.build,
            all_devices: all,
        }
    }
}

pub(super) fn parse_backends(s: &str) -> std::result::Result<Selection, String> {
    s.parse::<Selection>().map_err(|e| e.to_string())
}

pub(super) fn parse_device(s: &str) -> std::result::Result<DeviceSpec, String> {
    s.parse::<DeviceSpec>().map_err(|e| e.to_string())
}

/// `2s`, `500ms`, `1m` (humantime) or plain seconds (`0.3`).
pub(super) fn parse_duration(s: &str) -> std::result::Result<Duration, String> {
    let t = s.trim();
    if let Ok(secs) = t.parse::<f64>() {
        return if secs.is_finite() && secs >= 0.0 {
            Ok(Duration::from_secs_f64(secs))
        } else {
            Err(format!("'{s}' is not a duration ≥ 0"))
        };
    }
    if t.starts_with('-') {
        return Err(format!("'{s}' is negative; a duration must be ≥ 0"));
    }
    humantime::parse_duration(t)
        .map_err(|e| format!("'{s}' is not a duration ({e}); write 2s, 500ms or 0.3"))
}

impl BenchArgs {
    /// The command measuring `target` (for a suite: the suite file's cases, read when the
    /// command runs) with these flags.
    pub(super) fn into_command(
        self,
        target: Target,
        resolution: usize,
        suite: Option<PathBuf>,
    ) -> BenchCommand {
        let experiment = Experiment {
            target,
            resolution,
            backends: self.backend,
            batch: self.batch,
            threads: self.threads,
            dtypes: self.dtype.iter().map(|d| Dtype::from(*d)).collect(),
            fuse_bn: !self.no_fuse_bn,
            convention: self.convention.into(),
            pconv_impl: match self.pconv_impl {
                PconvImplArg::SplitCat => PconvImpl::SplitCat,
                PconvImplArg::Slicing => PconvImpl::Slicing,
            },
            ..Experiment::new(Target::Peak)
        };
        BenchCommand {
            experiment,
            suite,
            sampler: SamplerOverrides {
                warmup: self.warmup,
                min_time: self.min_time,
                max_time: self.max_time,
                runs: self.runs,
                target_ci: self.target_ci,
                budget: self.budget,
                interleave: self.no_interleave.then_some(false),
                l2_flush: self.l2_flush.then_some(true),
            },
            seed: self.seed,
            run: RunOptions {
                devices: self.device,
                resume: self.resume.is_some(),
                out: self.resume.or(self.out),
                quiet: self.quiet,
                progress: true,
                fleet: self.fleet.options(),
            },
            format: self.format.into(),
            ceilings: None,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(super) enum KindArg {
    Conv,
    Gconv,
    Dwconv,
    Pconv,
    Pwconv,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(super) enum DtypeArg {
    F32,
    F16,
    Bf16,
    Int8,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(super) enum ConventionArg {
    /// FLOPs = multiply-adds, as the paper
    Paper,
    /// FLOPs = 2 × multiply-adds + other elementwise operations
    Strict,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(super) enum FormatArg {
    Table,
    Csv,
    Json,
    Md,
}

impl From<DtypeArg> for Dtype {
    fn from(d: DtypeArg) -> Self {
        match d {
            DtypeArg::F32 => Dtype::F32,
            DtypeArg::F16 => Dtype::F16,
            DtypeArg::Bf16 => Dtype::Bf16,
            DtypeArg::Int8 => Dtype::Int8,
        }
    }
}

impl From<ConventionArg> for Convention {
    fn from(c: ConventionArg) -> Self {
        match c {
            ConventionArg::Paper => Convention::Paper,
            ConventionArg::Strict => Convention::Strict,
        }
    }
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Table => Format::Table,
            FormatArg::Csv => Format::Csv,
            FormatArg::Json => Format::Json,
            FormatArg::Md => Format::Md,
        }
    }
}

impl From<KindArg> for OpKind {
    fn from(k: KindArg) -> Self {
        match k {
            KindArg::Conv => OpKind::Conv,
            KindArg::Gconv => OpKind::Gconv,
            KindArg::Dwconv => OpKind::Dwconv,
            KindArg::Pconv => OpKind::Pconv,
            KindArg::Pwconv => OpKind::Pwconv,
        }
    }
}
