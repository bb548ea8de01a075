//! `flopsbench predict` for the terminal: per device and backend, each predictor's scores
//! leave-one-network-out and leave-one-family-out, each network's predictions, and the
//! predictions of the networks asked about.

use crate::output::table::{align_numbers, new_table};
use crate::predict::{Group, Holdout, Network, PerLayer, Predictor, Scores, eval, evaluate};

fn score_cells(s: &Scores) -> Vec<String> {
    vec![
        format!(
            "{}/{}",
            s.predictions.len(),
            s.predictions.len() + s.missing
        ),
        s.tau.map_or("–".into(), |t| format!("{t:.2}")),
        format!("{:.0}%", s.within10 * 100.0),
        format!("{:.0}%", s.within20 * 100.0),
        format!("{:.1}%", s.median_abs),
    ]
}

/// The evaluation of `group`, and the predictions of `targets` (networks not measured).
pub fn render(group: &Group, targets: &[Network]) -> String {
    let mut out = format!(
        "{}{} · {} · {} thread(s) · batch {}: {} networks ({})\n",
        group.backend,
        match group.dtype {
            crate::spec::Dtype::F32 => String::new(),
            d => format!(" ({d})"),
        },
        group.device,
        group.threads,
        group.batch,
        group.networks.len(),
        group
            .networks
            .iter()
            .map(|n| n.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut t = new_table(
        false,
        &[
            "predictor",
            "held out",
            "predicted",
            "Kendall τ",
            "within ±10%",
            "within ±20%",
            "median |error|",
        ],
    );
    let mut all: Vec<(Predictor, Holdout, Scores)> = Vec::new();
    for p in Predictor::ALL {
        for (h, label) in [(Holdout::Network, "network"), (Holdout::Family, "family")] {
            let s = evaluate(p, &group.networks, &group.ceilings, h);
            let mut row = vec![p.name().to_string(), label.to_string()];
            row.extend(score_cells(&s));
            t.add_row(row);
            all.push((p, h, s));
        }
    }
    align_numbers(&mut t, 2);
    out += &format!("{t}\n");
    for (p, h, s) in &all {
        for (name, never) in &s.unseen {
            let held = if *h == Holdout::Family {
                "family"
            } else {
                "network"
            };
            out += &format!(
                "note: {} ({held} held out), {name}: {} never measured in the training networks, predicted by the roofline\n",
                p.name(),
                never.join(", ")
            );
        }
    }
    let mut per = new_table(
        false,
        &["network", "measured", "FLOPs", "roofline", "per-layer"],
    );
    for n in &group.networks {
        let mut row = vec![n.name.clone(), format!("{:.2} ms", n.latency_ms)];
        for p in Predictor::ALL {
            let cell = all
                .iter()
                .find(|(q, h, _)| *q == p && *h == Holdout::Family)
                .and_then(|(_, _, s)| s.predictions.iter().find(|(name, _, _)| *name == n.name))
                .map_or("–".into(), |(_, pr, m)| {
                    format!("{pr:.2} ms ({:+.0}%)", (pr - m) / m * 100.0)
                });
            row.push(cell);
        }
        per.add_row(row);
    }
    align_numbers(&mut per, 1);
    out += &format!("each network predicted from the other families:\n{per}\n");
    if !targets.is_empty() {
        out += &render_targets(group, targets, &all);
    }
    out
}

/// Predictions of networks not measured, with the errors each predictor made in the
/// leave-one-family-out evaluation.
fn render_targets(
    group: &Group,
    targets: &[Network],
    all: &[(Predictor, Holdout, Scores)],
) -> String {
    let range = |p: Predictor| {
        all.iter()
            .find(|(q, h, _)| *q == p && *h == Holdout::Family)
            .map(|(_, _, s)| {
                let e: Vec<f64> = s
                    .predictions
                    .iter()
                    .map(|(_, pr, m)| (pr - m) / m * 100.0)
                    .collect();
                let lo = e.iter().copied().fold(f64::INFINITY, f64::min);
                let hi = e.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                if e.is_empty() {
                    "–".to_string()
                } else {
                    format!("{lo:+.0}%…{hi:+.0}% ({} networks)", e.len())
                }
            })
            .unwrap_or_default()
    };
    let mut t = new_table(
        false,
        &[
            "network",
            "predictor",
            "predicted",
            "errors seen (held-out families)",
        ],
    );
    let mut notes = Vec::new();
    for n in targets {
        // A target that was measured is not learnt from.
        let train: Vec<&Network> = group.networks.iter().filter(|m| m.name != n.name).collect();
        let per_layer = PerLayer::fit(&train);
        for p in Predictor::ALL {
            let ms = match p {
                Predictor::PerLayer => per_layer.as_ref().map(|m| {
                    let pr = m.predict(n, Some(&group.ceilings));
                    if !pr.unseen.is_empty() {
                        notes.push(format!(
                            "{}: {} never measured; those layers are predicted by the roofline",
                            n.name,
                            pr.unseen.join(", ")
                        ));
                    }
                    pr.ms
                }),
                _ => eval::predict(p, &train, n, &group.ceilings).map(|(ms, _)| ms),
            };
            t.add_row(vec![
                n.name.clone(),
                p.name().to_string(),
                ms.map_or("–".into(), |v| format!("{v:.2} ms")),
                range(p),
            ]);
        }
    }
    align_numbers(&mut t, 2);
    let mut out = format!("{t}\n");
    for note in notes {
        out += &format!("note: {note}\n");
    }
    out
}
