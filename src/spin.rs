//! libtorch's OpenMP threads and interleaved rounds. libgomp's idle worker threads spin for
//! `GOMP_SPINCOUNT` iterations after a parallel region before they sleep — 300 000 by
//! default, about 10 ms on the development VM — so in rounds the spinning of tch's threads
//! takes a core from the next backend's sample (measured there at 2 threads: tract 12–40%
//! slower after tch than in a block of its own). `OMP_WAIT_POLICY=PASSIVE` stops the
//! spinning but makes every parallel region wake its threads (tch 8–300% slower);
//! `GOMP_SPINCOUNT=10000` keeps tch's own timings within a few percent of a block's and
//! frees the core within a fraction of a millisecond.
//!
//! libgomp reads both variables when it loads, before `main`, so a run that may put tch in
//! rounds beside another backend restarts itself once (exec, same arguments and process)
//! with `GOMP_SPINCOUNT` set — unless the user set either variable. meta.json's `openmp`
//! records what the run had ([`crate::meta::openmp_env`]).

use crate::app::Command;
use crate::backend::Selection;
use crate::meta::OPENMP_VARIABLES;

/// The variable set on restart, and its value.
pub const SPIN_COUNT: (&str, &str) = ("GOMP_SPINCOUNT", "10000");

/// Whether `backends` holds tch and another backend (this build's registry for `all`).
fn tch_beside_another(backends: &Selection) -> bool {
    let names: Vec<&str> = backends.backends().iter().map(|b| b.name()).collect();
    names.contains(&"tch") && names.len() > 1
}

/// Whether `command`, in this process's environment, should restart with
/// [`SPIN_COUNT`]: a measuring run of a build with tch that may put tch in rounds with
/// another backend, with neither OpenMP variable set.
pub fn restart_wanted(command: &Command) -> bool {
    let may_interleave = match command {
        Command::Bench(b) => {
            b.sampler.interleave != Some(false) && tch_beside_another(&b.experiment.backends)
        }
        Command::Paper(p) => tch_beside_another(&p.backends),
        _ => false,
    };
    cfg!(all(feature = "tch", unix))
        && may_interleave
        && OPENMP_VARIABLES
            .iter()
            .all(|v| std::env::var_os(v).is_none())
}

/// Replaces this process with a fresh start of the same binary and arguments, with
/// [`SPIN_COUNT`] set; returns only when that failed, with why.
#[cfg(unix)]
pub fn restart() -> std::io::Error {
    use std::os::unix::process::CommandExt;
    let mut args = std::env::args_os();
    let arg0 = args.next().unwrap_or_default();
    // Linux's link to the running binary works even when its file was removed or replaced.
    let link = std::path::Path::new("/proc/self/exe");
    let exe = if link.exists() {
        Ok(link.to_path_buf())
    } else {
        std::env::current_exe()
    };
    match exe {
        Ok(exe) => std::process::Command::new(exe)
            .arg0(arg0)
            .args(args)
            .env(SPIN_COUNT.0, SPIN_COUNT.1)
            .exec(),
        Err(e) => e,
    }
}

/// Elsewhere nothing restarts ([`restart_wanted`] is false).
#[cfg(not(unix))]
pub fn restart() -> std::io::Error {
    std::io::Error::other("restarting is implemented for Unix only")
}
