//! The precision chart: achieved FLOPS by operator kind at each element type, one chart
//! per backend on a device that ran Table-1 cases at more than one dtype. Each bar is the
//! kind's average over the feature maps measured (as Table 1's averages), and each dtype's
//! legend entry carries its PConv/DWConv ratio: the picture of the gap widening (or not)
//! as precision drops, where matrix units speed up dense convolutions and leave depthwise
//! ones behind.

use std::collections::BTreeMap;

use plotters::prelude::*;
use plotters::style::text_anchor;

use super::Column;
use super::charts::{Chart, FONT, color, decades, err, legend, render, slug};
use super::select::{is_table1, pick};
use crate::error::Result;
use crate::record::Record;
use crate::spec::{CaseKind, Dtype, OpKind};

const KINDS: [(OpKind, &str); 4] = [
    (OpKind::Conv, "Conv"),
    (OpKind::Gconv, "GConv"),
    (OpKind::Dwconv, "DWConv"),
    (OpKind::Pconv, "PConv"),
];

/// A column without its dtype: the backend on a device under one protocol.
fn without_dtype(c: &Column) -> Column {
    Column {
        dtype: Dtype::F32,
        simulated: false,
        ..c.clone()
    }
}

/// Per dtype (and whether it was simulated in f32), each kind's mean achieved G
/// multiply-adds/s over the feature maps measured.
type Averages = BTreeMap<(Dtype, bool), BTreeMap<OpKind, f64>>;

/// Per dtype (and whether simulated), each kind's achieved rates.
type Rates = BTreeMap<(Dtype, bool), BTreeMap<OpKind, Vec<f64>>>;

fn averages(rows: &[&Record]) -> BTreeMap<Column, Averages> {
    let mut sums: BTreeMap<Column, Rates> = BTreeMap::new();
    for ((column, _), r) in pick(rows) {
        let (CaseKind::Op(kind), Some(rate)) = (r.kind, r.gmacs_per_s) else {
            continue;
        };
        sums.entry(without_dtype(&column))
            .or_default()
            .entry((column.dtype, column.simulated))
            .or_default()
            .entry(kind)
            .or_default()
            .push(rate);
    }
    sums.into_iter()
        .map(|(c, by_dtype)| {
            let avg = by_dtype
                .into_iter()
                .map(|(d, kinds)| {
                    let means = kinds
                        .into_iter()
                        .map(|(k, v)| (k, v.iter().sum::<f64>() / v.len() as f64))
                        .collect();
                    (d, means)
                })
                .collect();
            (c, avg)
        })
        .collect()
}

/// The precision charts of `rows` (none when no backend ran Table 1 at two dtypes).
pub fn charts(rows: &[&Record]) -> Result<Vec<Chart>> {
    let t1: Vec<&Record> = rows.iter().copied().filter(|r| is_table1(r)).collect();
    let mut out = Vec::new();
    for (column, by_dtype) in averages(&t1) {
        if by_dtype.len() < 2 {
            continue;
        }
        out.push(chart(&column, &by_dtype)?);
    }
    Ok(out)
}

fn chart(column: &Column, by_dtype: &Averages) -> Result<Chart> {
    let title = format!("Achieved GFLOPS by operator across precisions · {}", column);
    let file = format!("precision-{}.svg", slug(&column.to_string()));
    let values = by_dtype.values().flat_map(|k| k.values().copied());
    let y = decades(values);
    // Room above the bars for the legend.
    let y = y.start..y.end * 3.0;
    let n = by_dtype.len();
    let kinds: Vec<(OpKind, &str)> = KINDS
        .into_iter()
        .filter(|(k, _)| by_dtype.values().any(|v| v.contains_key(k)))
        .collect();
    render(&title, file, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(&title, (FONT, 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..kinds.len() as f64, y.clone().log_scale())
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .y_desc("achieved G multiply-adds / s (log), mean over feature maps")
            .x_desc("operator (10 layers, 3×3)")
            .axis_desc_style((FONT, 14))
            .draw()
            .map_err(err)?;
        let width = 0.8 / n as f64;
        for (di, ((dtype, simulated), kinds)) in by_dtype.iter().enumerate() {
            let bars: Vec<Rectangle<(f64, f64)>> = kinds
                .iter()
                .enumerate()
                .filter_map(|(i, (k, _))| {
                    let v = *kinds.get(k)?;
                    let x0 = i as f64 + 0.1 + di as f64 * width;
                    Some(Rectangle::new(
                        [(x0, y.start), (x0 + width * 0.9, v)],
                        color(di).filled(),
                    ))
                })
                .collect();
            let ratio = match (kinds.get(&OpKind::Pconv), kinds.get(&OpKind::Dwconv)) {
                (Some(p), Some(d)) if *d > 0.0 => {
                    format!(" · PConv/DWConv of the averages {:.1}×", p / d)
                }
                _ => String::new(),
            };
            let col = color(di);
            chart
                .draw_series(bars)
                .map_err(err)?
                .label(format!(
                    "{dtype}{}{ratio}",
                    if *simulated { " simulated in f32" } else { "" }
                ))
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], col.filled()));
        }
        for (i, (_, name)) in kinds.iter().enumerate() {
            let (px, py) = chart.backend_coord(&(i as f64 + 0.5, y.start));
            let style = TextStyle::from((FONT, 13)).pos(text_anchor::Pos::new(
                text_anchor::HPos::Center,
                text_anchor::VPos::Top,
            ));
            root.draw(&Text::new(name.to_string(), (px, py + 6), style))
                .map_err(err)?;
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        Ok(())
    })
}
