//! The change between two rows' times: NEW / BASE with a bootstrap 95% CI, and the
//! verdict of that CI against a noise band.
//!
//! Two rows measured in the same interleaved rounds are compared round by round (the
//! median of the per-round ratios: a drift of the machine slows both samples of a round
//! and cancels, see [`crate::measure::paired`]). Rows of separate runs are independent:
//! the CI comes from resampling each row's own samples and taking the ratio of the two
//! medians, so it holds the noise within each run but not the drift between them, which
//! is why the default noise band is wider for separate runs.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::measure::paired::paired_ratio;
use crate::measure::stats::{BOOTSTRAP_RESAMPLES, median, percentile_sorted};

/// Default noise band of rows from separate runs: drift between two runs (another
/// process, the clock, the heap's state) is in neither run's CI; on the shared 2-core
/// machines flopsbench is tested on, repeated runs of one configuration move by up to a
/// few percent.
pub const NOISE_SEPARATE: f64 = 0.05;
/// Default noise band of rows measured in the same interleaved rounds (drift cancels).
pub const NOISE_PAIRED: f64 = 0.01;

/// NEW / BASE of two rows' median times.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Change {
    /// The ratio (> 1: NEW is slower).
    pub ratio: f64,
    /// Bootstrap 95% CI, low.
    pub low: f64,
    /// Bootstrap 95% CI, high.
    pub high: f64,
    /// Whether it is paired round by round (same run, interleaved rounds).
    pub paired: bool,
}

/// What the CI says against the noise band.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// NEW is faster by more than the noise band, CI and all.
    Improved,
    /// NEW is slower by more than the noise band, CI and all.
    Regressed,
    /// The CI reaches into the noise band.
    Unchanged,
}

impl Verdict {
    /// The word shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Improved => "improved",
            Verdict::Regressed => "regressed",
            Verdict::Unchanged => "unchanged",
        }
    }
}

impl Change {
    /// Rows of the same rounds: the median of per-round ratios (sample i of each was taken
    /// in round i); `None` without a common round.
    pub fn paired(base: &[f64], new: &[f64], seed: u64) -> Option<Change> {
        let r = paired_ratio(new, base, seed)?;
        Some(Change {
            ratio: r.ratio,
            low: r.low,
            high: r.high,
            paired: true,
        })
    }

    /// Rows of separate runs: the ratio of the medians, its CI from resampling each side's
    /// samples on its own; `None` when a side has no positive sample.
    pub fn unpaired(base: &[f64], new: &[f64], seed: u64) -> Option<Change> {
        let usable = |s: &[f64]| !s.is_empty() && s.iter().all(|x| x.is_finite() && *x > 0.0);
        if !usable(base) || !usable(new) {
            return None;
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut resampled_median = |s: &[f64]| {
            let r: Vec<f64> = (0..s.len())
                .map(|_| s[rng.random_range(0..s.len())])
                .collect();
            median(&r)
        };
        let mut ratios: Vec<f64> = (0..BOOTSTRAP_RESAMPLES)
            .map(|_| {
                let b = resampled_median(base);
                resampled_median(new) / b
            })
            .collect();
        ratios.sort_by(f64::total_cmp);
        Some(Change {
            ratio: median(new) / median(base),
            low: percentile_sorted(&ratios, 0.025),
            high: percentile_sorted(&ratios, 0.975),
            paired: false,
        })
    }

    /// Regressed when the whole CI lies above 1 + `noise`, improved when it lies below
    /// 1 − `noise`, unchanged otherwise (a change within the band, or one the CI cannot
    /// tell from none).
    pub fn verdict(&self, noise: f64) -> Verdict {
        if self.low > 1.0 + noise {
            Verdict::Regressed
        } else if self.high < 1.0 - noise {
            Verdict::Improved
        } else {
            Verdict::Unchanged
        }
    }

    /// `1.23× slower [1.19, 1.27]` or `1.30× faster [1.25, 1.36]`: how many times, with
    /// the CI of that number (not symmetric about it).
    pub fn phrase(&self) -> String {
        phrase(self.ratio, Some((self.low, self.high)))
    }
}

/// A ratio NEW / BASE in words, with its CI when there is one.
pub fn phrase(ratio: f64, ci: Option<(f64, f64)>) -> String {
    if format!("{ratio:.2}") == "1.00" {
        return match ci {
            Some((l, h)) => format!("1.00× (the same) [{l:.2}, {h:.2}]"),
            None => "1.00× (the same)".into(),
        };
    }
    let (times, word, ci) = if ratio >= 1.0 {
        (ratio, "slower", ci)
    } else {
        (1.0 / ratio, "faster", ci.map(|(l, h)| (1.0 / h, 1.0 / l)))
    };
    match ci {
        Some((l, h)) => format!("{times:.2}× {word} [{l:.2}, {h:.2}]"),
        None => format!("{times:.2}× {word}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Samples of a row whose true time is `ms`, ±3% jitter, slowed by `drift` from
    /// sample `from` on.
    fn row(ms: f64, n: usize, seed: u64, drift: f64, from: usize) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n)
            .map(|i| {
                let d = if i >= from { drift } else { 1.0 };
                ms * d * (1.0 + rng.random_range(-0.03..0.03))
            })
            .collect()
    }

    #[test]
    fn one_distribution_twice_is_unchanged_and_a_real_change_is_not() {
        for seed in 0..20 {
            let (a, b) = (
                row(10.0, 40, seed, 1.0, 0),
                row(10.0, 40, seed + 100, 1.0, 0),
            );
            let c = Change::unpaired(&a, &b, seed).unwrap();
            assert!(c.low <= c.ratio && c.ratio <= c.high, "{c:?}");
            assert_eq!(c.verdict(NOISE_SEPARATE), Verdict::Unchanged, "{c:?}");
            // 15% slower, and 15% faster.
            let slow = row(11.5, 40, seed + 200, 1.0, 0);
            let c = Change::unpaired(&a, &slow, seed).unwrap();
            assert_eq!(c.verdict(NOISE_SEPARATE), Verdict::Regressed, "{c:?}");
            assert!(c.phrase().ends_with(']') && c.phrase().contains("× slower ["));
            let c = Change::unpaired(&slow, &a, seed).unwrap();
            assert_eq!(c.verdict(NOISE_SEPARATE), Verdict::Improved, "{c:?}");
            assert!(c.phrase().contains("× faster ["), "{}", c.phrase());
        }
    }

    #[test]
    fn a_drift_within_the_band_is_no_false_alarm_and_rounds_cancel_it() {
        // The second run's machine is 3% slower for its second half: within the 5% band
        // of separate runs.
        for seed in 0..20 {
            let a = row(10.0, 40, seed, 1.0, 0);
            let b = row(10.0, 40, seed + 50, 1.03, 20);
            let c = Change::unpaired(&a, &b, seed).unwrap();
            assert_eq!(c.verdict(NOISE_SEPARATE), Verdict::Unchanged, "{c:?}");
        }
        // In rounds, a 20% step of the machine slows both rows alike: the per-round
        // ratios stay at the truth (1.10) and the 1% band of paired rows holds.
        let drift = |ms: f64, seed: u64| row(ms, 40, seed, 1.2, 20);
        let mut a = drift(10.0, 1);
        let mut b = drift(11.0, 1);
        // The same jitter in both rows of a round except a small own part.
        for (i, (x, y)) in a.iter_mut().zip(&mut b).enumerate() {
            *x *= 1.0 + 0.002 * (i % 3) as f64;
            *y *= 1.0 + 0.002 * ((i + 1) % 3) as f64;
        }
        let c = Change::paired(&a, &b, 0).unwrap();
        assert!((c.ratio - 1.1).abs() < 0.01 && c.paired, "{c:?}");
        assert_eq!(c.verdict(NOISE_PAIRED), Verdict::Regressed, "{c:?}");
    }

    #[test]
    fn phrases_name_the_direction_and_invert_the_ci_for_faster() {
        assert_eq!(
            phrase(1.234, Some((1.19, 1.27))),
            "1.23× slower [1.19, 1.27]"
        );
        assert_eq!(phrase(0.8, Some((0.75, 0.85))), "1.25× faster [1.18, 1.33]");
        assert_eq!(phrase(0.5, None), "2.00× faster");
        assert_eq!(
            phrase(1.001, Some((0.98, 1.02))),
            "1.00× (the same) [0.98, 1.02]"
        );
        assert!(Change::unpaired(&[], &[1.0], 0).is_none());
        assert!(Change::unpaired(&[1.0], &[0.0], 0).is_none());
    }
}
