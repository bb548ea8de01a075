//! Ratios between rows measured in interleaved rounds (A B C A B C …): sample i of each
//! row was taken in round i, so a drift of the machine (a neighbour waking up, a clock
//! step) slows the samples of one round alike and cancels in their ratio. The ratio of two
//! rows is the median of the per-round ratios, with the seeded bootstrap 95% CI over
//! rounds, as a row's own median.

use super::stats::summarize;

/// The ratio of two rows' latencies over their common rounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ratio {
    /// Median of the per-round ratios.
    pub ratio: f64,
    /// Bootstrap 95% CI, low.
    pub low: f64,
    /// Bootstrap 95% CI, high.
    pub high: f64,
    /// Rounds both rows took a sample in.
    pub rounds: usize,
}

/// `a / b` from per-round samples (index i = round i); `None` without a common round or
/// with a non-positive sample.
pub fn paired_ratio(a: &[f64], b: &[f64], seed: u64) -> Option<Ratio> {
    let ratios: Vec<f64> = a.iter().zip(b).map(|(x, y)| x / y).collect();
    if ratios.is_empty() || ratios.iter().any(|r| !r.is_finite() || *r <= 0.0) {
        return None;
    }
    let s = summarize(&ratios, seed);
    Some(Ratio {
        ratio: s.median_ms,
        low: s.ci95_low_ms,
        high: s.ci95_high_ms,
        rounds: ratios.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::stats::median;

    /// A machine that runs 30% slower from time `step` on, with ±2% jitter.
    fn machine(true_ms: f64, t: usize, step: usize) -> f64 {
        let drift = if t >= step { 1.3 } else { 1.0 };
        let jitter = 1.0 + 0.02 * (((t * 7919) % 41) as f64 / 20.0 - 1.0);
        true_ms * drift * jitter
    }

    #[test]
    fn interleaved_ratios_survive_a_drift_step_and_block_ones_do_not() {
        // A takes 10 ms, B 5 ms: the true ratio is 2. 40 samples each; the machine slows
        // down 30% halfway through the time both take together.
        let n = 40;
        let step = n;
        // Blocks: A's 40 samples, then B's: B sees only the slow machine.
        let block_a: Vec<f64> = (0..n).map(|t| machine(10.0, t, step)).collect();
        let block_b: Vec<f64> = (n..2 * n).map(|t| machine(5.0, t, step)).collect();
        let block = median(&block_a) / median(&block_b);
        assert!((block - 2.0).abs() / 2.0 > 0.2, "block ratio {block}");
        // Rounds: A then B in each, the same step in time.
        let a: Vec<f64> = (0..n).map(|i| machine(10.0, 2 * i, step)).collect();
        let b: Vec<f64> = (0..n).map(|i| machine(5.0, 2 * i + 1, step)).collect();
        let r = paired_ratio(&a, &b, 0).unwrap();
        assert_eq!(r.rounds, n);
        // Within the ±2% jitter of the truth (the blocks are 35% off), and its CI as
        // narrow as the jitter allows: the step cancels within each round.
        assert!((r.ratio - 2.0).abs() / 2.0 < 0.01, "{r:?}");
        assert!(
            r.low <= r.ratio && r.ratio <= r.high && r.high - r.low < 0.08,
            "{r:?}"
        );
    }

    #[test]
    fn rows_of_different_lengths_pair_their_common_rounds() {
        let r = paired_ratio(&[2.0, 4.0, 6.0], &[1.0, 2.0], 0).unwrap();
        assert_eq!((r.ratio, r.rounds), (2.0, 2));
        assert!(paired_ratio(&[], &[1.0], 0).is_none());
        assert!(paired_ratio(&[1.0], &[0.0], 0).is_none());
    }
}
