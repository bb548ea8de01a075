//! The report's SVG charts (plotters, SVG backend, no system fonts): achieved FLOPS per
//! operator (Table 1 as a picture), latency or throughput against FLOPs for the networks
//! (with the paper's points), and a PConv ratio sweep; the plumbing the other charts share
//! (the roofline's, the precision chart's, the per-layer ones).

use std::collections::BTreeMap;

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor;

use super::select::{is_model_file, is_table1, paper_network, pick};
use super::{Column, columns, usable};
use crate::error::{Error, Result};
use crate::paper;
use crate::record::Record;
use crate::spec::{CaseKind, OpKind};

/// One chart: its title, file name and SVG text.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// Title (also the caption inside the SVG).
    pub title: String,
    /// File name in the report folder.
    pub file: String,
    /// The SVG document.
    pub svg: String,
}

const SIZE: (u32, u32) = (960, 560);
pub(super) const FONT: &str = "sans-serif";

pub(super) fn err(e: impl std::fmt::Display) -> Error {
    Error::Serialise {
        what: "an SVG chart",
        message: e.to_string(),
    }
}

pub(super) fn color(i: usize) -> RGBColor {
    // Okabe–Ito: distinguishable with colour-vision deficiencies.
    const C: [(u8, u8, u8); 8] = [
        (0, 114, 178),
        (230, 159, 0),
        (0, 158, 115),
        (204, 121, 167),
        (86, 180, 233),
        (213, 94, 0),
        (240, 228, 66),
        (0, 0, 0),
    ];
    let (r, g, b) = C[i % C.len()];
    RGBColor(r, g, b)
}

/// The range `lo..hi` widened to whole decades, for log axes.
pub(super) fn decades(values: impl Iterator<Item = f64>) -> std::ops::Range<f64> {
    let (lo, hi) = values
        .filter(|v| *v > 0.0 && v.is_finite())
        .fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(v), b.max(v)));
    if lo > hi {
        return 0.1..10.0;
    }
    10f64.powf(lo.log10().floor())..10f64.powf(hi.log10().ceil().max(lo.log10().floor() + 1.0))
}

/// `y` (a log range of whole decades) raised by whole decades until the tallest value,
/// `hi`, stays below a legend of `entries` lines in the plot's upper corner.
fn with_legend_room(y: std::ops::Range<f64>, hi: f64, entries: usize) -> std::ops::Range<f64> {
    // The plot area: the chart less its caption, margins and x label area.
    let plot_px = f64::from(SIZE.1) - 114.0;
    let legend_px = 20.0 * entries as f64 + 24.0;
    let f = (legend_px / plot_px).min(0.8);
    let (lo, hi) = (y.start.log10(), hi.log10());
    let top = hi + f / (1.0 - f) * (hi - lo);
    y.start..10f64.powf(top.ceil().max(y.end.log10()))
}

pub(super) fn render(
    title: &str,
    file: String,
    draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<()>,
) -> Result<Chart> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        draw(&root)?;
        root.present().map_err(err)?;
    }
    Ok(Chart {
        title: title.to_string(),
        file,
        svg,
    })
}

/// The legend box every chart draws, at `position`.
pub(super) fn legend<'a, CT: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, CT>,
    position: SeriesLabelPosition,
) -> Result<()> {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font((FONT, 13))
        .draw()
        .map_err(err)
}

/// A roofline's roof over the intensities `x` (log-spaced, 61 points): `peak` G MAC/s,
/// under the slope of `bandwidth` GB/s where one is known.
pub(super) fn roof_line(
    x: &std::ops::Range<f64>,
    peak: f64,
    bandwidth: Option<f64>,
) -> Vec<(f64, f64)> {
    (0..=60)
        .map(|i| x.start * (x.end / x.start).powf(i as f64 / 60.0))
        .map(|i| (i, bandwidth.map_or(peak, |b| (b * i).min(peak))))
        .collect()
}

/// The roofs of `c` on a log-log roofline chart over intensities `x`: one slope per memory
/// level (darker for slower memory) up to the compute peak, each labelled with its
/// bandwidth, the last (DRAM) with the peak and how it was measured.
pub(super) fn draw_roofs<'a, CT>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, CT>,
    x: &std::ops::Range<f64>,
    c: &crate::roofs::Ceilings,
) -> Result<()>
where
    CT: plotters::coord::CoordTranslate<From = (f64, f64)>,
{
    let n = c.levels.len();
    for (i, l) in c.levels.iter().enumerate() {
        let shade = (170 - 170 * i / n.max(1)) as u8;
        let col = RGBColor(shade, shade, shade);
        let label = if i + 1 == n {
            format!(
                "roof: {} {:.1} GB/s; compute {:.1} G MAC/s ({})",
                l.name, l.gbytes_per_s, c.gmacs_per_s, c.compute
            )
        } else {
            format!("roof: {} {:.1} GB/s", l.name, l.gbytes_per_s)
        };
        chart
            .draw_series(LineSeries::new(
                roof_line(x, c.gmacs_per_s, Some(l.gbytes_per_s)),
                col.stroke_width(2),
            ))
            .map_err(err)?
            .label(label)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], col.stroke_width(2)));
    }
    Ok(())
}

pub(super) fn slug(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect::<String>()
        .split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

/// Chart 1: achieved FLOPS per operator and feature map, one bar per column.
fn table1_chart(rows: &[&Record]) -> Result<Option<Chart>> {
    let t1: Vec<&Record> = rows.iter().copied().filter(|r| is_table1(r)).collect();
    if t1.is_empty() {
        return Ok(None);
    }
    let cols = columns(&t1);
    let mut cases: Vec<(OpKind, String)> = Vec::new();
    for kind in [OpKind::Conv, OpKind::Gconv, OpKind::Dwconv, OpKind::Pconv] {
        for s in crate::spec::PAPER_SHAPES {
            let s = s.to_string();
            if t1.iter().any(|r| r.kind == kind && r.shape == s) {
                cases.push((kind, s));
            }
        }
    }
    let picked = pick(&t1);
    let value = |c: &Column, (kind, shape): &(OpKind, String)| {
        picked
            .iter()
            .find(|((col, _), r)| col == c && r.kind == *kind && &r.shape == shape)
            .and_then(|(_, r)| r.gmacs_per_s)
    };
    let hi = t1
        .iter()
        .filter_map(|r| r.gmacs_per_s)
        .fold(f64::MIN, f64::max);
    let y = with_legend_room(
        decades(t1.iter().filter_map(|r| r.gmacs_per_s)),
        hi,
        cols.len(),
    );
    let devices: Vec<String> = cols.iter().map(|c| c.device.to_string()).collect();
    let title = format!(
        "Achieved GFLOPS per operator (10 layers, 3×3) · {}",
        dedup_join(&devices)
    );
    render(&title, "table1-flops.svg".into(), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(&title, (FONT, 20))
            .margin(12)
            .x_label_area_size(60)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..cases.len() as f64, y.clone().log_scale())
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .y_desc("achieved G multiply-adds / s (log)")
            .x_desc("operator · feature map (C×H×W)")
            .axis_desc_style((FONT, 14))
            .draw()
            .map_err(err)?;
        let width = 0.8 / cols.len().max(1) as f64;
        for (ci, c) in cols.iter().enumerate() {
            let bars: Vec<Rectangle<(f64, f64)>> = cases
                .iter()
                .enumerate()
                .filter_map(|(i, case)| {
                    let v = value(c, case)?;
                    let x0 = i as f64 + 0.1 + ci as f64 * width;
                    Some(Rectangle::new(
                        [(x0, y.start), (x0 + width * 0.9, v)],
                        color(ci).filled(),
                    ))
                })
                .collect();
            let col = color(ci);
            chart
                .draw_series(bars)
                .map_err(err)?
                .label(c.to_string())
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], col.filled()));
        }
        for (i, (kind, shape)) in cases.iter().enumerate() {
            let (px, py) = chart.backend_coord(&(i as f64 + 0.5, y.start));
            let style = TextStyle::from((FONT, 12)).pos(text_anchor::Pos::new(
                text_anchor::HPos::Center,
                text_anchor::VPos::Top,
            ));
            root.draw(&Text::new(kind.to_string(), (px, py + 6), style.clone()))
                .map_err(err)?;
            root.draw(&Text::new(shape.clone(), (px, py + 22), style))
                .map_err(err)?;
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        Ok(())
    })
    .map(Some)
}

fn dedup_join(items: &[String]) -> String {
    let mut v = items.to_vec();
    v.sort();
    v.dedup();
    v.join(", ")
}

/// The paper's Table-3 points on `device` (GPU, CPU, ARM): (G FLOPs, latency ms or
/// images/s, network).
fn paper_points(device: &str) -> Vec<(f64, f64, String)> {
    paper::table3()
        .iter()
        .filter_map(|p| {
            let v = match device {
                "GPU" => Some(p.gpu_fps),
                "CPU" => Some(p.cpu_ms),
                _ => p.arm_ms,
            }?;
            Some((p.gflops, v, p.network.clone()))
        })
        .collect()
}

/// Throughput (GPU) or latency per image (the batch's latency / batch) of a row.
fn speed_of(r: &Record, gpu: bool) -> f64 {
    if gpu {
        r.throughput_per_s.unwrap_or(0.0)
    } else {
        r.median_ms.unwrap_or(0.0) / r.batch.max(1) as f64
    }
}

/// Chart 2 (one per paper device present): latency or throughput against FLOPs.
fn nets_charts(rows: &[&Record]) -> Result<Vec<Chart>> {
    let nets: Vec<&Record> = rows
        .iter()
        .copied()
        .filter(|r| r.kind == CaseKind::Net)
        .collect();
    let mut by_device: BTreeMap<&str, Vec<&Record>> = BTreeMap::new();
    for r in &nets {
        by_device
            .entry(Column::of(r).paper_device())
            .or_default()
            .push(r);
    }
    let mut out = Vec::new();
    for (device, rows) in by_device {
        let gpu = device == "GPU";
        let measure = |r: &Record| speed_of(r, gpu);
        let paper_points = paper_points(device);
        let cols = columns(&rows);
        let picked = pick(&rows);
        let xmax = rows
            .iter()
            .map(|r| r.macs as f64 / 1e9)
            .chain(paper_points.iter().map(|p| p.0))
            .fold(0.0f64, f64::max)
            * 1.1;
        let y = decades(
            rows.iter()
                .map(|r| measure(r))
                .chain(paper_points.iter().map(|p| p.1)),
        );
        let what = if gpu {
            "throughput (images/s, log)"
        } else {
            "latency per image (ms, log)"
        };
        let title = format!(
            "FLOPs is not latency · {device} · {}",
            dedup_join(&cols.iter().map(|c| c.backend.clone()).collect::<Vec<_>>())
        );
        let file = format!("nets-{}.svg", device.to_lowercase());
        out.push(render(&title, file, |root| {
            let mut chart = ChartBuilder::on(root)
                .caption(&title, (FONT, 20))
                .margin(12)
                .x_label_area_size(45)
                .y_label_area_size(70)
                .build_cartesian_2d(0f64..xmax.max(0.1), y.clone().log_scale())
                .map_err(err)?;
            chart
                .configure_mesh()
                .x_desc("G multiply-adds per image (the paper's FLOPs)")
                .y_desc(what)
                .axis_desc_style((FONT, 14))
                .draw()
                .map_err(err)?;
            let grey = RGBColor(150, 150, 150);
            chart
                .draw_series(
                    paper_points
                        .iter()
                        .map(|(x, y, _)| Circle::new((*x, *y), 4, grey.stroke_width(1))),
                )
                .map_err(err)?
                .label(format!("paper ({device}, PyTorch)"))
                .legend(move |(x, y)| Circle::new((x + 6, y), 4, grey.stroke_width(1)));
            for (ci, c) in cols.iter().enumerate() {
                let col = color(ci);
                let mine: Vec<&&Record> = picked
                    .iter()
                    .filter(|((col, _), _)| col == c)
                    .map(|(_, r)| r)
                    .collect();
                chart
                    .draw_series(
                        mine.iter().map(|r| {
                            Circle::new((r.macs as f64 / 1e9, measure(r)), 5, col.filled())
                        }),
                    )
                    .map_err(err)?
                    .label(c.to_string())
                    .legend(move |(x, y)| Circle::new((x + 6, y), 5, col.filled()));
                // The paper's value for the same network, linked to ours.
                for r in &mine {
                    let paper_name = paper_network(&r.name).filter(|_| !is_model_file(r));
                    let Some(p) = paper_name.and_then(|n| paper_points.iter().find(|p| p.2 == n))
                    else {
                        continue;
                    };
                    chart
                        .draw_series(LineSeries::new(
                            [(r.macs as f64 / 1e9, measure(r)), (p.0, p.1)],
                            col.mix(0.35).stroke_width(1),
                        ))
                        .map_err(err)?;
                }
            }
            label_networks(&mut chart, &picked, &cols[0], &measure)?;
            legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
            Ok(())
        })?);
    }
    Ok(out)
}

/// One label per network, at its first column's point (more would overlap); a model file
/// is labelled by its file name, never as the zoo network.
fn label_networks<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, LogCoord<f64>>>,
    picked: &BTreeMap<(Column, String), &Record>,
    first: &Column,
    measure: &dyn Fn(&Record) -> f64,
) -> Result<()> {
    let mut labelled: Vec<String> = Vec::new();
    for r in picked.values() {
        let label = if is_model_file(r) {
            std::path::Path::new(&r.model_path)
                .file_name()
                .map_or(r.name.clone(), |f| f.to_string_lossy().into_owned())
        } else {
            r.name.clone()
        };
        if labelled.contains(&label) || Column::of(r) != *first {
            continue;
        }
        chart
            .draw_series(std::iter::once(
                EmptyElement::at((r.macs as f64 / 1e9, measure(r)))
                    + Text::new(label.clone(), (7, -12), (FONT, 11)),
            ))
            .map_err(err)?;
        labelled.push(label);
    }
    Ok(())
}

/// Chart 4: achieved FLOPS against the PConv ratio r, when rows sweep it.
fn ratio_chart(rows: &[&Record]) -> Result<Option<Chart>> {
    let mut series: BTreeMap<(Column, String), Vec<(f64, f64)>> = BTreeMap::new();
    let pconv: Vec<&Record> = rows
        .iter()
        .copied()
        .filter(|r| r.kind == OpKind::Pconv)
        .collect();
    // The row per (column, case) the tables show, in key order.
    for r in pick(&pconv).into_values() {
        if let (Some(ratio), Some(g)) = (r.ratio, r.gmacs_per_s) {
            series
                .entry((Column::of(r), r.shape.clone()))
                .or_default()
                .push((ratio, g));
        }
    }
    series.retain(|_, pts| {
        pts.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        pts.dedup_by(|a, b| a.0 == b.0);
        pts.len() >= 2
    });
    if series.is_empty() {
        return Ok(None);
    }
    let y = decades(series.values().flatten().map(|p| p.1));
    let title = "PConv ratio sweep: achieved GFLOPS against r".to_string();
    render(&title, "ratio-sweep.svg".into(), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(&title, (FONT, 20))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d((1.0f64 / 20.0..1.05f64).log_scale(), y.clone().log_scale())
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_labels(8)
            .x_label_formatter(&|v| {
                let s = format!("{v:.3}");
                s.trim_end_matches('0').trim_end_matches('.').to_string()
            })
            .x_desc("partial ratio r = c_p / c (log)")
            .y_desc("achieved G multiply-adds / s (log)")
            .axis_desc_style((FONT, 14))
            .draw()
            .map_err(err)?;
        for (i, ((c, shape), pts)) in series.iter().enumerate() {
            let col = color(i);
            chart
                .draw_series(LineSeries::new(pts.clone(), col.stroke_width(2)))
                .map_err(err)?
                .label(format!("{c} · {shape}"))
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], col.stroke_width(2)));
            chart
                .draw_series(pts.iter().map(|p| Circle::new(*p, 4, col.filled())))
                .map_err(err)?;
        }
        legend(&mut chart, SeriesLabelPosition::LowerRight)?;
        Ok(())
    })
    .map(Some)
}

/// The charts of Table 1 and the networks (the roofline and the ratio sweep follow them:
/// [`crate::report::roofline`], [`sweeps`]).
pub fn build(records: &[Record], include_emulated: bool) -> Result<Vec<Chart>> {
    let rows = usable(records, include_emulated);
    let mut out = Vec::new();
    out.extend(table1_chart(&rows)?);
    out.extend(nets_charts(&rows)?);
    Ok(out)
}

/// The chart of a PConv ratio sweep, when the rows have one.
pub fn sweeps(records: &[Record], include_emulated: bool) -> Result<Vec<Chart>> {
    Ok(ratio_chart(&usable(records, include_emulated))?
        .into_iter()
        .collect())
}
