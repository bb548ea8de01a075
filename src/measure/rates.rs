//! The ratio of two groups' average rates, e.g. Table 1's PConv/DWConv: the mean GMAC/s
//! of the PConv rows over that of the DWConv rows, each row's rate from its median, with a
//! seeded bootstrap 95% CI (the 2.5th and 97.5th percentiles of the ratio over the
//! replicates). Rows measured one after another ([`ratio_of_mean_rates`]) are resampled
//! each on its own: the CI covers each row's sampling noise, not a drift of the machine
//! between rows. Pairs of rows measured in the same interleaved rounds
//! ([`paired_ratio_of_mean_rates`]) are resampled round by round, the same rounds for
//! both rows of a pair, so a drift that slowed some rounds falls on both sides of every
//! replicate alike (see [`super::paired`]).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::stats::{BOOTSTRAP_RESAMPLES, median, percentile_sorted};

/// One row: the work of one call (e.g. its multiply-adds) and its latency samples; its
/// rate over any set of samples is that work over their median.
#[derive(Debug, Clone, Copy)]
pub struct Rated<'a> {
    /// Work per call.
    pub work: f64,
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

fn positive(x: f64) -> bool {
    x.is_finite() && x > 0.0
}

fn mean(xs: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = xs.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    sum / n as f64
}

/// `ratio` with the 2.5th and 97.5th percentiles of its bootstrap `replicates`.
fn with_ci(ratio: f64, mut replicates: Vec<f64>) -> RatioCi {
    replicates.sort_by(f64::total_cmp);
    RatioCi {
        ratio,
        low: percentile_sorted(&replicates, 0.025),
        high: percentile_sorted(&replicates, 0.975),
    }
}

/// mean rate of `a` over mean rate of `b`, with its CI; `None` when a group is empty or a
/// row has no samples or a non-positive median.
pub fn ratio_of_mean_rates(a: &[Rated<'_>], b: &[Rated<'_>], seed: u64) -> Option<RatioCi> {
    if a.is_empty() || b.is_empty() || a.iter().chain(b).any(|r| r.samples.is_empty()) {
        return None;
    }
    if a.iter().chain(b).any(|r| !positive(median(r.samples))) {
        return None;
    }
    let rate = |r: &Rated<'_>| r.work / median(r.samples);
    let ratio = mean(a.iter().map(rate)) / mean(b.iter().map(rate));
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut buffer = Vec::new();
    let mut replicate = |r: &Rated<'_>| {
        let n = r.samples.len();
        buffer.clear();
        buffer.extend((0..n).map(|_| r.samples[rng.random_range(0..n)]));
        r.work / median(&buffer)
    };
    let ratios: Vec<f64> = (0..BOOTSTRAP_RESAMPLES)
        .map(|_| {
            let ra = mean(a.iter().map(&mut replicate));
            ra / mean(b.iter().map(&mut replicate))
        })
        .collect();
    Some(with_ci(ratio, ratios))
}

/// As [`ratio_of_mean_rates`] for rows measured in interleaved rounds: `pairs[i]` are an
/// `a` row and a `b` row whose sample j was taken in round j. Rows stop by their own rules,
/// so one may have sampled on alone after the other stopped; the ratio and its CI are both
/// taken over the rounds both rows took a sample in (each row's rate at its median over
/// those rounds), where a drift of the machine fell on both alike. Each replicate draws one
/// set of those rounds per pair (with replacement) for both of its rows. `None` when empty,
/// when a pair has no common round, or on a non-positive median.
pub fn paired_ratio_of_mean_rates(pairs: &[(Rated<'_>, Rated<'_>)], seed: u64) -> Option<RatioCi> {
    let common = |(a, b): &(Rated<'_>, Rated<'_>)| a.samples.len().min(b.samples.len());
    if pairs.is_empty() || pairs.iter().any(|p| common(p) == 0) {
        return None;
    }
    // Each row's median over the common rounds.
    let medians: Vec<(f64, f64)> = pairs
        .iter()
        .map(|p| {
            let n = common(p);
            (median(&p.0.samples[..n]), median(&p.1.samples[..n]))
        })
        .collect();
    if medians.iter().any(|&(x, y)| !(positive(x) && positive(y))) {
        return None;
    }
    let ratio = mean(pairs.iter().zip(&medians).map(|(p, m)| p.0.work / m.0))
        / mean(pairs.iter().zip(&medians).map(|(p, m)| p.1.work / m.1));
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut rounds, mut xs, mut ys) = (Vec::new(), Vec::new(), Vec::new());
    let ratios: Vec<f64> = (0..BOOTSTRAP_RESAMPLES)
        .map(|_| {
            let (mut ra, mut rb) = (0.0, 0.0);
            for p in pairs {
                let n = common(p);
                rounds.clear();
                rounds.extend((0..n).map(|_| rng.random_range(0..n)));
                xs.clear();
                xs.extend(rounds.iter().map(|&j| p.0.samples[j]));
                ys.clear();
                ys.extend(rounds.iter().map(|&j| p.1.samples[j]));
                ra += p.0.work / median(&xs);
                rb += p.1.work / median(&ys);
            }
            ra / rb
        })
        .collect();
    Some(with_ci(ratio, ratios))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rated(work: f64, samples: &[f64]) -> Rated<'_> {
        Rated { work, samples }
    }

    #[test]
    fn the_ci_holds_the_ratio_and_narrows_with_quieter_rows() {
        // Two rows each, rates 10 and 30 against 2 and 6 (work over the 1, 2, 3, 4 ms
        // medians): ratio 20/4 = 5.
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
            let a = [rated(10.0, &s[0]), rated(60.0, &s[1])];
            let b = [rated(6.0, &s[2]), rated(24.0, &s[3])];
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
        assert!(ratio_of_mean_rates(&[], &[rated(1.0, &[1.0])], 0).is_none());
        let empty = [rated(1.0, &[])];
        assert!(ratio_of_mean_rates(&empty, &empty, 0).is_none());
    }

    #[test]
    fn rounds_that_drift_alike_leave_the_paired_ci_narrow_and_the_unpaired_one_wide() {
        // A (10 ms, 4 GMAC → rate 0.4) and B (2 ms, 0.1 GMAC → rate 0.05): ratio 8. The
        // machine runs 30% slower in every other block of five rounds, for both rows of a
        // round alike, with ±1% jitter.
        let machine = |ms: f64, round: usize, salt: usize| {
            let drift = if (round / 5) % 2 == 1 { 1.3 } else { 1.0 };
            ms * drift * (1.0 + 0.01 * ((((round + salt) * 7919) % 41) as f64 / 20.0 - 1.0))
        };
        let a: Vec<f64> = (0..40).map(|r| machine(10.0, r, 0)).collect();
        let b: Vec<f64> = (0..40).map(|r| machine(2.0, r, 3)).collect();
        let paired = paired_ratio_of_mean_rates(&[(rated(4.0, &a), rated(0.1, &b))], 11).unwrap();
        let unpaired = ratio_of_mean_rates(&[rated(4.0, &a)], &[rated(0.1, &b)], 11).unwrap();
        assert_eq!(paired.ratio, unpaired.ratio);
        for r in [paired, unpaired] {
            assert!(r.low <= r.ratio && r.ratio <= r.high, "{r:?}");
        }
        // The drift moves each row's median between its fast and slow rounds; paired, both
        // move together and the ratio stays within the jitter.
        let width = |r: RatioCi| (r.high - r.low) / r.ratio;
        assert!(width(paired) < 0.05, "{paired:?}");
        assert!(
            width(unpaired) > 4.0 * width(paired),
            "{unpaired:?} {paired:?}"
        );
        // Nothing to pair, no CI.
        assert!(paired_ratio_of_mean_rates(&[(rated(4.0, &a), rated(0.1, &[]))], 11).is_none());
        assert!(paired_ratio_of_mean_rates(&[], 11).is_none());
    }

    #[test]
    fn a_row_that_sampled_on_alone_is_paired_over_the_common_rounds_only() {
        // B stopped after 20 rounds; A sampled on for 40 more, all on a machine 30% slower.
        // A's own median is a slow one; over the common rounds both are fast: ratio 8.
        let machine = |ms: f64, round: usize| {
            let drift = if round >= 20 { 1.3 } else { 1.0 };
            ms * drift * (1.0 + 0.005 * (((round * 7919) % 41) as f64 / 20.0 - 1.0))
        };
        let a: Vec<f64> = (0..60).map(|r| machine(10.0, r)).collect();
        let b: Vec<f64> = (0..20).map(|r| machine(2.0, r)).collect();
        let (ra, rb) = (4.0 / median(&a), 0.1 / median(&b));
        let pair = [(rated(4.0, &a), rated(0.1, &b))];
        let r = paired_ratio_of_mean_rates(&pair, 3).unwrap();
        assert!((r.ratio - 8.0).abs() / 8.0 < 0.01, "{r:?}");
        assert!(r.low <= 8.0 && 8.0 <= r.high, "{r:?}");
        // The rows' own rates give 8 / 1.3: the drift a paired CI claims to cancel.
        assert!(((ra / rb) - 8.0 / 1.3).abs() / 8.0 < 0.02, "{}", ra / rb);
    }
}
