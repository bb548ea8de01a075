//! Each predictor evaluated on the networks measured on one device and backend: every
//! network predicted from the others (leave-one-network-out), and from the networks of
//! other families only (leave-one-family-out: FasterNet T0–L share layer shapes, so
//! holding out one of them alone flatters a per-layer model).

use super::metrics::{error_percent, kendall_tau, median_abs, within};
use super::model::{Network, PerLayer, flops, roofline};
use crate::profile::Ceilings;

/// The three predictors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Predictor {
    /// `a · MACs + b`, fitted on other networks.
    Flops,
    /// The sum of the layers' roofline times, from the device's ceilings.
    Roofline,
    /// Each op type's layers regressed on multiply-adds and bytes, summed.
    PerLayer,
}

impl Predictor {
    /// All three, in the order tables show them.
    pub const ALL: [Predictor; 3] = [Predictor::Flops, Predictor::Roofline, Predictor::PerLayer];

    /// Its name in tables.
    pub fn name(self) -> &'static str {
        match self {
            Predictor::Flops => "FLOPs (a·MACs + b)",
            Predictor::Roofline => "roofline (no fit)",
            Predictor::PerLayer => "per-layer model",
        }
    }
}

/// Which networks a prediction may learn from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holdout {
    /// Every other network.
    Network,
    /// The networks of other families.
    Family,
}

/// How a predictor did over the networks.
#[derive(Debug, Clone, PartialEq)]
pub struct Scores {
    /// Kendall's τ between predicted and measured latencies.
    pub tau: Option<f64>,
    /// Share within ±10%.
    pub within10: f64,
    /// Share within ±20%.
    pub within20: f64,
    /// Median absolute error, %.
    pub median_abs: f64,
    /// Per network: name, predicted and measured latency (ms).
    pub predictions: Vec<(String, f64, f64)>,
    /// Networks it could not predict (too few to learn from), counted as misses.
    pub missing: usize,
    /// Per network, the op types the per-layer model never saw (predicted by the roofline).
    pub unseen: Vec<(String, Vec<String>)>,
}

/// The prediction of `target` by `predictor` from `train`, with the op types the
/// per-layer model never saw.
pub fn predict(
    predictor: Predictor,
    train: &[&Network],
    target: &Network,
    ceilings: &Ceilings,
) -> Option<(f64, Vec<String>)> {
    match predictor {
        Predictor::Flops => flops(train, target).map(|p| (p, Vec::new())),
        Predictor::Roofline => Some((roofline(target, ceilings), Vec::new())),
        Predictor::PerLayer => PerLayer::fit(train).map(|m| {
            let p = m.predict(target, Some(ceilings));
            (p.ms, p.unseen)
        }),
    }
}

/// `predictor` evaluated over `networks` with `holdout`.
pub fn evaluate(
    predictor: Predictor,
    networks: &[Network],
    ceilings: &Ceilings,
    holdout: Holdout,
) -> Scores {
    let mut predictions = Vec::new();
    let mut unseen = Vec::new();
    let mut missing = 0;
    for target in networks {
        let train: Vec<&Network> = networks
            .iter()
            .filter(|n| match holdout {
                Holdout::Network => n.name != target.name,
                Holdout::Family => n.family != target.family,
            })
            .collect();
        match predict(predictor, &train, target, ceilings) {
            Some((p, never)) => {
                predictions.push((target.name.clone(), p, target.latency_ms));
                if !never.is_empty() {
                    unseen.push((target.name.clone(), never));
                }
            }
            None => missing += 1,
        }
    }
    // A network that could not be predicted is a miss (an infinite error).
    let errors: Vec<f64> = predictions
        .iter()
        .map(|(_, p, m)| error_percent(*p, *m))
        .chain(std::iter::repeat_n(f64::INFINITY, missing))
        .collect();
    let predicted: Vec<f64> = predictions.iter().map(|(_, p, _)| *p).collect();
    let measured: Vec<f64> = predictions.iter().map(|(_, _, m)| *m).collect();
    Scores {
        tau: kendall_tau(&predicted, &measured),
        within10: within(&errors, 10.0),
        within20: within(&errors, 20.0),
        median_abs: median_abs(&errors),
        predictions,
        missing,
        unseen,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::predict::model::LayerPoint;

    fn net(name: &str, gmacs: f64) -> Network {
        Network {
            name: name.into(),
            family: crate::predict::family(name),
            macs: gmacs * 1e9,
            latency_ms: 2.0 * gmacs,
            layers: vec![LayerPoint {
                op: "conv".into(),
                macs: gmacs * 1e9,
                bytes: 0.0,
                ms: Some(2.0 * gmacs),
            }],
            layers_ms: 2.0 * gmacs,
        }
    }

    #[test]
    fn families_are_held_out_together() {
        // Latency is exactly 2 ms per G multiply-adds in every network.
        let nets = vec![
            net("aa-1", 1.0),
            net("aa-2", 2.0),
            net("aa-3", 3.0),
            net("bb-1", 4.0),
        ];
        let c = Ceilings::flat(500.0, 10.0);
        let by_network = evaluate(Predictor::Flops, &nets, &c, Holdout::Network);
        assert_eq!(by_network.predictions.len(), 4);
        assert_eq!(by_network.within10, 1.0, "exactly linear");
        assert_eq!(by_network.tau, Some(1.0));
        // Holding out family `aa` leaves one network (bb-1) to fit a line from: the three
        // aa's cannot be predicted and count as misses; bb-1 is predicted from them.
        let by_family = evaluate(Predictor::Flops, &nets, &c, Holdout::Family);
        assert_eq!(by_family.missing, 3);
        assert_eq!(by_family.predictions.len(), 1);
        assert!((by_family.predictions[0].1 - 8.0).abs() < 1e-9);
        assert_eq!(by_family.within10, 0.25);
        // The roofline: 1 G at 500 G/s is 2 ms.
        let roof = evaluate(Predictor::Roofline, &nets, &c, Holdout::Family);
        assert!((roof.predictions[0].1 - 2.0).abs() < 1e-9);
    }
}
