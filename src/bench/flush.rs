//! `--l2-flush`: the caches flushed before every timed call, outside the timed part, for
//! cold-cache figures (as triton's `do_bench` and Nsight Compute flush a GPU's L2). On a
//! CPU the harness reads and writes every cache line of a buffer twice the size of the
//! host's largest cache, one thread per logical CPU each over its share (not pinned: the
//! scheduler spreads them over the cores), so the cores' private caches and the shared
//! ones are filled with the buffer and the model's weights and activations evicted (a line-by-line read-modify-write, not `memset`, whose
//! non-temporal stores on large buffers would bypass the caches); on a GPU the backend
//! writes a 256 MiB device buffer (H100/H200 have 50–60 MiB of L2). Off by default, as in
//! the paper: its figures are warm-cache ones.

use std::sync::Mutex;

use crate::backend::Prepared;
use crate::device::DeviceSpec;
use crate::error::{Error, Result};
use crate::roofs::cache;

/// Bytes written when the OS does not report the host's caches.
const UNKNOWN_CACHES: u64 = 256 << 20;

/// What flushes before each timed call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flush {
    /// The host CPU's caches, by the harness.
    Host,
    /// The GPU's L2, by the backend.
    Device,
}

impl Flush {
    /// The flush for rows measured on `device`.
    pub(crate) fn on(device: &DeviceSpec) -> Flush {
        match device {
            DeviceSpec::Cuda(_) => Flush::Device,
            _ => Flush::Host,
        }
    }

    /// Flushes (not synchronised: the caller synchronises before its clock starts).
    pub(crate) fn run(self, prepared: &mut dyn Prepared, backend: &str) -> Result<()> {
        match self {
            Flush::Host => {
                flush_host();
                Ok(())
            }
            Flush::Device => prepared.flush_device_cache().unwrap_or_else(|| {
                Err(Error::Backend {
                    backend: backend.into(),
                    message: "--l2-flush: this backend cannot write the GPU's L2 out (tch can)"
                        .into(),
                })
            }),
        }
    }
}

/// The bytes the host flush writes: twice the host's largest cache level, all its
/// instances together.
pub(crate) fn host_bytes() -> u64 {
    cache::here()
        .iter()
        .map(|l| l.capacity(usize::MAX))
        .max()
        .map_or(UNKNOWN_CACHES, |b| 2 * b)
}

/// A cache line's bytes on the hosts flopsbench runs on (x86-64, aarch64).
const LINE: usize = 64;

/// Flushes the host's caches with the flush buffer (allocated once per process, shared by
/// every row).
fn flush_host() {
    static BUFFER: Mutex<Vec<u8>> = Mutex::new(Vec::new());
    let mut buffer = BUFFER
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if buffer.is_empty() {
        buffer.resize(host_bytes() as usize, 0);
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    touch_lines(&mut buffer, threads);
}

/// Adds one to the first byte of every cache line of `buffer`, `threads` threads each
/// over an equal share: every line read into the cache and written.
fn touch_lines(buffer: &mut [u8], threads: usize) {
    let share = buffer
        .len()
        .div_ceil(threads.max(1))
        .next_multiple_of(LINE)
        .max(LINE);
    std::thread::scope(|scope| {
        for part in buffer.chunks_mut(share) {
            scope.spawn(move || {
                for line in part.chunks_mut(LINE) {
                    line[0] = line[0].wrapping_add(1);
                }
                std::hint::black_box(part);
            });
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cache_line_of_the_buffer_is_read_and_written_once() {
        // An odd length (a last partial line) over 3 threads (a last short share).
        let mut buffer = vec![7u8; 10 * LINE + 5];
        touch_lines(&mut buffer, 3);
        for (i, b) in buffer.iter().enumerate() {
            let want = if i % LINE == 0 { 8 } else { 7 };
            assert_eq!(*b, want, "byte {i}");
        }
        touch_lines(&mut buffer, 1);
        assert!(buffer.iter().step_by(LINE).all(|b| *b == 9));
        // The buffer outsizes every cache the OS reports, all instances together.
        for level in cache::here() {
            assert!(host_bytes() >= 2 * level.capacity(usize::MAX), "{level:?}");
        }
        assert_eq!(Flush::on(&DeviceSpec::Cpu), Flush::Host);
        assert_eq!(Flush::on(&DeviceSpec::Cuda(1)), Flush::Device);
    }
}
