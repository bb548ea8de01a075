//! Which backends run on which local device: each selected backend is probed, and one
//! line per unavailable one says why. A backend that runs on a device but not at one of
//! the run's dtypes stays in the plan: the engine writes a skipped row for that pair.

use std::io::Write;

use crate::backend::Backend;
use crate::bench::Experiment;
use crate::device::DeviceSpec;
use crate::error::{Error, Result};
use crate::spec::Dtype;

/// Devices, each with the backends that will run on it.
pub type Plan<'a> = Vec<(DeviceSpec, Vec<&'a dyn Backend>)>;

/// The backends of `experiment` that can run on each of `devices`; prints one line per
/// unavailable one to `log`, and refuses when none can run anywhere at any of the run's
/// dtypes (naming `--dtype` when some could run at another).
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
        return Err(Error::flag(
            "--backend",
            format!(
                "no selected backend can run on the selected device(s): {}",
                reasons.join("; ")
            ),
        ));
    }
    let runnable = |d: Dtype| {
        plan.iter()
            .flat_map(|(_, b)| b)
            .any(|b| b.supports(d).is_ok())
    };
    if !experiment.dtypes.iter().any(|d| runnable(*d)) {
        let why: Vec<String> = plan
            .iter()
            .flat_map(|(_, b)| b)
            .flat_map(|b| {
                experiment
                    .dtypes
                    .iter()
                    .filter_map(|d| b.supports(*d).err())
            })
            .collect();
        return Err(Error::flag(
            "--dtype",
            format!(
                "no selected backend can run {}: {}",
                dtype_list(&experiment.dtypes),
                why.join("; ")
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

/// `f16, bf16`: the dtypes of a sweep, for messages.
pub fn dtype_list(dtypes: &[Dtype]) -> String {
    dtypes
        .iter()
        .map(|d| d.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
