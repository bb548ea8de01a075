//! The data caches the OS reports (`/sys/devices/system/cpu/cpu0/cache/index*`): each
//! level's size and how many CPUs share one instance, and which level a working set fits
//! at a thread count.

use serde::{Deserialize, Serialize};

/// One data (or unified) cache level of CPU 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheLevel {
    /// 1, 2, 3, …
    pub level: u8,
    /// Bytes of one instance.
    pub size_bytes: u64,
    /// Logical CPUs that share one instance (1: private to a core's thread).
    pub shared_by: usize,
    /// Instances on the host (its CPUs / `shared_by`).
    #[serde(default = "one")]
    pub instances: usize,
}

fn one() -> usize {
    1
}

impl CacheLevel {
    /// `L2`.
    pub fn name(&self) -> String {
        format!("L{}", self.level)
    }

    /// The bytes `threads` threads have of this level together: as the scheduler spreads
    /// threads over cores and cache domains, one instance per thread up to the host's
    /// instances (an SMT sibling's L2, one L3 per CCX).
    pub fn capacity(&self, threads: usize) -> u64 {
        self.size_bytes * threads.clamp(1, self.instances.max(1)) as u64
    }
}

/// The name of the memory beyond every cache.
pub const DRAM: &str = "DRAM";

/// This host's data caches, smallest level first; empty where the OS does not say (read
/// once per process).
pub fn here() -> &'static [CacheLevel] {
    static LEVELS: std::sync::OnceLock<Vec<CacheLevel>> = std::sync::OnceLock::new();
    LEVELS.get_or_init(|| {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        read(
            std::path::Path::new("/sys/devices/system/cpu/cpu0/cache"),
            cpus,
        )
    })
}

/// The data caches described under `dir` (a `/sys/…/cpu0/cache` folder) of a host with
/// `cpus` logical CPUs.
pub fn read(dir: &std::path::Path, cpus: usize) -> Vec<CacheLevel> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<CacheLevel> = entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("index"))
        .filter_map(|e| {
            let field = |name: &str| std::fs::read_to_string(e.path().join(name)).ok();
            let kind = field("type")?;
            if kind.trim() == "Instruction" {
                return None;
            }
            let shared_by = field("shared_cpu_list").map_or(1, |l| cpus_in(&l));
            Some(CacheLevel {
                level: field("level")?.trim().parse().ok()?,
                size_bytes: parse_size(&field("size")?)?,
                shared_by,
                instances: (cpus / shared_by).max(1),
            })
        })
        .collect();
    out.sort_by_key(|c| c.level);
    out.dedup_by_key(|c| c.level);
    out
}

/// `32K`, `1024K`, `32M` → bytes.
fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim();
    let (digits, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = digits.parse().ok()?;
    Some(match unit.trim() {
        "" => n,
        "K" => n << 10,
        "M" => n << 20,
        "G" => n << 30,
        _ => return None,
    })
}

/// The number of CPUs in a list such as `0-3,8,10-11`.
fn cpus_in(list: &str) -> usize {
    list.trim()
        .split(',')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('-') {
            Some((a, b)) => match (a.parse::<usize>(), b.parse::<usize>()) {
                (Ok(a), Ok(b)) if b >= a => b - a + 1,
                _ => 1,
            },
            None => 1,
        })
        .sum::<usize>()
        .max(1)
}

/// The smallest of `levels` that holds `working_set` bytes at `threads` threads, with its
/// capacity; `None`: beyond every cache (DRAM).
pub fn level_of(levels: &[CacheLevel], working_set: u64, threads: usize) -> Option<(String, u64)> {
    levels
        .iter()
        .find(|c| c.capacity(threads) >= working_set)
        .map(|c| (c.name(), c.capacity(threads)))
}

/// `32 KiB`, `1 MiB`, `1.5 MiB`.
pub fn bytes_text(bytes: u64) -> String {
    let b = bytes as f64;
    let (v, unit) = if b >= (1u64 << 30) as f64 {
        (b / (1u64 << 30) as f64, "GiB")
    } else if b >= (1u64 << 20) as f64 {
        (b / (1u64 << 20) as f64, "MiB")
    } else if b >= 1024.0 {
        (b / 1024.0, "KiB")
    } else {
        return format!("{bytes} B");
    };
    if (v - v.round()).abs() < 0.05 {
        format!("{} {unit}", v.round())
    } else {
        format!("{v:.1} {unit}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_lists_and_levels() {
        assert_eq!(parse_size("32K\n"), Some(32 << 10));
        assert_eq!(parse_size("32M"), Some(32 << 20));
        assert_eq!(parse_size("bad"), None);
        assert_eq!(cpus_in("0-3,8,10-11\n"), 7);
        assert_eq!(cpus_in("0"), 1);
        let levels = [
            CacheLevel {
                level: 1,
                size_bytes: 32 << 10,
                shared_by: 2,
                instances: 8,
            },
            CacheLevel {
                level: 2,
                size_bytes: 1 << 20,
                shared_by: 2,
                instances: 8,
            },
            CacheLevel {
                level: 3,
                size_bytes: 32 << 20,
                shared_by: 8,
                instances: 2,
            },
        ];
        // Threads spread over cores: an SMT pair's L2 is one thread's; two L3 domains.
        assert_eq!(levels[1].capacity(2), 2 << 20);
        assert_eq!(levels[1].capacity(16), 8 << 20);
        assert_eq!(levels[2].capacity(1), 32 << 20);
        assert_eq!(levels[2].capacity(9), 64 << 20);
        assert_eq!(level_of(&levels, 40 << 10, 1).unwrap().0, "L2");
        assert_eq!(level_of(&levels, 40 << 10, 2).unwrap().0, "L1");
        assert_eq!(level_of(&levels, 2_400_000, 1).unwrap().0, "L3");
        assert_eq!(level_of(&levels, 40 << 20, 1), None);
        assert_eq!(bytes_text(1 << 20), "1 MiB");
        assert_eq!(bytes_text(2_400_000), "2.3 MiB");
    }

    #[test]
    fn this_hosts_caches_are_read_when_the_os_says() {
        let dir = std::path::Path::new("/sys/devices/system/cpu/cpu0/cache");
        let levels = read(dir, 2);
        if dir.join("index0").exists() {
            assert!(!levels.is_empty());
            assert!(levels.windows(2).all(|w| w[0].level < w[1].level));
            assert!(
                levels
                    .iter()
                    .all(|c| c.size_bytes >= 1024 && c.instances >= 1)
            );
        }
    }
}
