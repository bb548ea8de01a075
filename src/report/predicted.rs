//! The report's answer to "does FLOPs predict latency here?", where the inputs allow
//! (at least four profiled networks and the device's ceilings on a host, device and
//! backend): each predictor's scores left one network and one family out, and a chart of
//! predicted against measured latency (families held out).

use plotters::prelude::*;

use super::charts::{Chart, FONT, color, decades, err, legend, render, slug};
use super::tables::{Table, f};
use crate::error::Result;
use crate::predict::{Group, Holdout, Predictor, evaluate, groups};
use crate::profile::LayerRow;
use crate::record::Record;

fn title(g: &Group) -> String {
    let dtype = match g.dtype {
        crate::spec::Dtype::F32 => String::new(),
        d => format!(" ({d})"),
    };
    format!(
        "Does FLOPs predict latency? {}{dtype} · {} @ {}",
        g.backend, g.device, g.host
    )
}

/// One table per host, device and backend with enough data; none otherwise.
pub fn tables(records: &[Record], layers: &[LayerRow]) -> Vec<Table> {
    let Ok(groups) = groups(records, layers) else {
        return Vec::new();
    };
    groups
        .iter()
        .map(|g| {
            let mut rows = Vec::new();
            for p in Predictor::ALL {
                for (h, label) in [(Holdout::Network, "network"), (Holdout::Family, "family")] {
                    let s = evaluate(p, &g.networks, &g.ceilings, h);
                    rows.push(vec![
                        p.name().to_string(),
                        label.to_string(),
                        format!(
                            "{}/{}",
                            s.predictions.len(),
                            s.predictions.len() + s.missing
                        ),
                        s.tau.map_or("–".into(), |t| f(t, 2)),
                        f(s.within10 * 100.0, 0),
                        f(s.within20 * 100.0, 0),
                        f(s.median_abs, 1),
                    ]);
                }
            }
            Table {
                title: title(g),
                intro: format!(
                    "{} networks with per-layer profiles, each predicted from the others \
                     (held out: the network) and from the other families only (held out: \
                     the family): FLOPs-proportional (a·MACs + b), the roofline of the \
                     device's ceilings, and a per-layer model (each op type's layer times \
                     regressed on multiply-adds and bytes). `flopsbench predict` prints \
                     every network's predictions.",
                    g.networks.len()
                ),
                header: [
                    "Predictor",
                    "Held out",
                    "Predicted",
                    "Kendall τ",
                    "Within ±10% (%)",
                    "Within ±20% (%)",
                    "Median |error| (%)",
                ]
                .map(String::from)
                .to_vec(),
                rows,
            }
        })
        .collect()
}

/// Predicted (families held out) against measured latency, log axes, the line y = x.
pub fn charts(records: &[Record], layers: &[LayerRow]) -> Result<Vec<Chart>> {
    let Ok(groups) = groups(records, layers) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for g in &groups {
        let scores: Vec<_> = Predictor::ALL
            .iter()
            .map(|&p| (p, evaluate(p, &g.networks, &g.ceilings, Holdout::Family)))
            .collect();
        let all = decades(
            scores
                .iter()
                .flat_map(|(_, s)| s.predictions.iter().flat_map(|(_, p, m)| [*p, *m])),
        );
        let name = title(g);
        let dtype = match g.dtype {
            crate::spec::Dtype::F32 => String::new(),
            d => format!("-{d}"),
        };
        let file = format!(
            "predict-{}-{}-{}{dtype}.svg",
            slug(&g.host),
            slug(&g.device),
            slug(&g.backend)
        );
        out.push(render(&name, file, |root| {
            let mut chart = ChartBuilder::on(root)
                .caption(&name, (FONT, 18))
                .margin(12)
                .x_label_area_size(45)
                .y_label_area_size(70)
                .build_cartesian_2d(all.clone().log_scale(), all.clone().log_scale())
                .map_err(err)?;
            chart
                .configure_mesh()
                .x_desc("measured latency (ms, log)")
                .y_desc("predicted, families held out (ms, log)")
                .axis_desc_style((FONT, 14))
                .draw()
                .map_err(err)?;
            chart
                .draw_series(LineSeries::new(
                    [(all.start, all.start), (all.end, all.end)],
                    BLACK.stroke_width(1),
                ))
                .map_err(err)?
                .label("predicted = measured")
                .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], BLACK));
            for (i, (p, s)) in scores.iter().enumerate() {
                let c = color(i);
                chart
                    .draw_series(
                        s.predictions
                            .iter()
                            .map(|(_, pr, m)| Circle::new((*m, *pr), 5, c.filled())),
                    )
                    .map_err(err)?
                    .label(p.name())
                    .legend(move |(x, y)| Circle::new((x + 6, y), 5, c.filled()));
            }
            legend(&mut chart, SeriesLabelPosition::UpperLeft)
        })?);
    }
    Ok(out)
}
