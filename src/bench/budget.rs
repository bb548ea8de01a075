//! A run's time budget (`--budget`, a suite's `measure.budget`) shared out among its
//! cases as they come: each case may sample for its share of what is left — the time to
//! the deadline over the cases left, less what preparing, checking and warming up a case
//! has cost so far — within the sampler's `min_time` and `max_time`. A case whose CI
//! meets its target early leaves its unused share to the cases after it (in interleaved
//! rounds first to the rows of its group still sampling: `rounds::share_out`), so the
//! time goes where the noise is. The budget is the run's wall time; a case never samples less than
//! `min_time` nor takes fewer than the minimum number of samples, so a budget too small
//! for the cases is overrun rather than obeyed by cutting them short.

use std::time::{Duration, Instant};

use crate::measure::SamplerConfig;

/// The budget of one run.
pub(crate) struct Budget {
    deadline: Instant,
    cases_left: usize,
    /// Time spent outside sampling (preparation, check, warm-up), summed over cases.
    overhead: Duration,
    measured: u32,
}

impl Budget {
    /// A budget of `total` for `cases` cases, starting now.
    pub(crate) fn new(total: Duration, cases: usize) -> Budget {
        Budget {
            deadline: Instant::now() + total,
            cases_left: cases,
            overhead: Duration::ZERO,
            measured: 0,
        }
    }

    /// The sampler for the next case: `sampler` with the case's share of the budget.
    pub(crate) fn next(&self, sampler: &SamplerConfig) -> SamplerConfig {
        let left = self.deadline.saturating_duration_since(Instant::now());
        let overhead = self.overhead.checked_div(self.measured).unwrap_or_default();
        SamplerConfig {
            share: Some(share(
                left,
                self.cases_left,
                overhead,
                sampler.min_time,
                sampler.max_time,
            )),
            ..*sampler
        }
    }

    /// A case is done: it took `wall` in all, `sampled` of it sampling (zero for a row
    /// kept from an earlier run or a case that failed before sampling).
    pub(crate) fn done(&mut self, wall: Duration, sampled: Duration) {
        self.cases_left = self.cases_left.saturating_sub(1);
        if !sampled.is_zero() {
            self.overhead += wall.saturating_sub(sampled);
            self.measured += 1;
        }
    }
}

/// One case's sampling cap: `left` over `cases` cases, less each case's `overhead`,
/// within [`min`, `max`].
pub(crate) fn share(
    left: Duration,
    cases: usize,
    overhead: Duration,
    min: Duration,
    max: Duration,
) -> Duration {
    let each = left / cases.max(1) as u32;
    each.saturating_sub(overhead).clamp(min, max.max(min))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_what_is_left_over_the_cases_left_within_the_bounds() {
        let s = Duration::from_secs;
        let ms = Duration::from_millis;
        // 60 s for 20 cases, 1 s of overhead each: 2 s of sampling each.
        assert_eq!(share(s(60), 20, s(1), ms(250), s(4)), s(2));
        // Quiet cases before left 60 s for the last 10: 5 s each, capped at 4 s.
        assert_eq!(share(s(60), 10, s(1), ms(250), s(4)), s(4));
        // Past the deadline, or overhead above the share: the minimum.
        assert_eq!(share(s(0), 5, s(1), ms(250), s(4)), ms(250));
        assert_eq!(share(s(3), 3, s(2), ms(250), s(4)), ms(250));
        // No cases left (a rounding edge) divides by one.
        assert_eq!(share(s(2), 0, s(0), ms(250), s(4)), s(2));
    }

    #[test]
    fn overhead_is_learnt_from_measured_cases_only() {
        let mut b = Budget::new(Duration::from_secs(100), 4);
        b.done(Duration::from_secs(3), Duration::from_secs(2));
        // A kept row (nothing sampled) counts as a case done, not as overhead.
        b.done(Duration::from_millis(1), Duration::ZERO);
        assert_eq!(b.cases_left, 2);
        assert_eq!(b.overhead, Duration::from_secs(1));
        let sampler = SamplerConfig {
            min_time: Duration::from_millis(100),
            max_time: Duration::from_secs(60),
            ..SamplerConfig::default()
        };
        // About 100 s / 2 − 1 s = 49 s left for the next case.
        let cap = b.next(&sampler).share.unwrap();
        assert!(
            cap <= Duration::from_secs(49) && cap > Duration::from_secs(48),
            "{cap:?}"
        );
    }
}
