//! The peak resident memory a case adds, from Linux's `/proc/self/status`: writing `5` to
//! `/proc/self/clear_refs` resets the peak (`VmHWM`) to the current resident size
//! (`VmRSS`), so the peak over a stretch of work is `VmHWM` read at its end. Memory an
//! allocator kept from earlier cases and reuses is resident already and not counted again.
//! Elsewhere (macOS, Windows) nothing is measured and the column stays empty.

/// Peak-RSS tracking from [`PeakRss::start`] to [`PeakRss::added_mib`] (the engine
/// tracks a case's preparation and first call, before its output is checked).
#[derive(Debug, Clone, Copy)]
pub struct PeakRss {
    start_kib: u64,
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
        Some(PeakRss {
            start_kib: status("VmRSS")?,
        })
    }

    /// The peak since [`PeakRss::start`] over the starting size, MiB.
    pub fn added_mib(self) -> f64 {
        let peak = status("VmHWM").unwrap_or(self.start_kib);
        peak.saturating_sub(self.start_kib) as f64 / 1024.0
    }
}
