//! The roofs a row or a layer is placed under, from a device's `peak` rows: the compute
//! peak at the row's dtype (the best of the FMA-chain micro-kernel and every backend's
//! GEMM) and one bandwidth per memory level (the read-write kernel sized to each cache
//! level and to DRAM; `peak`'s streaming ReLU counts as DRAM too, or as the cache its
//! buffers fit), each at the smallest measured thread count at or above the row's (else the
//! largest), each the best sample's rate (as STREAM and the Empirical
//! Roofline Toolkit report). A working set (input + output + weights of a layer) is placed
//! under the smallest level that holds it; its bound is that level when the level's
//! bandwidth × intensity is below the compute peak, else `compute`.

use crate::record::{Record, Status};
use crate::spec::{CaseKind, Dtype};

use super::cache::DRAM;
use super::figure::{Figure, level_of};

/// One memory level's roof.
#[derive(Debug, Clone, PartialEq)]
pub struct Level {
    /// `L1`, `L2`, `L3`, `DRAM`.
    pub name: String,
    /// Bytes it holds at the thread count (none for DRAM).
    pub capacity: Option<u64>,
    /// G bytes per second (read + written).
    pub gbytes_per_s: f64,
    /// How it was measured.
    pub method: String,
}

/// A device's roofs at one dtype and thread count.
#[derive(Debug, Clone, PartialEq)]
pub struct Ceilings {
    /// The compute peak, G multiply-adds per second.
    pub gmacs_per_s: f64,
    /// How it was measured (`FMA chain`, `GEMM on tract`).
    pub compute: String,
    /// The memory levels, smallest first, DRAM last.
    pub levels: Vec<Level>,
}

/// Where a row or layer sits: its bound (`compute` or a level) and that roof.
#[derive(Debug, Clone, PartialEq)]
pub struct Bound {
    /// `compute`, `L1`, `L2`, `L3` or `DRAM`.
    pub bound: String,
    /// The level its working set fits.
    pub level: String,
    /// The roof at its intensity, G multiply-adds per second.
    pub roof: f64,
    /// The level's bandwidth, GB/s.
    pub level_gbytes_per_s: f64,
}

/// A peak row's best rate, G per second ([`Figure::of`]'s value).
fn best(r: &Record) -> Option<f64> {
    Figure::of(r).map(|f| f.value).filter(|v| *v > 0.0)
}

/// The thread count among `rows` that stands for `threads`: the smallest at or above it
/// (more threads have at least its roofs), else the largest.
fn stand_in(rows: &[&Record], threads: usize) -> Option<usize> {
    let above = rows
        .iter()
        .map(|r| r.threads)
        .filter(|t| *t >= threads)
        .min();
    above.or_else(|| rows.iter().map(|r| r.threads).max())
}

impl Ceilings {
    /// One compute roof and one bandwidth for every working set (DRAM's).
    pub fn flat(gmacs_per_s: f64, gbytes_per_s: f64) -> Ceilings {
        Ceilings {
            gmacs_per_s,
            compute: String::new(),
            levels: vec![Level {
                name: DRAM.into(),
                capacity: None,
                gbytes_per_s,
                method: String::new(),
            }],
        }
    }

    /// The roofs among one device's `peaks` rows (others are ignored) for rows at `dtype`
    /// on `threads` threads (measured at the smallest thread count at or above it, else
    /// the largest); `None` without a compute row at `dtype` or a DRAM figure.
    pub fn of(peaks: &[&Record], threads: usize, dtype: Dtype) -> Option<Ceilings> {
        let ok: Vec<&Record> = peaks
            .iter()
            .copied()
            .filter(|r| r.kind == CaseKind::Peak && r.status == Status::Ok)
            .collect();
        let compute: Vec<&Record> = ok
            .iter()
            .copied()
            .filter(|r| (r.name == "gemm" || r.name == "fma") && r.dtype == dtype)
            .collect();
        let at = stand_in(&compute, threads)?;
        let (gmacs_per_s, method) = compute
            .iter()
            .filter(|r| r.threads == at)
            .filter_map(|r| best(r).map(|g| (g, r)))
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(g, r)| {
                let how = if r.name == "fma" {
                    format!("FMA chain, {} thread(s)", r.threads)
                } else {
                    format!("GEMM on {}, {} thread(s)", r.backend, r.threads)
                };
                (g, how)
            })?;
        let memory: Vec<&Record> = ok
            .iter()
            .copied()
            .filter(|r| r.name.starts_with("bw-") || r.name == "stream")
            .collect();
        let at = stand_in(&memory, threads)?;
        let mut levels: Vec<Level> = Vec::new();
        for r in memory.iter().filter(|r| r.threads == at) {
            let name = level_of(r);
            let capacity = if name == DRAM { None } else { r.level_bytes };
            let Some(g) = best(r) else {
                continue;
            };
            let method = if r.name == "stream" {
                format!("streaming ReLU on {}, {} thread(s)", r.backend, r.threads)
            } else {
                format!("read-write kernel, {} thread(s)", r.threads)
            };
            match levels.iter_mut().find(|l| l.name == name) {
                Some(l) if l.gbytes_per_s >= g => {}
                Some(l) => (l.gbytes_per_s, l.method) = (g, method),
                None => levels.push(Level {
                    name,
                    capacity,
                    gbytes_per_s: g,
                    method,
                }),
            }
        }
        levels.sort_by_key(|l| l.capacity.unwrap_or(u64::MAX));
        levels.last().filter(|l| l.capacity.is_none())?;
        // A nearer level is never slower than a farther one (a noisy figure below the next
        // level's takes that level's).
        for i in (0..levels.len().saturating_sub(1)).rev() {
            if levels[i].gbytes_per_s < levels[i + 1].gbytes_per_s {
                levels[i].gbytes_per_s = levels[i + 1].gbytes_per_s;
                levels[i].method = format!("{} (as {})", levels[i + 1].method, levels[i + 1].name);
            }
        }
        Some(Ceilings {
            gmacs_per_s,
            compute: method,
            levels,
        })
    }

    /// The smallest level that holds `working_set` bytes (DRAM when unknown or beyond
    /// every cache).
    pub fn level(&self, working_set: Option<u64>) -> &Level {
        let last = self.levels.last().expect("a DRAM level");
        match working_set {
            Some(w) => self
                .levels
                .iter()
                .find(|l| l.capacity.is_some_and(|c| c >= w))
                .unwrap_or(last),
            None => last,
        }
    }

    /// The bound of a row or layer of `intensity` multiply-adds per byte whose working set
    /// is `working_set` bytes.
    pub fn bound(&self, intensity: f64, working_set: Option<u64>) -> Bound {
        let level = self.level(working_set);
        let memory = intensity * level.gbytes_per_s;
        let (bound, roof) = if memory < self.gmacs_per_s {
            (level.name.clone(), memory)
        } else {
            ("compute".to_string(), self.gmacs_per_s)
        };
        Bound {
            bound,
            level: level.name.clone(),
            roof,
            level_gbytes_per_s: level.gbytes_per_s,
        }
    }

    /// The roofline time of a layer of `macs` multiply-adds moving `bytes` (its working
    /// set too), ms: the slower of its compute at the peak and its bytes at its level.
    pub fn time_ms(&self, macs: f64, bytes: f64) -> f64 {
        let level = self.level(Some(bytes as u64));
        (macs / (self.gmacs_per_s * 1e9)).max(bytes / (level.gbytes_per_s * 1e9)) * 1e3
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn levels() -> Ceilings {
        Ceilings {
            gmacs_per_s: 100.0,
            compute: "FMA chain".into(),
            levels: vec![
                Level {
                    name: "L2".into(),
                    capacity: Some(1 << 20),
                    gbytes_per_s: 200.0,
                    method: String::new(),
                },
                Level {
                    name: "DRAM".into(),
                    capacity: None,
                    gbytes_per_s: 10.0,
                    method: String::new(),
                },
            ],
        }
    }

    #[test]
    fn working_sets_pick_their_level_and_intensity_the_bound() {
        let c = levels();
        // 0.25 MAC/byte at L2: 50 G/s, below compute.
        let b = c.bound(0.25, Some(100_000));
        assert_eq!((b.bound.as_str(), b.roof), ("L2", 50.0));
        // The same intensity beyond the caches: DRAM's 2.5 G/s.
        let b = c.bound(0.25, Some(10 << 20));
        assert_eq!(
            (b.bound.as_str(), b.level.as_str(), b.roof),
            ("DRAM", "DRAM", 2.5)
        );
        // Unknown working sets sit under DRAM; high intensity is compute-bound.
        assert_eq!(c.bound(100.0, None).bound, "compute");
        assert_eq!(c.bound(100.0, None).level, "DRAM");
        // 1 G MACs at 100 G/s: 10 ms; 1 MB at L2 200 GB/s: 5 µs.
        assert!((c.time_ms(1e9, 1e6) - 10.0).abs() < 1e-9);
        assert!((c.time_ms(0.0, 1e6) - 0.005).abs() < 1e-12);
        assert_eq!(Ceilings::flat(1.0, 2.0).level(Some(1)).name, "DRAM");
    }
}
