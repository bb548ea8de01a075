//! Summary statistics of timing samples: median, mean, standard deviation, range, a
//! bootstrap 95% confidence interval of the median (percentile method, Efron &
//! Tibshirani 1993, as criterion's `bootstrap.rs`), and outliers by the modified z-score
//! of Iglewicz & Hoaglin (1993): |x − median| / (1.4826·MAD) > 3.5. Outliers are counted
//! and warned about, never dropped.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

/// Bootstrap resamples for the confidence interval.
pub const BOOTSTRAP_RESAMPLES: usize = 2000;
/// Modified z-score above which a sample is an outlier.
pub const OUTLIER_Z: f64 = 3.5;

/// Statistics of per-iteration times, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Summary {
    /// Median.
    pub median_ms: f64,
    /// Mean.
    pub mean_ms: f64,
    /// Sample standard deviation (n − 1).
    pub stddev_ms: f64,
    /// Lower bound of the bootstrap 95% CI of the median.
    pub ci95_low_ms: f64,
    /// Upper bound of the bootstrap 95% CI of the median.
    pub ci95_high_ms: f64,
    /// Fastest sample.
    pub min_ms: f64,
    /// Slowest sample.
    pub max_ms: f64,
    /// Samples whose modified z-score exceeds [`OUTLIER_Z`].
    pub outliers: usize,
}

impl Summary {
    /// The CI's half-width relative to the median (infinite for a median ≤ 0).
    pub fn relative_half_width(&self) -> f64 {
        if self.median_ms > 0.0 {
            (self.ci95_high_ms - self.ci95_low_ms) / 2.0 / self.median_ms
        } else {
            f64::INFINITY
        }
    }
}

/// The median of a sorted slice.
fn median_sorted(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// The median of any slice (NaN-free).
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    median_sorted(&v)
}

/// The nearest-rank percentile `p` in (0, 1] of a sorted, non-empty slice: the smallest
/// value with at least a fraction `p` of the values at or below it (as trtexec and
/// onnxruntime_perf_test report per-call percentiles).
pub fn nearest_rank(sorted: &[f64], p: f64) -> f64 {
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Linear-interpolated percentile `p` in [0, 1] of a sorted slice.
pub fn percentile_sorted(sorted: &[f64], p: f64) -> f64 {
    let rank = p * (sorted.len() - 1) as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo as f64)
}

/// Number of outliers by the modified z-score.
pub fn count_outliers(values: &[f64]) -> usize {
    let m = median(values);
    let deviations: Vec<f64> = values.iter().map(|v| (v - m).abs()).collect();
    let mad = median(&deviations);
    if mad == 0.0 {
        return 0;
    }
    values
        .iter()
        .filter(|v| (*v - m).abs() / (1.4826 * mad) > OUTLIER_Z)
        .count()
}

/// Summarises samples (milliseconds). `seed` makes the bootstrap reproducible.
/// Panics on an empty slice (the sampler always takes at least one sample).
pub fn summarize(samples_ms: &[f64], seed: u64) -> Summary {
    assert!(
        !samples_ms.is_empty(),
        "summarize needs at least one sample"
    );
    let mut sorted = samples_ms.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let mean = sorted.iter().sum::<f64>() / n as f64;
    let var = if n > 1 {
        sorted.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64
    } else {
        0.0
    };
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut medians: Vec<f64> = (0..BOOTSTRAP_RESAMPLES)
        .map(|_| {
            let mut resample: Vec<f64> = (0..n).map(|_| sorted[rng.random_range(0..n)]).collect();
            resample.sort_by(f64::total_cmp);
            median_sorted(&resample)
        })
        .collect();
    medians.sort_by(f64::total_cmp);
    Summary {
        median_ms: median_sorted(&sorted),
        mean_ms: mean,
        stddev_ms: var.sqrt(),
        ci95_low_ms: percentile_sorted(&medians, 0.025),
        ci95_high_ms: percentile_sorted(&medians, 0.975),
        min_ms: sorted[0],
        max_ms: sorted[n - 1],
        outliers: count_outliers(&sorted),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_statistics() {
        let s = summarize(&[1.0, 2.0, 3.0, 4.0, 5.0], 1);
        assert_eq!(s.median_ms, 3.0);
        assert_eq!(s.mean_ms, 3.0);
        assert!((s.stddev_ms - 2.5f64.sqrt()).abs() < 1e-12);
        assert_eq!((s.min_ms, s.max_ms), (1.0, 5.0));
        assert!(s.ci95_low_ms >= 1.0 && s.ci95_low_ms <= 3.0);
        assert!(s.ci95_high_ms >= 3.0 && s.ci95_high_ms <= 5.0);
        assert_eq!(s.outliers, 0);
    }

    #[test]
    fn ci_tightens_with_more_consistent_samples() {
        let noisy: Vec<f64> = (0..50).map(|i| 10.0 + (i % 7) as f64).collect();
        let tight: Vec<f64> = (0..50).map(|i| 10.0 + (i % 7) as f64 * 0.01).collect();
        let (a, b) = (summarize(&noisy, 3), summarize(&tight, 3));
        assert!(b.ci95_high_ms - b.ci95_low_ms < a.ci95_high_ms - a.ci95_low_ms);
        assert!(a.ci95_low_ms <= a.median_ms && a.median_ms <= a.ci95_high_ms);
    }

    #[test]
    fn an_extreme_sample_is_an_outlier_but_kept() {
        let mut v: Vec<f64> = (0..20).map(|i| 10.0 + (i % 3) as f64 * 0.1).collect();
        v.push(100.0);
        let s = summarize(&v, 0);
        assert_eq!(s.outliers, 1);
        assert_eq!(s.max_ms, 100.0);
    }

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(nearest_rank(&v, 0.5), 50.0);
        assert_eq!(nearest_rank(&v, 0.9), 90.0);
        assert_eq!(nearest_rank(&v, 0.99), 99.0);
        assert_eq!(nearest_rank(&v[..10], 0.99), 10.0);
        assert_eq!(nearest_rank(&[7.0], 0.5), 7.0);
        // 0.9 · 7 = 6.3, so the 7th value.
        assert_eq!(nearest_rank(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0], 0.9), 7.0);
    }

    #[test]
    fn reproducible_for_a_seed() {
        let v: Vec<f64> = (0..30).map(|i| (i * 37 % 11) as f64).collect();
        assert_eq!(summarize(&v, 9), summarize(&v, 9));
    }
}
