//! `flopsbench compare`: two result folders (or CSVs) read and compared, or two models
//! measured now in the same interleaved rounds and compared; the verdicts printed, kept
//! with `--out`, and `--fail-on-regression` turned into the exit code.

use std::io::Write;
use std::path::Path;

use super::{BenchCommand, CountConfig, Finished, counts, write_all};
use crate::compare::{Across, Comparison, Field, Options, compare, render};
use crate::error::{Error, Result};
use crate::report::load::{Loaded, load};

/// The configuration of `flopsbench compare`.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareConfig {
    /// BASE as given: a result folder or CSV, or a model file or zoo network.
    pub base: String,
    /// NEW, of the same sort.
    pub new: String,
    /// How rows are matched and judged.
    pub options: Options,
    /// `--fail-on-regression`, a fraction.
    pub fail_on_regression: Option<f64>,
    /// How to measure BASE and NEW when they are models (a `net` run of the two, in
    /// the same rounds), and `--out`, `--format`.
    pub bench: BenchCommand,
    /// The measurement flags given, which do not apply to result folders.
    pub measure_flags: Vec<&'static str>,
}

/// A result folder or a CSV file (as opposed to a model file or a zoo network).
fn is_results(arg: &str) -> bool {
    let p = Path::new(arg);
    p.is_dir() || arg.to_ascii_lowercase().ends_with(".csv")
}

impl CompareConfig {
    /// Whether BASE and NEW are models to measure (neither is a result folder or CSV).
    pub fn measures(&self) -> bool {
        !is_results(&self.base) && !is_results(&self.new)
    }
}

fn read(arg: &str, name: &str) -> Result<Loaded> {
    load(&[arg.into()]).map_err(|e| Error::flag(name, e.to_string()))
}

/// Runs `compare`; the comparison goes to `out`, the run's lines and a failed gate to `log`.
pub fn run(
    config: &CompareConfig,
    global: &crate::backend::Global,
    out: &mut dyn Write,
    log: &mut (dyn Write + Send),
) -> Result<Finished> {
    for (arg, name) in [(&config.base, "BASE"), (&config.new, "NEW")] {
        let lower = arg.to_ascii_lowercase();
        let path_like = arg.contains('/') || lower.ends_with(".csv") || lower.ends_with(".onnx");
        if path_like && !Path::new(arg).exists() {
            return Err(Error::flag(name, format!("{arg}: no such file or folder")));
        }
    }
    let (comparison, ran, dir) = if config.measures() {
        if config.options.across.is_some() {
            return Err(Error::flag(
                "--across",
                "applies to result folders; two models are compared with each other",
            ));
        }
        measure(config, global, log)?
    } else {
        if is_results(&config.base) != is_results(&config.new) {
            return Err(Error::flag(
                "NEW",
                "BASE and NEW are of different sorts: give two result folders (or CSVs), or two model files or zoo networks",
            ));
        }
        if let Some(flag) = config.measure_flags.first() {
            return Err(Error::flag(
                flag,
                "applies when BASE and NEW are models to measure, not to result folders",
            ));
        }
        let (base, new) = (read(&config.base, "BASE")?, read(&config.new, "NEW")?);
        let c = compare(&base, &new, &config.options)?;
        (c, Finished::Success, config.bench.run.out.clone())
    };
    gate(&comparison, config.fail_on_regression)?;
    if let Some(dir) = &dir {
        for path in render::write(&comparison, dir)? {
            writeln!(log, "wrote {}", path.display()).ok();
        }
    }
    write_all(out, &render::render(&comparison, config.bench.format)?)?;
    if let Some(threshold) = config.fail_on_regression {
        let beyond = comparison.regressions_beyond(threshold);
        for p in &beyond {
            writeln!(
                log,
                "regression beyond --fail-on-regression {:.0}%: {} · {} · {} · {}: {}",
                threshold * 100.0,
                p.base.case,
                p.base.backend,
                p.base.device,
                p.base.dtype,
                p.change.map(|c| c.phrase()).unwrap_or_default()
            )
            .ok();
        }
        if !beyond.is_empty() {
            return Ok(Finished::SomeCasesFailed);
        }
    }
    Ok(ran)
}

/// `--fail-on-regression` needs a verdict for every pair that ran: a pair without
/// samples cannot be judged.
fn gate(c: &Comparison, threshold: Option<f64>) -> Result<()> {
    if threshold.is_none() {
        return Ok(());
    }
    let unjudged: Vec<String> = c
        .pairs
        .iter()
        .filter(|p| p.change.is_none() && p.note.contains("no samples"))
        .map(|p| format!("{} · {}", p.base.case, p.base.backend))
        .collect();
    if unjudged.is_empty() {
        return Ok(());
    }
    Err(Error::flag(
        "--fail-on-regression",
        format!(
            "cannot judge {} matched row(s) without samples ({}): compare result folders \
             with their results.jsonl, not CSV files alone",
            unjudged.len(),
            unjudged.join(", ")
        ),
    ))
}

/// The input shape of a model or zoo network, as `count` reports it.
fn input_shape(config: &CompareConfig, name: &str) -> Result<String> {
    let e = &config.bench.experiment;
    let count = counts(&CountConfig {
        target: crate::target::CountTarget::Nets(vec![name.to_string()]),
        options: crate::count::CountOptions::default(),
        resolution: e.resolution,
        format: crate::output::Format::Table,
        per_layer: false,
        input_shapes: e.input_shapes.clone(),
        dtypes: Vec::new(),
    })?;
    Ok(count
        .first()
        .map(|c| c.input_shape.clone())
        .unwrap_or_default())
}

/// Measures BASE and NEW in the same rounds (a `net` run of the two), then compares the
/// run's rows of NEW with those of BASE.
fn measure(
    config: &CompareConfig,
    global: &crate::backend::Global,
    log: &mut (dyn Write + Send),
) -> Result<(Comparison, Finished, Option<std::path::PathBuf>)> {
    if config.base == config.new {
        return Err(Error::flag(
            "NEW",
            "is BASE again: give two different models",
        ));
    }
    let (a, b) = (
        input_shape(config, &config.base)?,
        input_shape(config, &config.new)?,
    );
    if a != b {
        return Err(Error::flag(
            "NEW",
            format!(
                "{} takes input {b}, but {} takes {a}: the two models must take the same input (--input-shape sets a symbolic one)",
                config.new, config.base
            ),
        ));
    }
    let experiment = config.bench.experiment()?;
    crate::run::validate(&experiment, &config.bench.run)?;
    crate::backend::configure(&crate::backend::Global {
        threads: experiment.threads.unwrap_or(1),
        ..global.clone()
    });
    let outcome = crate::run::run(&experiment, &config.bench.run, log)?;
    let failed = super::summarise(&outcome, log);
    // The cases in the order they ran: BASE's first.
    let mut cases: Vec<String> = Vec::new();
    for r in &outcome.records {
        if !cases.contains(&r.case) {
            cases.push(r.case.clone());
        }
    }
    let [base_case, new_case] = &cases[..] else {
        return Err(Error::flag(
            "NEW",
            format!("expected two cases, the run measured {}", cases.len()),
        ));
    };
    let loaded = load(std::slice::from_ref(&outcome.dir))?;
    let options = Options {
        across: Some(Across {
            field: Field::Case,
            values: Some((base_case.clone(), new_case.clone())),
        }),
        cases_share_rounds: true,
        ..config.options.clone()
    };
    let comparison = compare(&loaded, &loaded, &options)?;
    Ok((comparison, super::finished(failed), Some(outcome.dir)))
}
