//! The roofline chart: one per device, host and dtype, every measured row placed by its
//! arithmetic intensity (the traffic of the graph its backend ran) and achieved rate,
//! under the GEMM roof measured at the same dtype (`peak --dtype`) and the bandwidth slope
//! of the stream (bytes are bytes: any dtype's).

use std::collections::BTreeMap;

use plotters::prelude::*;

use super::charts::{Chart, FONT, color, decades, err, legend, render, roof_line, slug};
use super::{Column, usable};
use crate::error::Result;
use crate::record::Record;
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

/// A device's roofs at one dtype, G multiply-adds/s and GB/s.
struct Roofs {
    /// The best GEMM on one thread.
    gemm1: Option<f64>,
    /// The best GEMM on all threads.
    gemm_all: Option<f64>,
    /// The best stream bandwidth.
    stream: Option<f64>,
}

/// The roofs of `dtype` among one device's `peaks`: its own GEMM rows, any dtype's stream.
fn roofs(peaks: &[&&Record], dtype: Dtype) -> Roofs {
    let best = |name: &str, one: bool, pick: fn(&Record) -> Option<f64>| {
        peaks
            .iter()
            .filter(|r| r.name == name && (r.threads == 1) == one)
            .filter(|r| name == "stream" || r.dtype == dtype)
            .filter_map(|r| pick(r))
            .fold(None, |a: Option<f64>, b| Some(a.map_or(b, |a| a.max(b))))
    };
    Roofs {
        gemm1: best("gemm", true, |r| r.gmacs_per_s),
        gemm_all: best("gemm", false, |r| r.gmacs_per_s),
        stream: best("stream", false, |r| r.gbytes_per_s),
    }
}

/// The rows of each host, device and dtype: one chart each, the GEMM roof at the dtype's
/// own peak, the bandwidth slope from any dtype's stream (bytes are bytes).
fn by_device<'a>(rows: &[&'a Record]) -> BTreeMap<(String, String, Dtype), Vec<&'a Record>> {
    let mut out: BTreeMap<(String, String, Dtype), Vec<&Record>> = BTreeMap::new();
    for r in rows {
        out.entry((r.host.clone(), r.device.to_string(), r.dtype))
            .or_default()
            .push(r);
    }
    out
}

/// One chart per device, host and dtype.
fn roofline_charts(rows: &[&Record]) -> Result<Vec<Chart>> {
    let mut out = Vec::new();
    for ((host, device, dtype), mine) in by_device(rows) {
        let peaks: Vec<&&Record> = rows
            .iter()
            .filter(|r| r.kind == CaseKind::Peak && r.host == host)
            .filter(|r| r.device.to_string() == device)
            .collect();
        let points = roofline_points(&mine);
        if points.is_empty() {
            continue;
        }
        let Roofs {
            gemm1,
            gemm_all,
            stream,
        } = roofs(&peaks, dtype);
        // The traffic of the graph the backend ran (the paper's count where a row has no
        // graph figure, e.g. from an older file).
        let intensity = |r: &Record| {
            r.macs as f64 * r.batch as f64 / r.mem_bytes_graph.unwrap_or(r.mem_bytes) as f64
        };
        let x = decades(points.iter().map(|r| intensity(r)).chain([0.1, 1000.0]));
        let y = decades(
            points
                .iter()
                .filter_map(|r| r.gmacs_per_s)
                .chain(gemm1)
                .chain(gemm_all),
        );
        let (title, file) = match dtype {
            Dtype::F32 => (
                format!("Roofline · {device} @ {host}"),
                format!("roofline-{}-{}.svg", slug(&host), slug(&device)),
            ),
            d => (
                format!("Roofline · {device} @ {host} · {d}"),
                format!("roofline-{}-{}-{d}.svg", slug(&host), slug(&device)),
            ),
        };
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
            for (peak, label, c) in [
                (gemm_all, "roof: GEMM all threads, stream bandwidth", BLACK),
                (gemm1, "roof: GEMM 1 thread", RGBColor(120, 120, 120)),
            ] {
                if let Some(p) = peak {
                    chart
                        .draw_series(LineSeries::new(roof_line(&x, p, stream), c.stroke_width(2)))
                        .map_err(err)?
                        .label(format!("{label} ({p:.1} G MAC/s)"))
                        .legend(move |(x, y)| {
                            PathElement::new([(x, y), (x + 16, y)], c.stroke_width(2))
                        });
                }
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
            if stream.is_none() {
                let (px, py) = chart.backend_coord(&(x.start, y.end));
                root.draw(&Text::new(
                    "no peak rows for this device: run `flopsbench peak` to draw the roof",
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
