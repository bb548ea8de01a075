//! The ratio of two groups' average rates, e.g. Table 1's PConv/DWConv: the mean GMAC/s
//! of the PConv rows over that of the DWConv rows, each row's rate from its median. Its
//! seeded bootstrap 95% CI resamples every row's own samples (with replacement) and takes
//! the 2.5th and 97.5th percentiles of the ratio over the replicates. The rows were
//! measured one after another, not in the same rounds, so the CI covers each row's
//! sampling noise, not a drift of the machine between rows (see [`super::paired`]).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::stats::{BOOTSTRAP_RESAMPLES, median, percentile_sorted};

/// One row: its rate (work per time, from its median latency) and its latency samples.
#[derive(Debug, Clone, Copy)]
pub struct Rated<'a> {
    /// The row's rate (e.g. GMAC/s at its median latency).
    pub rate: f64,
    /// Its latency samples.
    pub samples: &'a [f64],
}

/// A ratio with its CI.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RatioCi {
    /// mean(rate of `a`) / mean(rate of `b`).
    pub ratio: f64,
    /// Bootstrap 95% CI, low.
    pub low: f64,
    /// Bootstrap 95% CI, high.
    pub high: f64,
}

fn mean(xs: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = xs.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    sum / n as f64
}

/// mean rate of `a` over mean rate of `b`, with its CI; `None` when a group is empty or a
/// row has no samples or a non-positive median.
pub fn ratio_of_mean_rates(a: &[Rated<'_>], b: &[Rated<'_>], seed: u64) -> Option<RatioCi> {
    if a.is_empty() || b.is_empty() || a.iter().chain(b).any(|r| r.samples.is_empty()) {
        return None;
    }
    let medians: Vec<f64> = a.iter().chain(b).map(|r| median(r.samples)).collect();
    if medians.iter().any(|m| !m.is_finite() || *m <= 0.0) {
        return None;
    }
    let ratio = mean(a.iter().map(|r| r.rate)) / mean(b.iter().map(|r| r.rate));
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut buffer = Vec::new();
    let mut replicate = |r: &Rated<'_>, m: f64| {
        let n = r.samples.len();
        buffer.clear();
        buffer.extend((0..n).map(|_| r.samples[rng.random_range(0..n)]));
        // A slower resampled median is a proportionally lower rate.
        r.rate * m / median(&buffer)
    };
    let mut ratios: Vec<f64> = (0..BOOTSTRAP_RESAMPLES)
        .map(|_| {
            let ra = mean(a.iter().zip(&medians).map(|(r, &m)| replicate(r, m)));
            let rb = mean(
                b.iter()
                    .zip(&medians[a.len()..])
                    .map(|(r, &m)| replicate(r, m)),
            );
            ra / rb
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    Some(RatioCi {
        ratio,
        low: percentile_sorted(&ratios, 0.025),
        high: percentile_sorted(&ratios, 0.975),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ci_holds_the_ratio_and_narrows_with_quieter_rows() {
        // Two rows each, rates 10 and 30 against 2 and 6: ratio 20/4 = 5.
        let jitter = |ms: f64, spread: f64| -> Vec<f64> {
            (0..40)
                .map(|i| ms * (1.0 + spread * (((i * 7919) % 41) as f64 / 20.0 - 1.0)))
                .collect()
        };
        let rows = |spread: f64| {
            [
                jitter(1.0, spread),
                jitter(2.0, spread),
                jitter(3.0, spread),
                jitter(4.0, spread),
            ]
        };
        let noisy = rows(0.2);
        let quiet = rows(0.01);
        let ci = |s: &[Vec<f64>; 4]| {
            let a = [
                Rated {
                    rate: 10.0,
                    samples: &s[0],
                },
                Rated {
                    rate: 30.0,
                    samples: &s[1],
                },
            ];
            let b = [
                Rated {
                    rate: 2.0,
                    samples: &s[2],
                },
                Rated {
                    rate: 6.0,
                    samples: &s[3],
                },
            ];
            ratio_of_mean_rates(&a, &b, 7).unwrap()
        };
        let (n, q) = (ci(&noisy), ci(&quiet));
        for r in [n, q] {
            assert!((r.ratio - 5.0).abs() < 1e-12, "{r:?}");
            assert!(r.low < r.ratio && r.ratio < r.high, "{r:?}");
        }
        assert!(n.high - n.low > 5.0 * (q.high - q.low), "{n:?} {q:?}");
        assert!(q.high - q.low < 0.1, "{q:?}");
        assert_eq!(ci(&noisy), n, "seeded");
        assert!(
            ratio_of_mean_rates(
                &[],
                &[Rated {
                    rate: 1.0,
                    samples: &[1.0]
                }],
                0
            )
            .is_none()
        );
        let empty = [Rated {
            rate: 1.0,
            samples: &[],
        }];
        assert!(ratio_of_mean_rates(&empty, &empty, 0).is_none());
    }
}
