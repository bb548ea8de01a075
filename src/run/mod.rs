//! The run layer: one measured run from the command line's point of view. It places the
//! experiment's devices (this host's, or named ones from devices.toml), gives this host's
//! devices to the engine ([`crate::bench`]) with the run folder's files as the sink and
//! the terminal as the reporter, and the named ones to the fleet ([`crate::fleet`]).

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::bench::{
    Experiment, Plan, RunContext, measure_cases, new_run_id, now, plan, plan_versions, stamp,
};
use crate::device::DeviceSpec;
use crate::error::{Error, Result};
use crate::fleet::{self, FleetOptions, Place};
use crate::measure::calibrate_overhead;
use crate::meta;
use crate::output::progress::Progress;
use crate::record::Record;
use crate::results::{DirLock, ResultsWriter, new_default_dir, prepare_dir};
use crate::target::Case;

/// How this invocation runs an experiment: where, into which folder, how loudly.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOptions {
    /// Devices.
    pub devices: Vec<DeviceSpec>,
    /// Output folder (default `reports/<UTC timestamp>-<host>/`).
    pub out: Option<PathBuf>,
    /// Complete the run folder `out` instead of starting a new one: cases already `ok`
    /// there are kept and skipped, failed ones rerun.
    pub resume: bool,
    /// No per-case lines on stderr.
    pub quiet: bool,
    /// A progress bar on stderr (when it is a terminal).
    pub progress: bool,
    /// Where named devices are defined, and whether to build binaries for them.
    pub fleet: FleetOptions,
}

impl Default for RunOptions {
    /// This host's CPU, the default folder, quiet, no bar.
    fn default() -> Self {
        RunOptions {
            devices: vec![DeviceSpec::Cpu],
            out: None,
            resume: false,
            quiet: true,
            progress: false,
            fleet: FleetOptions::default(),
        }
    }
}

/// The rows of a finished run and where they were written.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Every row, in order.
    pub records: Vec<Record>,
    /// The run's folder.
    pub dir: PathBuf,
}

/// Checks the experiment's options and the run's, naming the flag at fault (in the order
/// the flags are listed: protocol, `--resume`, sampling).
pub fn validate(experiment: &Experiment, options: &RunOptions) -> Result<()> {
    experiment.validate_protocol()?;
    if options.resume {
        let dir = options.out.as_deref().unwrap_or(Path::new("."));
        // A run's folder, or a fleet run's folder of device folders.
        let fleet = std::fs::read_dir(dir).is_ok_and(|entries| {
            entries
                .flatten()
                .any(|e| e.path().join("results.csv").is_file())
        });
        if !dir.join("results.csv").is_file() && !fleet {
            return Err(Error::flag(
                "--resume",
                format!(
                    "{} has no results.csv to resume (nor device folders with one)",
                    dir.display()
                ),
            ));
        }
    }
    experiment.validate_sampler()
}

/// The run folder: `--out`, or a new `reports/<UTC timestamp>-<host>/` (with `-2`, `-3`, …
/// when another run started in the same second).
pub fn run_dir(options: &RunOptions, started: &str) -> Result<PathBuf> {
    match &options.out {
        Some(out) => Ok(out.clone()),
        None => new_default_dir(&format!("{}-{}", stamp(started), meta::host_name())),
    }
}

/// Runs every case on every device: rows are appended to the run's files as they
/// finish and printed to `log` (unless quiet). Errors in a case become rows; only setup
/// errors return `Err`.
pub fn run(
    experiment: &Experiment,
    options: &RunOptions,
    log: &mut (dyn Write + Send),
) -> Result<Outcome> {
    validate(experiment, options)?;
    let places = fleet::place(&options.devices, &options.fleet)?;
    if places.iter().any(|p| matches!(p, Place::Remote(_))) {
        return run_fleet(experiment, options, &places, log);
    }
    let cases = experiment.cases()?;
    let plan = plan(experiment, &options.devices, log)?;
    crate::bench::ensure_runnable(experiment, &cases, &plan)?;
    let dir = run_dir(options, &now())?;
    let records = run_local(experiment, options, &cases, &plan, &dir, log)?;
    Ok(Outcome { records, dir })
}

/// [`run`] on this host with an explicit plan (devices and backends), e.g. one with a
/// backend of the caller's.
pub fn run_on(
    experiment: &Experiment,
    options: &RunOptions,
    plan: &Plan<'_>,
    log: &mut dyn Write,
) -> Result<Outcome> {
    validate(experiment, options)?;
    let cases = experiment.cases()?;
    crate::bench::ensure_runnable(experiment, &cases, plan)?;
    let dir = run_dir(options, &now())?;
    let records = run_local(experiment, options, &cases, plan, &dir, log)?;
    Ok(Outcome { records, dir })
}

/// Runs `cases` on `plan` into the folder `dir` (created, locked, and resumed when the
/// options say so).
fn run_local(
    experiment: &Experiment,
    options: &RunOptions,
    cases: &[Case],
    plan: &Plan<'_>,
    dir: &Path,
    log: &mut dyn Write,
) -> Result<Vec<Record>> {
    let started = now();
    let run_id = new_run_id(&started);
    prepare_dir(dir)?;
    let flag = if options.resume { "--resume" } else { "--out" };
    let _lock = DirLock::take(dir, flag)?;
    let overhead_ns = calibrate_overhead();
    // A GPU's clocks, power and temperature before the first case and after the last.
    let on_gpu = plan.iter().any(|(d, _)| matches!(d, DeviceSpec::Cuda(_)));
    let (mut writer, done, run_id) = if options.resume {
        // Resumed rows keep the run's id: the folder stays one run, each case once.
        let (writer, kept) = ResultsWriter::resume(dir, experiment.sampler.l2_flush)?;
        let id = kept.first().map_or(run_id, |r| r.run_id.clone());
        if on_gpu {
            // This session's start, after the earlier sessions' readings.
            writer.update_meta(|meta| meta.add_gpu_reading("start", now()))?;
        }
        (writer, kept, id)
    } else {
        let mut meta = meta::collect(&run_id, &started, plan_versions(plan), overhead_ns);
        if on_gpu {
            meta.add_gpu_reading("start", now());
        }
        (ResultsWriter::create(dir, &meta)?, Vec::new(), run_id)
    };
    let context = RunContext {
        run_id,
        overhead_ns,
        done,
        profiled: if options.resume {
            crate::results::profiled(dir)
        } else {
            Vec::new()
        },
    };
    let mut reporter =
        Progress::new(log, options.quiet, options.progress).with_depth(experiment.depth);
    let records = measure_cases(
        experiment,
        cases,
        plan,
        &context,
        &mut writer,
        &mut reporter,
    )?;
    if on_gpu {
        writer.update_meta(|meta| meta.add_gpu_reading("end", now()))?;
    }
    Ok(records)
}

/// Runs on devices of which some are named (see [`crate::fleet`]): one folder per host
/// under the run's folder.
fn run_fleet(
    experiment: &Experiment,
    options: &RunOptions,
    places: &[Place],
    log: &mut (dyn Write + Send),
) -> Result<Outcome> {
    let mut remote = Vec::new();
    let mut local = Vec::new();
    for p in places {
        match p {
            Place::Remote(d) => remote.push(d),
            Place::Local(d) => local.push(d.clone()),
        }
    }
    let cases = experiment.cases()?;
    let local_plan = if local.is_empty() {
        Vec::new()
    } else {
        plan(experiment, &local, log)?
    };
    let binaries = fleet::binaries(&remote, options.fleet.build, log)?;
    let root = run_dir(options, &now())?;
    prepare_dir(&root)?;
    let flag = if options.resume { "--resume" } else { "--out" };
    let _lock = DirLock::take(&root, flag)?;
    let local_dir = fleet::local_dir(&root, &remote);
    let records = fleet::run(
        &fleet::Remote {
            experiment,
            cases: &cases,
            devices: remote.iter().copied().zip(binaries).collect(),
            root: &root,
            quiet: options.quiet,
            resume: options.resume,
        },
        log,
        |log| {
            if local.is_empty() {
                return Ok(Vec::new());
            }
            let local_options = RunOptions {
                devices: local.clone(),
                // This host's folder resumes when the first session wrote it.
                resume: options.resume && local_dir.join("results.csv").is_file(),
                ..options.clone()
            };
            run_local(
                experiment,
                &local_options,
                &cases,
                &local_plan,
                &local_dir,
                log,
            )
        },
    )?;
    Ok(Outcome { records, dir: root })
}
