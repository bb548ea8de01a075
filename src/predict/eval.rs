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
}

/// The prediction of `target` by `predictor` from `train`.
pub fn predict(
    predictor: Predictor,
    train: &[&Network],
    target: &Network,
    ceilings: &Ceilings,
) -> Option<f64> {
    match predictor {
        Predictor::Flops => flops(train, target),
        Predictor::Roofline => Some(roofline(target, ceilings)),
        Predictor::PerLayer => PerLayer::fit(train).map(|m| m.predict(target, Some(ceilings)).ms),
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
    for target in networks {
        let train: Vec<&Network> = networks
            .iter()
            .filter(|n| match holdout {
                Holdout::Network => n.name != target.name,
                Holdout::Family => n.family != target.family,
            })
            .collect();
        if let Some(p) = predict(predictor, &train, target, ceilings) {
            predictions.push((target.name.clone(), p, target.latency_ms));
        }
    }
    let errors: Vec<f64> = predictions
        .iter()
        .map(|(_, p, m)| error_percent(*p, *m))
        .collect();
    let predicted: Vec<f64> = predictions.iter().map(|(_, p, _)| *p).collect();
    let measured: Vec<f64> = predictions.iter().map(|(_, _, m)| *m).collect();
    Scores {
        tau: kendall_tau(&predicted, &measured),
        within10: within(&errors, 10.0),
        within20: within(&errors, 20.0),
        median_abs: median_abs(&errors),
        predictions,
    }
}
