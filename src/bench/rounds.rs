//! Interleaved rounds: the rows of one group (a case's backends; the operator kinds of one
//! feature map on each backend) are prepared and checked first, each is warmed up, and
//! then they take one sample each in turn (A B C A B C …), each stopping by
//! its own rule (its own target, minimums and cap over its own sampling time). A drift of
//! the machine then falls on every row of a round alike, so their ratios, taken round by
//! round, survive it; each row keeps its own statistics. Sample i of every row of the group
//! was taken in round i; each round starts one row further on. The group's rows share one
//! timestamp.

use super::check::{Verified, checked};
use super::{Experiment, Job, Measured, ReferenceCache, RunContext, finish_row, new_record};
use crate::error::Result;
use crate::measure::{SamplerConfig, Sampling};

/// One row's state in the group.
enum State {
    /// Checked, warmed up, sampling (or done).
    Sampling(Box<Verified>, Sampling),
    /// Failed (preparation, check, warm-up or a timed call).
    Failed(crate::error::Error),
}

/// Measures `jobs` (one group's rows) in interleaved rounds: their rows, in
/// `jobs`' order.
pub(super) fn measure_group(
    experiment: &Experiment,
    sampler: &SamplerConfig,
    jobs: &[&Job<'_>],
    context: &RunContext,
    cache: &mut ReferenceCache,
) -> Vec<Measured> {
    // Every row prepared and run once, then each checked, before any is warmed up or
    // timed: a row whose reference backend is another row's is checked against that
    // row's first output (see `check::prepare_cold`), not a run of its own.
    let colds: Vec<_> = jobs.iter().map(|job| super::cold_job(job, cache)).collect();
    let mut records = Vec::new();
    let mut prepared = Vec::new();
    for (job, cold) in jobs.iter().zip(colds) {
        let mut record = new_record(experiment, job, context);
        record.interleaved = true;
        prepared.push(super::check_job(job, cold, &mut record, cache));
        records.push(record);
    }
    let mut states: Vec<State> = prepared
        .into_iter()
        .map(|p| {
            let mut v = Box::new(p?);
            let s = Sampling::warm_up(sampler, experiment.seed, &mut || v.call())?;
            Ok(State::Sampling(v, s))
        })
        .map(|r: Result<State>| r.unwrap_or_else(State::Failed))
        .collect();
    // Each round starts one row further on (A B C, B C A, C A B, …), so no row always
    // follows the same one; sample i of each is still taken in round i.
    for round in 0.. {
        let mut more = false;
        let n = states.len();
        for k in 0..n {
            let state = &mut states[(round + k) % n];
            if let State::Sampling(v, s) = state {
                match s.sample(&mut || v.call()) {
                    Ok(done) => more |= !done,
                    Err(e) => *state = State::Failed(e),
                }
            }
        }
        if !more {
            break;
        }
    }
    let mut rows: Vec<Measured> = jobs
        .iter()
        .zip(records)
        .zip(states)
        .map(|((job, record), state)| {
            let outcome = match state {
                State::Sampling(v, s) => Ok(checked(*v, s.finish())),
                State::Failed(e) => Err(e),
            };
            finish_row(experiment, job, record, outcome)
        })
        .collect();
    // One timestamp for the group: with the run id it tells rows sampled in the same
    // rounds from those of another session of a resumed run.
    let finished = super::now();
    for (record, _, _) in &mut rows {
        record.timestamp = finished.clone();
    }
    rows
}
