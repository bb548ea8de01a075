//! Adaptive sampling (after criterion's `routine.rs` and hyperfine's executor): a timed
//! warm-up after the first (cold, checked) call, iterations per sample chosen from the
//! warm-up estimate so one sample lasts ≥ 10 ms, and a stop as soon as the confidence
//! interval reported for the median is within its target (after the minimum the statistics
//! need), at a time cap, or at an exact run count. Calls long enough to time one by one (≥
//! [`PER_CALL_MIN`]) are also timed one by one, for per-call percentiles. The harness's
//! own per-iteration overhead is calibrated and recorded.

use std::hint::black_box;
use std::time::{Duration, Instant};

use crate::error::Result;

/// A sample is at least this long, so timer resolution does not matter.
pub const TARGET_SAMPLE: Duration = Duration::from_millis(10);
/// Fewest samples a time-budgeted measurement takes.
pub const MIN_SAMPLES: usize = 10;
/// Calls at least this long (by the warm-up's estimate) are timed one by one too: the
/// clock's own cost (tens of nanoseconds) stays under 0.1% of a call.
pub const PER_CALL_MIN: Duration = Duration::from_micros(50);

/// When to stop.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SamplerConfig {
    /// Warm-up time (after the first, cold call, which the caller makes: the check's).
    pub warmup: Duration,
    /// Keep sampling at least this long (and at least [`MIN_SAMPLES`] samples).
    pub min_time: Duration,
    /// Never sample longer than this.
    pub max_time: Duration,
    /// Exactly this many samples, ignoring `min_time`.
    pub runs: Option<usize>,
    /// After `min_time`, keep sampling (up to `max_time`) until the 95% CI of the median
    /// is within this fraction of it (e.g. 0.02), like criterion's target precision.
    pub target_ci: Option<f64>,
    /// The wall time of a whole run: each case's cap is its share of what is left
    /// (what is left over the cases left, never above `max_time`), so the time quiet
    /// cases do not need goes to the noisy ones after them.
    #[serde(default)]
    pub budget: Option<Duration>,
    /// This case's share of the budget: sampling stops when it is spent, once the
    /// minimum number of samples is taken (set per case by the engine, never by a user).
    #[serde(skip)]
    pub share: Option<Duration>,
    /// Measure a case's backends, and the operator kinds of one feature map, in interleaved
    /// rounds (A B C A B C …) rather than one after the other.
    #[serde(default = "yes")]
    pub interleave: bool,
    /// Flush the caches before every timed call, untimed (`--l2-flush`): cold-cache
    /// figures, as triton's `do_bench` and Nsight Compute give.
    #[serde(default)]
    pub l2_flush: bool,
}

fn yes() -> bool {
    true
}

impl Default for SamplerConfig {
    fn default() -> Self {
        SamplerConfig {
            warmup: Duration::from_secs(1),
            min_time: Duration::from_secs(2),
            max_time: Duration::from_secs(30),
            target_ci: None,
            runs: None,
            budget: None,
            share: None,
            interleave: true,
            l2_flush: false,
        }
    }
}

/// Sampling settings as given at one level (command-line flags, a suite's `[measure]`):
/// `None` where that level leaves the setting to the level below.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SamplerOverrides {
    /// Warm-up time.
    pub warmup: Option<Duration>,
    /// Minimum sampling time.
    pub min_time: Option<Duration>,
    /// Maximum sampling time.
    pub max_time: Option<Duration>,
    /// Exact number of samples.
    pub runs: Option<usize>,
    /// Target CI half-width, as a fraction of the median.
    pub target_ci: Option<f64>,
    /// Wall time of the whole run.
    pub budget: Option<Duration>,
    /// Interleaved rounds.
    pub interleave: Option<bool>,
    /// Cache flush before every timed call.
    pub l2_flush: Option<bool>,
}

impl SamplerOverrides {
    /// These settings, with `lower`'s where these leave one open.
    pub fn or(self, lower: SamplerOverrides) -> SamplerOverrides {
        SamplerOverrides {
            warmup: self.warmup.or(lower.warmup),
            min_time: self.min_time.or(lower.min_time),
            max_time: self.max_time.or(lower.max_time),
            runs: self.runs.or(lower.runs),
            target_ci: self.target_ci.or(lower.target_ci),
            budget: self.budget.or(lower.budget),
            interleave: self.interleave.or(lower.interleave),
            l2_flush: self.l2_flush.or(lower.l2_flush),
        }
    }

    /// The sampler: these settings over the built-in defaults.
    pub fn resolve(self) -> SamplerConfig {
        let builtin = SamplerConfig::default();
        SamplerConfig {
            warmup: self.warmup.unwrap_or(builtin.warmup),
            min_time: self.min_time.unwrap_or(builtin.min_time),
            max_time: self.max_time.unwrap_or(builtin.max_time),
            runs: self.runs,
            target_ci: self.target_ci,
            budget: self.budget,
            share: None,
            interleave: self.interleave.unwrap_or(true),
            l2_flush: self.l2_flush.unwrap_or(false),
        }
    }
}

/// Raw timings of one case.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// Per-iteration time of each sample, milliseconds (sample time / iterations).
    pub samples_ms: Vec<f64>,
    /// Iterations in each sample.
    pub iters_per_sample: u64,
    /// Iterations run during warm-up (the first, cold call not included).
    pub warmup_iters: u64,
    /// Every timed call's own time, ms, when calls are long enough to time one by one
    /// (≥ [`PER_CALL_MIN`]); empty otherwise.
    pub calls_ms: Vec<f64>,
    /// Whether sampling stopped because the CI met `target_ci` (`None` without a target).
    pub ci_target_met: Option<bool>,
    /// The device's own time per iteration of each sample (CUDA events around each
    /// call's work, their mean over the sample's calls), ms, as `samples_ms` are the
    /// host's; empty where the device keeps no clock of its own (CPUs), or did not for
    /// every timed call.
    pub device_samples_ms: Vec<f64>,
}

/// What one call says of its own time; the sampler's clock runs around the whole call
/// where it says nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CallTime {
    /// The timed part of the call as the caller clocked it, host wall time from launch to
    /// synchronisation: the call without the untimed work before it (`--l2-flush`'s
    /// flush). Such calls are timed one by one.
    pub host: Option<Duration>,
    /// The device's own time for the call's work (CUDA events recorded around it), ms.
    pub device_ms: Option<f64>,
}

/// Why sampling stops after the samples so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The exact number of runs was taken.
    Runs,
    /// The minimum was taken and the CI is within its target (or there is no target).
    Precise,
    /// The time cap (`max_time`, or the case's share of a budget once the minimum number
    /// of samples is taken) was reached first.
    Cap,
}

/// The stopping rule: whether to stop after `samples` taken in `elapsed`, and why. The
/// target is checked on the CI the row reports (the bootstrap with `seed`), after a cheap
/// order-statistics estimate says it may be met, so a row stops exactly when its reported
/// CI is within the target.
pub fn stop(config: &SamplerConfig, samples: &[f64], elapsed: Duration, seed: u64) -> Option<Stop> {
    stop_checking(config, samples, elapsed, seed, true)
}

/// [`stop`], with the bootstrap run only when `bootstrap` (it costs milliseconds on
/// hundreds of samples; [`Sampling`] runs it again only once the samples grew by a tenth).
fn stop_checking(
    config: &SamplerConfig,
    samples: &[f64],
    elapsed: Duration,
    seed: u64,
    bootstrap: bool,
) -> Option<Stop> {
    if let Some(runs) = config.runs {
        return (samples.len() >= runs).then_some(Stop::Runs);
    }
    let enough = elapsed >= config.min_time && samples.len() >= MIN_SAMPLES;
    let precise = || match config.target_ci {
        None => true,
        Some(t) => {
            median_ci_half_width(samples) <= t
                && bootstrap
                && reported_half_width(samples, seed) <= t
        }
    };
    let share_spent = samples.len() >= MIN_SAMPLES && config.share.is_some_and(|s| elapsed >= s);
    if enough && precise() {
        Some(Stop::Precise)
    } else if elapsed >= config.max_time || share_spent {
        Some(Stop::Cap)
    } else {
        None
    }
}

/// The half-width of the reported (bootstrap) 95% CI of the median, relative to it.
pub fn reported_half_width(samples: &[f64], seed: u64) -> f64 {
    crate::measure::summarize(samples, seed).relative_half_width()
}

/// The sampling loop's own cost per iteration, in nanoseconds: the same loop around an
/// empty closure called through the same `dyn FnMut` indirection.
pub fn calibrate_overhead() -> f64 {
    let mut empty = || -> Result<()> { Ok(()) };
    // black_box hides the closure so the call stays an indirect call, as in `measure`.
    let f: &mut dyn FnMut() -> Result<()> = black_box(&mut empty);
    let iters = 1_000_000u64;
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let start = Instant::now();
        for _ in 0..iters {
            black_box(f()).ok();
        }
        best = best.min(start.elapsed().as_nanos() as f64 / iters as f64);
    }
    best
}

/// The half-width of the distribution-free 95% confidence interval of the median (order
/// statistics n/2 ± 0.98·√n), relative to the median: cheap enough to check after every
/// sample. The reported CI is the bootstrap's; the two agree closely.
pub fn median_ci_half_width(samples: &[f64]) -> f64 {
    let n = samples.len();
    if n < 3 {
        return f64::INFINITY;
    }
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    let spread = 0.98 * (n as f64).sqrt();
    let lo = ((n as f64 / 2.0 - spread).floor().max(1.0) as usize) - 1;
    let hi = ((n as f64 / 2.0 + 1.0 + spread).ceil() as usize).min(n) - 1;
    let median = s[n / 2];
    if median <= 0.0 {
        return f64::INFINITY;
    }
    (s[hi] - s[lo]) / 2.0 / median
}

/// Times `f` (one forward pass, synchronised) under `config`; `seed` is the bootstrap's,
/// as in the row's statistics. `f` has been called once before (the cold call).
pub fn measure(
    config: &SamplerConfig,
    seed: u64,
    f: &mut dyn FnMut() -> Result<()>,
) -> Result<Measurement> {
    measure_calls(config, seed, &mut || f().map(|()| CallTime::default()))
}

/// [`measure`], for calls that say something of their own time ([`CallTime`]).
pub fn measure_calls(
    config: &SamplerConfig,
    seed: u64,
    f: &mut dyn FnMut() -> Result<CallTime>,
) -> Result<Measurement> {
    let mut sampling = Sampling::warm_up(config, seed, f)?;
    while !sampling.sample(f)? {}
    Ok(sampling.finish())
}

/// A measurement in progress, one sample at a time: what interleaved rounds need (each
/// row of a group takes a sample in turn, each stopping by its own rule).
#[derive(Debug, Clone)]
pub struct Sampling {
    config: SamplerConfig,
    seed: u64,
    iters: u64,
    per_call: bool,
    warmup_iters: u64,
    samples_ms: Vec<f64>,
    calls_ms: Vec<f64>,
    device_samples_ms: Vec<f64>,
    /// Whether every timed call so far said its device time.
    device_timed: bool,
    /// Time spent taking samples so far (the stop checks between them not counted).
    elapsed: Duration,
    stopped: Option<Stop>,
    /// The sample count from which the stop rule may run the bootstrap again.
    next_bootstrap: usize,
}

impl Sampling {
    /// The warm-up, which sets the iterations per sample. The caller has made the first
    /// call already (allocations, lazy initialisation, autotuning): preparation's check
    /// runs it, times it as the cold call and compares its output.
    ///
    /// The warm-up lasts `config.warmup`, and at least two calls unless one already
    /// lasts a sample ([`TARGET_SAMPLE`]); the per-call estimate leaves its first call
    /// out when there are more (it may follow other rows' preparation, with their data in
    /// the caches), so a short warm-up of a fast call still sets iterations and per-call
    /// timing from a warm call. Calls that clock themselves ([`CallTime::host`]) are
    /// timed one by one whatever their length.
    pub fn warm_up(
        config: &SamplerConfig,
        seed: u64,
        f: &mut dyn FnMut() -> Result<CallTime>,
    ) -> Result<Sampling> {
        let start = Instant::now();
        let clocked = f()?.host.is_some();
        let first = start.elapsed();
        let (mut warmup_iters, mut elapsed) = (1u64, first);
        while elapsed < config.warmup || (warmup_iters < 2 && elapsed < TARGET_SAMPLE) {
            f()?;
            warmup_iters += 1;
            elapsed = start.elapsed();
        }
        let per_iter = if warmup_iters >= 2 {
            (elapsed - first).as_secs_f64() / (warmup_iters - 1) as f64
        } else {
            elapsed.as_secs_f64()
        };
        Ok(Sampling {
            config: *config,
            seed,
            iters: ((TARGET_SAMPLE.as_secs_f64() / per_iter.max(1e-9)).ceil() as u64).max(1),
            per_call: clocked || per_iter >= PER_CALL_MIN.as_secs_f64(),
            warmup_iters,
            samples_ms: Vec::new(),
            calls_ms: Vec::new(),
            device_samples_ms: Vec::new(),
            device_timed: true,
            elapsed: Duration::ZERO,
            stopped: None,
            next_bootstrap: 0,
        })
    }

    /// Takes one sample (unless stopped already); whether sampling is now over. A sample
    /// is the calls' own time where they clock themselves, the sampler's clock otherwise;
    /// the time caps count the whole wall time.
    pub fn sample(&mut self, f: &mut dyn FnMut() -> Result<CallTime>) -> Result<bool> {
        if self.stopped.is_some() {
            return Ok(true);
        }
        if self.per_call {
            // Grown before the clock starts, not inside a sample.
            self.calls_ms.reserve(self.iters as usize);
        }
        let mut own: Option<Duration> = None;
        let mut device = Some(0.0);
        let t = Instant::now();
        if self.per_call {
            for _ in 0..self.iters {
                let c = Instant::now();
                let call = f()?;
                let took = call.host.unwrap_or_else(|| c.elapsed());
                if call.host.is_some() {
                    own = Some(own.unwrap_or_default() + took);
                }
                self.calls_ms.push(took.as_secs_f64() * 1e3);
                device = device.zip(call.device_ms).map(|(sum, ms)| sum + ms);
            }
        } else {
            for _ in 0..self.iters {
                let call = f()?;
                device = device.zip(call.device_ms).map(|(sum, ms)| sum + ms);
            }
        }
        let wall = t.elapsed();
        let took = own.unwrap_or(wall);
        let per_iter = |total: f64| total / self.iters as f64;
        self.samples_ms.push(per_iter(took.as_secs_f64() * 1e3));
        match device {
            Some(total) if self.device_timed => self.device_samples_ms.push(per_iter(total)),
            // A call without its device time: none for the row (never a partial series).
            _ => self.device_timed = false,
        }
        self.elapsed += wall;
        let n = self.samples_ms.len();
        let bootstrap = n >= self.next_bootstrap;
        let (config, samples) = (&self.config, &self.samples_ms);
        self.stopped = stop_checking(config, samples, self.elapsed, self.seed, bootstrap);
        let cheap_passed = config
            .target_ci
            .is_some_and(|t| median_ci_half_width(samples) <= t);
        if bootstrap && self.stopped.is_none() && cheap_passed {
            // The bootstrap ran and said no: again once the samples grew by a tenth.
            self.next_bootstrap = n + (n / 10).max(1);
        }
        Ok(self.stopped.is_some())
    }

    /// What is left of this row's share of a budget (zero without one, or once spent).
    pub fn unused_share(&self) -> Duration {
        self.config
            .share
            .map_or(Duration::ZERO, |s| s.saturating_sub(self.elapsed))
    }

    /// Adds `extra` to this row's share of a budget (what a row that stopped early left
    /// to the rows of its round group still sampling); `max_time` still caps it.
    pub fn extend_share(&mut self, extra: Duration) {
        if let Some(share) = &mut self.config.share {
            *share += extra;
        }
    }

    /// The measurement so far.
    pub fn finish(self) -> Measurement {
        // As reported: the row's own CI against the target, however sampling stopped; no
        // verdict on fewer than 3 samples (a CI of one or two samples means nothing).
        let ci_target_met = match (self.config.target_ci, self.stopped) {
            _ if self.samples_ms.len() < 3 => None,
            (Some(_), Some(Stop::Precise)) => Some(true),
            (Some(t), _) => Some(reported_half_width(&self.samples_ms, self.seed) <= t),
            (None, _) => None,
        };
        Measurement {
            samples_ms: self.samples_ms,
            iters_per_sample: self.iters,
            warmup_iters: self.warmup_iters,
            calls_ms: self.calls_ms,
            ci_target_met,
            device_samples_ms: if self.device_timed {
                self.device_samples_ms
            } else {
                Vec::new()
            },
        }
    }
}

#[cfg(test)]
mod tests;
