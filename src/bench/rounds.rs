//! Interleaved rounds: the rows of one group (a case's backends; the operator kinds of one
//! feature map on each backend) are prepared and checked first, each is warmed up, and
//! then they take one sample each in turn (A B C A B C …), each stopping by
//! its own rule (its own target, minimums and cap over its own sampling time). A drift of
//! the machine then falls on every row of a round alike, so their ratios, taken round by
//! round, survive it; each row keeps its own statistics. Sample i of every row of the group
//! was taken in round i; each round starts one row further on. The group's rows share one
//! timestamp (the group's start); each is written as soon as it stops.

use super::check::{Verified, checked};
use super::flush::Flush;
use super::{Experiment, Job, Measured, ReferenceCache, RunContext, finish_row, new_record};
use crate::error::Result;
use crate::measure::{SamplerConfig, Sampling};
use crate::record::Record;
use std::time::Duration;

/// One row's state in the group.
enum State {
    /// Checked, warmed up, sampling (or done).
    Sampling(Box<Verified>, Sampling),
    /// Failed (preparation, check, warm-up or a timed call), with its model if it had
    /// one (a timed call failed).
    Failed(crate::error::Error, Option<Box<Verified>>),
    /// Finished and handed to `write`.
    Written,
}

/// Measures `jobs` (one group's rows) in interleaved rounds, handing each row to `write`
/// as soon as it stops (a row that failed in preparation, check or warm-up once every
/// row is warmed up, before the first round): their records, in `jobs`' order. A stopped
/// row's model is dropped only at the group's end, not between the others' samples. An
/// error of `write` (the results cannot be written) ends the group.
pub(super) fn measure_group(
    experiment: &Experiment,
    sampler: &SamplerConfig,
    jobs: &[&Job<'_>],
    context: &RunContext,
    cache: &mut ReferenceCache,
    write: &mut dyn FnMut(Measured) -> Result<Record>,
) -> Result<Vec<Record>> {
    // One timestamp for the group, its start: with the run id it tells rows sampled in
    // the same rounds from those of another session of a resumed run.
    let stamp = super::now();
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
        records.push(Some(record));
    }
    let mut states: Vec<State> = prepared
        .into_iter()
        .zip(jobs)
        .map(|(p, job)| {
            let mut v = Box::new(p?);
            if sampler.l2_flush {
                v.flush_with(Flush::on(job.device), job.backend.name());
            }
            let s = Sampling::warm_up(sampler, experiment.seed, &mut || v.call())?;
            Ok(State::Sampling(v, s))
        })
        .map(|r: Result<State>| r.unwrap_or_else(|e| State::Failed(e, None)))
        .collect();
    let mut written: Vec<Option<Record>> = vec![None; jobs.len()];
    // Finished rows' models, dropped at the group's end.
    let mut models = Vec::new();
    let mut finish = |i: usize, state: State| -> Result<()> {
        let outcome = match state {
            State::Sampling(v, s) => {
                let checked = checked(&v, s.finish());
                models.push(v);
                Ok(checked)
            }
            State::Failed(e, model) => {
                models.extend(model);
                Err(e)
            }
            State::Written => return Ok(()),
        };
        let record = records[i].take().expect("each row finishes once");
        let mut row = finish_row(experiment, jobs[i], record, outcome);
        row.0.timestamp = stamp.clone();
        written[i] = Some(write(row)?);
        Ok(())
    };
    for (i, state) in states.iter_mut().enumerate() {
        if matches!(state, State::Failed(..)) {
            finish(i, std::mem::replace(state, State::Written))?;
        }
    }
    // Each round starts one row further on (A B C, B C A, C A B, …), so no row always
    // follows the same one; sample i of each is still taken in round i.
    let n = states.len();
    for round in 0.. {
        let mut more = false;
        for k in 0..n {
            let i = (round + k) % n;
            let sampled = match &mut states[i] {
                State::Sampling(v, s) => s.sample(&mut || v.call()),
                _ => continue,
            };
            let stopped = match sampled {
                Ok(done) => done,
                Err(e) => {
                    if let State::Sampling(v, _) = std::mem::replace(&mut states[i], State::Written)
                    {
                        states[i] = State::Failed(e, Some(v));
                    }
                    true
                }
            };
            if stopped {
                let spare = match &states[i] {
                    State::Sampling(_, s) => s.unused_share(),
                    _ => Duration::ZERO,
                };
                finish(i, std::mem::replace(&mut states[i], State::Written))?;
                share_out(
                    states.iter_mut().filter_map(|s| match s {
                        State::Sampling(_, s) => Some(s),
                        _ => None,
                    }),
                    spare,
                );
            } else {
                more = true;
            }
        }
        if !more {
            break;
        }
    }
    // The stopped rows' models go now, the group done.
    drop(models);
    Ok(written.into_iter().flatten().collect())
}

/// Shares `spare` — what a row that stopped before its budget share was spent left of
/// it — out evenly among the rows of its group still sampling within their own share
/// (one past it is only finishing its 10-sample minimum): the group's time goes to its
/// rows that still need it before it goes back to the run's later cases.
fn share_out<'s>(sampling: impl Iterator<Item = &'s mut Sampling>, spare: Duration) {
    let open: Vec<&mut Sampling> = sampling
        .filter(|s| s.unused_share() > Duration::ZERO)
        .collect();
    if open.is_empty() || spare.is_zero() {
        return;
    }
    let each = spare / open.len() as u32;
    for s in open {
        s.extend_share(each);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::CallTime;

    #[test]
    fn a_stopped_rows_unused_share_goes_to_the_rows_still_sampling() {
        let config = SamplerConfig {
            warmup: Duration::ZERO,
            share: Some(Duration::from_secs(1)),
            ..SamplerConfig::default()
        };
        let mut rows: Vec<Sampling> = (0..3)
            .map(|_| Sampling::warm_up(&config, 0, &mut || Ok(CallTime::default())).unwrap())
            .collect();
        assert_eq!(rows[0].unused_share(), Duration::from_secs(1));
        share_out(rows.iter_mut(), Duration::from_millis(600));
        for r in &rows {
            assert_eq!(r.unused_share(), Duration::from_millis(1200));
        }
        // A row past its own share (finishing its minimum samples) gets none of it.
        let spent = SamplerConfig {
            share: Some(Duration::ZERO),
            ..config
        };
        let mut past = Sampling::warm_up(&spent, 0, &mut || Ok(CallTime::default())).unwrap();
        share_out(
            rows.iter_mut().take(1).chain(std::iter::once(&mut past)),
            Duration::from_millis(300),
        );
        assert_eq!(rows[0].unused_share(), Duration::from_millis(1500));
        assert_eq!(past.unused_share(), Duration::ZERO);
        // Without a budget there is no share to give or to extend.
        let free = SamplerConfig {
            share: None,
            ..config
        };
        let mut row = Sampling::warm_up(&free, 0, &mut || Ok(CallTime::default())).unwrap();
        share_out(std::iter::once(&mut row), Duration::from_secs(1));
        assert_eq!(row.unused_share(), Duration::ZERO);
    }
}
