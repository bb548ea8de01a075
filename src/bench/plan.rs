//! Which backends run on which local device: each selected backend is probed, and one
//! line per unavailable one says why.

use std::io::Write;

use crate::backend::Backend;
use crate::bench::Experiment;
use crate::device::DeviceSpec;
use crate::error::{Error, Result};
use crate::spec::Dtype;

/// Devices, each with the backends that will run on it.
pub type Plan<'a> = Vec<(DeviceSpec, Vec<&'a dyn Backend>)>;

/// The backends of `experiment` that can run on each of `devices`; prints one line per
/// unavailable one to `log`, and refuses when none can run anywhere.
pub fn plan(
    experiment: &Experiment,
    devices: &[DeviceSpec],
    log: &mut dyn Write,
) -> Result<Plan<'static>> {
    let mut plan = Vec::new();
    let mut reasons = Vec::new();
    for device in devices {
        let mut usable = Vec::new();
        for backend in experiment.backends.backends() {
            if !backend.supports(experiment.dtype) {
                let why = format!("computes in f32 only, not {}", experiment.dtype);
                writeln!(log, "{} skipped on {device}: {why}", backend.name()).ok();
                reasons.push(format!("{} {why}", backend.name()));
                continue;
            }
            match backend.probe(device) {
                Ok(()) => usable.push(backend),
                Err(why) => {
                    writeln!(log, "{} unavailable on {device}: {why}", backend.name()).ok();
                    reasons.push(format!("{} on {device}: {why}", backend.name()));
                }
            }
        }
        plan.push((device.clone(), usable));
    }
    if plan.iter().all(|(_, b)| b.is_empty()) {
        let flag = if experiment.dtype == Dtype::F32 {
            "--backend"
        } else {
            "--dtype"
        };
        return Err(Error::flag(
            flag,
            format!(
                "no selected backend can run on the selected device(s): {}",
                reasons.join("; ")
            ),
        ));
    }
    Ok(plan)
}

/// The backend name → version pairs of a plan, each once.
pub fn plan_versions(plan: &Plan<'_>) -> Vec<(String, String)> {
    plan.iter()
        .flat_map(|(_, b)| b.iter().map(|b| (b.name().to_string(), b.version())))
        .fold(Vec::new(), |mut acc: Vec<(String, String)>, v| {
            if !acc.contains(&v) {
                acc.push(v);
            }
            acc
        })
}
