//! What each command does, given a plain configuration (no clap here).

use std::io::Write;

use crate::bench::BenchConfig;
use crate::count::{CaseCount, CountOptions, count_op, count_zoo, validate_options};
use crate::error::{Error, Result};
use crate::export::ExportConfig;
use crate::output::{Format, render_counts};
use crate::spec::OpSweep;
use crate::zoo;

/// What `count` counts.
#[derive(Debug, Clone, PartialEq)]
pub enum CountTarget {
    /// Zoo networks by name (`all` = every one).
    Nets(Vec<String>),
    /// An operator sweep.
    Ops(OpSweep),
}

/// The configuration of `flopsbench count`.
#[derive(Debug, Clone, PartialEq)]
pub struct CountConfig {
    /// Networks or operator cases.
    pub target: CountTarget,
    /// Options that change counts.
    pub options: CountOptions,
    /// Input resolution of networks.
    pub resolution: usize,
    /// Output format.
    pub format: Format,
    /// Print every layer.
    pub per_layer: bool,
}

/// A command, ready to run.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// `flopsbench count`.
    Count(Box<CountConfig>),
    /// `flopsbench op` and `flopsbench net`: measured runs, summary in a format.
    Bench(Box<BenchConfig>, Format),
    /// `flopsbench export`.
    Export(Box<ExportConfig>),
    /// `flopsbench list`.
    List,
    /// `flopsbench report`.
    Report(Box<crate::report::ReportConfig>),
    /// `flopsbench paper`.
    Paper(Box<PaperConfig>),
    /// `flopsbench worker` (hidden): one job on stdin, JSON lines on stdout.
    Worker,
}

pub use crate::study::PaperConfig;

/// A parsed command line: the command and process-wide settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    /// What to do.
    pub command: Command,
    /// `--ort-lib`: the ONNX Runtime library to load.
    pub ort_lib: Option<std::path::PathBuf>,
}

/// How a command ended when it did not fail outright.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finished {
    /// Everything succeeded (exit 0).
    Success,
    /// The run finished but some cases failed; their rows say why (exit 1).
    SomeCasesFailed,
}

/// Computes every case of a `count` command; nothing is printed.
pub fn counts(config: &CountConfig) -> Result<Vec<CaseCount>> {
    validate_options(&config.options)?;
    match &config.target {
        CountTarget::Nets(names) => {
            let mut expanded: Vec<&str> = Vec::new();
            for name in names {
                if name == "all" {
                    expanded.extend(zoo::NAMES);
                } else {
                    expanded.push(zoo::check_name(name)?);
                }
            }
            expanded
                .into_iter()
                .map(|n| count_zoo(n, config.resolution, &config.options, config.per_layer))
                .collect()
        }
        CountTarget::Ops(sweep) => sweep
            .expand()?
            .iter()
            .map(|case| count_op(case, &config.options, config.per_layer))
            .collect(),
    }
}

fn write_all(out: &mut dyn Write, text: &str) -> Result<()> {
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .map_err(|source| Error::Io {
            path: "<stdout>".into(),
            source,
        })
}

/// Runs a command. Computed output goes to `out` only once all of it is ready; a
/// measured run's per-case lines go to `log` as cases finish.
pub fn run(invocation: &Invocation, out: &mut dyn Write, log: &mut dyn Write) -> Result<Finished> {
    if let Some(path) = &invocation.ort_lib {
        crate::backend::ort::set_library(path.clone());
    }
    match &invocation.command {
        Command::Export(config) => write_all(out, &crate::export::export(config)?)?,
        Command::Count(config) => write_all(
            out,
            &render_counts(&counts(config)?, config.format, config.per_layer)?,
        )?,
        Command::List => write_all(out, &crate::list::render()?)?,
        Command::Worker => {
            return crate::fleet::worker::run(&mut std::io::stdin().lock(), out, log);
        }
        Command::Paper(config) => {
            crate::backend::candle::set_threads(1);
            let study = crate::study::run(config, log)?;
            write_all(out, &study.summary)?;
            if study
                .records
                .iter()
                .any(|r| r.status != crate::record::Status::Ok)
            {
                return Ok(Finished::SomeCasesFailed);
            }
        }
        Command::Report(config) => {
            let written = crate::report::run(config)?;
            let mut text = String::new();
            for path in written {
                text += &format!("wrote {}\n", path.display());
            }
            write_all(out, &text)?;
        }
        Command::Bench(config, format) => {
            crate::bench::validate(config)?;
            // candle's gemm reads its thread count from the environment on every call;
            // each candle case then sets its own (and runs in a pool of that size).
            crate::backend::candle::set_threads(config.threads.unwrap_or(1));
            let outcome = crate::bench::run(config, log)?;
            write_all(
                out,
                &crate::output::render_records(&outcome.records, *format)?,
            )?;
            let failed = outcome
                .records
                .iter()
                .filter(|r| r.status != crate::record::Status::Ok)
                .count();
            let csv = outcome.dir.join("results.csv");
            if csv.is_file() {
                writeln!(
                    log,
                    "results: {} ({} rows, {failed} failed)",
                    csv.display(),
                    outcome.records.len()
                )
                .ok();
            } else {
                writeln!(
                    log,
                    "results: {} (a folder per host; {} rows, {failed} failed); merge them with `flopsbench report {} -o DIR`",
                    outcome.dir.display(),
                    outcome.records.len(),
                    outcome.dir.display()
                )
                .ok();
            }
            if failed > 0 {
                return Ok(Finished::SomeCasesFailed);
            }
        }
    }
    Ok(Finished::Success)
}
