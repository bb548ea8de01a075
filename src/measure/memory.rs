//! The peak resident memory a case adds, from Linux's `/proc/self/status`: writing `5` to
//! `/proc/self/clear_refs` resets the peak (`VmHWM`) to the current resident size
//! (`VmRSS`), so the peak over a stretch of work is `VmHWM` read at its end. Memory an
//! allocator kept from earlier cases and reuses is resident already and not counted again.
//! Elsewhere (macOS, Windows) nothing is measured and the column stays empty.

/// Peak-RSS tracking over one or more stretches of work (the engine tracks one: a case's
/// preparation and first call, before its output is checked).
#[derive(Debug, Clone, Copy)]
pub struct PeakRss {
    start_kib: u64,
    peak_kib: u64,
}

fn status(field: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()
}

fn reset_peak() -> Option<()> {
    std::fs::write("/proc/self/clear_refs", "5").ok()
}

impl PeakRss {
    /// Starts tracking from the current resident size; `None` where the OS cannot say.
    pub fn start() -> Option<PeakRss> {
        reset_peak()?;
        let start_kib = status("VmRSS")?;
        Some(PeakRss {
            start_kib,
            peak_kib: start_kib,
        })
    }

    /// Ends a stretch: its peak is kept.
    pub fn pause(&mut self) {
        if let Some(hwm) = status("VmHWM") {
            self.peak_kib = self.peak_kib.max(hwm);
        }
    }

    /// Starts another stretch (what was resident in between is not a peak of the case).
    pub fn resume(&mut self) {
        reset_peak();
    }

    /// The highest peak of the stretches over the starting size, MiB (the current stretch
    /// ended by this call).
    pub fn added_mib(mut self) -> f64 {
        self.pause();
        self.peak_kib.saturating_sub(self.start_kib) as f64 / 1024.0
    }
}
