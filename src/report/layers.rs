//! The report's per-layer section (from each result folder's `layers.csv`): for each
//! network profiled on a backend and device, the honesty line and the table by op type,
//! a chart of each op type's share of the time against its share of the multiply-adds,
//! and, where the device's `peak` ceilings are among the inputs, every layer on the
//! device's roofline.

use std::collections::BTreeMap;

use plotters::prelude::*;

use super::charts::{Chart, FONT, color, decades, draw_roofs, err, legend, render, slug};
use super::tables::{Table, f};
use crate::error::Result;
use crate::profile::summary::{self, Group};
use crate::profile::{LayerRow, LayerSamples};
use crate::record::{Record, Status};
use crate::roofs::Ceilings;

/// One profile: a network on a backend and device, from one run.
struct Profile<'a> {
    key: (String, String, String, crate::spec::Dtype),
    rows: Vec<LayerSamples>,
    network: Option<&'a Record>,
}

/// The profiles of `layers` (the latest run of each network, backend and device; error
/// rows left out, and emulated devices' unless `include_emulated`), with the network
/// rows of `records` they belong to.
fn profiles<'a>(
    layers: &[LayerRow],
    records: &'a [Record],
    include_emulated: bool,
) -> Vec<Profile<'a>> {
    let mut latest: BTreeMap<(String, String, String, crate::spec::Dtype), &str> = BTreeMap::new();
    for r in layers.iter().filter(|r| r.status == "ok") {
        let k = (r.case.clone(), r.backend.clone(), r.device.clone(), r.dtype);
        let e = latest.entry(k).or_insert(&r.run_id);
        if r.run_id.as_str() > *e {
            *e = &r.run_id;
        }
    }
    latest
        .into_iter()
        .map(|(key, run)| {
            let rows = layers
                .iter()
                .filter(|r| {
                    r.run_id == run
                        && (&r.case, &r.backend, &r.device, r.dtype)
                            == (&key.0, &key.1, &key.2, key.3)
                })
                .map(|r| LayerSamples {
                    row: r.clone(),
                    samples_ms: Vec::new(),
                })
                .collect();
            let network = records.iter().find(|n| {
                n.run_id == run
                    && n.case == key.0
                    && n.backend == key.1
                    && n.device.to_string() == key.2
                    && n.dtype == key.3
                    && n.status == Status::Ok
            });
            Profile { key, rows, network }
        })
        .filter(|p| include_emulated || !p.network.is_some_and(|n| n.emulated))
        .collect()
}

fn percent(x: f64) -> String {
    format!("{:.1}", x * 100.0)
}

/// One table per profile: its op types.
pub fn tables(layers: &[LayerRow], records: &[Record], include_emulated: bool) -> Vec<Table> {
    profiles(layers, records, include_emulated)
        .iter()
        .map(|p| {
            let (case, backend, device, _) = &p.key;
            let honesty = p.network.and_then(|n| n.median_ms).map_or_else(
                || "The network's timed row is not among the inputs.".to_string(),
                |m| format!("The {}.", summary::honesty(&p.rows, m)),
            );
            let count =
                |what: &dyn Fn(&LayerRow) -> bool| p.rows.iter().filter(|r| what(&r.row)).count();
            let fused = count(&|r| r.ran_as.starts_with("fused into"));
            let runtime = count(&|r| r.ran_as == "runtime node");
            Table {
                title: format!("Per layer: {case} · {backend} · {device}"),
                intro: format!(
                    "{honesty} Time per op type is the sum of its layers' medians over {} \
                     profiled passes (a separate run after the timed one); {fused} layers ran \
                     fused into another (their time and multiply-adds are that layer's); \
                     runtime's own nodes (layout reorders, copies): {runtime}. Every layer is \
                     in layers.csv.",
                    p.rows.iter().map(|r| r.row.samples).max().unwrap_or(0)
                ),
                header: [
                    "Op type",
                    "Layers",
                    "Time (ms)",
                    "% of time",
                    "% of MACs",
                    "G MAC/s",
                ]
                .map(String::from)
                .to_vec(),
                rows: summary::by_op(&p.rows)
                    .iter()
                    .map(|g: &Group| {
                        vec![
                            g.name.clone(),
                            g.count.to_string(),
                            f(g.ms, 3),
                            percent(g.share_of_time),
                            percent(g.share_of_macs),
                            g.gmacs_per_s.map_or("–".into(), |v| f(v, 1)),
                        ]
                    })
                    .collect(),
            }
        })
        .collect()
}

/// The roofs among `records` of `network`'s host and device ([`crate::roofs::Ceilings`]).
fn ceilings(records: &[Record], network: &Record, threads: usize) -> Option<Ceilings> {
    let peaks: Vec<&Record> = records
        .iter()
        .filter(|r| r.device == network.device && r.host == network.host && !r.emulated)
        .collect();
    Ceilings::of(&peaks, threads, network.dtype)
}

/// Two bars per op type: its share of the time and of the multiply-adds.
fn shares_chart(p: &Profile<'_>) -> Result<Chart> {
    let (case, backend, device, _) = &p.key;
    let groups: Vec<Group> = summary::by_op(&p.rows)
        .into_iter()
        .filter(|g| g.share_of_time >= 0.005 || g.share_of_macs >= 0.005)
        .collect();
    let title = format!("Time vs multiply-adds by op type · {case} · {backend} · {device}");
    let file = format!(
        "layers-{}-{}-{}.svg",
        slug(case),
        slug(backend),
        slug(device)
    );
    let names: Vec<String> = groups.iter().map(|g| g.name.clone()).collect();
    render(&title, file, |root| {
        let n = groups.len().max(1) as f64;
        let mut chart = ChartBuilder::on(root)
            .caption(&title, (FONT, 18))
            .margin(12)
            .x_label_area_size(60)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..n, 0f64..100f64)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(groups.len().max(1) * 2 + 1)
            .x_label_formatter(&|x| {
                let i = x.floor() as usize;
                if (x - x.floor() - 0.5).abs() < 0.26 && i < names.len() {
                    names[i].clone()
                } else {
                    String::new()
                }
            })
            .y_desc("% of the network")
            .axis_desc_style((FONT, 14))
            .draw()
            .map_err(err)?;
        for (k, (label, pick)) in [
            (
                "share of time",
                (|g: &Group| g.share_of_time) as fn(&Group) -> f64,
            ),
            ("share of multiply-adds", |g: &Group| g.share_of_macs),
        ]
        .into_iter()
        .enumerate()
        {
            let c = color(k);
            let x0 = 0.1 + 0.4 * k as f64;
            chart
                .draw_series(groups.iter().enumerate().map(|(i, g)| {
                    let x = i as f64 + x0;
                    Rectangle::new([(x, 0.0), (x + 0.38, pick(g) * 100.0)], c.filled())
                }))
                .map_err(err)?
                .label(label)
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], c.filled()));
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)
    })
}

/// Every layer with multiply-adds on the device's roofline, coloured by op type.
fn roofline_chart(p: &Profile<'_>, roof: Ceilings) -> Result<Chart> {
    let (case, backend, device, _) = &p.key;
    let points: Vec<&LayerRow> = p
        .rows
        .iter()
        .map(|r| &r.row)
        .filter(|r| r.gmacs_per_s.is_some() && r.intensity_macs_per_byte.is_some())
        .collect();
    let gemm = roof.gmacs_per_s;
    let x = decades(
        points
            .iter()
            .filter_map(|r| r.intensity_macs_per_byte)
            .chain([0.1, 100.0]),
    );
    let y = decades(points.iter().filter_map(|r| r.gmacs_per_s).chain([gemm]));
    let mut ops: Vec<&str> = points.iter().map(|r| r.op.as_str()).collect();
    ops.sort();
    ops.dedup();
    let title = format!("Layers on the roofline · {case} · {backend} · {device}");
    let file = format!(
        "layers-roofline-{}-{}-{}.svg",
        slug(case),
        slug(backend),
        slug(device)
    );
    render(&title, file, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(&title, (FONT, 18))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(x.clone().log_scale(), y.clone().log_scale())
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("multiply-adds per byte (analytic, log)")
            .y_desc("achieved G multiply-adds / s (log)")
            .axis_desc_style((FONT, 14))
            .draw()
            .map_err(err)?;
        draw_roofs(&mut chart, &x, &roof)?;
        for (i, op) in ops.iter().enumerate() {
            let c = color(i);
            chart
                .draw_series(points.iter().filter(|r| r.op == *op).filter_map(|r| {
                    Some(Circle::new(
                        (r.intensity_macs_per_byte?, r.gmacs_per_s?),
                        4,
                        c.filled(),
                    ))
                }))
                .map_err(err)?
                .label(op.to_string())
                .legend(move |(x, y)| Circle::new((x + 6, y), 4, c.filled()));
        }
        legend(&mut chart, SeriesLabelPosition::LowerRight)
    })
}

/// The charts of every profile.
pub fn charts(
    layers: &[LayerRow],
    records: &[Record],
    include_emulated: bool,
) -> Result<Vec<Chart>> {
    let mut out = Vec::new();
    for p in profiles(layers, records, include_emulated) {
        out.push(shares_chart(&p)?);
        let threads = p.rows.first().map_or(1, |r| r.row.threads);
        if let Some(roof) = p.network.and_then(|n| ceilings(records, n, threads)) {
            out.push(roofline_chart(&p, roof)?);
        }
    }
    Ok(out)
}
