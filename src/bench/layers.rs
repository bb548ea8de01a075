//! Per-layer profiles in the engine: after a network's timed row on a backend, the same
//! work prepared afresh (untimed), run once (ONNX Runtime profiles in a session of its
//! own, warmed up there), then profiled pass by pass through the backend's per-node hook
//! ([`crate::backend::Prepared::profile`]); never inside the timed measurement.

use crate::count::{CountOptions, count_net};
use crate::error::Result;
use crate::profile::{self, Ceilings, LayerSamples, LayerSpec, ProfileOf};
use crate::record::Record;
use crate::spec::Net;

use super::work::Work;
use super::{Experiment, Job};

/// Passes per profile: `--runs` (at least 3) when given, else about a second's worth of
/// the network's median, between 10 and 100.
fn passes(runs: Option<usize>, median_ms: f64) -> usize {
    match runs {
        Some(n) => n.max(3),
        None => ((1000.0 / median_ms.max(1e-3)).ceil() as usize).clamp(10, 100),
    }
}

/// The layers of a spec network (as the backends run it: BN folded when it is) with
/// their counts, producers and the value names of the exported graph.
pub(crate) fn specs_of_net(net: &Net, opts: &CountOptions) -> Vec<LayerSpec> {
    let unfolded = CountOptions {
        fuse_bn: false,
        ..*opts
    };
    let counted = count_net(net, &unfolded, true).layers.unwrap_or_default();
    net.nodes
        .iter()
        .zip(counted)
        .enumerate()
        .map(|(i, (node, c))| LayerSpec {
            output: crate::onnx::value_name(net.nodes.len(), i + 1),
            aliases: Vec::new(),
            name: node.name.clone(),
            op: c.op,
            params: c.params,
            macs: c.macs,
            mem_bytes: c.mem_bytes,
            producers: node
                .inputs
                .iter()
                .filter(|t| t.0 > 0)
                .map(|t| t.0 - 1)
                .collect(),
        })
        .collect()
}

/// The device's ceilings from the `peak` rows measured so far in this run, or given with
/// the experiment (`--ceilings`), of the same host and device (`cpu` is every host's).
fn ceilings(records: &[Record], given: &[Record], job: &Job<'_>) -> Option<Ceilings> {
    let peaks: Vec<&Record> = records
        .iter()
        .chain(given)
        .filter(|r| r.device == *job.device && r.host == job.host)
        .collect();
    profile::ceilings(&peaks, job.settings.threads, job.settings.dtype)
}

/// The per-layer rows of `record`'s network on `job`'s backend (one error row when the
/// backend cannot profile it).
pub(crate) fn profile_job(
    job: &Job<'_>,
    work: &Work,
    record: &Record,
    records: &[Record],
    experiment: &Experiment,
) -> Vec<LayerSamples> {
    let of = ProfileOf {
        run_id: record.run_id.clone(),
        case: record.case.clone(),
        backend: record.backend.clone(),
        device: record.device.to_string(),
        threads: record.threads,
        batch: record.batch,
        dtype: record.dtype,
    };
    let passes = passes(experiment.sampler.runs, record.median_ms.unwrap_or(1.0));
    let timed = || -> Result<Option<Vec<_>>> {
        let mut prepared = work.prepare(job.backend, job.device, &job.settings)?;
        prepared.run()?;
        prepared.sync()?;
        prepared.profile(passes).transpose()
    };
    match timed() {
        Ok(Some(times)) => {
            let attributed = profile::attribute(&work.layers, &times);
            let roof = ceilings(records, &experiment.ceilings, job);
            profile::rows(&of, &work.layers, &attributed, roof, experiment.seed)
        }
        Ok(None) => vec![of.error(&format!(
            "{} has no per-node hook to profile with",
            record.backend
        ))],
        Err(e) => vec![of.error(&e.to_string())],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_follow_runs_or_about_a_second() {
        assert_eq!(passes(Some(2), 5.0), 3);
        assert_eq!(passes(Some(20), 5.0), 20);
        assert_eq!(passes(None, 5.0), 100);
        assert_eq!(passes(None, 50.0), 20);
        assert_eq!(passes(None, 500.0), 10);
    }
}
