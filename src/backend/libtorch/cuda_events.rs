//! CUDA events around each timed run on a GPU: the device's own time for the run's work
//! (trtexec's "GPU Compute Time", beside the host's wall time from launch to
//! synchronisation, its "Latency"). tch has no binding for events, so the CUDA runtime
//! libtorch itself links (`libcudart.so.13` for PyTorch 2.11's and 2.13's CUDA 13 builds;
//! already loaded with libtorch_cuda, and preferred to any other) is opened by name and
//! seven of its functions are called.
//! Events are recorded on the legacy default stream (stream 0), the stream ATen's ops run
//! on unless a caller sets another, so the pair brackets exactly the run's kernels.

use std::ffi::{c_int, c_void};
use std::sync::OnceLock;

/// `cudaEvent_t`.
type Event = *mut c_void;
/// `cudaError_t` (0: `cudaSuccess`).
type Status = c_int;

/// The runtime's names, newest first (the one libtorch linked is already loaded).
const LIBRARIES: [&str; 3] = ["libcudart.so.13", "libcudart.so.12", "libcudart.so"];

/// The CUDA runtime functions the timer calls.
struct Runtime {
    get_device: unsafe extern "C" fn(*mut c_int) -> Status,
    set_device: unsafe extern "C" fn(c_int) -> Status,
    create: unsafe extern "C" fn(*mut Event) -> Status,
    record: unsafe extern "C" fn(Event, *mut c_void) -> Status,
    synchronize: unsafe extern "C" fn(Event) -> Status,
    elapsed: unsafe extern "C" fn(*mut f32, Event, Event) -> Status,
    destroy: unsafe extern "C" fn(Event) -> Status,
    /// Kept open for the process: the function pointers point into it.
    _library: libloading::Library,
}

/// The CUDA runtime, opened once per process, or why it could not be.
fn runtime() -> Result<&'static Runtime, String> {
    static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| open(&LIBRARIES))
        .as_ref()
        .map_err(Clone::clone)
}

/// The first of `names` the process has loaded already (libtorch_cuda's runtime: never a
/// second one beside it), else the first that opens.
fn open(names: &[&str]) -> Result<Runtime, String> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    for &name in names {
        // SAFETY: RTLD_NOLOAD opens nothing new: it finds a library already loaded.
        let loaded = unsafe {
            libloading::os::unix::Library::open(Some(name), libc::RTLD_NOW | libc::RTLD_NOLOAD)
        };
        if let Ok(library) = loaded {
            return functions(library.into()).map_err(|e| format!("{name}: {e}"));
        }
    }
    let mut tried = Vec::new();
    for &name in names {
        // SAFETY: the CUDA runtime's initialisers are safe to run (libtorch_cuda, which
        // links it, has run them already where it is loaded).
        match unsafe { libloading::Library::new(name) } {
            Ok(library) => return functions(library).map_err(|e| format!("{name}: {e}")),
            Err(e) => tried.push(format!("{name}: {e}")),
        }
    }
    Err(format!("no CUDA runtime to open ({})", tried.join("; ")))
}

fn functions(library: libloading::Library) -> Result<Runtime, libloading::Error> {
    // SAFETY: the signatures are the CUDA runtime API's (cuda_runtime_api.h), unchanged
    // from CUDA 11 to 13.
    unsafe {
        Ok(Runtime {
            get_device: *library.get(b"cudaGetDevice\0")?,
            set_device: *library.get(b"cudaSetDevice\0")?,
            create: *library.get(b"cudaEventCreate\0")?,
            record: *library.get(b"cudaEventRecord\0")?,
            synchronize: *library.get(b"cudaEventSynchronize\0")?,
            elapsed: *library.get(b"cudaEventElapsedTime\0")?,
            destroy: *library.get(b"cudaEventDestroy\0")?,
            _library: library,
        })
    }
}

fn check(what: &str, status: Status) -> Result<(), String> {
    if status == 0 {
        Ok(())
    } else {
        Err(format!("{what} failed with CUDA error {status}"))
    }
}

/// A pair of events on one GPU: start and end of the last run.
pub(super) struct Timer {
    runtime: &'static Runtime,
    device: c_int,
    start: Event,
    end: Event,
    /// Whether both events were recorded since the last reading.
    recorded: bool,
}

impl Timer {
    /// Two events on GPU `device`.
    pub(super) fn new(device: usize) -> Result<Timer, String> {
        Timer::with(runtime()?, device)
    }

    fn with(runtime: &'static Runtime, device: usize) -> Result<Timer, String> {
        let device = c_int::try_from(device).map_err(|e| e.to_string())?;
        let (mut start, mut end): (Event, Event) = (std::ptr::null_mut(), std::ptr::null_mut());
        // SAFETY: valid out-pointers; the runtime's functions as declared.
        unsafe {
            check("cudaSetDevice", (runtime.set_device)(device))?;
            check("cudaEventCreate", (runtime.create)(&mut start))?;
            if let Err(e) = check("cudaEventCreate", (runtime.create)(&mut end)) {
                (runtime.destroy)(start);
                return Err(e);
            }
        }
        Ok(Timer {
            runtime,
            device,
            start,
            end,
            recorded: false,
        })
    }

    fn record(&self, event: Event) -> Result<(), String> {
        // SAFETY: an event this timer created; stream 0 is the legacy default stream; a
        // valid out-pointer.
        unsafe {
            // Events belong to the GPU they were created on, and ATen's device guards
            // restore the thread's device after each op: switched only where another
            // GPU's timer (a run on two GPUs) left the thread on its own.
            let mut current: c_int = -1;
            check("cudaGetDevice", (self.runtime.get_device)(&mut current))?;
            if current != self.device {
                check("cudaSetDevice", (self.runtime.set_device)(self.device))?;
            }
            check(
                "cudaEventRecord",
                (self.runtime.record)(event, std::ptr::null_mut()),
            )
        }
    }

    /// Before the run's first kernel is launched.
    pub(super) fn start(&mut self) -> Result<(), String> {
        self.recorded = false;
        self.record(self.start)
    }

    /// After the run's last kernel is launched.
    pub(super) fn stop(&mut self) -> Result<(), String> {
        self.record(self.end)?;
        self.recorded = true;
        Ok(())
    }

    /// The time between the last start and stop on the GPU, ms (waits for the end event:
    /// read after the host synchronised, it does not wait).
    pub(super) fn elapsed_ms(&mut self) -> Option<Result<f64, String>> {
        if !std::mem::take(&mut self.recorded) {
            return None;
        }
        let mut ms = 0f32;
        // SAFETY: two recorded events of this timer; a valid out-pointer.
        let read = unsafe {
            check("cudaEventSynchronize", (self.runtime.synchronize)(self.end)).and_then(|()| {
                check(
                    "cudaEventElapsedTime",
                    (self.runtime.elapsed)(&mut ms, self.start, self.end),
                )
            })
        };
        Some(read.map(|()| f64::from(ms)))
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        // SAFETY: events this timer created, destroyed once.
        unsafe {
            (self.runtime.destroy)(self.start);
            (self.runtime.destroy)(self.end);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_cuda_runtime_the_timer_says_why() {
        let why = open(&["libcudart-of-no-such-version.so"]).err().unwrap();
        assert!(why.contains("libcudart-of-no-such-version.so"), "{why}");
    }

    #[test]
    fn the_cuda_runtime_of_the_torch_wheels_has_every_function_the_timer_calls() {
        // The CUDA runtime beside the libtorch this build links (PyTorch's wheels carry
        // it: CUDA 13 for 2.11 and 2.13): its functions are found by name; without a GPU,
        // creating events fails on cudaSetDevice with the runtime's error, not a crash.
        let Some(libtorch) = option_env!("LIBTORCH") else {
            eprintln!("skipped: this build was not told where its libtorch is (LIBTORCH)");
            return;
        };
        let path = format!("{libtorch}/../nvidia/cu13/lib/libcudart.so.13");
        if !std::path::Path::new(&path).exists() {
            eprintln!("skipped: {path} is absent (a libtorch without CUDA)");
            return;
        }
        let runtime: &'static Runtime = Box::leak(Box::new(open(&[&path]).unwrap()));
        match Timer::with(runtime, 0) {
            Ok(mut timer) => {
                // A GPU: an empty pair of events measures next to nothing.
                timer.start().unwrap();
                timer.stop().unwrap();
                let ms = timer.elapsed_ms().unwrap().unwrap();
                assert!((0.0..10.0).contains(&ms), "{ms}");
                assert!(timer.elapsed_ms().is_none(), "read once per run");
            }
            Err(why) => assert!(
                why.starts_with("cudaSetDevice failed with CUDA error"),
                "{why}"
            ),
        }
    }
}
