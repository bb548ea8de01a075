//! The report's comparison section, from a `flopsbench compare --out` folder's
//! `comparison.csv` and `layer_changes.csv` (whose rows are defined here, for `compare` writes
//! them): the verdicts, the largest per-layer changes, and a chart of the
//! per-layer time change, largest first.

use std::path::{Path, PathBuf};

use plotters::prelude::*;
use serde::{Deserialize, Serialize};

use super::charts::{Chart, FONT, color, err, render, slug};
use super::tables::{Table, f};
use crate::error::{Error, Result};

/// Layers drawn per chart and listed per table.
const TOP: usize = 20;

/// One line of comparison.csv: a matched pair, or a row found on one side only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Line {
    /// improved, regressed, unchanged; empty without a verdict; `base only`, `new only`.
    pub verdict: String,
    /// Case id (BASE's; NEW's is `new_case` when it differs).
    pub case: String,
    /// Backend.
    pub backend: String,
    /// Device.
    pub device: String,
    /// Element type.
    pub dtype: String,
    /// Batch.
    pub batch: usize,
    /// Threads.
    pub threads: usize,
    /// The field allowed to differ (empty: none).
    pub across: String,
    /// NEW's value of that field.
    pub new_value: String,
    /// BASE's run.
    pub base_run_id: String,
    /// NEW's run.
    pub new_run_id: String,
    /// BASE's median, ms.
    pub base_median_ms: Option<f64>,
    /// NEW's median, ms.
    pub new_median_ms: Option<f64>,
    /// NEW / BASE (the median of per-round ratios when paired).
    pub ratio: Option<f64>,
    /// Bootstrap 95% CI of the ratio, low.
    pub ratio_ci95_low: Option<f64>,
    /// High.
    pub ratio_ci95_high: Option<f64>,
    /// Whether the ratio is paired round by round.
    pub paired: Option<bool>,
    /// The noise band of the verdict, a fraction.
    pub noise: Option<f64>,
    /// The ratio in words: `1.23× slower [1.19, 1.27]`.
    pub change: String,
    /// Why there is no verdict, what else differs.
    pub note: String,
}

/// One line of layer_changes.csv.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerLine {
    /// BASE's case.
    pub case: String,
    /// NEW's case.
    pub new_case: String,
    /// BASE's backend.
    pub backend: String,
    /// NEW's backend.
    pub new_backend: String,
    /// Device (BASE's).
    pub device: String,
    /// Element type (BASE's).
    pub dtype: String,
    /// The layer.
    pub layer: String,
    /// Its op type, `pconv→conv` when it changed.
    pub op: String,
    /// added, removed, faster, slower, unchanged.
    pub status: String,
    /// BASE's median, ms.
    pub base_ms: Option<f64>,
    /// NEW's median, ms.
    pub new_ms: Option<f64>,
    /// NEW − BASE, ms.
    pub delta_ms: f64,
    /// NEW / BASE.
    pub ratio: Option<f64>,
    /// Its bootstrap 95% CI, low.
    pub ratio_ci95_low: Option<f64>,
    /// High.
    pub ratio_ci95_high: Option<f64>,
    /// BASE's achieved G multiply-adds per second.
    pub base_gmacs_per_s: Option<f64>,
    /// NEW's.
    pub new_gmacs_per_s: Option<f64>,
    /// BASE's roofline bound (compute, memory; empty without ceilings).
    pub base_bound: String,
    /// NEW's.
    pub new_bound: String,
}

/// A comparison folder's rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// The folder.
    pub dir: PathBuf,
    /// comparison.csv.
    pub lines: Vec<Line>,
    /// layer_changes.csv (empty without one).
    pub layers: Vec<LayerLine>,
}

fn read_csv<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Vec<T>> {
    let bad = |line: Option<u64>, message: String| Error::InputFile {
        path: path.to_path_buf(),
        line,
        message,
    };
    let mut reader = csv::Reader::from_path(path).map_err(|e| bad(None, e.to_string()))?;
    reader
        .deserialize()
        .map(|r| r.map_err(|e: csv::Error| bad(e.position().map(|p| p.line()), e.to_string())))
        .collect()
}

/// The comparison kept in `dir` (`None` when it holds no comparison.csv).
pub fn read(dir: &Path) -> Result<Option<Found>> {
    let path = dir.join("comparison.csv");
    if !path.is_file() {
        return Ok(None);
    }
    let layers_path = dir.join("layer_changes.csv");
    Ok(Some(Found {
        dir: dir.to_path_buf(),
        lines: read_csv(&path)?,
        layers: if layers_path.is_file() {
            read_csv(&layers_path)?
        } else {
            Vec::new()
        },
    }))
}

fn ms(x: Option<f64>) -> String {
    x.map_or("–".into(), |v| f(v, 3))
}

/// A diff's name: BASE's case and backend, and NEW's where they differ.
fn diff_name(l: &LayerLine) -> String {
    let side = |case: &str, backend: &str| format!("{case} · {backend}");
    let (b, n) = (side(&l.case, &l.backend), side(&l.new_case, &l.new_backend));
    if b == n {
        format!("{b} · {} · {}", l.device, l.dtype)
    } else {
        format!("{b} → {n} · {} · {}", l.device, l.dtype)
    }
}

/// The per-layer diffs of `found`, each with its layers (largest change first, as
/// written).
fn diffs(found: &Found) -> Vec<(String, Vec<&LayerLine>)> {
    let mut out: Vec<(String, Vec<&LayerLine>)> = Vec::new();
    for l in &found.layers {
        let name = diff_name(l);
        match out.iter_mut().find(|(n, _)| *n == name) {
            Some((_, v)) => v.push(l),
            None => out.push((name, vec![l])),
        }
    }
    out
}

/// One table of verdicts per comparison, and one of its largest layer changes per diff.
pub fn tables(found: &[Found]) -> Vec<Table> {
    let mut out = Vec::new();
    for c in found {
        let rows = c
            .lines
            .iter()
            .map(|l| {
                let new = if l.new_value.is_empty() {
                    String::new()
                } else {
                    format!(" → {}", l.new_value)
                };
                vec![
                    if l.verdict.is_empty() {
                        "–".into()
                    } else {
                        l.verdict.clone()
                    },
                    l.case.clone() + if l.across == "case" { &new } else { "" },
                    l.backend.clone() + if l.across == "backend" { &new } else { "" },
                    l.device.clone() + if l.across == "device" { &new } else { "" },
                    l.dtype.clone() + if l.across == "dtype" { &new } else { "" },
                    ms(l.base_median_ms),
                    ms(l.new_median_ms),
                    l.change.clone(),
                    l.note.clone(),
                ]
            })
            .collect();
        out.push(Table {
            title: format!("Comparison: {}", c.dir.display()),
            intro: "NEW / BASE of each matched row with its bootstrap 95% CI, and the verdict \
                    of that CI against the noise band (`flopsbench compare`; rows found on \
                    one side only are listed as `base only` or `new only`)."
                .into(),
            header: [
                "verdict",
                "case",
                "backend",
                "device",
                "dtype",
                "BASE ms",
                "NEW ms",
                "NEW vs BASE",
                "note",
            ]
            .map(String::from)
            .to_vec(),
            rows,
        });
        for (name, layers) in diffs(c) {
            out.push(Table {
                title: format!("Per-layer changes: {name}"),
                intro: format!(
                    "The {} layers whose time changed most (of {}), largest first; every \
                     layer is in layer_changes.csv.",
                    layers.len().min(TOP),
                    layers.len()
                ),
                header: [
                    "layer",
                    "op",
                    "status",
                    "BASE ms",
                    "NEW ms",
                    "Δ ms",
                    "GMAC/s BASE → NEW",
                ]
                .map(String::from)
                .to_vec(),
                rows: layers
                    .iter()
                    .take(TOP)
                    .map(|l| {
                        vec![
                            l.layer.clone(),
                            l.op.clone(),
                            l.status.clone(),
                            ms(l.base_ms),
                            ms(l.new_ms),
                            format!("{:+.3}", l.delta_ms),
                            format!(
                                "{} → {}",
                                l.base_gmacs_per_s.map_or("–".into(), |g| f(g, 2)),
                                l.new_gmacs_per_s.map_or("–".into(), |g| f(g, 2))
                            ),
                        ]
                    })
                    .collect(),
            });
        }
    }
    out
}

/// A horizontal bar per layer (the largest changes first, top down): its time change,
/// slower to the right.
pub fn charts(found: &[Found]) -> Result<Vec<Chart>> {
    let mut out = Vec::new();
    for c in found {
        for (name, layers) in diffs(c) {
            let shown: Vec<&LayerLine> = layers.into_iter().take(TOP).collect();
            let title = format!("Per-layer time change · {name}");
            // Named by the folder too: two comparisons of the same cases in one report.
            let file = format!(
                "layer-changes-{}-{}.svg",
                slug(&c.dir.display().to_string()),
                slug(&name)
            );
            let reach = shown
                .iter()
                .map(|l| l.delta_ms.abs())
                .fold(0.0, f64::max)
                .max(1e-6)
                * 1.1;
            let n = shown.len().max(1) as f64;
            out.push(render(&title, file, |root| {
                let mut chart = ChartBuilder::on(root)
                    .caption(&title, (FONT, 18))
                    .margin(12)
                    .x_label_area_size(40)
                    .y_label_area_size(330)
                    .build_cartesian_2d(-reach..reach, 0f64..n)
                    .map_err(err)?;
                let labels: Vec<String> = shown
                    .iter()
                    .map(|l| format!("{} ({})", l.layer, l.op))
                    .collect();
                chart
                    .configure_mesh()
                    .disable_y_mesh()
                    .y_labels(shown.len() * 2 + 1)
                    .y_label_formatter(&|y| {
                        // Row i is drawn from the top: its band is n−i−1 … n−i.
                        let i = (n - y).floor() as usize;
                        let centre = (n - y) - (n - y).floor();
                        if (centre - 0.5).abs() < 0.26 && i < labels.len() {
                            labels[i].clone()
                        } else {
                            String::new()
                        }
                    })
                    .x_label_formatter(&|x| {
                        format!("{:+.3}", if x.abs() < 1e-12 { 0.0 } else { *x })
                    })
                    .x_desc("time change, ms (NEW − BASE; right: slower)")
                    .axis_desc_style((FONT, 14))
                    .label_style((FONT, 11))
                    .draw()
                    .map_err(err)?;
                chart
                    .draw_series(shown.iter().enumerate().map(|(i, l)| {
                        let top = n - i as f64 - 0.1;
                        let c = if l.delta_ms > 0.0 { color(5) } else { color(2) };
                        Rectangle::new([(0.0, top - 0.8), (l.delta_ms, top)], c.filled())
                    }))
                    .map_err(err)?;
                Ok(())
            })?);
        }
    }
    Ok(out)
}
