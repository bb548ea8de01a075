//! The C heap that libtorch and ONNX Runtime allocate from (glibc's malloc), set once
//! for the process so that a case's timings do not depend on what ran before it.
//!
//! glibc adapts two thresholds as a process runs: a block of at least
//! `M_MMAP_THRESHOLD` (128 KiB at start) is mapped on its own, and freeing such a block
//! raises the threshold to its size (up to 32 MiB) and `M_TRIM_THRESHOLD` to twice that;
//! free memory above the trim threshold at the top of the heap is given back to the OS.
//! A forward pass that allocates and frees more than the trim threshold per layer (each
//! layer's output plus oneDNN's reordered copies) therefore grows and shrinks the heap on
//! every call, and every page it touches is freshly zeroed by the kernel: DWConv
//! 384×14×14 through libtorch took 600 page faults and 2.2 ms per call with the thresholds
//! a fresh process has, 10 faults and 0.9 ms with them pinned. A Python process that has
//! imported torch starts at 1 MiB / 2 MiB (and rises with the largest tensor it frees), so
//! the same case does not churn there, while the 56×56 and 28×28 ones do.
//!
//! [`pin`] sets both thresholds to the end point of glibc's own rule (32 MiB and 64 MiB):
//! every case runs as in a process that has freed a 32 MiB block, whatever ran before.
//! If the environment sets these thresholds itself (`MALLOC_MMAP_THRESHOLD_`,
//! `MALLOC_TRIM_THRESHOLD_`, `MALLOC_TOP_PAD_`, `MALLOC_MMAP_MAX_` or their
//! `GLIBC_TUNABLES`), they are left as set; `FLOPSBENCH_C_HEAP=adaptive` keeps glibc's
//! adaptive thresholds, as a plain PyTorch script has them. The Rust backends (tract, candle) allocate through the binary's global
//! allocator (mimalloc) and are not affected either way.

use std::sync::OnceLock;

/// The pinned `M_MMAP_THRESHOLD`: glibc's largest dynamic value on 64-bit hosts.
pub const MMAP_THRESHOLD: usize = 32 << 20;
/// The pinned `M_TRIM_THRESHOLD`: twice the mmap threshold, as glibc's rule sets it.
pub const TRIM_THRESHOLD: usize = 64 << 20;

/// The environment variables that set glibc's thresholds (`GLIBC_TUNABLES` when it sets
/// one of [`TUNABLES`]) or ask for the adaptive ones ([`ADAPTIVE`]).
pub const USER_SETTINGS: [&str; 6] = [
    "MALLOC_MMAP_THRESHOLD_",
    "MALLOC_TRIM_THRESHOLD_",
    "MALLOC_TOP_PAD_",
    "MALLOC_MMAP_MAX_",
    "GLIBC_TUNABLES",
    ADAPTIVE,
];

/// The glibc tunables that set the thresholds.
const TUNABLES: [&str; 4] = [
    "glibc.malloc.mmap_threshold",
    "glibc.malloc.trim_threshold",
    "glibc.malloc.top_pad",
    "glibc.malloc.mmap_max",
];

/// `FLOPSBENCH_C_HEAP=adaptive`: leave glibc's thresholds adaptive.
pub const ADAPTIVE: &str = "FLOPSBENCH_C_HEAP";

/// What the C heap is when nothing pinned it.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const UNPINNED: &str = "glibc malloc, adaptive thresholds (not pinned)";
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
const UNPINNED: &str = "the platform's C malloc (not glibc; nothing pinned)";

static STATE: OnceLock<String> = OnceLock::new();

/// Pins glibc's malloc thresholds for the rest of the process (once; later calls return
/// the first outcome) and returns what was done, as [`describe`] reports it.
pub fn pin() -> &'static str {
    STATE.get_or_init(|| pin_with(&user_settings()))
}

/// What the process's C heap runs with, for `meta.json`.
pub fn describe() -> &'static str {
    STATE.get().map(String::as_str).unwrap_or(UNPINNED)
}

/// The malloc settings found in the environment, as `NAME=value`.
fn user_settings() -> Vec<String> {
    USER_SETTINGS
        .iter()
        .filter_map(|name| {
            let value = std::env::var(name).ok()?;
            let relevant = match *name {
                "GLIBC_TUNABLES" => TUNABLES.iter().any(|t| value.contains(t)),
                ADAPTIVE => value == "adaptive",
                _ => true,
            };
            relevant.then(|| format!("{name}={value}"))
        })
        .collect()
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn pin_with(user: &[String]) -> String {
    if !user.is_empty() {
        return format!(
            "glibc malloc, thresholds as set in the environment: {}",
            user.join(" ")
        );
    }
    // SAFETY: mallopt only changes the allocator's parameters (under its lock); both values
    // fit in a c_int and are within glibc's accepted ranges.
    let ok = unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD as libc::c_int) == 1
            && libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD as libc::c_int) == 1
    };
    if ok {
        format!(
            "glibc malloc pinned: M_MMAP_THRESHOLD={MMAP_THRESHOLD} M_TRIM_THRESHOLD={TRIM_THRESHOLD}"
        )
    } else {
        "glibc malloc, adaptive thresholds (mallopt refused the pinned values)".into()
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn pin_with(_user: &[String]) -> String {
    "the platform's C malloc (not glibc; nothing pinned)".into()
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    use super::*;

    /// Whether glibc serves an allocation of `size` bytes from its own mapping (the
    /// IS_MMAPPED bit of the chunk header). The block is freed afterwards.
    fn mapped(size: usize) -> bool {
        // SAFETY: a live glibc chunk has its size word, with the flag bits, just before
        // the pointer malloc returns.
        unsafe {
            let p = libc::malloc(size);
            assert!(!p.is_null());
            let header = *(p as *const usize).sub(1);
            libc::free(p);
            header & 2 != 0
        }
    }

    #[test]
    fn pinned_thresholds_keep_blocks_below_32_mib_on_the_heap() {
        let outcome = pin();
        if !outcome.contains("pinned:") {
            eprintln!("skipped: the environment sets the thresholds ({outcome})");
        }
        assert!(outcome.starts_with("glibc malloc"), "{outcome}");
        if outcome.contains("pinned:") {
            // glibc's defaults map every block from 128 KiB; pinned, blocks below 32 MiB
            // come from the heap. (Whether a larger one is mapped depends on the free
            // space the heap already holds, so it is not asserted.)
            assert!(!mapped(8 << 20), "8 MiB is mapped after pinning");
            assert!(!mapped(MMAP_THRESHOLD - (1 << 20)), "31 MiB is mapped");
        }
        assert_eq!(pin(), outcome, "pinning twice returns the first outcome");
    }

    #[test]
    fn environment_settings_are_left_alone() {
        let said = pin_with(&["MALLOC_TRIM_THRESHOLD_=1".to_string()]);
        assert_eq!(
            said,
            "glibc malloc, thresholds as set in the environment: MALLOC_TRIM_THRESHOLD_=1"
        );
    }
}
