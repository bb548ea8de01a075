//! One line per finished case on stderr, hyperfine-style, with warnings about spread.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

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
                "{head}\n    {} (95% CI {} … {}), range {} … {}, {}MAC/s, {}B/s, {} samples × {} iters, max abs err {:.1e}",
                duration_ms(median),
                duration_ms(lo),
                duration_ms(hi),
                duration_ms(r.min_ms.unwrap_or(median)),
                duration_ms(r.max_ms.unwrap_or(median)),
                si(r.gmacs_per_s.unwrap_or(0.0) * 1e9),
                si(r.gbytes_per_s.unwrap_or(0.0) * 1e9),
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

/// Progress of a run on stderr: a bar (case i/n, the current case, ETA) when stderr is a
/// terminal and it is wanted, with the per-case lines printed above it; only the lines
/// otherwise; nothing with `--quiet`.
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A bar over `total` cases, drawn only if `show` and stderr is a terminal.
    pub fn new(total: usize, show: bool) -> Progress {
        let bar = (show && std::io::stderr().is_terminal()).then(|| {
            let bar =
                ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{bar:30.cyan/blue} {pos}/{len} · ETA {eta} · {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Progress { bar }
    }

    /// A case starts.
    pub fn start(&mut self, label: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(label.to_string());
        }
    }

    fn print(&self, log: &mut dyn Write, f: impl FnOnce(&mut dyn Write)) {
        match &self.bar {
            Some(bar) => bar.suspend(|| f(log)),
            None => f(log),
        }
    }

    /// A case finished: its line, and the bar moves on.
    pub fn finished(
        &mut self,
        log: &mut dyn Write,
        quiet: bool,
        index: usize,
        total: usize,
        r: &Record,
    ) {
        if !quiet {
            self.print(log, |log| line(log, index, total, r));
        }
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

    /// A case was skipped (already done): `text`, and the bar moves on.
    pub fn skip(&mut self, log: &mut dyn Write, quiet: bool, text: &str) {
        if !quiet {
            self.print(log, |log| {
                writeln!(log, "{text}").ok();
            });
        }
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

    /// The run is over: the bar disappears.
    pub fn done(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
