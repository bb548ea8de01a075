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
mod experiment;
mod layers;
mod plan;
mod row;
mod work;

use std::time::{Duration, Instant};

use check::{ReferenceCache, Scratch, fill, prepare_checked, time};
use work::Work;

use crate::backend::{Backend, Settings};
use crate::count::CountOptions;
use crate::device::DeviceSpec;
use crate::error::Result;
use crate::meta;
use crate::profile::LayerSamples;
use crate::record::{OutputDigest, Record, RowKey, Status};
use crate::target::Case;

pub use check::{F32_TOLERANCE, reference_for, tolerance};
pub use experiment::Experiment;
pub use plan::{Plan, plan, plan_versions};
pub use row::{RowBase, blank_record, new_run_id, now, stamp};

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
}

/// Who hears about a run's progress: per-case lines and a bar on a terminal, or nobody.
/// `index` counts from 1 to `total` over every (device, case, backend) of the run.
pub trait Reporter {
    /// The run has `total` rows to produce.
    fn begin(&mut self, _total: usize) {}
    /// A case starts on a backend (`label`: case · backend · device).
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
    /// The (case, backend, device) of the per-layer profiles already written (a resumed
    /// run): not profiled again.
    pub profiled: Vec<(String, String, String)>,
}

/// One (case, backend, device) to measure, with everything decided.
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

/// Checks and times every case on every backend of `plan`, handing each row to `sink`
/// and `reporter` as it finishes. A failing case is an error row; only a sink that cannot
/// write stops the run.
pub fn measure_cases(
    experiment: &Experiment,
    cases: &[Case],
    plan: &Plan<'_>,
    context: &RunContext,
    sink: &mut dyn Sink,
    reporter: &mut dyn Reporter,
) -> Result<Vec<Record>> {
    let total: usize = plan.iter().map(|(_, b)| b.len()).sum::<usize>() * cases.len();
    reporter.begin(total);
    let host = meta::host_name();
    let device_model = meta::cpu_model();
    let mut records = Vec::new();
    let mut index = 0;
    let mut budget = experiment
        .sampler
        .budget
        .map(|b| budget::Budget::new(b, total));
    for (device, backends) in plan {
        let (paper_batch, paper_threads) = device.paper_protocol();
        for case in cases {
            let settings = Settings {
                threads: case.threads.or(experiment.threads).unwrap_or(paper_threads),
                pconv_impl: experiment.pconv_impl,
                dtype: experiment.dtype,
            };
            let batch = case.batch.or(experiment.batch).unwrap_or(paper_batch);
            let opts = CountOptions {
                batch,
                dtype: experiment.dtype,
                fuse_bn: experiment.fuse_bn,
                convention: experiment.convention,
            };
            let work = Work::new(case, &opts, experiment.seed).map_err(|e| e.to_string());
            let mut cache = ReferenceCache::new();
            for backend in backends {
                index += 1;
                let key = RowKey {
                    case: case.id.clone(),
                    device: device.clone(),
                    backend: backend.name().to_string(),
                    dtype: experiment.dtype,
                    batch,
                    threads: settings.threads,
                };
                let job = Job {
                    case,
                    work: &work,
                    backend: *backend,
                    device,
                    settings,
                    batch,
                    host: &host,
                    device_model: &device_model,
                };
                let (record, fresh) = match context.done.iter().find(|r| RowKey::of(r) == key) {
                    Some(kept) => {
                        reporter.kept(index, total, kept);
                        if let Some(b) = &mut budget {
                            b.done(Duration::ZERO, Duration::ZERO);
                        }
                        (kept.clone(), false)
                    }
                    None => {
                        reporter.started(&format!("{} · {} · {device}", case.id, backend.name()));
                        let sampler = budget
                            .as_ref()
                            .map_or(experiment.sampler, |b| b.next(&experiment.sampler));
                        let started = Instant::now();
                        let (record, samples, output) =
                            measure_one(experiment, &sampler, &job, context, &mut cache);
                        if let Some(b) = &mut budget {
                            b.done(started.elapsed(), sampled(&record));
                        }
                        sink.append(&record, &samples, output.as_ref())?;
                        reporter.finished(index, total, &record);
                        (record, true)
                    }
                };
                // A kept row is profiled when an interrupted run had not profiled it yet.
                let profiled = !fresh
                    && context.profiled.iter().any(|(c, b, d)| {
                        (c, b, d) == (&record.case, &record.backend, &record.device.to_string())
                    });
                if let (Ok(work), true, false) =
                    (&work, profiles(experiment, case, &record), profiled)
                {
                    let rows = layers::profile_job(&job, work, &record, &records, experiment);
                    sink.append_layers(&rows)?;
                    reporter.layers(&record, &rows);
                }
                records.push(record);
            }
        }
    }
    reporter.done();
    Ok(records)
}

/// The time a row spent sampling (zero for an error row).
fn sampled(record: &Record) -> Duration {
    match (record.samples, record.iters_per_sample, record.mean_ms) {
        (Some(n), Some(iters), Some(mean)) => {
            Duration::from_secs_f64(n as f64 * iters as f64 * mean / 1e3)
        }
        _ => Duration::ZERO,
    }
}

/// Whether `record` (a network's, checked and timed) gets a per-layer profile.
fn profiles(experiment: &Experiment, case: &Case, record: &Record) -> bool {
    (experiment.per_layer || case.per_layer)
        && case.kind == crate::spec::CaseKind::Net
        && record.status == Status::Ok
}

/// Checks and times one job: its row, raw samples and output digest (an error row when
/// anything fails).
fn measure_one(
    experiment: &Experiment,
    sampler: &crate::measure::SamplerConfig,
    job: &Job<'_>,
    context: &RunContext,
    cache: &mut ReferenceCache,
) -> (Record, Vec<f64>, Option<OutputDigest>) {
    let work = job.work.as_ref();
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
        work.ok().map(|w| &w.counts),
    );
    let mut scratch = Scratch {
        references: cache,
        max_abs_err: None,
    };
    let result = work
        .map_err(|why| crate::error::Error::Usage(why.clone()))
        .and_then(|work| {
            prepare_checked(
                job.case,
                work,
                job.backend,
                job.device,
                &job.settings,
                &mut scratch,
            )
            .and_then(|verified| time(verified, sampler, experiment.seed))
            .map(|checked| (checked, work))
        });
    record.max_abs_err = scratch.max_abs_err;
    let (samples, output) = match result {
        Ok((checked, work)) => {
            fill(&mut record, &checked, experiment.seed, work.has_pconv);
            if let Some((split_cat, slicing)) = work.graph_bytes {
                record.mem_bytes_graph = Some(if record.pconv_impl == "slicing" {
                    slicing
                } else {
                    split_cat
                });
            }
            (checked.measurement.samples_ms, Some(checked.output))
        }
        Err(e) => {
            record.status = Status::Error;
            record.error = e.to_string();
            (Vec::new(), None)
        }
    };
    record.timestamp = now();
    (record, samples, output)
}

#[cfg(test)]
mod tests;
