//! One line per finished case on stderr, hyperfine-style, with warnings about spread.

use std::io::Write;

use crate::output::units::si;
use crate::record::{Record, Status};

/// A CI half-width above this fraction of the median is warned about.
pub const WIDE_CI: f64 = 0.02;
/// More outliers than this fraction of the samples is warned about (a few in a hundred
/// is normal on a shared machine; they are counted in every row either way).
pub const OUTLIER_WARN: f64 = 0.05;

/// `1.234 ms`, `456.7 µs`, `1.20 s`.
pub fn duration_ms(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{:.3} s", ms / 1e3)
    } else if ms >= 1.0 {
        format!("{ms:.3} ms")
    } else {
        format!("{:.1} µs", ms * 1e3)
    }
}

/// Writes the line for `record` (case `index` of `total`) and any warnings.
pub fn line(log: &mut dyn Write, index: usize, total: usize, r: &Record) {
    let head = format!(
        "[{index}/{total}] {} · {} · {}",
        r.case, r.backend, r.device
    );
    let text = match (r.status, r.median_ms, r.ci95_low_ms, r.ci95_high_ms) {
        (Status::Ok, Some(median), Some(lo), Some(hi)) => {
            let mut s = format!(
                "{head}\n    {} (95% CI {} … {}), range {} … {}, {}MAC/s, {} samples × {} iters, max abs err {:.1e}",
                duration_ms(median),
                duration_ms(lo),
                duration_ms(hi),
                duration_ms(r.min_ms.unwrap_or(median)),
                duration_ms(r.max_ms.unwrap_or(median)),
                si(r.gmacs_per_s.unwrap_or(0.0) * 1e9),
                r.samples.unwrap_or(0),
                r.iters_per_sample.unwrap_or(0),
                r.max_abs_err.unwrap_or(0.0),
            );
            let outliers = r.outliers.unwrap_or(0);
            if outliers as f64 > OUTLIER_WARN * r.samples.unwrap_or(0) as f64 {
                s += &format!(
                    "\n    warning: {outliers} of {} samples are outliers (modified z > 3.5, kept); another process may have interfered",
                    r.samples.unwrap_or(0)
                );
            }
            let half = (hi - lo) / 2.0 / median;
            if half > WIDE_CI {
                s += &format!(
                    "\n    warning: the 95% CI is ±{:.1}% of the median; rerun on a quieter machine or with a longer --min-time",
                    half * 100.0
                );
            }
            s
        }
        _ => format!("{head}\n    {}: {}", r.status_word(), r.error),
    };
    writeln!(log, "{text}").ok();
}

impl Record {
    fn status_word(&self) -> &'static str {
        match self.status {
            Status::Ok => "ok",
            Status::Error => "error",
            Status::Skipped => "skipped",
        }
    }
}
