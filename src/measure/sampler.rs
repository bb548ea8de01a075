//! Adaptive sampling (after criterion's `routine.rs` and hyperfine's executor): a timed
//! warm-up whose first call is discarded, iterations per sample chosen from the warm-up
//! estimate so one sample lasts ≥ 10 ms, and a stop on a time budget, a sample cap or an
//! exact run count. The harness's own per-iteration overhead is calibrated and recorded.

use std::hint::black_box;
use std::time::{Duration, Instant};

use crate::error::Result;

/// A sample is at least this long, so timer resolution does not matter.
pub const TARGET_SAMPLE: Duration = Duration::from_millis(10);
/// Fewest samples a time-budgeted measurement takes.
pub const MIN_SAMPLES: usize = 10;

/// When to stop.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SamplerConfig {
    /// Warm-up time (after one discarded call).
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
}

impl Default for SamplerConfig {
    fn default() -> Self {
        SamplerConfig {
            warmup: Duration::from_secs(1),
            min_time: Duration::from_secs(2),
            max_time: Duration::from_secs(30),
            target_ci: None,
            runs: None,
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
    /// Iterations run during warm-up (the discarded first call not included).
    pub warmup_iters: u64,
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

/// Times `f` (one forward pass, synchronised) under `config`.
pub fn measure(config: &SamplerConfig, f: &mut dyn FnMut() -> Result<()>) -> Result<Measurement> {
    f()?; // first call discarded: allocations, lazy initialisation, autotuning
    let start = Instant::now();
    let mut warmup_iters = 0u64;
    loop {
        f()?;
        warmup_iters += 1;
        if start.elapsed() >= config.warmup {
            break;
        }
    }
    let per_iter = start.elapsed().as_secs_f64() / warmup_iters as f64;
    let iters = ((TARGET_SAMPLE.as_secs_f64() / per_iter.max(1e-9)).ceil() as u64).max(1);
    let mut samples_ms = Vec::new();
    let started = Instant::now();
    loop {
        let t = Instant::now();
        for _ in 0..iters {
            f()?;
        }
        samples_ms.push(t.elapsed().as_secs_f64() * 1e3 / iters as f64);
        let elapsed = started.elapsed();
        let done = match config.runs {
            Some(runs) => samples_ms.len() >= runs,
            None => {
                let enough = elapsed >= config.min_time && samples_ms.len() >= MIN_SAMPLES;
                let precise = config
                    .target_ci
                    .is_none_or(|t| median_ci_half_width(&samples_ms) <= t);
                (enough && precise) || elapsed >= config.max_time
            }
        };
        if done {
            break;
        }
    }
    Ok(Measurement {
        samples_ms,
        iters_per_sample: iters,
        warmup_iters,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_is_exact_and_sleeps_are_measured() {
        let config = SamplerConfig {
            warmup: Duration::from_millis(5),
            runs: Some(3),
            ..SamplerConfig::default()
        };
        let mut calls = 0u64;
        let m = measure(&config, &mut || {
            calls += 1;
            std::thread::sleep(Duration::from_millis(2));
            Ok(())
        })
        .unwrap();
        assert_eq!(m.samples_ms.len(), 3);
        assert!(m.samples_ms.iter().all(|s| *s >= 2.0), "{:?}", m.samples_ms);
        assert_eq!(calls, 1 + m.warmup_iters + 3 * m.iters_per_sample);
    }

    #[test]
    fn zero_min_time_takes_min_samples() {
        let config = SamplerConfig {
            warmup: Duration::ZERO,
            min_time: Duration::ZERO,
            ..SamplerConfig::default()
        };
        let m = measure(&config, &mut || Ok(())).unwrap();
        assert_eq!(m.samples_ms.len(), MIN_SAMPLES);
    }

    #[test]
    fn the_median_ci_narrows_with_more_samples() {
        let noisy: Vec<f64> = (0..40).map(|i| 10.0 + (i % 7) as f64 * 0.3).collect();
        let few = median_ci_half_width(&noisy[..10]);
        let many = median_ci_half_width(&noisy);
        assert!(few.is_finite() && many <= few, "{few} {many}");
        assert_eq!(median_ci_half_width(&[1.0; 50]), 0.0);
        assert!(median_ci_half_width(&[1.0, 2.0]).is_infinite());
    }

    #[test]
    fn errors_stop_the_measurement() {
        let e = measure(&SamplerConfig::default(), &mut || {
            Err(crate::Error::Usage("boom".into()))
        });
        assert!(e.is_err());
    }
}
