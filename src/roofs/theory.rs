//! The theoretical compute peak where it can be derived: FMA units × lanes × multiply-adds
//! per lane × clock × threads, each term with where it came from. The clock is the
//! cpufreq maximum where the OS has one, else /proc/cpuinfo's `cpu MHz` (a VM's nominal
//! clock: turbo hidden); the units are assumed (two per core on every x86 core with AVX2
//! or AVX-512 since Haswell and Zen, and on Cortex-A72's NEON; some AVX-512 parts have one
//! 512-bit unit or split it in two 256-bit halves), which is why the measured FMA chain is
//! the compute roof and this figure only frames it.

use serde::{Deserialize, Serialize};

use super::fma::Isa;
use crate::spec::Dtype;

/// FMA units per core assumed by [`theoretical`].
pub const FMA_UNITS: u64 = 2;

/// A derived compute peak.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Theoretical {
    /// Element type.
    pub dtype: Dtype,
    /// Threads (one per core assumed).
    pub threads: usize,
    /// G multiply-adds per second, when the clock is known.
    pub gmacs_per_s: Option<f64>,
    /// How it was derived, or why it could not be.
    pub method: String,
}

/// The clock in GHz and where it came from, or why it is unknown.
pub fn clock() -> (Option<f64>, String) {
    let max_khz = std::fs::read_to_string("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")
        .ok()
        .and_then(|t| t.trim().parse::<f64>().ok());
    if let Some(khz) = max_khz {
        return (Some(khz / 1e6), "cpufreq's maximum".into());
    }
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    match cpu_mhz(&cpuinfo) {
        Some(mhz) => (
            Some(mhz / 1e3),
            "/proc/cpuinfo `cpu MHz` (no cpufreq: a VM's nominal clock, turbo hidden)".into(),
        ),
        None => (
            None,
            "the OS does not say the clock (no cpufreq, no `cpu MHz`)".into(),
        ),
    }
}

/// The first `cpu MHz` of a /proc/cpuinfo text.
fn cpu_mhz(cpuinfo: &str) -> Option<f64> {
    cpuinfo
        .lines()
        .find(|l| l.starts_with("cpu MHz"))
        .and_then(|l| l.split_once(':'))
        .and_then(|(_, v)| v.trim().parse().ok())
}

/// The theoretical peak of `isa` at `dtype` on `threads` threads of a CPU with `cores`
/// physical cores (SMT siblings share a core's FMA units).
pub fn theoretical(isa: Isa, dtype: Dtype, threads: usize, cores: usize) -> Theoretical {
    let (ghz, source) = clock();
    let per_cycle = FMA_UNITS * isa.lanes() * isa.macs_per_lane();
    let used = threads.clamp(1, cores.max(1));
    Theoretical {
        dtype,
        threads,
        gmacs_per_s: ghz.map(|g| g * per_cycle as f64 * used as f64),
        method: format!(
            "{FMA_UNITS} FMA units per core (assumed) × {} lanes × {} multiply-add(s) = \
             {per_cycle} per cycle × {} GHz ({source}) × {used} core(s)",
            isa.lanes(),
            isa.macs_per_lane(),
            ghz.map_or("?".into(), |g| format!("{g:.2}")),
        ),
    }
}

/// The theoretical peaks of this CPU at every dtype it has a kernel for, on one thread and
/// on its `logical` CPUs (`peak`'s thread counts), of which `cores` are physical cores.
pub fn here(logical: usize, cores: usize) -> Vec<Theoretical> {
    let mut threads = vec![1];
    if logical > 1 {
        threads.push(logical);
    }
    Dtype::ALL
        .iter()
        .filter_map(|d| Isa::for_dtype(*d).ok().map(|isa| (*d, isa)))
        .flat_map(|(d, isa)| threads.iter().map(move |t| theoretical(isa, d, *t, cores)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_is_read_from_cpuinfo() {
        assert_eq!(
            cpu_mhz("model\t: x\ncpu MHz\t\t: 2595.124\n"),
            Some(2595.124)
        );
        assert_eq!(cpu_mhz("nothing"), None);
        let t = theoretical(Isa::Avx512, Dtype::F32, 4, 2);
        assert!(t.method.contains("32 per cycle"), "{}", t.method);
        assert!(
            t.method.contains("× 2 core(s)"),
            "SMT siblings share a core: {}",
            t.method
        );
        if let Some(g) = t.gmacs_per_s {
            assert!(g > 0.0);
        }
    }
}
