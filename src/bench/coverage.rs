//! `flopsbench coverage` (hidden): does a row's 95% CI deserve its name here? One case is
//! measured `runs` times in a row on one backend, each run with its own median and CI, as
//! rows are; the grand median (over every run's samples) should lie inside about 95% of
//! their CIs. Drift of the machine (a neighbour, a clock) moves whole runs and lowers the
//! figure; the same number of runs taken in interleaved rounds (each run one sample per
//! round, as a case's backends are) shows how much of the shortfall is drift.

use super::check::{ReferenceCache, Scratch, prepare_checked};
use super::{Experiment, Work};
use crate::backend::{Backend, Settings};
use crate::count::CountOptions;
use crate::device::DeviceSpec;
use crate::error::{Error, Result};
use crate::measure::stats::median;
use crate::measure::{Sampling, Summary, measure_calls, summarize};

/// The runs of one case, in a row and in rounds.
#[derive(Debug, Clone)]
pub struct Coverage {
    /// The case's id.
    pub case: String,
    /// The backend.
    pub backend: String,
    /// Each run's statistics, one run after the other.
    pub in_a_row: Vec<Summary>,
    /// The grand median of those runs' samples, ms.
    pub in_a_row_median: f64,
    /// Each run's statistics, the runs taken in interleaved rounds.
    pub in_rounds: Vec<Summary>,
    /// The grand median of those runs' samples, ms.
    pub in_rounds_median: f64,
}

/// How many of `runs`' CIs contain `grand`.
pub fn covered(runs: &[Summary], grand: f64) -> usize {
    runs.iter()
        .filter(|s| s.ci95_low_ms <= grand && grand <= s.ci95_high_ms)
        .count()
}

/// Measures the first case of `experiment` on `backend` (this host's CPU) `runs` times in
/// a row, then `runs` times in rounds, after checking its output as every row is.
pub fn coverage(experiment: &Experiment, backend: &dyn Backend, runs: usize) -> Result<Coverage> {
    let case = experiment
        .cases()?
        .into_iter()
        .next()
        .ok_or_else(|| Error::Usage("no case to measure".into()))?;
    let settings = Settings {
        threads: experiment.threads.unwrap_or(1),
        pconv_impl: experiment.pconv_impl,
        dtype: experiment.dtype(),
        spin: false,
    };
    let opts = CountOptions {
        batch: experiment.batch.unwrap_or(1),
        dtype: experiment.dtype(),
        fuse_bn: experiment.fuse_bn,
        convention: experiment.convention,
    };
    let work = Work::new(&case, &opts, experiment.seed)?;
    let mut cache = ReferenceCache::new();
    let mut scratch = Scratch {
        references: &mut cache,
        max_abs_err: None,
    };
    let mut v = prepare_checked(
        &case,
        &work,
        backend,
        &DeviceSpec::Cpu,
        &settings,
        &mut scratch,
    )?;
    let (sampler, seed) = (&experiment.sampler, experiment.seed);
    let mut in_a_row = Vec::new();
    for _ in 0..runs {
        in_a_row.push(measure_calls(sampler, seed, &mut || v.call())?.samples_ms);
    }
    let mut rounds = Vec::new();
    for _ in 0..runs {
        rounds.push(Sampling::warm_up(sampler, seed, &mut || v.call())?);
    }
    loop {
        let mut more = false;
        for s in &mut rounds {
            more |= !s.sample(&mut || v.call())?;
        }
        if !more {
            break;
        }
    }
    let in_rounds: Vec<Vec<f64>> = rounds.into_iter().map(|s| s.finish().samples_ms).collect();
    let grand = |runs: &[Vec<f64>]| median(&runs.concat());
    let stats = |runs: &[Vec<f64>]| runs.iter().map(|s| summarize(s, seed)).collect();
    Ok(Coverage {
        case: case.id,
        backend: backend.name().into(),
        in_a_row_median: grand(&in_a_row),
        in_a_row: stats(&in_a_row),
        in_rounds_median: grand(&in_rounds),
        in_rounds: stats(&in_rounds),
    })
}

impl Coverage {
    /// The figures, as printed.
    pub fn render(&self) -> String {
        let mut out = format!("{} · {} · cpu\n", self.case, self.backend);
        for (label, runs, grand) in [
            ("in a row", &self.in_a_row, self.in_a_row_median),
            ("in rounds", &self.in_rounds, self.in_rounds_median),
        ] {
            let widths: Vec<f64> = runs
                .iter()
                .map(|s| s.relative_half_width() * 100.0)
                .collect();
            out += &format!(
                "  {label:<9}: the grand median {grand:.4} ms lies inside {} of {} runs' 95% CIs \
                 (medians {:.4} … {:.4} ms, CI half-widths ±{:.2}% … ±{:.2}%)\n",
                covered(runs, grand),
                runs.len(),
                runs.iter()
                    .map(|s| s.median_ms)
                    .fold(f64::INFINITY, f64::min),
                runs.iter().map(|s| s.median_ms).fold(0.0, f64::max),
                widths.iter().copied().fold(f64::INFINITY, f64::min),
                widths.iter().copied().fold(0.0, f64::max),
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coverage_counts_the_intervals_that_contain_the_grand_median() {
        let run = |lo: f64, hi: f64| Summary {
            median_ms: (lo + hi) / 2.0,
            mean_ms: 0.0,
            stddev_ms: 0.0,
            ci95_low_ms: lo,
            ci95_high_ms: hi,
            min_ms: 0.0,
            max_ms: 0.0,
            outliers: 0,
        };
        let runs = [
            run(9.0, 11.0),
            run(10.0, 10.5),
            run(10.6, 12.0),
            run(8.0, 10.0),
        ];
        assert_eq!(covered(&runs, 10.0), 3);
        assert_eq!(covered(&runs, 11.5), 1);
        assert_eq!(covered(&runs, 20.0), 0);
    }
}
