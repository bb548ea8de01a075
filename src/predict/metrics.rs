//! How well predicted latencies match measured ones: Kendall's τ between their ranks,
//! the share of networks within ±10% and ±20%, the median absolute error in percent.

/// Kendall's τ-b between `a` and `b` (ties in either counted as neither concordant nor
/// discordant, with the τ-b correction); `None` for fewer than two pairs or a constant
/// side.
pub fn kendall_tau(a: &[f64], b: &[f64]) -> Option<f64> {
    let n = a.len().min(b.len());
    let (mut concordant, mut discordant, mut ties_a, mut ties_b) = (0f64, 0f64, 0f64, 0f64);
    for i in 0..n {
        for j in i + 1..n {
            let da = a[i] - a[j];
            let db = b[i] - b[j];
            match (da == 0.0, db == 0.0) {
                (true, true) => {}
                (true, false) => ties_a += 1.0,
                (false, true) => ties_b += 1.0,
                (false, false) if (da > 0.0) == (db > 0.0) => concordant += 1.0,
                (false, false) => discordant += 1.0,
            }
        }
    }
    let denominator =
        ((concordant + discordant + ties_a) * (concordant + discordant + ties_b)).sqrt();
    (denominator > 0.0).then(|| (concordant - discordant) / denominator)
}

/// The relative error of `predicted` against `measured`, in percent (signed).
pub fn error_percent(predicted: f64, measured: f64) -> f64 {
    (predicted - measured) / measured * 100.0
}

/// The share (0–1) of `errors` (percent) within ±`bound` percent.
pub fn within(errors: &[f64], bound: f64) -> f64 {
    if errors.is_empty() {
        return 0.0;
    }
    errors.iter().filter(|e| e.abs() <= bound).count() as f64 / errors.len() as f64
}

/// The median of the absolute `errors` (percent).
pub fn median_abs(errors: &[f64]) -> f64 {
    let mut a: Vec<f64> = errors.iter().map(|e| e.abs()).collect();
    a.sort_by(f64::total_cmp);
    match a.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => a[n / 2],
        n => (a[n / 2 - 1] + a[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kendall_tau_by_hand() {
        // Same order: 1; reversed: −1.
        assert_eq!(
            kendall_tau(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0]),
            Some(1.0)
        );
        assert_eq!(kendall_tau(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]), Some(-1.0));
        // 4 items, one swapped pair out of 6: (5 − 1) / 6.
        let t = kendall_tau(&[1.0, 2.0, 3.0, 4.0], &[1.0, 3.0, 2.0, 4.0]).unwrap();
        assert!((t - 4.0 / 6.0).abs() < 1e-12);
        // A tie in b: concordant 2, discordant 0, ties_b 1 → 2 / sqrt(3 · 2).
        let t = kendall_tau(&[1.0, 2.0, 3.0], &[1.0, 2.0, 2.0]).unwrap();
        assert!((t - 2.0 / 6f64.sqrt()).abs() < 1e-12);
        assert_eq!(kendall_tau(&[1.0], &[1.0]), None);
    }

    #[test]
    fn error_metrics_by_hand() {
        let errors = [
            error_percent(110.0, 100.0),
            error_percent(85.0, 100.0),
            error_percent(50.0, 40.0),
            error_percent(100.0, 100.0),
        ];
        assert_eq!(errors, [10.0, -15.0, 25.0, 0.0]);
        assert_eq!(within(&errors, 10.0), 0.5);
        assert_eq!(within(&errors, 20.0), 0.75);
        assert_eq!(median_abs(&errors), 12.5);
    }
}
