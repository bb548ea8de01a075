//! The sampler's tests.

use super::*;

#[test]
fn runs_is_exact_and_sleeps_are_measured() {
    let config = SamplerConfig {
        warmup: Duration::from_millis(5),
        runs: Some(3),
        ..SamplerConfig::default()
    };
    let mut calls = 0u64;
    let m = measure(&config, 0, &mut || {
        calls += 1;
        std::thread::sleep(Duration::from_millis(2));
        Ok(())
    })
    .unwrap();
    assert_eq!(m.samples_ms.len(), 3);
    assert!(m.samples_ms.iter().all(|s| *s >= 2.0), "{:?}", m.samples_ms);
    assert_eq!(calls, m.warmup_iters + 3 * m.iters_per_sample);
}

#[test]
fn the_warm_up_estimate_leaves_out_a_slow_first_call() {
    let config = SamplerConfig {
        warmup: Duration::ZERO,
        runs: Some(1),
        ..SamplerConfig::default()
    };
    // A first warm-up call of 1 ms (caches cold after other rows), then fast ones:
    // two warm-up calls, and the estimate is the fast call's, so calls are not timed
    // one by one and a sample holds many.
    let mut calls = 0u64;
    let m = measure(&config, 0, &mut || {
        calls += 1;
        if calls == 1 {
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(())
    })
    .unwrap();
    assert_eq!(m.warmup_iters, 2);
    assert!(m.calls_ms.is_empty(), "{:?}", m.calls_ms.len());
    assert!(m.iters_per_sample > 100, "{}", m.iters_per_sample);
    // A call that lasts a sample already: one warm-up call is enough.
    let m = measure(&config, 0, &mut || {
        std::thread::sleep(Duration::from_millis(11));
        Ok(())
    })
    .unwrap();
    assert_eq!((m.warmup_iters, m.iters_per_sample), (1, 1));
}

/// Samples around 10 ms with a relative spread of ±`spread`, deterministic.
fn synthetic(n: usize, spread: f64) -> Vec<f64> {
    (0..n)
        .map(|i| 10.0 * (1.0 + spread * (((i * 7919) % 101) as f64 / 50.0 - 1.0)))
        .collect()
}

#[test]
fn the_stopping_rule_stops_when_the_reported_ci_meets_its_target() {
    let config = SamplerConfig {
        min_time: Duration::from_millis(100),
        max_time: Duration::from_secs(4),
        target_ci: Some(0.01),
        ..SamplerConfig::default()
    };
    let quiet = synthetic(40, 0.005);
    let ms = Duration::from_millis;
    // Not before the minimum time, nor before the minimum number of samples.
    assert_eq!(stop(&config, &quiet, ms(50), 0), None);
    assert_eq!(stop(&config, &quiet[..MIN_SAMPLES - 1], ms(500), 0), None);
    // Quiet samples meet ±1% as soon as both minimums are reached.
    assert_eq!(
        stop(&config, &quiet[..MIN_SAMPLES], ms(100), 0),
        Some(Stop::Precise)
    );
    assert!(reported_half_width(&quiet[..MIN_SAMPLES], 0) <= 0.01);
    // ±20% noise: its CI is wider than ±1% with 40 samples, so sampling goes on
    // until the cap.
    let noisy = synthetic(40, 0.2);
    assert!(reported_half_width(&noisy, 0) > 0.01);
    assert_eq!(stop(&config, &noisy, ms(3999), 0), None);
    assert_eq!(stop(&config, &noisy, ms(4000), 0), Some(Stop::Cap));
    // A budget's share stops sampling, but never before the minimum number of samples.
    let shared = SamplerConfig {
        share: Some(ms(500)),
        ..config
    };
    assert_eq!(stop(&shared, &noisy[..MIN_SAMPLES - 1], ms(900), 0), None);
    assert_eq!(
        stop(&shared, &noisy[..MIN_SAMPLES], ms(500), 0),
        Some(Stop::Cap)
    );
    assert_eq!(stop(&shared, &noisy[..MIN_SAMPLES], ms(499), 0), None);
    // Without a target, the minimums suffice; an exact run count ignores time.
    let plain = SamplerConfig {
        target_ci: None,
        ..config
    };
    assert_eq!(stop(&plain, &noisy[..10], ms(100), 0), Some(Stop::Precise));
    let runs = SamplerConfig {
        runs: Some(3),
        ..config
    };
    assert_eq!(stop(&runs, &noisy[..2], ms(9000), 0), None);
    assert_eq!(stop(&runs, &noisy[..3], ms(0), 0), Some(Stop::Runs));
}

#[test]
fn long_calls_are_timed_one_by_one() {
    let config = SamplerConfig {
        warmup: Duration::from_millis(5),
        runs: Some(2),
        ..SamplerConfig::default()
    };
    // A busy call of 200 µs (no sleep: the clock is what is under test).
    let m = measure(&config, 0, &mut || {
        let t = Instant::now();
        while t.elapsed() < Duration::from_micros(200) {}
        Ok(())
    })
    .unwrap();
    assert_eq!(m.calls_ms.len() as u64, 2 * m.iters_per_sample);
    assert!(m.calls_ms.iter().all(|c| *c >= 0.2), "{:?}", m.calls_ms);
    assert_eq!(m.ci_target_met, None);
    // Calls far under PER_CALL_MIN are timed per sample only.
    let m = measure(&config, 0, &mut || Ok(())).unwrap();
    assert!(m.calls_ms.is_empty());
}

#[test]
fn calls_that_clock_themselves_leave_their_untimed_part_out() {
    let config = SamplerConfig {
        warmup: Duration::ZERO,
        runs: Some(3),
        ..SamplerConfig::default()
    };
    // 2 ms of untimed work (a cache flush) before 100 µs of timed work; the device's
    // clock says 0.05 ms.
    let m = measure_calls(&config, 0, &mut || {
        std::thread::sleep(Duration::from_millis(2));
        let t = Instant::now();
        while t.elapsed() < Duration::from_micros(100) {}
        Ok(CallTime {
            host: Some(t.elapsed()),
            device_ms: Some(0.05),
        })
    })
    .unwrap();
    // Timed one by one although far under PER_CALL_MIN with the flush left out.
    assert_eq!(m.calls_ms.len() as u64, 3 * m.iters_per_sample);
    assert!(
        m.samples_ms.iter().all(|s| (0.1..1.5).contains(s)),
        "{:?}",
        m.samples_ms
    );
    assert!(
        m.calls_ms.iter().all(|c| (0.1..1.5).contains(c)),
        "{:?}",
        m.calls_ms
    );
    // The device's times of the timed calls only (not the warm-up's), per sample.
    assert_eq!(m.device_samples_ms.len(), m.samples_ms.len());
    assert!(m.device_samples_ms.iter().all(|d| (d - 0.05).abs() < 1e-12));
    // Calls that say nothing keep no device times.
    let plain = measure(&config, 0, &mut || Ok(())).unwrap();
    assert!(plain.device_samples_ms.is_empty());
    // A device clock that stops answering in the last sample leaves no device times, not
    // a partial series (calls of a sample's length: one warm-up call, one call a sample).
    let mut calls = 0;
    let m = measure_calls(&config, 0, &mut || {
        calls += 1;
        std::thread::sleep(Duration::from_millis(11));
        Ok(CallTime {
            host: None,
            device_ms: (calls < 4).then_some(0.05),
        })
    })
    .unwrap();
    assert_eq!((m.warmup_iters, m.iters_per_sample, calls), (1, 1, 4));
    assert!(m.device_samples_ms.is_empty() && m.samples_ms.len() == 3);
}

#[test]
fn zero_min_time_takes_min_samples() {
    let config = SamplerConfig {
        warmup: Duration::ZERO,
        min_time: Duration::ZERO,
        ..SamplerConfig::default()
    };
    let m = measure(&config, 0, &mut || Ok(())).unwrap();
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
    let e = measure(&SamplerConfig::default(), 0, &mut || {
        Err(crate::Error::Usage("boom".into()))
    });
    assert!(e.is_err());
}
