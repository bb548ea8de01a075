//! The local engine: cases × backends on this host's devices. Each case is prepared
//! (untimed), its output checked against a reference, then timed; each row goes to a
//! [`Sink`] (the run folder's files, a worker's JSON lines) and a [`Reporter`] (progress
//! lines and bar, nothing) as it finishes. A failing case becomes an error row; the run
//! goes on.
//!
//! The engine knows nothing of folders, remote devices or terminals: the run layer
//! (`run`) places cases on devices and gives the local ones to [`measure_cases`].

mod budget;
mod check;
pub mod coverage;
mod experiment;
mod flush;
mod groups;
pub mod kernels;
mod layers;
mod plan;
mod rounds;
mod row;
mod skipped;
mod tally;
mod work;

use std::time::{Duration, Instant};

use check::{ReferenceCache, Scratch, fill, time};
use work::Work;

use crate::backend::{Backend, Settings};
use crate::device::DeviceSpec;
use crate::error::Result;
use crate::meta;
use crate::profile::LayerSamples;
use crate::record::{OutputDigest, Record, RowKey, Status};
use crate::target::Case;

pub use check::{F32_TOLERANCE, reference_for, tolerance};
pub use experiment::Experiment;
pub use plan::{Plan, plan, plan_versions};
pub use row::{RowBase, blank_record, graph_file_name, new_run_id, now, stamp};
use row::{dtype_label, sampled};
pub use skipped::{At, ensure_runnable, refused_at, refuses};

/// Where a run's rows go as each case finishes: the run folder's files, or a worker's
/// stdout (JSON lines) that the orchestrator writes to the folder.
pub trait Sink {
    /// Takes one finished row, its raw samples and its output's digest.
    fn append(
        &mut self,
        record: &Record,
        samples_ms: &[f64],
        output: Option<&OutputDigest>,
    ) -> Result<()>;
    /// Takes the per-layer profile of a network's row (after the row itself).
    fn append_layers(&mut self, rows: &[LayerSamples]) -> Result<()>;
    /// Keeps a runtime's optimised graph of a row under `graphs/<name>` beside the
    /// results, before the row; `false` where the sink keeps no files (a worker's stream).
    fn graph(&mut self, _name: &str, _bytes: &[u8]) -> Result<bool> {
        Ok(false)
    }
}

/// Who hears about a run's progress: per-case lines and a bar on a terminal, or nobody.
/// `index` counts from 1 to `total` over every (device, case, backend) of the run.
pub trait Reporter {
    /// The run has `total` rows to produce.
    fn begin(&mut self, _total: usize) {}
    /// A case starts on a backend, or a group in rounds (`label`: case · backend · device,
    /// or the group's cases · backends in rounds · device).
    fn started(&mut self, _label: &str) {}
    /// A row was kept from an earlier run (`--resume`) instead of being measured.
    fn kept(&mut self, _index: usize, _total: usize, _record: &Record) {}
    /// A row is finished (ok or error).
    fn finished(&mut self, _index: usize, _total: usize, _record: &Record) {}
    /// A network's per-layer profile on one backend is finished.
    fn layers(&mut self, _record: &Record, _rows: &[LayerSamples]) {}
    /// The run is over.
    fn done(&mut self) {}
}

/// A reporter that says nothing.
pub struct Silent;

impl Reporter for Silent {}

/// What every row of a run shares.
pub struct RunContext {
    /// The run's id.
    pub run_id: String,
    /// The sampling loop's calibrated overhead, ns.
    pub overhead_ns: f64,
    /// Rows already ok (a resumed run): kept, not rerun.
    pub done: Vec<Record>,
    /// The per-layer profiles already written (a resumed run): not profiled again.
    pub profiled: Vec<Profiled>,
}

/// The (case, backend, device, dtype) of a network's per-layer profile.
pub type Profiled = (String, String, String, crate::spec::Dtype);

/// One (case, backend, device) to measure, with everything decided.
#[derive(Clone, Copy)]
struct Job<'a> {
    case: &'a Case,
    /// The case built for its backends, or why it could not be.
    work: &'a std::result::Result<Work, String>,
    backend: &'a dyn Backend,
    device: &'a DeviceSpec,
    settings: Settings,
    batch: usize,
    host: &'a str,
    device_model: &'a str,
}

/// The rows [`measure_cases`] produces for `cases` on `plan`: every case on every backend
/// at every dtype, skipped or measured, and `peak`'s micro-kernel rows.
pub fn rows_of(experiment: &Experiment, cases: &[Case], plan: &Plan<'_>) -> usize {
    tally::Tally::new(experiment, cases, plan).total()
}

/// Checks and times every case on every backend of `plan`, handing each row to `sink`
/// and `reporter` as it finishes. A failing case is an error row; only a sink that cannot
/// write stops the run. The backends of a case, and the operator kinds of one feature map
/// (see [`groups`]), are measured in interleaved rounds unless the sampler says otherwise
/// (then one after the other).
pub fn measure_cases(
    experiment: &Experiment,
    cases: &[Case],
    plan: &Plan<'_>,
    context: &RunContext,
    sink: &mut dyn Sink,
    reporter: &mut dyn Reporter,
) -> Result<Vec<Record>> {
    let tally = tally::Tally::new(experiment, cases, plan);
    let total = tally.total();
    reporter.begin(total);
    let mut engine = Engine {
        experiment,
        context,
        sink,
        reporter,
        // Rows kept from an earlier session are not cases left to measure.
        budget: experiment.sampler.budget.map(|b| {
            budget::Budget::new(
                b,
                total.saturating_sub(context.done.len() + tally.skipped() + tally.kernel_rows()),
            )
        }),
        index: 0,
        total,
        host: meta::host_name(),
        device_model: meta::cpu_model(),
        records: Vec::new(),
    };
    for (experiment, splits) in tally.at.iter().zip(&tally.splits) {
        engine.experiment = experiment;
        for ((device, _), split) in plan.iter().zip(splits) {
            for (case, backend, why) in &split.skipped {
                engine.skip(case, *backend, device, why)?;
            }
            for (cases, backends) in &split.runs {
                let groups = groups::round_groups(
                    cases,
                    experiment.sampler.interleave,
                    experiment.cases_in_rounds,
                );
                for group in &groups {
                    engine.group(device, backends, group)?;
                }
            }
        }
    }
    for ((device, _), jobs) in plan.iter().zip(&tally.kernels) {
        engine.kernels(jobs, device)?;
    }
    engine.reporter.done();
    Ok(engine.records)
}

/// A run in progress: where rows go, the budget, the rows so far.
struct Engine<'a> {
    experiment: &'a Experiment,
    context: &'a RunContext,
    sink: &'a mut dyn Sink,
    reporter: &'a mut dyn Reporter,
    budget: Option<budget::Budget>,
    index: usize,
    total: usize,
    host: String,
    device_model: String,
    records: Vec<Record>,
}

/// A measured row: the record, its raw samples, its output's digest and the runtime's
/// optimised graph (where it saved one).
type Measured = (Record, Vec<f64>, Option<OutputDigest>, Option<Vec<u8>>);

impl Engine<'_> {
    /// The cases of one round group (see [`groups`]) on every backend of `device`.
    fn group(
        &mut self,
        device: &DeviceSpec,
        backends: &[&dyn Backend],
        cases: &[&Case],
    ) -> Result<()> {
        let (experiment, context) = (self.experiment, self.context);
        let protocol = |case: &Case| experiment.protocol(case, device);
        // Per case and backend (case-major): the row kept from an earlier session, if any.
        let kept: Vec<Option<&Record>> = cases
            .iter()
            .flat_map(|case| {
                let (batch, threads) = protocol(case);
                backends.iter().map(move |backend| {
                    let key = RowKey {
                        case: case.id.clone(),
                        device: device.clone(),
                        backend: backend.name().to_string(),
                        dtype: experiment.dtype(),
                        batch,
                        threads,
                    };
                    context.done.iter().find(|r| RowKey::of(r) == key)
                })
            })
            .collect();
        // In rounds when more than one row is left to measure; runtimes' idle threads
        // then do not spin (one runtime's spinning would slow the next).
        let rounds =
            experiment.sampler.interleave && kept.iter().filter(|k| k.is_none()).count() > 1;
        let works: Vec<std::result::Result<Work, String>> = cases
            .iter()
            .map(|case| {
                let opts = experiment.count_options(protocol(case).0);
                Work::new(case, &opts, experiment.seed).map_err(|e| e.to_string())
            })
            .collect();
        let mut cache = ReferenceCache::new();
        let (host, device_model) = (self.host.clone(), self.device_model.clone());
        let jobs: Vec<Job<'_>> = cases
            .iter()
            .zip(&works)
            .flat_map(|(case, work)| {
                let (batch, threads) = protocol(case);
                let settings = Settings {
                    threads,
                    pconv_impl: experiment.pconv_impl,
                    dtype: experiment.dtype(),
                    spin: !rounds,
                };
                let (host, device_model) = (&host, &device_model);
                backends.iter().map(move |backend| Job {
                    case,
                    work,
                    backend: *backend,
                    device,
                    settings,
                    batch,
                    host,
                    device_model,
                })
            })
            .collect();
        let fresh: Vec<&Job<'_>> = jobs
            .iter()
            .zip(&kept)
            .filter(|(_, k)| k.is_none())
            .map(|(j, _)| j)
            .collect();
        if !rounds {
            for (job, kept) in jobs.iter().zip(kept) {
                let (record, fresh) = match kept {
                    Some(kept) => (self.keep(kept), false),
                    None => {
                        let row = self.one(job, &mut cache);
                        (self.write(row)?, true)
                    }
                };
                self.profile(job, &record, fresh)?;
                self.records.push(record);
            }
            return Ok(());
        }
        // In rounds: every fresh row prepared, checked, then sampled in turn, each written
        // as soon as it stops; then profiles (untimed, never between the rounds' samples).
        let kept_rows: Vec<Option<Record>> = kept.iter().map(|k| k.map(|r| self.keep(r))).collect();
        let mut measured = self
            .in_rounds(cases, backends, &fresh, &mut cache)?
            .into_iter();
        for (job, kept) in jobs.iter().zip(kept_rows) {
            let (record, fresh) = match kept {
                Some(kept) => (kept, false),
                None => (measured.next().expect("a row per fresh job"), true),
            };
            self.profile(job, &record, fresh)?;
            self.records.push(record);
        }
        Ok(())
    }

    /// A skipped row: `backend` cannot run `case` at the experiment's dtype (`why`).
    fn skip(
        &mut self,
        case: &Case,
        backend: &dyn Backend,
        device: &DeviceSpec,
        why: &str,
    ) -> Result<()> {
        let (batch, threads) = self.experiment.protocol(case, device);
        let opts = self.experiment.count_options(batch);
        let counts = case
            .spec_net()
            .map(|net| crate::count::count_net(net, &opts, false));
        let mut record = blank_record(
            self.experiment,
            case,
            &self.row_base(device, (backend.name(), backend.version()), batch, threads),
            counts.as_ref(),
        );
        record.status = Status::Skipped;
        record.error = why.to_string();
        record.timestamp = now();
        let record = self.write((record, Vec::new(), None, None))?;
        self.records.push(record);
        Ok(())
    }

    /// A row kept from an earlier session: reported, and returned.
    fn keep(&mut self, kept: &Record) -> Record {
        self.index += 1;
        self.reporter.kept(self.index, self.total, kept);
        kept.clone()
    }

    /// A measured row: written, reported, and its record returned.
    fn write(&mut self, (mut record, samples, output, graph): Measured) -> Result<Record> {
        if let Some(graph) = graph {
            let name = graph_file_name(&record);
            if self.sink.graph(&name, &graph)? {
                record.detail = format!("{}; optimised graph: graphs/{name}", record.detail);
            }
        }
        self.sink.append(&record, &samples, output.as_ref())?;
        self.index += 1;
        self.reporter.finished(self.index, self.total, &record);
        Ok(record)
    }

    /// The `fresh` rows of a group (`cases` on `backends`) in interleaved rounds, each
    /// written as it stops; their records, in `fresh`'s order.
    fn in_rounds(
        &mut self,
        cases: &[&Case],
        backends: &[&dyn Backend],
        fresh: &[&Job<'_>],
        cache: &mut ReferenceCache,
    ) -> Result<Vec<Record>> {
        let names: Vec<&str> = backends
            .iter()
            .map(|b| b.name())
            .filter(|n| fresh.iter().any(|j| j.backend.name() == *n))
            .collect();
        // The cases with a row left to measure (a resumed run may have kept the others).
        let measuring: Vec<&Case> = cases
            .iter()
            .copied()
            .filter(|c| fresh.iter().any(|j| j.case.id == c.id))
            .collect();
        let device = fresh
            .first()
            .map_or(String::new(), |j| j.device.to_string());
        self.reporter.started(&format!(
            "{} · {} in rounds · {device}{}",
            groups::label(&measuring),
            names.join(", "),
            dtype_label(self.experiment.dtype())
        ));
        let sampler = self.sampler();
        let started = Instant::now();
        let (experiment, context) = (self.experiment, self.context);
        let records =
            rounds::measure_group(experiment, &sampler, fresh, context, cache, &mut |row| {
                self.write(row)
            })?;
        // What the group spent beyond its rows' sampling is overhead, shared out evenly:
        // each row is charged its own sampling plus its share of that.
        let sampling: Vec<Duration> = records.iter().map(sampled).collect();
        let overhead = started.elapsed().saturating_sub(sampling.iter().sum()) / fresh.len() as u32;
        if let Some(b) = &mut self.budget {
            for s in sampling {
                b.done(s + overhead, s);
            }
        }
        Ok(records)
    }

    /// The sampler of the next case: the experiment's, with its share of the budget.
    fn sampler(&self) -> crate::measure::SamplerConfig {
        let sampler = self.experiment.sampler;
        self.budget.as_ref().map_or(sampler, |b| b.next(&sampler))
    }

    /// One backend of a case on its own.
    fn one(&mut self, job: &Job<'_>, cache: &mut ReferenceCache) -> Measured {
        self.reporter.started(&format!(
            "{} · {} · {}{}",
            job.case.id,
            job.backend.name(),
            job.device,
            dtype_label(job.settings.dtype)
        ));
        let sampler = self.sampler();
        let started = Instant::now();
        let row = measure_one(self.experiment, &sampler, job, self.context, cache);
        if let Some(b) = &mut self.budget {
            b.done(started.elapsed(), sampled(&row.0));
        }
        row
    }

    /// The per-layer profile of a network's row, when asked for and not written yet (a
    /// kept row is profiled when an interrupted run had not profiled it).
    fn profile(&mut self, job: &Job<'_>, record: &Record, fresh: bool) -> Result<()> {
        let profiled = !fresh
            && self.context.profiled.iter().any(|(c, b, d, t)| {
                (c, b, d, *t)
                    == (
                        &record.case,
                        &record.backend,
                        &record.device.to_string(),
                        record.dtype,
                    )
            });
        if let (Ok(work), true, false) = (
            job.work,
            profiles(self.experiment, job.case, record),
            profiled,
        ) {
            // Profiled on its own: threads may spin as they do outside rounds.
            let job = Job {
                settings: Settings {
                    spin: true,
                    ..job.settings
                },
                ..*job
            };
            let rows = layers::profile_job(&job, work, record, &self.records, self.experiment);
            self.sink.append_layers(&rows)?;
            self.reporter.layers(record, &rows);
        }
        Ok(())
    }
}

/// Whether `record` (a network's, checked and timed) gets a per-layer profile.
fn profiles(experiment: &Experiment, case: &Case, record: &Record) -> bool {
    (experiment.per_layer || case.per_layer)
        && case.kind == crate::spec::CaseKind::Net
        && record.status == Status::Ok
}

/// A job's row before it is measured: its counts, protocol and provenance.
fn new_record(experiment: &Experiment, job: &Job<'_>, context: &RunContext) -> Record {
    let mut record = blank_record(
        experiment,
        job.case,
        &RowBase {
            run_id: context.run_id.clone(),
            host: job.host.to_string(),
            device: job.device.clone(),
            device_model: job.device_model.to_string(),
            arch: std::env::consts::ARCH.to_string(),
            backend: job.backend.name().into(),
            backend_version: job.backend.version(),
            batch: job.batch,
            threads: job.settings.threads,
            overhead_ns: context.overhead_ns,
        },
        job.work.as_ref().ok().map(|w| &w.counts),
    );
    if !matches!(job.device, DeviceSpec::Cuda(_)) {
        let working_set = job.work.as_ref().ok().and_then(|w| w.working_set());
        kernels::place(&mut record, working_set);
    }
    record
}

/// The job's work, or the reason it has none.
fn work_of<'w>(job: &Job<'w>) -> Result<&'w Work> {
    job.work
        .as_ref()
        .map_err(|why| crate::error::Error::Usage(why.clone()))
}

/// Prepares `job` and makes its first (cold) call, untimed (see [`check::prepare_cold`]).
fn cold_job(job: &Job<'_>, cache: &mut ReferenceCache) -> Result<check::Cold> {
    let work = work_of(job)?;
    check::prepare_cold(
        job.case,
        work,
        job.backend,
        job.device,
        &job.settings,
        cache,
    )
}

/// Checks `job`'s cold output (untimed); the row's `max_abs_err` is set once the output
/// was compared, whether it passed or not.
fn check_job(
    job: &Job<'_>,
    cold: Result<check::Cold>,
    record: &mut Record,
    cache: &mut ReferenceCache,
) -> Result<check::Verified> {
    let mut scratch = Scratch {
        references: cache,
        max_abs_err: None,
    };
    let verified = cold.and_then(|cold| {
        let work = work_of(job)?;
        check::check(
            cold,
            job.case,
            work,
            job.backend.name(),
            &job.settings,
            &mut scratch,
        )
    });
    record.max_abs_err = scratch.max_abs_err;
    verified
}

/// The finished row: measured, or an error row saying why not.
fn finish_row(
    experiment: &Experiment,
    job: &Job<'_>,
    mut record: Record,
    outcome: Result<check::Checked>,
) -> Measured {
    let (samples, output, graph) = match (outcome, job.work) {
        (Ok(mut checked), Ok(work)) => {
            fill(&mut record, &checked, experiment.seed, work.has_pconv);
            if let Some(scheme) = work.model.as_ref().ok().and_then(crate::quant::scheme_of) {
                record.detail = format!("{}; {scheme}", record.detail);
            }
            if let Some((split_cat, slicing)) = work.graph_bytes {
                record.mem_bytes_graph = Some(if record.pconv_impl == "slicing" {
                    slicing
                } else {
                    split_cat
                });
            }
            let graph = checked.optimised.take();
            (checked.measurement.samples_ms, Some(checked.output), graph)
        }
        (Err(e), _) => {
            record.status = Status::Error;
            record.error = e.to_string();
            (Vec::new(), None, None)
        }
        (Ok(_), Err(why)) => {
            record.status = Status::Error;
            record.error = why.clone();
            (Vec::new(), None, None)
        }
    };
    record.timestamp = now();
    (record, samples, output, graph)
}

/// Checks and times one job on its own: its row, raw samples and output digest (an error
/// row when anything fails).
fn measure_one(
    experiment: &Experiment,
    sampler: &crate::measure::SamplerConfig,
    job: &Job<'_>,
    context: &RunContext,
    cache: &mut ReferenceCache,
) -> Measured {
    let mut record = new_record(experiment, job, context);
    let cold = cold_job(job, cache);
    let outcome = check_job(job, cold, &mut record, cache).and_then(|mut verified| {
        if sampler.l2_flush {
            verified.flush_with(flush::Flush::on(job.device), job.backend.name());
        }
        time(verified, sampler, experiment.seed)
    });
    finish_row(experiment, job, record, outcome)
}

#[cfg(test)]
mod tests;
