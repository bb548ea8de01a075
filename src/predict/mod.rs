//! `flopsbench predict`: does FLOPs predict latency here? From measured runs of a device
//! and backend (network rows, their per-layer profiles, the device's `peak` ceilings),
//! three predictors of a network's latency — FLOPs-proportional, the roofline, and a
//! per-layer model — evaluated leave-one-network-out and leave-one-family-out, and
//! applied to networks not measured.

pub mod eval;
pub mod fit;
pub mod metrics;
pub mod model;

use std::collections::BTreeMap;

use crate::count::{CountOptions, count_net};
use crate::error::{Error, Result};
use crate::import;
use crate::profile::{Ceilings, LayerRow, ceilings};
use crate::record::{Record, Status};
use crate::spec::CaseKind;
use crate::target::NetTarget;

pub use eval::{Holdout, Predictor, Scores, evaluate};
pub use model::{LayerPoint, Network, PerLayer, family};

/// The fewest networks a device and backend needs for an evaluation.
pub const MIN_NETWORKS: usize = 4;

/// The networks measured on one device and backend, with the device's ceilings.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// Host.
    pub host: String,
    /// Device as named.
    pub device: String,
    /// Backend.
    pub backend: String,
    /// Threads.
    pub threads: usize,
    /// Batch.
    pub batch: usize,
    /// Element type of the networks' rows.
    pub dtype: crate::spec::Dtype,
    /// The networks with a per-layer profile (zoo and model files).
    pub networks: Vec<Network>,
    /// The device's ceilings.
    pub ceilings: Ceilings,
}

/// The networks of `records` with their profiles in `layers`, grouped by device, backend,
/// threads and batch (the most recent row of each network); the groups that have enough
/// for an evaluation, or a message naming what to run.
pub fn groups(records: &[Record], layers: &[LayerRow]) -> Result<Vec<Group>> {
    type Key = (
        String,
        String,
        String,
        usize,
        usize,
        (crate::spec::Dtype, bool),
    );
    let profiled = |r: &Record| {
        layers.iter().any(|l| {
            l.run_id == r.run_id
                && l.case == r.case
                && l.backend == r.backend
                && l.device == r.device.to_string()
                && l.dtype == r.dtype
                && l.status == "ok"
        })
    };
    let mut latest: BTreeMap<(Key, String), &Record> = BTreeMap::new();
    let mut unprofiled = 0;
    for r in records
        .iter()
        .filter(|r| r.kind == CaseKind::Net && r.status == Status::Ok && r.median_ms.is_some())
        // Warm rows only: the per-layer profiles they are modelled on are warm.
        .filter(|r| !r.l2_flush)
    {
        // The most recent row that has a profile (a later run without one hides nothing).
        if !profiled(r) {
            unprofiled += 1;
            continue;
        }
        let group = (
            r.host.clone(),
            r.device.to_string(),
            r.backend.clone(),
            r.threads,
            r.batch,
            (r.dtype, r.fused_bn),
        );
        // A model file is its own network, whatever its name (resnet18.onnx is not the
        // zoo's resnet18): keyed by its path.
        let key = if r.model_path.is_empty() {
            r.name.clone()
        } else {
            r.model_path.clone()
        };
        let k = (group, key);
        let keep = latest
            .get(&k)
            .is_none_or(|k| (&k.timestamp, &k.run_id) < (&r.timestamp, &r.run_id));
        if keep {
            latest.insert(k, r);
        }
    }
    let mut by_group: BTreeMap<Key, Vec<Network>> = BTreeMap::new();
    for ((group, _), r) in latest {
        let device = group.1.clone();
        let mine: Vec<&LayerRow> = layers
            .iter()
            .filter(|l| l.run_id == r.run_id && l.case == r.case && l.backend == r.backend)
            .filter(|l| l.device == device && l.dtype == r.dtype && l.status == "ok")
            .collect();
        by_group.entry(group).or_default().push(network(r, &mine));
    }
    let peaks: Vec<&Record> = records
        .iter()
        .filter(|r| r.kind == CaseKind::Peak)
        .collect();
    let mut out = Vec::new();
    let mut why = Vec::new();
    for ((host, device, backend, threads, batch, (dtype, _)), networks) in by_group {
        let on_device: Vec<&Record> = peaks
            .iter()
            .copied()
            .filter(|p| p.device.to_string() == device && p.host == host)
            .collect();
        match (
            networks.len() >= MIN_NETWORKS,
            ceilings(&on_device, threads, dtype),
        ) {
            (true, Some(c)) => out.push(Group {
                host,
                device,
                backend,
                threads,
                batch,
                dtype,
                networks,
                ceilings: c,
            }),
            (false, _) => why.push(format!(
                "{backend} on {device} of {host}: {} profiled network(s), {MIN_NETWORKS} needed",
                networks.len()
            )),
            (true, None) => why.push(format!(
                "{backend} on {device} of {host}: no peak rows for {device} of {host}"
            )),
        }
    }
    if out.is_empty() {
        let mut message = if why.is_empty() {
            format!("no network with a per-layer profile ({unprofiled} network row(s) without one)")
        } else {
            why.join("; ")
        };
        message += &format!(
            ". Measure at least {MIN_NETWORKS} networks with their profiles and the device's ceilings, e.g. \
             `flopsbench net all --per-layer --out DIR` and `flopsbench peak --out DIR2`, then `flopsbench predict --from DIR,DIR2`"
        );
        return Err(Error::flag("--from", message));
    }
    Ok(out)
}

/// A network's name in predictions: the zoo name, or a model's file name.
fn shown_name(r: &Record) -> String {
    if r.model_path.is_empty() {
        r.name.clone()
    } else {
        std::path::Path::new(&r.model_path)
            .file_name()
            .map_or(r.name.clone(), |f| f.to_string_lossy().into_owned())
    }
}

/// A measured network and its profile's layers (the runtime's own nodes left out).
fn network(r: &Record, layers: &[&LayerRow]) -> Network {
    let batch = r.batch as f64;
    let points: Vec<LayerPoint> = layers
        .iter()
        .filter(|l| l.ran_as != "runtime node")
        .map(|l| LayerPoint {
            op: l.op.clone(),
            macs: l.macs as f64 * batch,
            bytes: l.mem_bytes as f64,
            ms: l.median_ms,
        })
        .collect();
    Network {
        name: shown_name(r),
        family: family(&r.name),
        macs: r.macs as f64 * batch,
        latency_ms: r.median_ms.unwrap_or(0.0),
        layers_ms: points.iter().filter_map(|l| l.ms).sum(),
        layers: points,
    }
}

/// A network not measured (a zoo network at `resolution`, or a model file at its own
/// shapes), as the predictors see it: its layers for `batch` (BN folded, as the backends
/// run it).
pub fn unmeasured(target: &NetTarget, resolution: usize, batch: usize) -> Result<Network> {
    let opts = CountOptions {
        batch,
        ..CountOptions::default()
    };
    let counted = match target {
        NetTarget::Zoo(name) => count_net(&crate::zoo::build(name, resolution)?, &opts, true),
        NetTarget::File(path) => {
            let model = import::import(path, &[], 1, import::Keep::Shapes)?;
            import::count(&model, &opts, true)
        }
    };
    let layers = counted
        .layers
        .unwrap_or_default()
        .into_iter()
        .map(|l| LayerPoint {
            op: l.op,
            macs: l.macs as f64 * batch as f64,
            bytes: l.mem_bytes as f64,
            ms: None,
        })
        .collect();
    Ok(Network {
        name: target.name(),
        family: family(&target.name()),
        macs: counted.macs as f64 * batch as f64,
        latency_ms: 0.0,
        layers,
        layers_ms: 0.0,
    })
}
