//! What each command does, given a plain configuration (no clap here): the top of the
//! data flow, the only module that calls the run layer, the study, report and export.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::backend::Global;
use crate::bench::Experiment;
use crate::count::{CaseCount, CountOptions, count_net, count_op, validate_options};
use crate::error::{Error, Result};
use crate::export::ExportConfig;
use crate::import::{InputShape, Keep, is_model_path};
use crate::measure::SamplerOverrides;
use crate::output::{Format, render_counts};
use crate::record::Status;
use crate::run::RunOptions;
use crate::spec::Dtype;
use crate::target::{Case, NetTarget, Target};

pub use crate::target::CountTarget;

mod compare;

pub use compare::CompareConfig;

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
    /// Input shapes of model files (`--input-shape`).
    pub input_shapes: Vec<InputShape>,
    /// Element types swept (`--dtype f32,int8`): every case counted at each, in order;
    /// empty = `options.dtype` alone.
    pub dtypes: Vec<crate::spec::Dtype>,
}

/// `op`, `net`, `suite` and `peak`: a measured run.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchCommand {
    /// What to measure. For a suite, its target is replaced by the suite's cases, and its
    /// sampler and seed by [`BenchCommand::sampler`] and [`BenchCommand::seed`] over the
    /// suite's `[measure]`.
    pub experiment: Experiment,
    /// A suite file to read the cases from (`flopsbench suite FILE`).
    pub suite: Option<PathBuf>,
    /// The sampling flags given (`None` = not given).
    pub sampler: SamplerOverrides,
    /// `--seed`, when given.
    pub seed: Option<u64>,
    /// How the run runs.
    pub run: RunOptions,
    /// Summary format on stdout.
    pub format: Format,
    /// A `flopsbench peak` result folder (or CSV) whose rows are the devices' roofs for
    /// per-layer bounds (`--ceilings`).
    pub ceilings: Option<PathBuf>,
}

/// The `peak` rows of the result folder or CSV at `path` (`--ceilings`).
fn peak_rows(path: &Path) -> Result<Vec<crate::record::Record>> {
    let loaded = crate::report::load::load(&[path.to_path_buf()])?;
    let peaks: Vec<_> = loaded
        .records
        .into_iter()
        .filter(|r| r.kind == crate::spec::CaseKind::Peak)
        .collect();
    if peaks.is_empty() {
        return Err(Error::flag(
            "--ceilings",
            format!(
                "{} has no peak rows; measure them with `flopsbench peak --out DIR`",
                path.display()
            ),
        ));
    }
    Ok(peaks)
}

impl BenchCommand {
    /// The experiment: the flags over a suite's settings over the built-in defaults.
    pub fn experiment(&self) -> Result<Experiment> {
        let ceilings = match &self.ceilings {
            Some(path) => peak_rows(path)?,
            None => Vec::new(),
        };
        let Some(path) = &self.suite else {
            let mut e = Experiment {
                sampler: self.sampler.resolve(),
                seed: self.seed.unwrap_or(0),
                ceilings,
                ..self.experiment.clone()
            };
            self.own_dtypes(&mut e, None)?;
            return Ok(e);
        };
        let suite = crate::suite::load(path)?;
        if self.experiment.batch.is_some() && suite.cases.iter().any(|c| c.batch.is_some()) {
            return Err(Error::flag(
                "--batch",
                format!("{} sets batch per entry", path.display()),
            ));
        }
        let mut e = Experiment {
            target: Target::Cases(suite.cases),
            sampler: self.sampler.or(suite.sampler).resolve(),
            seed: self.seed.or(suite.seed).unwrap_or(0),
            ceilings,
            ..self.experiment.clone()
        };
        self.own_dtypes(&mut e, suite.dtypes)?;
        Ok(e)
    }

    /// Without `--dtype`: the suite's dtypes, else each case runs at its own precision
    /// (f32; a model file's, see [`crate::import::precision`]), the run's dtypes listing
    /// them in order of first appearance.
    fn own_dtypes(&self, e: &mut Experiment, suite: Option<Vec<Dtype>>) -> Result<()> {
        if !self.experiment.dtypes.is_empty() {
            return Ok(());
        }
        if let Some(d) = suite {
            e.dtypes = d;
            return Ok(());
        }
        let own: Vec<Dtype> = match &e.target {
            Target::Nets(names) => names
                .iter()
                .map(|n| match is_model_path(n) {
                    true => crate::import::ModelFile::open(Path::new(n))
                        .map(|f| crate::import::precision_of(f.graph())),
                    false => Ok(Dtype::F32),
                })
                .collect::<Result<_>>()?,
            Target::Cases(cases) => cases.iter().map(Case::own_dtype).collect(),
            Target::Ops(_) | Target::Peak => vec![Dtype::F32],
        };
        e.dtypes = Vec::new();
        for d in own {
            if !e.dtypes.contains(&d) {
                e.dtypes.push(d);
            }
        }
        e.own_dtype = e.dtypes != [Dtype::F32];
        Ok(())
    }
}

/// The configuration of `flopsbench predict`.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictConfig {
    /// Result folders or CSVs to learn from.
    pub from: Vec<PathBuf>,
    /// Networks to predict (zoo names or model files).
    pub targets: Vec<String>,
    /// Their input resolution.
    pub resolution: usize,
}

/// `flopsbench predict`: every device and backend with enough data, evaluated, and the
/// targets predicted; the text for stdout.
pub fn predict(config: &PredictConfig) -> Result<String> {
    let loaded = crate::report::load::load(&config.from)
        .map_err(|e| Error::flag("--from", e.to_string()))?;
    // As report does, emulated rows are left out: their times are the emulator's.
    let records: Vec<crate::record::Record> =
        loaded.records.into_iter().filter(|r| !r.emulated).collect();
    // Too little data: the message names the folders read.
    let groups = crate::predict::groups(&records, &loaded.layers).map_err(|e| match e {
        Error::InvalidFlag { flag, message } => {
            let read: Vec<String> = config
                .from
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            Error::flag(&flag, format!("in {}: {message}", read.join(", ")))
        }
        other => other,
    })?;
    let mut text = String::new();
    for g in &groups {
        let targets = NetTarget::resolve(&config.targets)?
            .iter()
            .map(|t| crate::predict::unmeasured(t, config.resolution, g.batch))
            .collect::<Result<Vec<_>>>()?;
        text += &crate::output::predict::render(g, &targets);
        text += "\n";
    }
    Ok(text)
}

/// A command, ready to run.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// `flopsbench count`.
    Count(Box<CountConfig>),
    /// `flopsbench op`, `net`, `suite` and `peak`: measured runs, summary in a format.
    Bench(Box<BenchCommand>),
    /// `flopsbench export`.
    Export(Box<ExportConfig>),
    /// `flopsbench list`, with the devices file to list (default `./devices.toml`) and the
    /// named devices to ask what their host has (`--device`).
    List(Option<PathBuf>, Vec<String>),
    /// `flopsbench report`.
    Report(Box<crate::report::ReportConfig>),
    /// `flopsbench predict`.
    Predict(Box<PredictConfig>),
    /// `flopsbench compare`.
    Compare(Box<CompareConfig>),
    /// `flopsbench paper`.
    Paper(Box<PaperConfig>),
    /// `flopsbench worker` (hidden): one job on stdin, JSON lines on stdout.
    Worker,
    /// `flopsbench coverage` (hidden): the CI self-check.
    Coverage(Box<CoverageConfig>),
    /// `flopsbench onednn-probe SPEC` (hidden): one tch convolution, for oneDNN's verbose
    /// output.
    OnednnProbe(String),
}

/// The configuration of `flopsbench coverage`.
#[derive(Debug, Clone, PartialEq)]
pub struct CoverageConfig {
    /// The case (its first) and the sampling of each run.
    pub experiment: Experiment,
    /// The backend.
    pub backend: String,
    /// Runs in a row (and as many in rounds).
    pub runs: usize,
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

/// Computes every case of a `count` command, at each of its dtypes; nothing is printed.
pub fn counts(config: &CountConfig) -> Result<Vec<CaseCount>> {
    if config.dtypes.is_empty() {
        // No --dtype: a model file is counted in its own precision.
        return counts_at(config, true);
    }
    let mut out = Vec::new();
    for dtype in &config.dtypes {
        out.extend(counts_at(
            &CountConfig {
                options: CountOptions {
                    dtype: *dtype,
                    ..config.options
                },
                dtypes: Vec::new(),
                ..config.clone()
            },
            false,
        )?);
    }
    Ok(out)
}

/// [`counts`] at `config.options.dtype` (a model file at its own precision when
/// `own_precision`).
fn counts_at(config: &CountConfig, own_precision: bool) -> Result<Vec<CaseCount>> {
    validate_options(&config.options)?;
    match &config.target {
        CountTarget::Nets(names) => {
            let mut out = Vec::new();
            for name in names {
                if is_model_path(name) {
                    out.push(count_model(Path::new(name), config, own_precision)?);
                    continue;
                }
                for n in NetTarget::resolve(std::slice::from_ref(name))? {
                    let net = n.build(config.resolution)?;
                    let mut count = count_net(&net, &config.options, config.per_layer);
                    count.resolution = Some(config.resolution);
                    out.push(count);
                }
            }
            Ok(out)
        }
        CountTarget::Ops(sweep) => sweep
            .expand()?
            .iter()
            .map(|case| count_op(case, &config.options, config.per_layer))
            .collect(),
    }
}

/// The counts of model file `path`, per item (a symbolic batch dimension set to 1), at
/// the file's own precision when `own_precision` (see [`crate::import::precision`]).
fn count_model(path: &Path, config: &CountConfig, own_precision: bool) -> Result<CaseCount> {
    let model = crate::import::import(path, &config.input_shapes, 1, Keep::Shapes)?;
    for input in &model.inputs {
        if let [n, ..] = input.dims[..]
            && n != 1
            && input.dims.len() > 1
        {
            return Err(Error::flag(
                crate::import::INPUT_SHAPE_FLAG,
                format!(
                    "{}: input '{}' has batch {n} (its first dimension); counts are per item: set it to 1 (`{} {}=1x…`; --batch scales the memory traffic)",
                    path.display(),
                    input.name,
                    crate::import::INPUT_SHAPE_FLAG,
                    input.name
                ),
            ));
        }
    }
    let options = CountOptions {
        dtype: if own_precision {
            crate::import::precision(&model)
        } else {
            config.options.dtype
        },
        ..config.options
    };
    Ok(crate::import::count(&model, &options, config.per_layer))
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
pub fn run(
    invocation: &Invocation,
    out: &mut dyn Write,
    log: &mut (dyn Write + Send),
) -> Result<Finished> {
    let global = |threads: Option<usize>| Global {
        threads: threads.unwrap_or(1),
        ort_library: invocation.ort_lib.clone(),
    };
    // Backends are configured only by the commands that load them.
    match &invocation.command {
        Command::Export(config) => write_all(out, &crate::export::export(config)?)?,
        Command::Count(config) => write_all(
            out,
            &render_counts(&counts(config)?, config.format, config.per_layer)?,
        )?,
        Command::List(devices, names) if !names.is_empty() => {
            let (text, failed) = crate::list::render_remote(devices.as_deref(), names)?;
            write_all(out, &text)?;
            return Ok(finished(failed));
        }
        Command::List(devices, _) => {
            crate::backend::configure(&global(None));
            write_all(out, &crate::list::render(devices.as_deref())?)?
        }
        Command::OnednnProbe(spec) => {
            #[cfg(feature = "tch")]
            crate::backend::libtorch::onednn::probe(spec)?;
            #[cfg(not(feature = "tch"))]
            return Err(Error::Usage(format!(
                "onednn-probe {spec}: this build has no tch backend"
            )));
        }
        Command::Worker => {
            crate::backend::configure(&global(None));
            let sent = crate::fleet::worker::run(&mut std::io::stdin().lock(), out, log)?;
            return Ok(finished(sent.failed));
        }
        Command::Paper(config) => {
            crate::backend::configure(&global(None));
            let study = crate::study::run(config, log)?;
            write_all(out, &study.summary)?;
            // Skipped rows (a backend that cannot compute in a dtype) are not failures.
            let failed = study
                .records
                .iter()
                .filter(|r| r.status == Status::Error)
                .count();
            return Ok(finished(failed));
        }
        Command::Coverage(config) => {
            crate::backend::configure(&global(None));
            let backend = crate::backend::by_name(&config.backend)
                .map_err(|e| Error::flag("--backend", e.to_string()))?;
            backend
                .probe(&crate::device::DeviceSpec::Cpu)
                .map_err(|why| Error::flag("--backend", why))?;
            if config.runs < 2 {
                return Err(Error::flag("--runs", "at least 2 runs"));
            }
            if config.experiment.sampler.min_time.is_zero() {
                return Err(Error::flag(
                    "--min-time",
                    "must be longer than 0 s, e.g. 1s",
                ));
            }
            let c = crate::bench::coverage::coverage(&config.experiment, backend, config.runs)?;
            write_all(out, &c.render())?;
        }
        Command::Compare(config) => return compare::run(config, &global(None), out, log),
        Command::Predict(config) => {
            let text = predict(config)?;
            write_all(out, &text)?;
        }
        Command::Report(config) => {
            let written = crate::report::run(config)?;
            let mut text = String::new();
            for path in written {
                text += &format!("wrote {}\n", path.display());
            }
            write_all(out, &text)?;
        }
        Command::Bench(command) => {
            let experiment = command.experiment()?;
            crate::run::validate(&experiment, &command.run)?;
            // candle's gemm reads its thread count from the environment on every call;
            // each candle case then sets its own (and runs in a pool of that size).
            crate::backend::configure(&global(experiment.threads));
            let outcome = crate::run::run(&experiment, &command.run, log)?;
            write_all(
                out,
                &crate::output::render_records(&outcome.records, command.format)?,
            )?;
            return Ok(finished(summarise(&outcome, log)));
        }
    }
    Ok(Finished::Success)
}

fn finished(failed: usize) -> Finished {
    if failed > 0 {
        Finished::SomeCasesFailed
    } else {
        Finished::Success
    }
}

/// Says where a measured run's rows are; returns how many failed (skipped rows, which
/// say why a backend cannot run a dtype, are not failures).
fn summarise(outcome: &crate::run::Outcome, log: &mut dyn Write) -> usize {
    let count = |s: Status| outcome.records.iter().filter(|r| r.status == s).count();
    let failed = count(Status::Error);
    let skipped = match count(Status::Skipped) {
        0 => String::new(),
        n => format!(", {n} skipped"),
    };
    let csv = outcome.dir.join("results.csv");
    if csv.is_file() {
        writeln!(
            log,
            "results: {} ({} rows, {failed} failed{skipped})",
            csv.display(),
            outcome.records.len()
        )
        .ok();
    } else {
        writeln!(
            log,
            "results: {} (a folder per host; {} rows, {failed} failed{skipped}); merge them with `flopsbench report {} -o DIR`",
            outcome.dir.display(),
            outcome.records.len(),
            outcome.dir.display()
        )
        .ok();
    }
    failed
}
