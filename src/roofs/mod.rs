//! The device's roofs, measured and derived: `peak`'s micro-kernels (an FMA chain per
//! dtype for the compute peak, a read-write pass sized to each cache level the OS reports
//! and to DRAM for the bandwidths), the theoretical peak that frames them, and
//! [`Ceilings`]: the roofs a row or layer is placed under (its working set against the
//! cache sizes names the level, its intensity against that level's bandwidth and the
//! compute peak names its bound).

pub mod cache;
pub mod ceilings;
pub mod figure;
pub mod fma;
pub mod stream;
pub mod theory;

use std::time::Instant;

pub use cache::{CacheLevel, DRAM};
pub use ceilings::{Bound, Ceilings, Level};
pub use figure::Figure;
use fma::Isa;
use stream::Line;

use crate::spec::Dtype;

/// What a call of a micro-kernel aims to last, so that starting the threads of a call is
/// a negligible part of it.
const CALL_TARGET_S: f64 = 0.005;
/// The least DRAM working set, bytes: far beyond any cache of these machines.
const DRAM_MIN_BYTES: u64 = 128 << 20;

/// One micro-kernel case of `peak`.
#[derive(Debug, Clone, PartialEq)]
pub struct KernelCase {
    /// Case id: `peak-fma-t1`, `peak-bw-L2-t2`.
    pub id: String,
    /// `fma`, `bw-L1`, …, `bw-DRAM`.
    pub name: String,
    /// Threads.
    pub threads: usize,
    /// What it runs.
    pub kernel: Kernel,
}

/// A micro-kernel.
#[derive(Debug, Clone, PartialEq)]
pub enum Kernel {
    /// FMA chains with this instruction.
    Fma(Isa),
    /// Read-write passes over `lines` lines per buffer and thread, sized to `level`
    /// (`DRAM` beyond the caches; `capacity` the level's bytes at the thread count).
    Bandwidth {
        /// `L1`, `L2`, `L3`, `DRAM`.
        level: String,
        /// The level's bytes for the threads (none for DRAM).
        capacity: Option<u64>,
        /// Lines in each of a thread's two buffers.
        lines: usize,
    },
}

impl KernelCase {
    /// The compute kernel at `dtype` on `threads` threads, or why this CPU has none.
    pub fn compute(dtype: Dtype, threads: usize) -> Result<KernelCase, String> {
        Isa::for_dtype(dtype).map(|isa| KernelCase {
            id: format!("peak-fma-t{threads}"),
            name: "fma".into(),
            threads,
            kernel: Kernel::Fma(isa),
        })
    }

    /// The bandwidth kernels on `threads` threads: one per cache level of `levels` (half
    /// its capacity, or halfway between the level below and it when that is more; a level
    /// no larger than the one below is left out), then DRAM (four times the largest cache,
    /// at least 128 MiB).
    pub fn bandwidth(levels: &[CacheLevel], threads: usize) -> Vec<KernelCase> {
        let t = threads.max(1) as u64;
        let mut out = Vec::new();
        let mut below = 0;
        let mut case = |level: String, capacity: Option<u64>, bytes: u64| {
            let lines = (bytes / t / 2 / stream::LINE_BYTES).max(1) as usize;
            out.push(KernelCase {
                id: format!("peak-bw-{level}-t{threads}"),
                name: format!("bw-{level}"),
                threads,
                kernel: Kernel::Bandwidth {
                    level,
                    capacity,
                    lines,
                },
            });
        };
        for c in levels {
            let cap = c.capacity(threads);
            // A level no larger than the one below it (all threads' L2s against one L3)
            // cannot be measured apart from it.
            if cap <= below {
                continue;
            }
            let bytes = (cap / 2).max((below + cap) / 2);
            case(c.name(), Some(cap), bytes);
            below = cap;
        }
        case(DRAM.into(), None, (4 * below).max(DRAM_MIN_BYTES));
        out
    }

    /// The bytes its buffers occupy (every thread's).
    pub fn working_set(&self) -> u64 {
        match &self.kernel {
            Kernel::Fma(_) => 0,
            Kernel::Bandwidth { lines, .. } => {
                *lines as u64 * stream::LINE_BYTES * 2 * self.threads as u64
            }
        }
    }

    /// How it measures, for the row's `detail`.
    pub fn describe(&self) -> String {
        match &self.kernel {
            Kernel::Fma(isa) => format!("{} per thread", isa.describe()),
            Kernel::Bandwidth {
                level, capacity, ..
            } => format!(
                "{}, {} in two buffers over {} thread(s) ({}); bytes read + written",
                stream::describe(),
                cache::bytes_text(self.working_set()),
                self.threads,
                match capacity {
                    Some(c) => format!("{level}: {} for these threads", cache::bytes_text(*c)),
                    None => "beyond every cache".into(),
                }
            ),
        }
    }
}

/// A micro-kernel ready to run: buffers allocated, each call sized to last about
/// [`CALL_TARGET_S`].
pub struct KernelRun {
    case: KernelCase,
    /// FMA steps, or passes, per call and thread.
    per_call: u64,
    buffers: Vec<(Vec<Line>, Vec<Line>)>,
    /// The last call's FMA results, one per thread.
    sums: Vec<f64>,
}

impl KernelRun {
    /// Allocates and calibrates `case` (untimed).
    pub fn new(case: &KernelCase) -> KernelRun {
        let buffers = match &case.kernel {
            Kernel::Fma(_) => Vec::new(),
            Kernel::Bandwidth { lines, .. } => {
                (0..case.threads).map(|_| stream::buffers(*lines)).collect()
            }
        };
        let mut run = KernelRun {
            case: case.clone(),
            per_call: match case.kernel {
                Kernel::Fma(_) => 1 << 12,
                Kernel::Bandwidth { .. } => 1,
            },
            buffers,
            sums: Vec::new(),
        };
        let cap = match case.kernel {
            Kernel::Fma(_) => fma::MAX_STEPS,
            Kernel::Bandwidth { .. } => 1 << 20,
        };
        // One call to warm the buffers, then calls growing (at most 16× a step, as the
        // start of threads weighs less) until one lasts half the target.
        run.call();
        loop {
            let started = Instant::now();
            run.call();
            let took = started.elapsed().as_secs_f64().max(1e-9);
            if took >= CALL_TARGET_S / 2.0 || run.per_call >= cap {
                break;
            }
            let scale = (CALL_TARGET_S / took).clamp(1.0, 16.0);
            run.per_call = ((run.per_call as f64 * scale).ceil() as u64).clamp(1, cap);
        }
        run
    }

    /// One call: every thread runs its share.
    pub fn call(&mut self) {
        let per_call = self.per_call;
        match &self.case.kernel {
            Kernel::Fma(isa) => {
                let isa = *isa;
                self.sums = on_threads(self.case.threads, |_| isa.run(per_call));
            }
            Kernel::Bandwidth { .. } => {
                std::thread::scope(|s| {
                    let mut rest = self.buffers.iter_mut();
                    let first = rest.next();
                    for (a, b) in rest {
                        s.spawn(move || stream::run(a, b, per_call as usize));
                    }
                    if let Some((a, b)) = first {
                        stream::run(a, b, per_call as usize);
                    }
                });
            }
        }
        std::hint::black_box(&self.sums);
        std::hint::black_box(&self.buffers);
    }

    /// A call from fresh inputs, checked: every chain holds its closed form, every
    /// buffer written last holds `max(input, 0)` (both buffers start as the input, so a
    /// line no pass wrote fails).
    pub fn checked_call(&mut self) -> Result<(), String> {
        for (a, b) in &mut self.buffers {
            let lines = a.len();
            (*a, *b) = stream::buffers(lines);
        }
        self.call();
        self.check()
    }

    fn check(&self) -> Result<(), String> {
        match &self.case.kernel {
            Kernel::Fma(isa) => {
                let want = isa.expected(self.per_call);
                match self.sums.iter().find(|s| **s != want) {
                    Some(got) => Err(format!("FMA chains summed to {got}, not {want}")),
                    None => Ok(()),
                }
            }
            Kernel::Bandwidth { .. } => {
                let ok = self.buffers.iter().all(|(a, b)| {
                    let last = if self.per_call % 2 == 1 { b } else { a };
                    stream::holds_relu(last)
                });
                if ok {
                    Ok(())
                } else {
                    Err("a buffer does not hold max(input, 0) after the passes".into())
                }
            }
        }
    }

    /// Multiply-adds of one call (every thread's).
    pub fn macs(&self) -> u64 {
        match self.case.kernel {
            Kernel::Fma(isa) => isa.macs(self.per_call) * self.case.threads as u64,
            Kernel::Bandwidth { .. } => 0,
        }
    }

    /// Bytes one call reads and writes (every thread's).
    pub fn bytes(&self) -> u64 {
        self.case.working_set() * self.per_call
    }
}

/// `f(i)` on `threads` threads (the caller's being one of them), their results in order.
fn on_threads<F: Fn(usize) -> f64 + Sync>(threads: usize, f: F) -> Vec<f64> {
    std::thread::scope(|s| {
        let f = &f;
        let others: Vec<_> = (1..threads).map(|i| s.spawn(move || f(i))).collect();
        let mut out = vec![f(0)];
        out.extend(others.into_iter().map(|h| h.join().unwrap_or(f64::NAN)));
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_sized_between_caches_and_checked() {
        let levels = [
            CacheLevel {
                level: 1,
                size_bytes: 48 << 10,
                shared_by: 1,
                instances: 2,
            },
            CacheLevel {
                level: 2,
                size_bytes: 64 << 10,
                shared_by: 1,
                instances: 2,
            },
            CacheLevel {
                level: 3,
                size_bytes: 100 << 10,
                shared_by: 2,
                instances: 1,
            },
        ];
        let cases = KernelCase::bandwidth(&levels, 2);
        let names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
        // Two threads' L2s (128 KiB) outgrow the one L3 (100 KiB): no L3 figure.
        assert_eq!(names, ["bw-L1", "bw-L2", "bw-DRAM"]);
        // L1: half of 2 × 48 KiB; L2's half would fit L1, so between the two.
        assert_eq!(cases[0].working_set(), 48 << 10);
        assert_eq!(cases[1].working_set(), 112 << 10);
        assert_eq!(cases[2].working_set(), DRAM_MIN_BYTES);
        for c in &cases[..2] {
            let mut run = KernelRun::new(c);
            run.checked_call().unwrap();
            assert!(run.bytes() >= c.working_set());
        }
        let mut fma = KernelRun::new(&KernelCase::compute(Dtype::F32, 2).unwrap());
        fma.checked_call().unwrap();
        assert!(fma.macs() > 0);
    }
}
