//! `flopsbench report` and `flopsbench predict`: the commands that read result folders.

use clap::{Args, ValueEnum};

use std::path::PathBuf;

use crate::app::PredictConfig;
use crate::error::{Error, Result};
use crate::report::{ReportConfig, ReportFormat};

#[derive(Debug, Args)]
pub(super) struct ReportCommand {
    /// Result folders (with results.csv and meta.json) or results CSV files
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<PathBuf>,

    /// Folder to write the report to (created if needed)
    #[arg(short = 'o', long = "out", value_name = "DIR")]
    out: PathBuf,

    /// What to write: md, csv, svg, html (comma list) [default: all]
    #[arg(long, value_enum, value_delimiter = ',')]
    format: Vec<ReportFormatArg>,

    /// Include rows measured under an emulator (qemu) in the tables and charts, in columns
    /// labelled "(emulated)" [default: listed apart, in "Left out: emulated devices"]
    #[arg(long)]
    include_emulated: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ReportFormatArg {
    Md,
    Csv,
    Svg,
    Html,
}

#[derive(Debug, Args)]
pub(super) struct PredictCommand {
    /// Result folders (or CSVs), comma-separated or repeated: network rows with their
    /// per-layer profiles (`net --per-layer`) and the device's `peak` rows
    #[arg(long, value_name = "DIR", value_delimiter = ',', required = true)]
    from: Vec<PathBuf>,

    /// Networks to predict (not measured): zoo names or ONNX model files, comma-separated
    #[arg(value_delimiter = ',', value_name = "NETS")]
    nets: Vec<String>,

    /// Input resolution of the zoo networks to predict [default: 224]
    #[arg(long)]
    resolution: Option<usize>,
}

impl ReportCommand {
    pub(super) fn config(self) -> ReportConfig {
        ReportConfig {
            inputs: self.inputs,
            out: self.out,
            formats: self
                .format
                .into_iter()
                .map(|f| match f {
                    ReportFormatArg::Md => ReportFormat::Md,
                    ReportFormatArg::Csv => ReportFormat::Csv,
                    ReportFormatArg::Svg => ReportFormat::Svg,
                    ReportFormatArg::Html => ReportFormat::Html,
                })
                .collect(),
            include_emulated: self.include_emulated,
        }
    }
}

impl PredictCommand {
    pub(super) fn config(self) -> Result<PredictConfig> {
        if self.resolution.is_some() && self.nets.is_empty() {
            return Err(Error::flag(
                "--resolution",
                "applies to the networks to predict; none was given",
            ));
        }
        Ok(PredictConfig {
            from: self.from,
            targets: self.nets,
            resolution: self.resolution.unwrap_or(224),
        })
    }
}
