//! The three predictors of a network's latency on one device and backend:
//! FLOPs-proportional (fitted on other networks), the roofline (no fitting), and a
//! per-layer model (each op type's layer times regressed on multiply-adds and bytes over
//! other networks' measured layers, summed).

use super::fit::nonnegative;
use crate::profile::Ceilings;

/// One layer of a network: its op type and counts, and its measured median when it ran
/// as its own node (a layer fused into another has no time and no counts of its own).
#[derive(Debug, Clone, PartialEq)]
pub struct LayerPoint {
    /// Op type (the shared taxonomy: `conv`, `dwconv`, `pwconv`, `pconv`, ...).
    pub op: String,
    /// Multiply-adds of the batch.
    pub macs: f64,
    /// Bytes moved for the batch.
    pub bytes: f64,
    /// Measured median, ms (when profiled).
    pub ms: Option<f64>,
}

/// One network measured on a device and backend.
#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    /// Its name (zoo name or model file name).
    pub name: String,
    /// Its family (`fasternet`, `resnet`, `mobilenet`): held out together.
    pub family: String,
    /// Multiply-adds of the batch.
    pub macs: f64,
    /// Its measured median latency (the batch's), ms.
    pub latency_ms: f64,
    /// Its layers (the runtime's own nodes left out).
    pub layers: Vec<LayerPoint>,
    /// The sum of its layers' medians, ms (the runtime's own nodes left out).
    pub layers_ms: f64,
}

/// A network's family: the letters its name starts with, without a trailing `v`
/// (`fasternet-t0` → `fasternet`, `resnet50` → `resnet`, `mobilenetv3-small` →
/// `mobilenet`).
pub fn family(name: &str) -> String {
    let letters: String = name
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect();
    letters
        .strip_suffix('v')
        .map_or(letters.clone(), str::to_string)
}

/// FLOPs-proportional: `a · MACs + b` by least squares over `train` (a, b ≥ 0).
pub fn flops(train: &[&Network], target: &Network) -> Option<f64> {
    if train.len() < 2 {
        return None;
    }
    let xs: Vec<Vec<f64>> = train.iter().map(|n| vec![n.macs, 1.0]).collect();
    let y: Vec<f64> = train.iter().map(|n| n.latency_ms).collect();
    let c = nonnegative(&xs, &y)?;
    Some(c[0] * target.macs + c[1])
}

/// The roofline time of one layer, ms: its multiply-adds at the compute peak or its bytes
/// at the bandwidth of the memory level that holds them, whichever takes longer.
pub fn roofline_ms(macs: f64, bytes: f64, c: &Ceilings) -> f64 {
    c.time_ms(macs, bytes)
}

/// The roofline: the sum of the layers' roofline times, no fitting.
pub fn roofline(target: &Network, c: &Ceilings) -> f64 {
    target
        .layers
        .iter()
        .map(|l| roofline_ms(l.macs, l.bytes, c))
        .sum()
}

/// A fitted per-layer model: per op type, `ms = α · MACs + β · bytes + γ` (α, β, γ ≥ 0),
/// and the mean ratio of the networks' latency to their layers' sum (the runtime's own
/// nodes and what the profile leaves out).
#[derive(Debug, Clone, PartialEq)]
pub struct PerLayer {
    ops: Vec<(String, Vec<f64>)>,
    /// Op types the training networks ran only fused into another layer: their cost is
    /// that layer's, so a target's layers of these types add nothing.
    fused: Vec<String>,
    scale: f64,
}

/// A per-layer prediction: the latency, and the op types it had no measured layers of
/// (predicted by the roofline instead).
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// Predicted latency, ms.
    pub ms: f64,
    /// Op types never measured in the training networks.
    pub unseen: Vec<String>,
}

impl PerLayer {
    /// Fits every op type on the measured layers of `train`.
    pub fn fit(train: &[&Network]) -> Option<PerLayer> {
        let mut by_op: Vec<(String, Vec<Vec<f64>>, Vec<f64>)> = Vec::new();
        let mut fused: Vec<String> = Vec::new();
        for l in train.iter().flat_map(|n| &n.layers) {
            let Some(ms) = l.ms else {
                if !fused.contains(&l.op) {
                    fused.push(l.op.clone());
                }
                continue;
            };
            let at = match by_op.iter().position(|(op, _, _)| *op == l.op) {
                Some(i) => i,
                None => {
                    by_op.push((l.op.clone(), Vec::new(), Vec::new()));
                    by_op.len() - 1
                }
            };
            by_op[at].1.push(vec![l.macs, l.bytes, 1.0]);
            by_op[at].2.push(ms);
        }
        let ops: Vec<(String, Vec<f64>)> = by_op
            .into_iter()
            .filter_map(|(op, xs, y)| Some((op, nonnegative(&xs, &y)?)))
            .collect();
        fused.retain(|op| !ops.iter().any(|(o, _)| o == op));
        let ratios: Vec<f64> = train
            .iter()
            .filter(|n| n.layers_ms > 0.0)
            .map(|n| n.latency_ms / n.layers_ms)
            .collect();
        (!ratios.is_empty()).then(|| PerLayer {
            ops,
            fused,
            scale: ratios.iter().sum::<f64>() / ratios.len() as f64,
        })
    }

    /// The latency of `target`: its layers' predicted times summed (op types never
    /// measured by the roofline, when `ceilings` are known), times the fitted scale.
    pub fn predict(&self, target: &Network, ceilings: Option<&Ceilings>) -> Prediction {
        let mut unseen: Vec<String> = Vec::new();
        let mut ms = 0.0;
        // A layer is predicted unless it carries no counts (fused in the target's own
        // profile) or is of a type the training networks only ran fused.
        let predicted =
            |l: &&LayerPoint| (l.macs > 0.0 || l.bytes > 0.0) && !self.fused.contains(&l.op);
        for l in target.layers.iter().filter(predicted) {
            match self.ops.iter().find(|(op, _)| *op == l.op) {
                Some((_, c)) => ms += c[0] * l.macs + c[1] * l.bytes + c[2],
                None => {
                    if !unseen.contains(&l.op) {
                        unseen.push(l.op.clone());
                    }
                    ms += ceilings.map_or(0.0, |c| roofline_ms(l.macs, l.bytes, c));
                }
            }
        }
        Prediction {
            ms: ms * self.scale,
            unseen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(op: &str, macs: f64, bytes: f64, ms: f64) -> LayerPoint {
        LayerPoint {
            op: op.into(),
            macs,
            bytes,
            ms: Some(ms),
        }
    }

    fn net(name: &str, layers: Vec<LayerPoint>, latency_ms: f64) -> Network {
        Network {
            name: name.into(),
            family: family(name),
            macs: layers.iter().map(|l| l.macs).sum(),
            layers_ms: layers.iter().filter_map(|l| l.ms).sum(),
            latency_ms,
            layers,
        }
    }

    #[test]
    fn families() {
        assert_eq!(family("fasternet-t0"), "fasternet");
        assert_eq!(family("resnet50"), "resnet");
        assert_eq!(family("mobilenetv3-small"), "mobilenet");
        assert_eq!(family("mobilenetv2"), "mobilenet");
    }

    #[test]
    fn a_compute_bound_set_is_predicted_exactly_by_flops() {
        // latency = 2 ms per G multiply-add, exactly.
        let nets: Vec<Network> = (1..6)
            .map(|g| {
                net(
                    &format!("n{g}"),
                    vec![layer("conv", g as f64 * 1e9, 0.0, 2.0 * g as f64)],
                    2.0 * g as f64,
                )
            })
            .collect();
        let train: Vec<&Network> = nets[1..].iter().collect();
        let p = flops(&train, &nets[0]).unwrap();
        assert!((p - 2.0).abs() < 1e-9, "{p}");
    }

    #[test]
    fn a_network_whose_layers_were_measured_is_their_sum() {
        // Each op type's time is exactly linear in its counts: fitted exactly, and the
        // network's latency is its layers' sum.
        let a = net(
            "a",
            vec![layer("conv", 1e9, 1e6, 10.0), layer("relu", 0.0, 2e6, 0.5)],
            10.5,
        );
        let b = net(
            "b",
            vec![layer("conv", 2e9, 2e6, 20.0), layer("relu", 0.0, 4e6, 1.0)],
            21.0,
        );
        let c = net(
            "c",
            vec![layer("conv", 3e9, 1e6, 30.0), layer("relu", 0.0, 6e6, 1.5)],
            31.5,
        );
        let model = PerLayer::fit(&[&a, &b, &c]).unwrap();
        let target = net(
            "d",
            vec![
                layer("conv", 1.5e9, 3e6, 0.0),
                layer("relu", 0.0, 3e6, 0.0),
                layer("gelu", 0.0, 1e6, 0.0),
            ],
            0.0,
        );
        let p = model.predict(&target, None);
        assert!((p.ms - 15.75).abs() < 1e-6, "{p:?}");
        assert_eq!(p.unseen, ["gelu"]);
    }

    #[test]
    fn the_roofline_takes_the_slower_roof_per_layer() {
        let c = Ceilings::flat(100.0, 10.0);
        // 1 G multiply-adds: 10 ms of compute; 50 MB: 5 ms of traffic → 10 ms.
        assert!((roofline_ms(1e9, 5e7, &c) - 10.0).abs() < 1e-9);
        // 0.1 G: 1 ms; 50 MB: 5 ms → 5 ms.
        assert!((roofline_ms(1e8, 5e7, &c) - 5.0).abs() < 1e-9);
    }
}
