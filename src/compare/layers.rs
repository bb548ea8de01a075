//! The per-layer diff of two profiled rows: layers matched by name, each added, removed,
//! faster, slower or unchanged by its own CI, sorted by the size of its time change; the
//! roll-up by op type; and how much of the network's change the layers account for.

use serde::Serialize;

use super::change::{Change, NOISE_SEPARATE, Verdict};
use super::{Options, Pair};
use crate::profile::LayerRow;
use crate::record::Record;
use crate::report::load::{Loaded, layer_key};

/// What happened to a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// In NEW only.
    Added,
    /// In BASE only.
    Removed,
    /// Faster beyond the noise band, CI and all.
    Faster,
    /// Slower beyond the noise band, CI and all.
    Slower,
    /// Neither (or no samples to tell).
    Unchanged,
}

impl Status {
    /// The word shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Added => "added",
            Status::Removed => "removed",
            Status::Faster => "faster",
            Status::Slower => "slower",
            Status::Unchanged => "unchanged",
        }
    }
}

/// One layer on both sides.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerChange {
    /// The layer's name.
    pub layer: String,
    /// BASE's row (`None`: added).
    pub base: Option<LayerRow>,
    /// NEW's row (`None`: removed).
    pub new: Option<LayerRow>,
    /// NEW's median − BASE's, ms (a side without a time counts 0).
    pub delta_ms: f64,
    /// NEW / BASE with its CI, from both profiles' passes.
    pub change: Option<Change>,
    /// What happened.
    pub status: Status,
}

impl LayerChange {
    /// The op type, `pconv→conv` when it changed.
    pub fn op(&self) -> String {
        match (&self.base, &self.new) {
            (Some(b), Some(n)) if b.op != n.op => format!("{}→{}", b.op, n.op),
            (Some(r), _) | (_, Some(r)) => r.op.clone(),
            (None, None) => String::new(),
        }
    }
}

/// One op type's time on both sides.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OpDelta {
    /// The op type.
    pub op: String,
    /// Its layers' time in BASE, ms.
    pub base_ms: f64,
    /// In NEW, ms.
    pub new_ms: f64,
    /// NEW − BASE, ms.
    pub delta_ms: f64,
}

/// The per-layer diff of one matched pair.
#[derive(Debug, Clone, PartialEq)]
pub struct Diff {
    /// The pair's BASE row.
    pub base: Record,
    /// The pair's NEW row.
    pub new: Record,
    /// The layers, largest absolute time change first.
    pub layers: Vec<LayerChange>,
    /// Per op type, largest absolute change first (op types whose time did not change
    /// left out).
    pub by_op: Vec<OpDelta>,
    /// The network's change, ms (NEW's median − BASE's).
    pub network_delta_ms: Option<f64>,
    /// The layers' changes summed, ms.
    pub layers_delta_ms: f64,
}

impl Diff {
    /// The network's change the layers do not account for, ms (profiling passes time each
    /// layer on its own, and runtimes' own nodes come and go).
    pub fn unattributed_ms(&self) -> Option<f64> {
        Some(self.network_delta_ms? - self.layers_delta_ms)
    }
}

/// The `ok` profile rows of `r`, in profile order.
fn profile<'a>(loaded: &'a Loaded, r: &Record) -> Vec<&'a LayerRow> {
    let device = r.device.to_string();
    loaded
        .layers
        .iter()
        .filter(|l| {
            l.run_id == r.run_id
                && l.case == r.case
                && l.backend == r.backend
                && l.device == device
                && l.dtype == r.dtype
                && l.batch == r.batch
                && l.threads == r.threads
                && l.status == "ok"
        })
        .collect()
}

/// The per-layer diff of `pair`, when both its rows were profiled.
pub fn diff(pair: &Pair, base: &Loaded, new: &Loaded, options: &Options) -> Option<Diff> {
    let (b_rows, n_rows) = (profile(base, &pair.base), profile(new, &pair.new));
    if b_rows.is_empty() || n_rows.is_empty() {
        return None;
    }
    let noise = options.noise.unwrap_or(NOISE_SEPARATE);
    let samples = |l: &Loaded, r: &LayerRow| l.layer_samples.get(&layer_key(r)).cloned();
    let ms = |r: Option<&LayerRow>| r.and_then(|r| r.median_ms).unwrap_or(0.0);
    let matched = match_names(&b_rows, &n_rows);
    let mut layers: Vec<LayerChange> = Vec::new();
    for (i, b) in b_rows.iter().enumerate() {
        let n = matched
            .iter()
            .find(|(x, _)| *x == i)
            .map(|(_, j)| n_rows[*j]);
        layers.push(change(Some(b), n, base, new, &samples, noise, options.seed));
    }
    for (j, n) in n_rows.iter().enumerate() {
        if !matched.iter().any(|(_, y)| *y == j) {
            layers.push(change(
                None,
                Some(n),
                base,
                new,
                &samples,
                noise,
                options.seed,
            ));
        }
    }
    layers.sort_by(|a, b| b.delta_ms.abs().total_cmp(&a.delta_ms.abs()));
    let mut by_op: Vec<OpDelta> = Vec::new();
    for (rows, is_new) in [(&b_rows, false), (&n_rows, true)] {
        for r in rows.iter() {
            let i = match by_op.iter().position(|o| o.op == r.op) {
                Some(i) => i,
                None => {
                    by_op.push(OpDelta {
                        op: r.op.clone(),
                        base_ms: 0.0,
                        new_ms: 0.0,
                        delta_ms: 0.0,
                    });
                    by_op.len() - 1
                }
            };
            let t = ms(Some(r));
            if is_new {
                by_op[i].new_ms += t
            } else {
                by_op[i].base_ms += t
            }
        }
    }
    for o in &mut by_op {
        o.delta_ms = o.new_ms - o.base_ms;
    }
    by_op.retain(|o| o.delta_ms != 0.0);
    by_op.sort_by(|a, b| b.delta_ms.abs().total_cmp(&a.delta_ms.abs()));
    let layers_delta_ms = layers.iter().map(|l| l.delta_ms).sum();
    Some(Diff {
        base: pair.base.clone(),
        new: pair.new.clone(),
        layers,
        by_op,
        network_delta_ms: pair
            .new
            .median_ms
            .zip(pair.base.median_ms)
            .map(|(n, b)| n - b),
        layers_delta_ms,
    })
}

/// Pairs (BASE index, NEW index) of layers with the same name; then, among those left,
/// a layer and one named as its parent module (`x.partial_conv3.conv` and
/// `x.partial_conv3`: an importer names a pattern after its inner node), when that
/// match is unique.
fn match_names(b_rows: &[&LayerRow], n_rows: &[&LayerRow]) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    for (i, b) in b_rows.iter().enumerate() {
        let free = |j: &usize| !out.iter().any(|(_, y)| y == j);
        if let Some(j) = (0..n_rows.len())
            .filter(free)
            .find(|&j| n_rows[j].layer == b.layer)
        {
            out.push((i, j));
        }
    }
    let parent = |name: &str| name.rsplit_once('.').map(|(p, _)| p.to_string());
    for (i, b) in b_rows.iter().enumerate() {
        if out.iter().any(|(x, _)| *x == i) {
            continue;
        }
        let candidates: Vec<usize> = (0..n_rows.len())
            .filter(|j| !out.iter().any(|(_, y)| y == j))
            .filter(|&j| {
                let n = &n_rows[j].layer;
                parent(&b.layer).as_deref() == Some(n.as_str())
                    || parent(n).as_deref() == Some(b.layer.as_str())
            })
            .collect();
        if let [j] = candidates[..] {
            out.push((i, j));
        }
    }
    out
}

fn change(
    b: Option<&LayerRow>,
    n: Option<&LayerRow>,
    base: &Loaded,
    new: &Loaded,
    samples: &dyn Fn(&Loaded, &LayerRow) -> Option<Vec<f64>>,
    noise: f64,
    seed: u64,
) -> LayerChange {
    let ms = |r: Option<&LayerRow>| r.and_then(|r| r.median_ms).unwrap_or(0.0);
    let change = match (b, n) {
        (Some(b), Some(n)) => match (samples(base, b), samples(new, n)) {
            (Some(x), Some(y)) => Change::unpaired(&x, &y, seed),
            _ => None,
        },
        _ => None,
    };
    let status = match (b, n, change.map(|c| c.verdict(noise))) {
        (None, ..) => Status::Added,
        (_, None, _) => Status::Removed,
        (.., Some(Verdict::Regressed)) => Status::Slower,
        (.., Some(Verdict::Improved)) => Status::Faster,
        _ => Status::Unchanged,
    };
    LayerChange {
        layer: b.or(n).map(|r| r.layer.clone()).unwrap_or_default(),
        base: b.cloned(),
        new: n.cloned(),
        delta_ms: ms(n) - ms(b),
        change,
        status,
    }
}
