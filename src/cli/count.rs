//! `flopsbench count`'s flags, and the checks of the model-file flags `count` and `net`
//! share.

use clap::Args;

use crate::app::{CountConfig, CountTarget};
use crate::count::CountOptions;
use crate::error::{Error, Result};
use crate::import::{InputShape, is_model_path};

use super::{ConventionArg, DtypeArg, FormatArg, TargetArgs};
use crate::spec::Dtype;

#[derive(Debug, Args)]
pub(super) struct CountArgs {
    #[command(flatten)]
    target: TargetArgs,

    /// Input resolution of zoo networks (3×R×R) [default: 224]
    #[arg(long)]
    resolution: Option<usize>,

    /// Batch size (MACs stay per item; memory traffic is per batch)
    #[arg(long, default_value_t = 1)]
    batch: usize,

    /// Element types, a comma list: every case counted at each (bytes per element of the
    /// memory traffic; MACs and params do not change) [default: f32, a model file at its
    /// own precision]
    #[arg(long, value_enum, value_delimiter = ',')]
    dtype: Vec<DtypeArg>,

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

    /// A model file input's shape, batch included, for symbolic or unknown dimensions
    /// (a symbolic first dimension is the batch: 1); repeatable
    #[arg(long, value_name = "NAME=DIMS", help_heading = "Model files")]
    input_shape: Vec<String>,
}

impl CountArgs {
    pub(super) fn into_config(self) -> Result<CountConfig> {
        let target = self.target.target("count")?;
        for (i, d) in self.dtype.iter().enumerate() {
            if self.dtype[..i]
                .iter()
                .any(|e| Dtype::from(*e) == Dtype::from(*d))
            {
                return Err(Error::flag(
                    "--dtype",
                    format!("names {} twice", Dtype::from(*d)),
                ));
            }
        }
        if matches!(target, CountTarget::Ops(_)) && self.resolution.is_some() {
            return Err(Error::flag(
                "--resolution",
                "applies to networks; give operator inputs with --shape CxHxW",
            ));
        }
        let input_shapes = self
            .input_shape
            .iter()
            .map(|s| s.parse::<InputShape>())
            .collect::<Result<Vec<_>>>()?;
        if let CountTarget::Nets(names) = &target {
            check_model_flags(names, self.resolution, &input_shapes)?;
        } else if !input_shapes.is_empty() {
            check_model_flags(&[], None, &input_shapes)?;
        }
        Ok(CountConfig {
            target,
            input_shapes,
            options: CountOptions {
                batch: self.batch,
                dtype: self.dtype.first().copied().map_or(Dtype::F32, Dtype::from),
                fuse_bn: !self.no_fuse_bn,
                convention: self.convention.into(),
            },
            resolution: self.resolution.unwrap_or(224),
            format: self.format.into(),
            per_layer: self.per_layer,
            dtypes: self.dtype.iter().map(|d| Dtype::from(*d)).collect(),
        })
    }
}

/// Refuses `--resolution` when every network is a model file and `--input-shape` when
/// none is.
pub(super) fn check_model_flags(
    names: &[String],
    resolution: Option<usize>,
    input_shapes: &[InputShape],
) -> Result<()> {
    let models = names.iter().filter(|n| is_model_path(n)).count();
    if models == names.len() && models > 0 && resolution.is_some() {
        return Err(Error::flag(
            "--resolution",
            "applies to zoo networks; a model file's input shape comes from the file (set it with --input-shape)",
        ));
    }
    if !input_shapes.is_empty() && models == 0 {
        return Err(Error::flag(
            "--input-shape",
            "applies to ONNX model files; none was given",
        ));
    }
    Ok(())
}
