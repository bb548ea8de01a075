//! A comparison as text (a terminal or Markdown table), CSV and JSON, and the files
//! `--out` keeps: comparison.csv, comparison.json, comparison.md and, where layers were
//! compared, layer_changes.csv.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::change::phrase;
use super::layers::Diff;
use super::{Comparison, Field, Pair};
use crate::error::{Error, Result};
use crate::output::Format;
use crate::output::progress::duration_ms;
use crate::output::table::{align_numbers, new_table};
use crate::output::units::si;
use crate::record::Record;
use crate::report::comparison::{LayerLine, Line};

/// Layers shown per diff in the terminal (every layer is in layer_changes.csv).
const SHOWN_LAYERS: usize = 12;

fn line(verdict: &str, r: &Record, across: Option<Field>) -> Line {
    Line {
        verdict: verdict.into(),
        case: r.case.clone(),
        backend: r.backend.clone(),
        device: r.device.to_string(),
        dtype: r.dtype.to_string(),
        batch: r.batch,
        threads: r.threads,
        across: across.map_or("", Field::as_str).into(),
        new_value: String::new(),
        base_run_id: String::new(),
        new_run_id: String::new(),
        base_median_ms: None,
        new_median_ms: None,
        ratio: None,
        ratio_ci95_low: None,
        ratio_ci95_high: None,
        paired: None,
        noise: None,
        change: String::new(),
        note: if r.error.is_empty() {
            String::new()
        } else {
            r.error.clone()
        },
    }
}

fn pair_line(p: &Pair, across: Option<Field>) -> Line {
    let mut l = line(p.verdict.map_or("", |v| v.as_str()), &p.base, across);
    l.new_value = across.map(|f| f.of(&p.new)).unwrap_or_default();
    l.base_run_id = p.base.run_id.clone();
    l.new_run_id = p.new.run_id.clone();
    l.base_median_ms = p.base.median_ms;
    l.new_median_ms = p.new.median_ms;
    l.ratio = p.change.map(|c| c.ratio).or(p.ratio_of_medians());
    l.ratio_ci95_low = p.change.map(|c| c.low);
    l.ratio_ci95_high = p.change.map(|c| c.high);
    l.paired = p.change.map(|c| c.paired);
    l.noise = p.change.map(|_| p.noise);
    l.change = match (p.change, p.ratio_of_medians()) {
        (Some(c), _) => c.phrase(),
        (None, Some(r)) => phrase(r, None),
        (None, None) => String::new(),
    };
    l.note = p.note.clone();
    l
}

/// Every line: the pairs, then BASE's rows without a match, then NEW's.
pub fn lines(c: &Comparison) -> Vec<Line> {
    let mut out: Vec<Line> = c.pairs.iter().map(|p| pair_line(p, c.across)).collect();
    out.extend(c.only_base.iter().map(|r| line("base only", r, c.across)));
    out.extend(c.only_new.iter().map(|r| line("new only", r, c.across)));
    out
}

/// Every layer of every diff.
pub fn layer_lines(c: &Comparison) -> Vec<LayerLine> {
    let mut out = Vec::new();
    for d in &c.layers {
        for l in &d.layers {
            let (b, n) = (l.base.as_ref(), l.new.as_ref());
            out.push(LayerLine {
                case: d.base.case.clone(),
                new_case: d.new.case.clone(),
                backend: d.base.backend.clone(),
                new_backend: d.new.backend.clone(),
                device: d.base.device.to_string(),
                dtype: d.base.dtype.to_string(),
                layer: l.layer.clone(),
                op: l.op(),
                status: l.status.as_str().into(),
                base_ms: b.and_then(|r| r.median_ms),
                new_ms: n.and_then(|r| r.median_ms),
                delta_ms: l.delta_ms,
                ratio: l.change.map(|c| c.ratio),
                ratio_ci95_low: l.change.map(|c| c.low),
                ratio_ci95_high: l.change.map(|c| c.high),
                base_gmacs_per_s: b.and_then(|r| r.gmacs_per_s),
                new_gmacs_per_s: n.and_then(|r| r.gmacs_per_s),
                base_bound: b.map(|r| r.bound.clone()).unwrap_or_default(),
                new_bound: n.map(|r| r.bound.clone()).unwrap_or_default(),
            });
        }
    }
    out
}

fn ser(what: &'static str, e: impl ToString) -> Error {
    Error::Serialise {
        what,
        message: e.to_string(),
    }
}

fn to_csv<T: Serialize>(rows: &[T], what: &'static str) -> Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.serialize(r).map_err(|e| ser(what, e))?;
    }
    String::from_utf8(w.into_inner().map_err(|e| ser(what, e))?).map_err(|e| ser(what, e))
}

fn to_json(c: &Comparison) -> Result<String> {
    #[derive(Serialize)]
    struct ByOp<'a> {
        case: &'a str,
        new_case: &'a str,
        backend: &'a str,
        new_backend: &'a str,
        #[serde(flatten)]
        op: &'a super::layers::OpDelta,
    }
    #[derive(Serialize)]
    struct Doc<'a> {
        rows: Vec<Line>,
        layers: Vec<LayerLine>,
        by_op: Vec<ByOp<'a>>,
    }
    let by_op = c
        .layers
        .iter()
        .flat_map(|d| {
            d.by_op.iter().map(|op| ByOp {
                case: &d.base.case,
                new_case: &d.new.case,
                backend: &d.base.backend,
                new_backend: &d.new.backend,
                op,
            })
        })
        .collect();
    let doc = Doc {
        rows: lines(c),
        layers: layer_lines(c),
        by_op,
    };
    serde_json::to_string_pretty(&doc)
        .map(|s| s + "\n")
        .map_err(|e| ser("comparison", e))
}

/// The comparison in `format`.
pub fn render(c: &Comparison, format: Format) -> Result<String> {
    match format {
        Format::Table => Ok(text(c, false)),
        Format::Md => Ok(text(c, true)),
        Format::Csv => to_csv(&lines(c), "comparison"),
        Format::Json => to_json(c),
    }
}

/// Writes comparison.csv, comparison.json, comparison.md and (with layers)
/// layer_changes.csv into `dir`; the paths written.
pub fn write(c: &Comparison, dir: &Path) -> Result<Vec<PathBuf>> {
    let io = |path: &Path, e: std::io::Error| Error::Io {
        path: path.to_path_buf(),
        source: e,
    };
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let mut files = vec![
        ("comparison.csv", to_csv(&lines(c), "comparison")?),
        ("comparison.json", to_json(c)?),
        ("comparison.md", text(c, true)),
    ];
    if !c.layers.is_empty() {
        files.push((
            "layer_changes.csv",
            to_csv(&layer_lines(c), "layer changes")?,
        ));
    }
    let mut written = Vec::new();
    for (name, body) in files {
        // Whole files or none: written aside, then renamed into place.
        let (path, tmp) = (dir.join(name), dir.join(format!(".{name}.tmp")));
        std::fs::write(&tmp, body)
            .and_then(|_| std::fs::rename(&tmp, &path))
            .map_err(|e| io(&path, e))?;
        written.push(path);
    }
    Ok(written)
}

fn ms_or_dash(ms: Option<f64>) -> String {
    ms.map_or("–".into(), duration_ms)
}

fn signed_ms(ms: f64) -> String {
    let sign = if ms < 0.0 { "−" } else { "+" };
    format!("{sign}{}", duration_ms(ms.abs()))
}

/// The comparison as a table (Markdown when `markdown`), then the rows found on one side
/// only, the notes and the per-layer diffs.
pub fn text(c: &Comparison, markdown: bool) -> String {
    let across = c.across;
    let head = |f: Field, name: &'static str| -> String {
        if across == Some(f) {
            format!("{name} (BASE→NEW)")
        } else {
            name.into()
        }
    };
    let mut t = new_table(
        markdown,
        &[
            &head(Field::Case, "case"),
            &head(Field::Backend, "backend"),
            &head(Field::Device, "device"),
            &head(Field::Dtype, "dtype"),
            "BASE",
            "NEW",
            "NEW vs BASE (95% CI)",
            "verdict",
        ],
    );
    let value = |f: Field, p: &Pair| -> String {
        let (b, n) = (f.of(&p.base), f.of(&p.new));
        if across == Some(f) && b != n {
            format!("{b}→{n}")
        } else {
            b
        }
    };
    let mut notes = Vec::new();
    for p in &c.pairs {
        let l = pair_line(p, across);
        let mut verdict = if l.verdict.is_empty() {
            "–".to_string()
        } else {
            l.verdict.clone()
        };
        if !p.note.is_empty() {
            let i = match notes.iter().position(|n| n == &p.note) {
                Some(i) => i,
                None => {
                    notes.push(p.note.clone());
                    notes.len() - 1
                }
            };
            verdict += &format!(" [{}]", i + 1);
        }
        t.add_row(vec![
            value(Field::Case, p),
            value(Field::Backend, p),
            value(Field::Device, p),
            value(Field::Dtype, p),
            ms_or_dash(p.base.median_ms),
            ms_or_dash(p.new.median_ms),
            l.change,
            verdict,
        ]);
    }
    align_numbers(&mut t, 4);
    let mut out = format!("{t}\n");
    out += &band(c);
    for (i, n) in notes.iter().enumerate() {
        out += &format!("[{}] {n}\n", i + 1);
    }
    for r in &c.refused {
        out += &format!("{r}\n");
    }
    for (label, rows) in [("BASE", &c.only_base), ("NEW", &c.only_new)] {
        if !rows.is_empty() {
            let names: Vec<String> = rows
                .iter()
                .map(|r| format!("{} · {} · {} · {}", r.case, r.backend, r.device, r.dtype))
                .collect();
            out += &format!("only in {label} ({}): {}\n", rows.len(), names.join("; "));
        }
    }
    for d in &c.layers {
        out += "\n";
        out += &layer_text(d, markdown);
    }
    out
}

/// What the verdicts are judged against.
fn band(c: &Comparison) -> String {
    let mut bands: Vec<(f64, bool)> = c
        .pairs
        .iter()
        .filter_map(|p| p.change.map(|ch| (p.noise, ch.paired)))
        .collect();
    bands.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    bands.dedup();
    if bands.is_empty() {
        return "no verdicts: no row has samples on both sides (results.jsonl); ratios are of medians\n".into();
    }
    let words: Vec<String> = bands
        .iter()
        .map(|(noise, paired)| {
            let why = if *paired {
                "paired rounds: the machine's drift cancels round by round"
            } else {
                "separate runs: the drift between two runs is in neither run's CI"
            };
            format!("±{:.0}% ({why})", noise * 100.0)
        })
        .collect();
    format!(
        "verdict: improved or regressed when the whole 95% CI lies beyond the noise band of {}; --noise sets it\n",
        words.join(", ")
    )
}

/// One pair's per-layer diff: the largest changes, the roll-up by op type, and what the
/// layers account for.
fn layer_text(d: &Diff, markdown: bool) -> String {
    let side = |r: &Record| format!("{} · {}", r.case, r.backend);
    let mut out = format!(
        "per layer · {} → {} · {} · {}: ",
        side(&d.base),
        side(&d.new),
        d.base.device,
        d.base.dtype
    );
    out += &match (d.network_delta_ms, d.unattributed_ms()) {
        (Some(net), Some(left)) => format!(
            "network {}, its layers {}, {} unattributed (each layer is timed in its own \
             profiling pass)\n",
            signed_ms(net),
            signed_ms(d.layers_delta_ms),
            signed_ms(left)
        ),
        _ => format!("its layers {}\n", signed_ms(d.layers_delta_ms)),
    };
    let mut t = new_table(
        markdown,
        &[
            "layer",
            "op",
            "BASE",
            "NEW",
            "Δ time",
            "NEW vs BASE",
            "MAC/s BASE→NEW",
            "bound",
            "status",
        ],
    );
    let rate = |g: Option<f64>| g.map_or("–".into(), |g| si(g * 1e9));
    for l in d.layers.iter().take(SHOWN_LAYERS) {
        let (b, n) = (l.base.as_ref(), l.new.as_ref());
        let bound = |r: Option<&crate::profile::LayerRow>| {
            r.map(|r| r.bound.clone())
                .filter(|s| !s.is_empty())
                .unwrap_or("–".into())
        };
        t.add_row(vec![
            l.layer.clone(),
            l.op(),
            ms_or_dash(b.and_then(|r| r.median_ms)),
            ms_or_dash(n.and_then(|r| r.median_ms)),
            signed_ms(l.delta_ms),
            l.change.map_or("–".into(), |c| c.phrase()),
            format!(
                "{}→{}",
                rate(b.and_then(|r| r.gmacs_per_s)),
                rate(n.and_then(|r| r.gmacs_per_s))
            ),
            format!("{}→{}", bound(b), bound(n)),
            l.status.as_str().into(),
        ]);
    }
    align_numbers(&mut t, 2);
    out += &format!("{t}\n");
    if d.layers.len() > SHOWN_LAYERS {
        out += &format!(
            "{} more layers, smaller changes (every layer: layer_changes.csv with --out)\n",
            d.layers.len() - SHOWN_LAYERS
        );
    }
    let ops: Vec<String> = d
        .by_op
        .iter()
        .map(|o| format!("{} {}", o.op, signed_ms(o.delta_ms)))
        .collect();
    if !ops.is_empty() {
        out += &format!("by op type: {}\n", ops.join(", "));
    }
    out
}
