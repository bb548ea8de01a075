//! The roofline chart: one per device, host, dtype and thread count, every measured row
//! placed by its arithmetic intensity (the traffic of the graph its backend ran) and
//! achieved rate, under the roofs `peak` measured there: the compute peak at the dtype and
//! one slope per memory level (bytes are bytes: any dtype's bandwidths).

use std::collections::BTreeMap;

use plotters::prelude::*;

use super::charts::{Chart, FONT, color, decades, draw_roofs, err, legend, render, slug};
use super::{Column, usable};
use crate::error::Result;
use crate::record::Record;
use crate::roofs::Ceilings;
use crate::spec::{CaseKind, Dtype};

/// The roofline charts of `records`.
pub fn charts(records: &[Record], include_emulated: bool) -> Result<Vec<Chart>> {
    roofline_charts(&usable(records, include_emulated))
}

/// The rows a roofline places: every measured case with multiply-adds and traffic, in an
/// order that does not depend on the order of the inputs.
fn roofline_points<'a>(rows: &[&'a Record]) -> Vec<&'a Record> {
    let mut points: Vec<&Record> = rows
        .iter()
        .copied()
        .filter(|r| r.kind != CaseKind::Peak && r.macs > 0 && r.mem_bytes > 0)
        .collect();
    points.sort_by_cached_key(|r| {
        (
            Column::of(r),
            r.case.clone(),
            r.timestamp.clone(),
            r.run_id.clone(),
        )
    });
    points
}

/// The rows of each host, device, dtype and thread count: one chart each, under the
/// roofs of that dtype and thread count ([`Ceilings::of`]).
type ChartKey = (String, String, Dtype, usize);

fn by_device<'a>(rows: &[&'a Record]) -> BTreeMap<ChartKey, Vec<&'a Record>> {
    let mut out: BTreeMap<ChartKey, Vec<&Record>> = BTreeMap::new();
    for r in rows {
        out.entry((r.host.clone(), r.device.to_string(), r.dtype, r.threads))
            .or_default()
            .push(r);
    }
    out
}

/// The arithmetic intensity of a row: multiply-adds of the batch per byte of the graph its
/// backend ran (the paper's count where a row has no graph figure, e.g. an older file).
pub(super) fn intensity(r: &Record) -> f64 {
    r.macs as f64 * r.batch as f64 / r.mem_bytes_graph.unwrap_or(r.mem_bytes) as f64
}

/// The peak rows of `host`'s `device` among `rows`: never an emulated device's (its
/// figures are the emulator's, not a roof).
pub(super) fn peaks_of<'a>(rows: &[&'a Record], host: &str, device: &str) -> Vec<&'a Record> {
    rows.iter()
        .copied()
        .filter(|r| r.kind == CaseKind::Peak && r.host == host && !r.emulated)
        .filter(|r| r.device.to_string() == device)
        .collect()
}

/// A thin line from each point up to the roof it sits under (its level's slope at its
/// intensity, or the compute peak), in light grey: which level holds its working set, seen.
fn draw_ties<'a, CT>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, CT>,
    points: &[&Record],
    roofs: &Ceilings,
) -> Result<()>
where
    CT: plotters::coord::CoordTranslate<From = (f64, f64)>,
{
    let tie = RGBColor(200, 200, 200);
    let ties = points.iter().filter_map(|r| {
        let (i, rate) = (intensity(r), r.gmacs_per_s?);
        let roof = roofs.bound(i, r.working_set_bytes).roof;
        (roof > rate).then_some([(i, rate), (i, roof)])
    });
    chart
        .draw_series(ties.map(|[a, b]| PathElement::new([a, b], tie.stroke_width(1))))
        .map_err(err)?
        .label("each point up to its roof: its working set's level, or compute")
        .legend(move |(x, y)| {
            PathElement::new([(x + 8, y - 6), (x + 8, y + 6)], tie.stroke_width(1))
        });
    Ok(())
}

/// One chart per device, host, dtype and thread count.
fn roofline_charts(rows: &[&Record]) -> Result<Vec<Chart>> {
    let mut out = Vec::new();
    for ((host, device, dtype, threads), mine) in by_device(rows) {
        let points = roofline_points(&mine);
        if points.is_empty() {
            continue;
        }
        let roofs = Ceilings::of(&peaks_of(rows, &host, &device), threads, dtype);
        let x = decades(points.iter().map(|r| intensity(r)).chain([0.1, 1000.0]));
        let y = decades(
            points
                .iter()
                .filter_map(|r| r.gmacs_per_s)
                .chain(roofs.as_ref().map(|c| c.gmacs_per_s)),
        );
        let at = match (dtype, threads) {
            (Dtype::F32, 1) => String::new(),
            (Dtype::F32, t) => format!("-t{t}"),
            (d, 1) => format!("-{d}"),
            (d, t) => format!("-{d}-t{t}"),
        };
        let title = format!(
            "Roofline · {device} @ {host}{}{}",
            if dtype == Dtype::F32 {
                String::new()
            } else {
                format!(" · {dtype}")
            },
            if threads == 1 {
                String::new()
            } else {
                format!(" · {threads} threads")
            },
        );
        let file = format!("roofline-{}-{}{at}.svg", slug(&host), slug(&device));
        out.push(render(&title, file, |root| {
            let mut chart = ChartBuilder::on(root)
                .caption(&title, (FONT, 20))
                .margin(12)
                .margin_right(40)
                .x_label_area_size(45)
                .y_label_area_size(70)
                .build_cartesian_2d(x.clone().log_scale(), y.clone().log_scale())
                .map_err(err)?;
            chart
                .configure_mesh()
                .x_desc(
                    "arithmetic intensity (multiply-adds per byte the graph moves, analytic, log)",
                )
                .y_desc("achieved G multiply-adds / s (log)")
                .axis_desc_style((FONT, 14))
                .draw()
                .map_err(err)?;
            if let Some(c) = &roofs {
                draw_roofs(&mut chart, &x, c)?;
                draw_ties(&mut chart, &points, c)?;
            }
            let mut backends: Vec<String> = points.iter().map(|r| r.backend.clone()).collect();
            backends.sort();
            backends.dedup();
            for (bi, b) in backends.iter().enumerate() {
                let col = color(bi);
                let mine = points.iter().filter(|r| &r.backend == b);
                chart
                    .draw_series(mine.map(|r| {
                        let p = (intensity(r), r.gmacs_per_s.unwrap_or(0.0));
                        let marker: DynElement<SVGBackend, (f64, f64)> = if r.kind == CaseKind::Net
                        {
                            TriangleMarker::new(p, 6, col.filled()).into_dyn()
                        } else {
                            Circle::new(p, 4, col.filled()).into_dyn()
                        };
                        marker
                    }))
                    .map_err(err)?
                    .label(format!("{b} (● operator stacks, ▲ networks)"))
                    .legend(move |(x, y)| Circle::new((x + 6, y), 4, col.filled()));
            }
            if roofs.is_none() {
                let (px, py) = chart.backend_coord(&(x.start, y.end));
                root.draw(&Text::new(
                    "no peak rows for this device, dtype and thread count: run `flopsbench peak` to draw the roofs",
                    (px + 10, py + 10),
                    (FONT, 13),
                ))
                .map_err(err)?;
            }
            legend(&mut chart, SeriesLabelPosition::LowerRight)?;
            Ok(())
        })?);
    }
    Ok(out)
}
