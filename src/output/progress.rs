//! One line per finished case on stderr, hyperfine-style, with warnings about spread,
//! and a progress bar on terminals: the [`Reporter`] of runs started from the terminal.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::bench::Reporter;
use crate::output::units::si;
use crate::profile::LayerSamples;
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

/// The achieved multiply-add rate of a row, `–` where it has none (the stream ceiling),
/// `≥` before it where nodes no rule counts make the count a lower bound.
pub fn mac_rate(r: &Record) -> String {
    match r.gmacs_per_s {
        Some(g) if r.macs > 0 => format!("{}{}MAC/s", lower_bound(r), si(g * 1e9)),
        _ => "–".into(),
    }
}

/// A row's bytes per second, SI-prefixed (`≥ ` first where its counts are lower bounds);
/// none for a row that moves no bytes (the FMA chain).
pub fn byte_rate(r: &Record) -> Option<String> {
    let g = r.gbytes_per_s.filter(|g| *g > 0.0)?;
    Some(format!("{}{}", lower_bound(r), si(g * 1e9)))
}

/// `≥ ` for a row whose counts are lower bounds (uncounted nodes), else nothing.
pub fn lower_bound(r: &Record) -> &'static str {
    if r.uncounted_nodes.is_empty() {
        ""
    } else {
        "≥ "
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
            let interval = if r.samples == Some(1) {
                "one sample: no interval".to_string()
            } else {
                format!("95% CI {} … {}", duration_ms(lo), duration_ms(hi))
            };
            let mut s = format!(
                "{head}{}\n    {} ({interval}), sample range {} … {}, {}, {}, {} samples, each the mean of {}, max abs err {:.1e}",
                if r.emulated { " (emulated)" } else { "" },
                duration_ms(median),
                duration_ms(r.min_ms.unwrap_or(median)),
                duration_ms(r.max_ms.unwrap_or(median)),
                mac_rate(r),
                byte_rate(r).map_or("–".into(), |b| format!("{b}B/s")),
                r.samples.unwrap_or(0),
                match r.iters_per_sample.unwrap_or(0) {
                    1 => "1 call".to_string(),
                    n => format!("{n} calls"),
                },
                r.max_abs_err.unwrap_or(0.0),
            );
            if r.l2_flush {
                s += ", caches flushed before each call (untimed)";
            }
            if let (Some(gpu), Some(lo), Some(hi)) =
                (r.gpu_median_ms, r.gpu_ci95_low_ms, r.gpu_ci95_high_ms)
            {
                s += &format!(
                    "\n    GPU time {} (95% CI {} … {}) from CUDA events; the median above is the host's, launch to synchronisation",
                    duration_ms(gpu),
                    duration_ms(lo),
                    duration_ms(hi)
                );
            }
            let outliers = r.outliers.unwrap_or(0);
            if outliers as f64 > OUTLIER_WARN * r.samples.unwrap_or(0) as f64 {
                s += &format!(
                    "\n    warning: {outliers} of {} samples are outliers (modified z > 3.5, kept); another process may have interfered",
                    r.samples.unwrap_or(0)
                );
            }
            let half = (hi - lo) / 2.0 / median;
            // A micro-kernel's roof is its best sample, over a window no flag lengthens.
            if half > WIDE_CI && r.backend != crate::bench::kernels::KERNEL_BACKEND {
                s += &format!(
                    "\n    warning: the 95% CI is ±{:.1}% of the median; rerun on a quieter machine or with a longer --min-time",
                    half * 100.0
                );
            }
            s
        }
        _ => format!("{head}\n    {}: {}", r.status.as_str(), r.error),
    };
    writeln!(log, "{text}").ok();
}

/// The reporter of a run on a terminal: one line per finished case on `log`, with a bar
/// (case i/n, the current case, ETA) below them when `bar` is wanted and stderr is a
/// terminal; nothing with `quiet`.
pub struct Progress<'a> {
    log: &'a mut dyn Write,
    quiet: bool,
    /// The module depth of per-layer roll-ups (`--depth`).
    depth: Option<usize>,
    want_bar: bool,
    bar: Option<ProgressBar>,
}

impl<'a> Progress<'a> {
    /// Lines to `log` unless `quiet`, and a bar if `bar` and stderr is a terminal.
    pub fn new(log: &'a mut dyn Write, quiet: bool, bar: bool) -> Progress<'a> {
        Progress {
            log,
            quiet,
            depth: None,
            want_bar: bar && !quiet,
            bar: None,
        }
    }

    /// Per-layer profiles rolled up by the first `depth` parts of the layer names too.
    pub fn with_depth(mut self, depth: Option<usize>) -> Self {
        self.depth = depth;
        self
    }

    fn print(&mut self, f: impl FnOnce(&mut dyn Write)) {
        if self.quiet {
            return;
        }
        let log = &mut *self.log;
        match &self.bar {
            Some(bar) => bar.suspend(|| f(log)),
            None => f(log),
        }
    }

    fn advance(&self) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }
}

impl Reporter for Progress<'_> {
    fn begin(&mut self, total: usize) {
        self.bar = (self.want_bar && std::io::stderr().is_terminal()).then(|| {
            let bar =
                ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{bar:30.cyan/blue} {pos}/{len} · ETA {eta} · {wide_msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
    }

    fn started(&mut self, label: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(label.to_string());
        }
    }

    fn layers(&mut self, record: &Record, rows: &[LayerSamples]) {
        let depth = self.depth;
        self.print(|log| {
            write!(
                log,
                "{}",
                crate::output::layers::render(record, rows, depth)
            )
            .ok();
        });
    }

    fn kept(&mut self, index: usize, total: usize, r: &Record) {
        self.print(|log| {
            writeln!(
                log,
                "[{index}/{total}] {} · {} · {}: already ok, kept",
                r.case, r.backend, r.device
            )
            .ok();
        });
        self.advance();
    }

    fn finished(&mut self, index: usize, total: usize, r: &Record) {
        self.print(|log| line(log, index, total, r));
        self.advance();
    }

    fn done(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
