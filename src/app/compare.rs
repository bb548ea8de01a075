//! `flopsbench compare`: two result folders (or CSVs) read and compared, or two models
//! measured now in the same interleaved rounds and compared; the verdicts printed, kept
//! with `--out`, and `--fail-on-regression` turned into the exit code.

use std::io::Write;
use std::path::Path;

use super::{BenchCommand, CountConfig, Finished, counts, write_all};
use crate::compare::{Across, Comparison, Field, Options, compare, render};
use crate::error::{Error, Result};
use crate::record::Status;
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
    let failures = match config.fail_on_regression {
        Some(threshold) => gate(&comparison, threshold)?,
        None => Vec::new(),
    };
    if let Some(dir) = &dir {
        let written =
            render::write(&comparison, dir).map_err(|e| Error::flag("--out", e.to_string()))?;
        for path in written {
            writeln!(log, "wrote {}", path.display()).ok();
        }
    }
    write_all(out, &render::render(&comparison, config.bench.format)?)?;
    for f in &failures {
        writeln!(log, "{f}").ok();
    }
    if !failures.is_empty() {
        return Ok(Finished::SomeCasesFailed);
    }
    Ok(ran)
}

/// `--fail-on-regression`: why the gate fails (a row regressed beyond `threshold` with
/// its whole CI, a row of NEW failed or is missing), for exit 1; an error (exit 2) when a
/// matched pair that ran has no ratio to judge (no samples, a CSV alone) or no verdict.
fn gate(c: &Comparison, threshold: f64) -> Result<Vec<String>> {
    let name = |r: &crate::record::Record| {
        format!("{} · {} · {} · {}", r.case, r.backend, r.device, r.dtype)
    };
    let ran = |p: &&crate::compare::Pair| p.base.status == Status::Ok && p.new.status == Status::Ok;
    let unjudged: Vec<&crate::compare::Pair> = c
        .pairs
        .iter()
        .filter(ran)
        .filter(|p| p.verdict.is_none())
        .collect();
    if !unjudged.is_empty() {
        let names: Vec<String> = unjudged.iter().map(|p| name(&p.base)).collect();
        let mut why: Vec<&str> = unjudged.iter().map(|p| p.note.as_str()).collect();
        why.sort();
        why.dedup();
        return Err(Error::flag(
            "--fail-on-regression",
            format!(
                "cannot judge {} matched row(s) ({}): {}",
                names.len(),
                names.join(", "),
                why.join("; ")
            ),
        ));
    }
    let mut failures = Vec::new();
    for p in c.pairs.iter().filter(|p| !ran(p)) {
        failures.push(format!(
            "--fail-on-regression: {}: {}",
            name(&p.base),
            p.note
        ));
    }
    for r in &c.only_base {
        failures.push(format!(
            "--fail-on-regression: {} is missing from NEW",
            name(r)
        ));
    }
    for p in c.regressions_beyond(threshold) {
        failures.push(format!(
            "regression beyond --fail-on-regression {}%: {}: {}",
            (threshold * 1e6).round() / 1e4,
            name(&p.base),
            p.change.map(|c| c.phrase()).unwrap_or_default()
        ));
    }
    Ok(failures)
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

/// Whether two arguments name one model: the same zoo network, the same file, or two
/// files of the same name and contents (their cases would be one).
fn same_model(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let (pa, pb) = (Path::new(a), Path::new(b));
    match (std::fs::canonicalize(pa), std::fs::canonicalize(pb)) {
        (Ok(x), Ok(y)) if x == y => true,
        (Ok(_), Ok(_)) => {
            pa.file_stem() == pb.file_stem()
                && matches!((std::fs::read(pa), std::fs::read(pb)), (Ok(x), Ok(y)) if x == y)
        }
        _ => false,
    }
}

/// Measures BASE and NEW in the same rounds (a `net` run of the two), then compares the
/// run's rows of NEW with those of BASE.
fn measure(
    config: &CompareConfig,
    global: &crate::backend::Global,
    log: &mut (dyn Write + Send),
) -> Result<(Comparison, Finished, Option<std::path::PathBuf>)> {
    if same_model(&config.base, &config.new) {
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
    // Each side's case: its model file as given, or its zoo network.
    let case_of = |arg: &str| {
        outcome
            .records
            .iter()
            .find(|r| r.model_path == arg || (r.model_path.is_empty() && r.name == arg))
            .map(|r| r.case.clone())
    };
    let (Some(base_case), Some(new_case)) = (case_of(&config.base), case_of(&config.new)) else {
        return Err(Error::flag("NEW", "the run has no row of BASE or of NEW"));
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
