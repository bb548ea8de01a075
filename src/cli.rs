//! The command line (clap derive): the only module that knows clap. [`parse`] turns the
//! arguments into a plain [`Command`].

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::app::{Command, CountConfig, CountTarget};
use crate::count::{Convention, CountOptions};
use crate::error::{Error, Result};
use crate::output::Format;
use crate::spec::{Dtype, OpKind, OpSweep, Ratio, Shape};

/// Do fewer FLOPs make a network faster here? Exact analytic counts (MACs, FLOPs,
/// params, memory traffic) of the operators and networks of "Run, Don't Walk: Chasing
/// Higher FLOPS for Faster Neural Networks" (Chen et al., CVPR 2023).
#[derive(Debug, Parser)]
#[command(name = "flopsbench", version, about, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Debug, Subcommand)]
enum Commands {
    /// Analytic counts of zoo networks or operator stacks (no timing)
    #[command(
        after_help = "Examples:\n  flopsbench count fasternet-t0 --per-layer\n  \
        flopsbench count all --format csv\n  \
        flopsbench count --kind conv,gconv,dwconv,pconv\n  \
        flopsbench count --kind pconv --ratio 1/16,1/4,1 --shape 96x56x56 --format json",
        allow_negative_numbers = true
    )]
    Count(Box<CountArgs>),
    /// List operator kinds, zoo networks, backends and devices
    List,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum KindArg {
    Conv,
    Gconv,
    Dwconv,
    Pconv,
    Pwconv,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum DtypeArg {
    F32,
    F16,
    Bf16,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ConventionArg {
    /// FLOPs = multiply-adds, as the paper
    Paper,
    /// FLOPs = 2 × multiply-adds + other elementwise operations
    Strict,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FormatArg {
    Table,
    Csv,
    Json,
    Md,
}

#[derive(Debug, Args)]
struct CountArgs {
    /// Zoo networks, comma-separated, or `all` (see `flopsbench list`)
    #[arg(value_delimiter = ',', conflicts_with = "kind")]
    nets: Vec<String>,

    /// Operator kinds to count instead of a network (comma list sweeps)
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        help_heading = "Operator cases"
    )]
    kind: Vec<KindArg>,

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

    /// Input resolution of networks (3×R×R) [default: 224]
    #[arg(long)]
    resolution: Option<usize>,

    /// Batch size (MACs stay per item; memory traffic is per batch)
    #[arg(long, default_value_t = 1)]
    batch: usize,

    /// Element type (bytes per element of the memory traffic)
    #[arg(long, value_enum, default_value = "f32")]
    dtype: DtypeArg,

    /// Keep BatchNorm as its own layer and count its cost (default: folded into the conv)
    #[arg(long)]
    no_fuse_bn: bool,

    /// How FLOPs are derived from multiply-adds
    #[arg(long, value_enum, default_value = "paper")]
    convention: ConventionArg,

    /// Output format
    #[arg(long, value_enum, default_value = "table")]
    format: FormatArg,

    /// Print every layer, not only totals
    #[arg(long)]
    per_layer: bool,
}

fn parse_ratio(s: &str) -> std::result::Result<Ratio, String> {
    s.parse::<Ratio>().map_err(|e| e.to_string())
}

fn parse_shape(s: &str) -> std::result::Result<Shape, String> {
    s.parse::<Shape>()
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

impl CountArgs {
    /// The operator flags that were given, by name (they do not apply to networks).
    fn op_flags_given(&self) -> Option<&'static str> {
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

    fn into_config(self) -> Result<CountConfig> {
        if self.kind.is_empty() && self.nets.is_empty() {
            return Err(Error::Usage(
                "count what? give a network (e.g. `count fasternet-t0`, `count all`; see `flopsbench list`) or operator kinds with --kind conv,gconv,dwconv,pconv,pwconv".into(),
            ));
        }
        let target = if self.kind.is_empty() {
            if let Some(flag) = self.op_flags_given() {
                return Err(Error::flag(
                    flag,
                    "describes operator cases; use it with --kind, not with a network name",
                ));
            }
            CountTarget::Nets(self.nets.clone())
        } else {
            if self.resolution.is_some() {
                return Err(Error::flag(
                    "--resolution",
                    "applies to networks; give operator inputs with --shape CxHxW",
                ));
            }
            CountTarget::Ops(OpSweep {
                kinds: self.kind.iter().map(|k| OpKind::from(*k)).collect(),
                shapes: self.shape.clone(),
                ratios: self.ratio.clone(),
                groups: self.groups.clone(),
                kernels: self.kernel.clone(),
                strides: self.stride.clone(),
                padding: self.padding,
                out_channels: self.out_channels,
                layers: self.layers,
            })
        };
        Ok(CountConfig {
            target,
            options: CountOptions {
                batch: self.batch,
                dtype: match self.dtype {
                    DtypeArg::F32 => Dtype::F32,
                    DtypeArg::F16 => Dtype::F16,
                    DtypeArg::Bf16 => Dtype::Bf16,
                },
                fuse_bn: !self.no_fuse_bn,
                convention: match self.convention {
                    ConventionArg::Paper => Convention::Paper,
                    ConventionArg::Strict => Convention::Strict,
                },
            },
            resolution: self.resolution.unwrap_or(224),
            format: match self.format {
                FormatArg::Table => Format::Table,
                FormatArg::Csv => Format::Csv,
                FormatArg::Json => Format::Json,
                FormatArg::Md => Format::Md,
            },
            per_layer: self.per_layer,
        })
    }
}

/// Parses the process arguments. clap's own errors (unknown flag, malformed value) and
/// `--help`/`--version` are returned as `clap::Error` for the caller to print and exit.
pub fn parse_from<I, T>(args: I) -> std::result::Result<Result<Command>, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = Cli::try_parse_from(args)?;
    Ok(match cli.command {
        Commands::Count(args) => args.into_config().map(|c| Command::Count(Box::new(c))),
        Commands::List => Ok(Command::List),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn count_ops_parse_to_a_sweep() {
        let cmd = parse_from([
            "flopsbench",
            "count",
            "--kind",
            "conv,pconv",
            "--ratio",
            "1/4,0.5",
        ])
        .unwrap()
        .unwrap();
        let Command::Count(cfg) = cmd else {
            panic!("not count")
        };
        let CountTarget::Ops(sweep) = cfg.target else {
            panic!("not ops")
        };
        assert_eq!(sweep.kinds, [OpKind::Conv, OpKind::Pconv]);
        assert_eq!(sweep.ratios.len(), 2);
    }

    #[test]
    fn op_flags_with_a_network_are_refused() {
        let e = parse_from(["flopsbench", "count", "resnet50", "--ratio", "0.5"])
            .unwrap()
            .unwrap_err();
        assert!(e.to_string().starts_with("--ratio"), "{e}");
    }
}
