//! `flopsbench compare`'s flags.

use clap::Args;

use std::path::PathBuf;

use super::count::check_model_flags;
use super::measure::{BenchArgs, ConventionArg, PconvImplArg};
use crate::app::CompareConfig;
use crate::compare::{Across, Field, Options};
use crate::error::{Error, Result};
use crate::import::InputShape;
use crate::target::Target;

#[derive(Debug, Args)]
pub(super) struct CompareCommand {
    /// The baseline: a result folder, a fleet run's folder or a results CSV; or a model
    /// file or zoo network, measured now with NEW in the same rounds
    #[arg(value_name = "BASE")]
    base: String,

    /// What is compared with it: of the same sort as BASE
    #[arg(value_name = "NEW")]
    new: String,

    /// The one field matched rows may differ in: case, backend, device or dtype; with
    /// `=BASE,NEW` (e.g. `backend=tract,ort`) each side keeps the rows with its value, so
    /// one folder can be compared with itself
    #[arg(long, value_name = "FIELD[=BASE,NEW]", help_heading = "Comparison")]
    across: Option<String>,

    /// Noise band, percent: a verdict of improved or regressed needs the whole 95% CI
    /// of NEW/BASE beyond 1 ± PCT/100 [default: 5 for separate runs, whose drift is in
    /// neither run's CI; 1 for rows measured in the same rounds]
    #[arg(long, value_name = "PCT", help_heading = "Comparison")]
    noise: Option<String>,

    /// Exit with code 1 when a matched row is slower by more than PCT percent with its
    /// whole CI beyond it (for CI gating); rows without samples are exit 2
    #[arg(long, value_name = "PCT", help_heading = "Comparison")]
    fail_on_regression: Option<String>,

    /// Input resolution of zoo networks (3×R×R) [default: 224]
    #[arg(long, help_heading = "Model files and networks")]
    resolution: Option<usize>,

    /// A model file input's shape, batch included, for symbolic or unknown dimensions;
    /// repeatable
    #[arg(
        long,
        value_name = "NAME=DIMS",
        help_heading = "Model files and networks"
    )]
    input_shape: Vec<String>,

    /// Profile both layer by layer after their timed rows, and diff the layers
    #[arg(long, help_heading = "Model files and networks")]
    per_layer: bool,

    /// A `flopsbench peak` result folder: each layer's roofline bound; with --per-layer
    #[arg(long, value_name = "DIR", help_heading = "Model files and networks")]
    ceilings: Option<PathBuf>,

    #[command(flatten)]
    bench: BenchArgs,
}

/// A percentage flag: `5` or `5%`, at least 0 and under `below`; as a fraction.
fn percent(flag: &str, text: &str, below: f64) -> Result<f64> {
    let v: f64 =
        text.trim().trim_end_matches('%').parse().map_err(|_| {
            Error::flag(flag, format!("'{text}' is not a percentage (e.g. 5 or 5%)"))
        })?;
    if !(v >= 0.0 && v < below) {
        let range = if below.is_finite() {
            format!("from 0 to under {below}")
        } else {
            "of 0 or more".into()
        };
        return Err(Error::flag(
            flag,
            format!("{text}: give a percentage {range}"),
        ));
    }
    Ok(v / 100.0)
}

fn across(text: &str) -> Result<Across> {
    let (name, values) = match text.split_once('=') {
        Some((n, v)) => (n, Some(v)),
        None => (text, None),
    };
    let field = match name {
        "case" => Field::Case,
        "backend" => Field::Backend,
        "device" => Field::Device,
        "dtype" => Field::Dtype,
        other => {
            return Err(Error::flag(
                "--across",
                format!("'{other}': name case, backend, device or dtype"),
            ));
        }
    };
    let values = match values.map(|v| v.split_once(',')) {
        None => None,
        Some(Some((b, n))) if !b.is_empty() && !n.is_empty() && !n.contains(',') => {
            Some((b.to_string(), n.to_string()))
        }
        Some(_) => {
            return Err(Error::flag(
                "--across",
                format!("'{text}': give FIELD=BASE,NEW, two values (e.g. backend=tract,ort)"),
            ));
        }
    };
    Ok(Across { field, values })
}

impl CompareCommand {
    /// The measurement flags given, which do not apply to result folders.
    fn measure_flags(&self) -> Vec<&'static str> {
        let b = &self.bench;
        [
            ("--resolution", self.resolution.is_some()),
            ("--input-shape", !self.input_shape.is_empty()),
            ("--per-layer", self.per_layer),
            ("--ceilings", self.ceilings.is_some()),
            ("--batch", b.batch.is_some()),
            ("--threads", b.threads.is_some()),
            ("--dtype", !b.dtype.is_empty()),
            ("--warmup", b.warmup.is_some()),
            ("--min-time", b.min_time.is_some()),
            ("--max-time", b.max_time.is_some()),
            ("--runs", b.runs.is_some()),
            ("--target-ci", b.target_ci.is_some()),
            ("--budget", b.budget.is_some()),
            ("--l2-flush", b.l2_flush),
            ("--backend", b.backend != crate::backend::Selection::All),
            ("--device", b.device != [crate::device::DeviceSpec::Cpu]),
            ("--no-fuse-bn", b.no_fuse_bn),
            (
                "--convention",
                !matches!(b.convention, ConventionArg::Paper),
            ),
            (
                "--pconv-impl",
                !matches!(b.pconv_impl, PconvImplArg::SplitCat),
            ),
            ("--devices", b.fleet.devices.is_some()),
            ("--build", b.fleet.build),
        ]
        .into_iter()
        .filter(|(_, given)| *given)
        .map(|(flag, _)| flag)
        .collect()
    }

    pub(super) fn config(self) -> Result<CompareConfig> {
        let options = Options {
            across: self.across.as_deref().map(across).transpose()?,
            noise: self
                .noise
                .as_deref()
                .map(|n| percent("--noise", n, 100.0))
                .transpose()?,
            seed: self.bench.seed.unwrap_or(0),
            cases_share_rounds: false,
        };
        let fail_on_regression = self
            .fail_on_regression
            .as_deref()
            .map(|p| percent("--fail-on-regression", p, f64::INFINITY))
            .transpose()?;
        if self.ceilings.is_some() && !self.per_layer {
            return Err(Error::flag("--ceilings", "applies with --per-layer"));
        }
        let input_shapes = self
            .input_shape
            .iter()
            .map(|s| s.parse::<InputShape>())
            .collect::<Result<Vec<_>>>()?;
        let nets = vec![self.base.clone(), self.new.clone()];
        let measure_flags = self.measure_flags();
        // Hidden: compare measures both models in new, shared rounds.
        if self.bench.resume.is_some() || self.bench.no_interleave {
            let flag = if self.bench.no_interleave {
                "--no-interleave"
            } else {
                "--resume"
            };
            return Err(Error::flag(
                flag,
                "compare measures both models in the same interleaved rounds of a new run",
            ));
        }
        let mut bench =
            self.bench
                .into_command(Target::Nets(nets), self.resolution.unwrap_or(224), None);
        bench.experiment.input_shapes = input_shapes;
        bench.experiment.per_layer = self.per_layer;
        bench.experiment.cases_in_rounds = true;
        bench.ceilings = self.ceilings;
        let config = CompareConfig {
            base: self.base,
            new: self.new,
            options,
            fail_on_regression,
            bench,
            measure_flags,
        };
        if config.measures() {
            check_model_flags(
                &[config.base.clone(), config.new.clone()],
                self.resolution,
                &config.bench.experiment.input_shapes,
            )?;
        }
        Ok(config)
    }
}
