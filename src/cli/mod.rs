//! The command line (clap derive): the only module that knows clap. [`parse`] turns the
//! arguments into a plain [`Command`].

use clap::{Args, Parser, Subcommand};

use std::path::PathBuf;

use crate::app::{Command, CountTarget, Invocation, PaperConfig};
use crate::backend::Selection;
use crate::device::DeviceSpec;
use crate::error::{Error, Result};
use crate::export::ExportConfig;
use crate::import::InputShape;
use crate::spec::{OpKind, OpSweep, Ratio, Shape};
use crate::target::Target;

mod compare;
mod count;
mod coverage;
mod help;
mod measure;
mod report;

use count::{CountArgs, check_model_flags};
use measure::{
    BenchArgs, ConventionArg, DtypeArg, FleetArgs, FormatArg, KindArg, OrtArgs, parse_backends,
    parse_device,
};

/// Do fewer FLOPs make a network faster here? Exact analytic counts (MACs, FLOPs,
/// params, memory traffic) of the operators and networks of "Run, Don't Walk: Chasing
/// Higher FLOPS for Faster Neural Networks" (Chen et al., CVPR 2023).
#[derive(Debug, Parser)]
#[command(
    name = "flopsbench",
    version,
    about,
    max_term_width = 100,
    after_help = help::TOP
)]
pub struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Debug, Subcommand)]
enum Commands {
    /// Analytic counts of zoo networks, ONNX model files or operator stacks (no timing)
    #[command(
        after_help = help::COUNT,
        allow_negative_numbers = true,
        mut_arg("nets", |a| a.help("Zoo networks (comma-separated, or `all`; see `flopsbench \
            list`) or ONNX model files (a path ending in .onnx, or an existing file)"))
    )]
    Count(Box<CountArgs>),
    /// Time operator stacks (the paper's Table 1) on real backends
    #[command(
        after_help = help::OP,
        allow_negative_numbers = true
    )]
    Op(Box<OpCommand>),
    /// Time zoo networks or ONNX model files on real backends
    #[command(
        after_help = help::NET,
        allow_negative_numbers = true
    )]
    Net(Box<NetCommand>),
    /// Run a suite file (operators/*.toml): every case on every device and backend
    #[command(
        after_help = help::SUITE,
        allow_negative_numbers = true
    )]
    Suite(Box<SuiteCommand>),
    /// The whole study: Table 1 and Table 3 suites on the device(s), then the report
    #[command(
        long_about = "The whole study in one command: runs the suites paper-table1 (the 16 \
        operator cases) and paper-table3 (the zoo networks), embedded in the binary, on the \
        device(s) and backends given, then `peak` (the roofline's ceilings) and `report` on \
        the three runs; prints where report.html and report.md are, and the Table-1 averages \
        and PConv/DWConv ratios beside the paper's.",
        after_help = help::PAPER
    )]
    Paper(Box<PaperCommand>),
    /// Measure the device's roofs: compute peak and a bandwidth per memory level
    #[command(
        long_about = "Measure the device's roofs on one thread and on all threads. Compute: \
        an FMA-chain micro-kernel for the widest instruction the CPU has at each dtype \
        (AVX-512, AVX2+FMA, NEON; AVX512-BF16, VNNI) and each backend's dense GEMM (a 1×1 \
        convolution, (1024×512)·(512×512), 268 M multiply-adds). Bandwidth: a read-write \
        kernel sized to each cache level the OS reports (L1, L2, L3) and to DRAM, and each \
        backend's streaming pass (ReLU over 64 MiB). Written like any other result (kind = \
        peak; the micro-kernels as backend `kernel`); `report` draws them as the roofline's \
        roofs and places every row under the level its working set fits. A roof is its best \
        sample: the micro-kernels sample a fixed window (the FMA chain 1-2 s, a bandwidth \
        pass 0.5-1 s) whatever --min-time, --max-time and --runs say; those set the \
        backends' rows.",
        after_help = help::PEAK,
        allow_negative_numbers = true,
        // Peak runs one thread and all threads itself, and has no BN or PConv layer.
        mut_arg("threads", |a| a.hide(true)),
        mut_arg("pconv_impl", |a| a.hide(true)),
        mut_arg("no_fuse_bn", |a| a.hide(true)),
        // A roof is the best the device does: warm caches.
        mut_arg("l2_flush", |a| a.hide(true))
    )]
    Peak(Box<PeakCommand>),
    /// Merge result folders/CSVs into tables beside the paper's, SVG charts and one HTML page
    #[command(
        after_help = help::REPORT
    )]
    Report(Box<report::ReportCommand>),
    /// Does FLOPs predict latency here? Three predictors evaluated on measured runs
    #[command(
        after_help = help::PREDICT
    )]
    Predict(Box<report::PredictCommand>),
    /// Did it get faster? Two runs (or two models measured in the same rounds) compared
    #[command(
        after_help = help::COMPARE,
        allow_negative_numbers = true,
        mut_arg("out", |a| a.help("Keep the comparison here (comparison.csv, .json, .md; \
            layer_changes.csv); when measuring, the run's folder too [default: the run's \
            folder when measuring, none otherwise]")),
        mut_arg("format", |a| a.help("Comparison format on stdout")),
        mut_arg("seed", |a| a.help("Seed of the bootstrap (and, when measuring, of weights and inputs)")),
        mut_arg("resume", |a| a.hide(true)),
        mut_arg("no_interleave", |a| a.hide(true))
    )]
    Compare(Box<compare::CompareCommand>),
    /// Write the ONNX model (seeded weights) of one network or operator case
    #[command(
        after_help = help::EXPORT,
        allow_negative_numbers = true,
        mut_arg("nets", |a| a.help("One zoo network (see `flopsbench list`)")),
        mut_arg("kind", |a| a.help("An operator kind instead of a network (one case: one \
            --kind, one --shape, one --ratio)")),
        mut_arg("shape", |a| a.help(help::EXPORT_SHAPE)),
        mut_arg("ratio", |a| a.help(help::EXPORT_RATIO)),
        mut_arg("groups", |a| a.help("GConv groups [default: 16]")),
        mut_arg("kernel", |a| a.help("Kernel size k (pwconv is always 1) [default: 3]")),
        mut_arg("stride", |a| a.help("Stride of every layer [default: 1]"))
    )]
    Export(Box<ExportCommand>),
    /// List operator kinds, zoo networks, backends and devices
    #[command(after_help = help::LIST)]
    List(Box<ListCommand>),
    /// Run one job read on stdin and stream JSON lines (what remote devices run)
    #[command(hide = true)]
    Worker,
    /// Self-check: one case measured N times in a row and in rounds; how many runs' 95% CIs
    /// contain the grand median
    #[command(hide = true)]
    Coverage(Box<coverage::CoverageCommand>),
    /// Run one tch convolution (c_in,h,w,c_out,kernel,stride,padding,groups,batch,threads,
    /// dtype) once: a parent process reads oneDNN's verbose lines from its stdout
    #[command(name = "onednn-probe", hide = true)]
    OnednnProbe {
        /// The convolution
        spec: String,
    },
}

#[derive(Debug, Args)]
struct ExportCommand {
    #[command(flatten)]
    target: TargetArgs,

    /// Input resolution of a network (3×R×R)
    #[arg(long, default_value_t = 224)]
    resolution: usize,

    /// Batch size fixed in the input shape
    #[arg(long, default_value_t = 1)]
    batch: usize,

    /// Seed of the weights (the same seed gives the same model as `op`/`net` runs)
    #[arg(long, default_value_t = 0)]
    seed: u64,

    /// Keep BatchNorm as its own node (default: folded into the conv)
    #[arg(long)]
    no_fuse_bn: bool,

    /// The .onnx file to write
    #[arg(short = 'o', long = "output", value_name = "FILE.onnx")]
    output: PathBuf,

    /// Element type of the graph: f32; f16 (float16 weights, input and output); int8 (the
    /// static QDQ graph flopsbench measures: an operator stack quantized throughout, a
    /// network's convolutions each on its own). bf16 is refused with the reason (ONNX
    /// Conv takes it from opset 22 only)
    #[arg(long, value_enum, default_value = "f32")]
    dtype: DtypeArg,

    /// Write a FasterNet's partial convolutions as full convolutions (`conv`) or depthwise
    /// ones (`dwconv`), the paper's ablation; `@PREFIX` limits it to the layers whose name
    /// starts with PREFIX (`conv@stages.2.blocks.0`)
    #[arg(long, value_name = "KIND[@PREFIX]", value_parser = parse_pconv_as)]
    pconv_as: Option<(bool, String)>,
}

fn parse_pconv_as(s: &str) -> std::result::Result<(bool, String), String> {
    let (kind, prefix) = s.split_once('@').unwrap_or((s, ""));
    match kind {
        "conv" => Ok((false, prefix.into())),
        "dwconv" => Ok((true, prefix.into())),
        _ => Err(format!(
            "'{kind}': conv or dwconv, optionally @LAYER-PREFIX"
        )),
    }
}

#[derive(Debug, Args)]
struct OpCommand {
    /// Operator kinds (comma list sweeps)
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        required = true,
        help_heading = "Operator cases"
    )]
    kind: Vec<KindArg>,

    #[command(flatten)]
    op: OpArgs,

    #[command(flatten)]
    bench: BenchArgs,
}

#[derive(Debug, Args)]
struct NetCommand {
    /// Zoo networks (see `flopsbench list`) or ONNX model files, comma-separated, or `all`
    #[arg(value_delimiter = ',', required = true)]
    nets: Vec<String>,

    /// Input resolution of zoo networks (3×R×R) [default: 224]
    #[arg(long)]
    resolution: Option<usize>,

    /// A model file input's shape, batch included, for symbolic or unknown dimensions
    /// (a symbolic first dimension is the batch, set by --batch); repeatable
    #[arg(long, value_name = "NAME=DIMS", help_heading = "Model files")]
    input_shape: Vec<String>,

    /// After each network's timed row, profile it layer by layer on each backend (a
    /// separate pass; layers.csv beside results.csv)
    #[arg(long, help_heading = "Per-layer profiles")]
    per_layer: bool,

    /// Roll the per-layer profile up by the first N parts of the layer names
    /// (`stages.1.blocks.0`); with --per-layer
    #[arg(long, value_name = "N", help_heading = "Per-layer profiles")]
    depth: Option<usize>,

    /// A `flopsbench peak` result folder: its rows are the device's roofs, so that each
    /// layer gets its roofline bound; with --per-layer
    #[arg(long, value_name = "DIR", help_heading = "Per-layer profiles")]
    ceilings: Option<PathBuf>,

    #[command(flatten)]
    bench: BenchArgs,
}

#[derive(Debug, Args)]
struct SuiteCommand {
    /// The suite file (schema: operators/README.md)
    #[arg(value_name = "FILE")]
    file: PathBuf,

    #[command(flatten)]
    bench: BenchArgs,
}

#[derive(Debug, Args)]
struct PaperCommand {
    #[arg(long, default_value = "all", value_parser = parse_backends, help = crate::backend::help())]
    backend: Selection,

    /// Devices: cpu, gpu (= cuda:0), cuda:N, arm, names from devices.toml, `all`; comma list
    #[arg(long, value_delimiter = ',', default_value = "cpu", value_parser = parse_device)]
    device: Vec<DeviceSpec>,

    #[command(flatten)]
    fleet: FleetArgs,

    #[command(flatten)]
    ort: OrtArgs,

    #[arg(long, help = crate::study::quick_help())]
    quick: bool,

    /// Element types: the whole study at each, a comma list (f32, f16, bf16, int8). The
    /// suites' budgets (35 s for Table 1, 48 s for Table 3) are multiplied by the number
    /// of dtypes and shared among the rows that run, plus preparation and checks; a
    /// backend that cannot compute in a dtype gives skipped rows saying why; int8 covers
    /// Table 1's operator stacks and Table 3's networks (their convolutions) on ort and
    /// tract, and peak's GEMM on ort, tract and tch
    #[arg(long, value_enum, value_delimiter = ',', default_value = "f32")]
    dtype: Vec<DtypeArg>,

    /// Folder for the three runs (table1/, table3/, peak/) and the report [default:
    /// reports/paper-<UTC timestamp>/]
    #[arg(long)]
    out: Option<PathBuf>,

    /// No per-case lines or progress bar on stderr
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Debug, Args)]
struct PeakCommand {
    #[command(flatten)]
    bench: BenchArgs,
}

#[derive(Debug, Args)]
struct OpArgs {
    /// PConv partial ratio r in (0, 1]: `0.25` or `1/4` (comma list sweeps) [default: 1/4]
    #[arg(long, value_delimiter = ',', value_parser = parse_ratio, help_heading = "Operator cases")]
    ratio: Vec<Ratio>,

    /// GConv groups (comma list sweeps) [default: 16]
    #[arg(long, value_delimiter = ',', help_heading = "Operator cases")]
    groups: Vec<usize>,

    /// Kernel size k (comma list sweeps; pwconv is always 1) [default: 3]
    #[arg(long, value_delimiter = ',', help_heading = "Operator cases")]
    kernel: Vec<usize>,

    /// Stride of every layer (comma list sweeps) [default: 1]
    #[arg(long, value_delimiter = ',', help_heading = "Operator cases")]
    stride: Vec<usize>,

    /// Zero padding on each side [default: kernel/2]
    #[arg(long, help_heading = "Operator cases")]
    padding: Option<usize>,

    /// Input shape CxHxW (repeatable or comma list) [default: 96x56x56, 192x28x28,
    /// 384x14x14, 768x7x7]
    #[arg(long, value_delimiter = ',', value_parser = parse_shape, help_heading = "Operator cases")]
    shape: Vec<Shape>,

    /// Output channels of conv, gconv and pwconv layers [default: input channels]
    #[arg(long, help_heading = "Operator cases")]
    out_channels: Option<usize>,

    /// Stacked layers per case [default: 10, as the paper]
    #[arg(long, help_heading = "Operator cases")]
    layers: Option<usize>,
}

/// A zoo network list or operator kinds with their flags (count and export).
#[derive(Debug, Args)]
struct TargetArgs {
    /// Zoo networks, comma-separated, or `all` (see `flopsbench list`)
    #[arg(value_delimiter = ',', conflicts_with = "kind")]
    nets: Vec<String>,

    /// Operator kinds instead of a network (comma list sweeps)
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        help_heading = "Operator cases"
    )]
    kind: Vec<KindArg>,

    #[command(flatten)]
    op: OpArgs,
}

impl TargetArgs {
    /// Networks or an operator sweep; `command` names the subcommand in messages.
    fn target(&self, command: &str) -> Result<CountTarget> {
        if self.kind.is_empty() && self.nets.is_empty() {
            return Err(Error::Usage(format!(
                "{command} what? give a network (e.g. `{command} fasternet-t0`; see `flopsbench list`) or operator kinds with --kind conv,gconv,dwconv,pconv,pwconv"
            )));
        }
        if !self.kind.is_empty() {
            return Ok(CountTarget::Ops(self.op.sweep(&self.kind)));
        }
        if let Some(flag) = self.op.given() {
            return Err(Error::flag(
                flag,
                "describes operator cases; use it with --kind, not with a network name",
            ));
        }
        Ok(CountTarget::Nets(self.nets.clone()))
    }
}

fn parse_ratio(s: &str) -> std::result::Result<Ratio, String> {
    s.parse::<Ratio>().map_err(|e| e.to_string())
}

fn parse_shape(s: &str) -> std::result::Result<Shape, String> {
    s.parse::<Shape>()
}

impl OpArgs {
    /// The operator flags that were given, by name (they do not apply to networks).
    fn given(&self) -> Option<&'static str> {
        [
            ("--ratio", !self.ratio.is_empty()),
            ("--groups", !self.groups.is_empty()),
            ("--kernel", !self.kernel.is_empty()),
            ("--stride", !self.stride.is_empty()),
            ("--padding", self.padding.is_some()),
            ("--shape", !self.shape.is_empty()),
            ("--out-channels", self.out_channels.is_some()),
            ("--layers", self.layers.is_some()),
        ]
        .into_iter()
        .find(|(_, given)| *given)
        .map(|(flag, _)| flag)
    }

    fn sweep(&self, kinds: &[KindArg]) -> OpSweep {
        OpSweep {
            kinds: kinds.iter().map(|k| OpKind::from(*k)).collect(),
            shapes: self.shape.clone(),
            ratios: self.ratio.clone(),
            groups: self.groups.clone(),
            kernels: self.kernel.clone(),
            strides: self.stride.clone(),
            padding: self.padding,
            out_channels: self.out_channels,
            layers: self.layers,
        }
    }
}

/// Parses the process arguments. clap's own errors (unknown flag, malformed value) and
/// `--help`/`--version` are returned as `clap::Error` for the caller to print and exit.
pub fn parse_from<I, T>(args: I) -> std::result::Result<Result<Invocation>, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = Cli::try_parse_from(args)?;
    let ort_lib = match &cli.command {
        Commands::Op(c) => c.bench.ort.ort_lib.clone(),
        Commands::Net(c) => c.bench.ort.ort_lib.clone(),
        Commands::Suite(c) => c.bench.ort.ort_lib.clone(),
        Commands::Peak(c) => c.bench.ort.ort_lib.clone(),
        Commands::Paper(c) => c.ort.ort_lib.clone(),
        Commands::List(c) => c.ort.ort_lib.clone(),
        _ => None,
    };
    Ok(command(cli.command).map(|command| Invocation { command, ort_lib }))
}

/// `flopsbench list`.
#[derive(Debug, Args)]
struct ListCommand {
    /// The devices file to list [default: ./devices.toml]
    #[arg(long, value_name = "FILE")]
    devices: Option<PathBuf>,

    /// Instead: ask these devices of the devices file what their host has (its CPU, and
    /// which backends load there), running flopsbench there as for a measurement (SSH,
    /// emulator, or a Slurm job)
    #[arg(long, value_name = "NAME", value_delimiter = ',')]
    device: Vec<String>,

    #[command(flatten)]
    ort: OrtArgs,
}

fn command(commands: Commands) -> Result<Command> {
    match commands {
        Commands::Count(args) => args.into_config().map(|c| Command::Count(Box::new(c))),
        Commands::Op(cmd) => {
            let cmd = *cmd;
            let sweep = cmd.op.sweep(&cmd.kind);
            let bench = cmd.bench.into_command(Target::Ops(sweep), 224, None);
            Ok(Command::Bench(Box::new(bench)))
        }
        Commands::Net(cmd) => {
            let cmd = *cmd;
            let input_shapes = cmd
                .input_shape
                .iter()
                .map(|s| s.parse::<InputShape>())
                .collect::<Result<Vec<_>>>()?;
            check_model_flags(&cmd.nets, cmd.resolution, &input_shapes)?;
            let mut bench =
                cmd.bench
                    .into_command(Target::Nets(cmd.nets), cmd.resolution.unwrap_or(224), None);
            bench.experiment.input_shapes = input_shapes;
            if cmd.ceilings.is_some() && !cmd.per_layer {
                return Err(Error::flag("--ceilings", "applies with --per-layer"));
            }
            bench.ceilings = cmd.ceilings;
            match cmd.depth {
                Some(_) if !cmd.per_layer => {
                    return Err(Error::flag("--depth", "applies with --per-layer"));
                }
                Some(0) => return Err(Error::flag("--depth", "must be ≥ 1")),
                _ => {}
            }
            bench.experiment.per_layer = cmd.per_layer;
            bench.experiment.depth = cmd.depth;
            Ok(Command::Bench(Box::new(bench)))
        }
        Commands::Suite(cmd) => {
            let cmd = *cmd;
            // The file is read when the command runs, not while parsing.
            let bench = cmd
                .bench
                .into_command(Target::Cases(Vec::new()), 224, Some(cmd.file));
            Ok(Command::Bench(Box::new(bench)))
        }
        Commands::Paper(cmd) => {
            let cmd = *cmd;
            Ok(Command::Paper(Box::new(PaperConfig {
                devices: cmd.device,
                backends: cmd.backend,
                quick: cmd.quick,
                fleet: cmd.fleet.options(),
                out: cmd.out,
                quiet: cmd.quiet,
                dtypes: cmd.dtype.iter().map(|d| (*d).into()).collect(),
            })))
        }
        Commands::Predict(cmd) => cmd.config().map(|c| Command::Predict(Box::new(c))),
        Commands::Report(cmd) => Ok(Command::Report(Box::new(cmd.config()))),
        Commands::Compare(cmd) => cmd.config().map(|c| Command::Compare(Box::new(c))),
        Commands::Peak(cmd) => {
            if cmd.bench.threads.is_some() {
                return Err(Error::flag(
                    "--threads",
                    "peak measures one thread and all threads by itself",
                ));
            }
            if cmd.bench.l2_flush {
                return Err(Error::flag(
                    "--l2-flush",
                    "peak measures the device's roofs, the best it does: with warm caches",
                ));
            }
            let bench = cmd.bench.into_command(Target::Peak, 224, None);
            Ok(Command::Bench(Box::new(bench)))
        }
        Commands::Export(cmd) => {
            let cmd = *cmd;
            Ok(Command::Export(Box::new(ExportConfig {
                target: cmd.target.target("export")?,
                resolution: cmd.resolution,
                batch: cmd.batch,
                seed: cmd.seed,
                fuse_bn: !cmd.no_fuse_bn,
                output: cmd.output,
                dtype: cmd.dtype.into(),
                pconv_as: cmd.pconv_as,
            })))
        }
        Commands::List(cmd) => Ok(Command::List(cmd.devices, cmd.device)),
        Commands::Worker => Ok(Command::Worker),
        Commands::OnednnProbe { spec } => Ok(Command::OnednnProbe(spec)),
        Commands::Coverage(cmd) => Ok(Command::Coverage(Box::new(cmd.config()))),
    }
}
