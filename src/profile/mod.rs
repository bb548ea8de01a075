//! Per-layer profiles: where a network's time goes on one backend. After a network's
//! timed row, a separate profiling pass (never inside the timed run) times every node the
//! runtime runs, through the runtime's own per-node hook; [`attribute`] maps the nodes
//! back to the network's layers, and [`rows`] gives each layer the statistics of a case
//! (median, bootstrap CI over the passes) beside its analytic counts, its share of the
//! time and of the multiply-adds, its achieved rate and, when the device's ceilings are
//! known, its roofline bound. [`summary`] renders them for the terminal and the report.

pub mod attribute;
pub mod summary;

use serde::{Deserialize, Serialize};

pub use attribute::{Attributed, LayerSpec, RanAs, attribute};

use crate::measure::summarize;
use crate::record::Record;

/// One row of `layers.csv`: a layer (or a node the runtime added) of one network on one
/// backend and device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerRow {
    /// The run's id.
    pub run_id: String,
    /// The network's case id (its row in results.csv).
    pub case: String,
    /// Backend.
    pub backend: String,
    /// Device as named.
    pub device: String,
    /// Threads.
    pub threads: usize,
    /// Batch.
    pub batch: usize,
    /// Position in the network (layers first, in order; then the runtime's own nodes).
    pub index: usize,
    /// Layer name (or the runtime's node name).
    pub layer: String,
    /// Layer type (`conv`, `dwconv`, ...; the runtime's operator for its own nodes).
    pub op: String,
    /// What the runtime ran for it: `1 node`, `3 nodes`, `fused into NAME`, `removed`,
    /// `runtime node`.
    pub ran_as: String,
    /// Parameters (of the group, for a layer others were fused into).
    pub params: u64,
    /// Multiply-adds per item (of the group; 0 for a layer fused into another; its own for
    /// a removed one).
    pub macs: u64,
    /// Memory traffic of the batch, bytes (of the group; 0 for a fused layer).
    pub mem_bytes: u64,
    /// Multiply-adds of the batch per byte moved.
    pub intensity_macs_per_byte: Option<f64>,
    /// Median time per pass, ms (empty for fused and removed layers).
    pub median_ms: Option<f64>,
    /// Bootstrap 95% CI of the median, low.
    pub ci95_low_ms: Option<f64>,
    /// Bootstrap 95% CI of the median, high.
    pub ci95_high_ms: Option<f64>,
    /// Its median / the sum of every row's median.
    pub share_of_time: Option<f64>,
    /// Its multiply-adds / the network's.
    pub share_of_macs: Option<f64>,
    /// Achieved G multiply-adds per second (the batch's).
    pub gmacs_per_s: Option<f64>,
    /// `compute` or the memory level whose bandwidth bounds it at its intensity (`L1`,
    /// `L2`, `L3`, `DRAM`: the smallest level that holds its input + output + weights),
    /// when the device's ceilings are known.
    pub bound: String,
    /// Its rate / that roof.
    pub roof_fraction: Option<f64>,
    /// Profiled passes.
    pub samples: usize,
    /// `ok` or `error`.
    pub status: String,
    /// Why the backend could not profile (an error row stands for the whole network).
    pub error: String,
    /// Element type of the network's row (profiles of one network at two dtypes are two
    /// profiles); f32 in files written before it was recorded.
    #[serde(default)]
    pub dtype: crate::spec::Dtype,
}

/// A row with its per-pass times, as written to `layers.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerSamples {
    /// The row.
    #[serde(flatten)]
    pub row: LayerRow,
    /// Its time in each pass, ms.
    pub samples_ms: Vec<f64>,
}

/// What every row of one profile shares.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileOf {
    /// The run's id.
    pub run_id: String,
    /// Case id.
    pub case: String,
    /// Backend.
    pub backend: String,
    /// Device.
    pub device: String,
    /// Threads.
    pub threads: usize,
    /// Batch.
    pub batch: usize,
    /// Element type.
    pub dtype: crate::spec::Dtype,
}

pub use crate::roofs::Ceilings;

impl ProfileOf {
    /// A row with these keys and everything else empty.
    fn row(&self, index: usize, layer: &str, op: &str, ran_as: String) -> LayerRow {
        LayerRow {
            run_id: self.run_id.clone(),
            case: self.case.clone(),
            backend: self.backend.clone(),
            device: self.device.clone(),
            threads: self.threads,
            batch: self.batch,
            index,
            layer: layer.into(),
            op: op.into(),
            ran_as,
            params: 0,
            macs: 0,
            mem_bytes: 0,
            intensity_macs_per_byte: None,
            median_ms: None,
            ci95_low_ms: None,
            ci95_high_ms: None,
            share_of_time: None,
            share_of_macs: None,
            gmacs_per_s: None,
            bound: String::new(),
            roof_fraction: None,
            samples: 0,
            status: "ok".into(),
            error: String::new(),
            dtype: self.dtype,
        }
    }

    /// The one row that says why a backend could not profile the network.
    pub fn error(&self, why: &str) -> LayerSamples {
        let mut row = self.row(0, "", "", String::new());
        row.status = "error".into();
        row.error = why.into();
        LayerSamples {
            row,
            samples_ms: Vec::new(),
        }
    }
}

/// The rows of one profile: every layer of `specs` (a fused group's counts on the layer
/// that ran it), then the runtime's own nodes; `seed` makes the bootstraps reproducible.
pub fn rows(
    of: &ProfileOf,
    specs: &[LayerSpec],
    attributed: &Attributed,
    ceilings: Option<Ceilings>,
    seed: u64,
) -> Vec<LayerSamples> {
    let mut out: Vec<LayerSamples> = specs
        .iter()
        .zip(&attributed.layers)
        .enumerate()
        .map(|(i, (spec, (ran, samples)))| {
            let ran_as = match ran {
                RanAs::Nodes(1) => "1 node".to_string(),
                RanAs::Nodes(n) => format!("{n} nodes"),
                RanAs::FusedInto(x) => format!("fused into {}", specs[*x].name),
                RanAs::Removed => "removed".to_string(),
            };
            LayerSamples {
                row: of.row(i, &spec.name, &spec.op, ran_as),
                samples_ms: samples.clone(),
            }
        })
        .collect();
    // A group's counts on the layer that ran it.
    for (i, (ran, _)) in attributed.layers.iter().enumerate() {
        // A removed layer keeps its own counts (nothing ran for them, and the total
        // stays the network's).
        let owner = match ran {
            RanAs::Nodes(_) | RanAs::Removed => i,
            RanAs::FusedInto(x) => *x,
        };
        out[owner].row.params += specs[i].params;
        out[owner].row.macs += specs[i].macs;
        out[owner].row.mem_bytes += specs[i].mem_bytes;
    }
    for (k, (node, op, samples)) in attributed.runtime.iter().enumerate() {
        out.push(LayerSamples {
            row: of.row(specs.len() + k, node, op, "runtime node".into()),
            samples_ms: samples.clone(),
        });
    }
    finish(&mut out, of.batch, ceilings, seed);
    out
}

/// Statistics, shares, rates and bounds of every row.
fn finish(out: &mut [LayerSamples], batch: usize, ceilings: Option<Ceilings>, seed: u64) {
    for r in out.iter_mut().filter(|r| !r.samples_ms.is_empty()) {
        let s = summarize(&r.samples_ms, seed);
        r.row.median_ms = Some(s.median_ms);
        r.row.ci95_low_ms = Some(s.ci95_low_ms);
        r.row.ci95_high_ms = Some(s.ci95_high_ms);
        r.row.samples = r.samples_ms.len();
    }
    let time: f64 = out.iter().filter_map(|r| r.row.median_ms).sum();
    let macs: u64 = out.iter().map(|r| r.row.macs).sum();
    for r in out.iter_mut() {
        let row = &mut r.row;
        if row.mem_bytes > 0 {
            row.intensity_macs_per_byte =
                Some(row.macs as f64 * batch as f64 / row.mem_bytes as f64);
        }
        if row.median_ms.is_some() || row.macs > 0 {
            row.share_of_macs = (macs > 0).then(|| row.macs as f64 / macs as f64);
        }
        let Some(m) = row.median_ms else { continue };
        row.share_of_time = (time > 0.0).then(|| m / time);
        if row.macs > 0 && m > 0.0 {
            let rate = row.macs as f64 * batch as f64 / (m / 1e3) / 1e9;
            row.gmacs_per_s = Some(rate);
            if let (Some(c), Some(i)) = (&ceilings, row.intensity_macs_per_byte) {
                // A layer's traffic is its working set: input + output + weights.
                let b = c.bound(i, Some(row.mem_bytes));
                row.bound = b.bound;
                row.roof_fraction = Some(rate / b.roof);
            }
        }
    }
}

/// The roofs among one device's `peaks` rows for rows at `dtype` on `threads` threads
/// ([`Ceilings::of`]).
pub fn ceilings(peaks: &[&Record], threads: usize, dtype: crate::spec::Dtype) -> Option<Ceilings> {
    Ceilings::of(peaks, threads, dtype)
}

/// The sum of the rows' medians, ms.
pub fn total_ms(rows: &[LayerSamples]) -> f64 {
    rows.iter().filter_map(|r| r.row.median_ms).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::NodeTime;

    #[test]
    fn groups_carry_their_counts_and_shares_sum_to_one() {
        let spec = |name: &str, macs: u64, producers: &[usize]| LayerSpec {
            name: name.into(),
            op: "conv".into(),
            params: 1,
            macs,
            mem_bytes: 1000,
            producers: producers.to_vec(),
            output: String::new(),
            aliases: Vec::new(),
        };
        let specs = [
            spec("conv", 100, &[]),
            spec("relu", 0, &[0]),
            spec("fc", 50, &[1]),
        ];
        let t = |node: &str, ms: f64| NodeTime {
            node: node.into(),
            op: "X".into(),
            values: Vec::new(),
            ms,
        };
        let passes: Vec<Vec<NodeTime>> = (0..5)
            .map(|k| {
                vec![
                    t("conv", 2.0 + k as f64 * 0.01),
                    t("fc", 1.0),
                    t("copy", 1.0),
                ]
            })
            .collect();
        let of = ProfileOf {
            run_id: "r".into(),
            case: "c".into(),
            backend: "b".into(),
            device: "cpu".into(),
            threads: 1,
            batch: 2,
            dtype: crate::spec::Dtype::F32,
        };
        let rows = rows(&of, &specs, &attribute(&specs, &passes), None, 1);
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[1].row.ran_as, "fused into conv");
        assert_eq!(rows[1].row.macs, 0);
        assert_eq!(rows[0].row.mem_bytes, 2000, "the group's bytes");
        assert_eq!(rows[3].row.ran_as, "runtime node");
        let share: f64 = rows.iter().filter_map(|r| r.row.share_of_time).sum();
        assert!((share - 1.0).abs() < 1e-12);
        let macs: f64 = rows.iter().filter_map(|r| r.row.share_of_macs).sum();
        assert!((macs - 1.0).abs() < 1e-12);
        // 100 multiply-adds × batch 2 in 2.02 ms.
        let rate = rows[0].row.gmacs_per_s.unwrap();
        assert!((rate - 200.0 / 2.02e-3 / 1e9).abs() < 1e-12);
        assert!((total_ms(&rows) - 4.02).abs() < 1e-9);
    }
}
