//! Terminal and Markdown tables (comfy-table), with human-readable units.

use comfy_table::presets::{ASCII_MARKDOWN, UTF8_FULL_CONDENSED};
use comfy_table::{CellAlignment, Table};

use std::io::Write;

use crate::count::CaseCount;
use crate::error::{Error, Result};
use crate::output::progress::duration_ms;
use crate::output::units::{bytes, si};
use crate::output::{Exporter, Row};
use crate::record::Status;

pub(crate) fn new_table(markdown: bool, header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(if markdown {
        ASCII_MARKDOWN
    } else {
        UTF8_FULL_CONDENSED
    });
    t.set_header(header.to_vec());
    t
}

pub(crate) fn align_numbers(t: &mut Table, from: usize) {
    let n = t.column_count();
    for i in from..n {
        if let Some(col) = t.column_mut(i) {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
}

/// Counts as a table; `per_layer` prints each case's layers after the summary.
pub fn counts(counts: &[CaseCount], per_layer: bool, markdown: bool) -> String {
    let Some(first) = counts.first() else {
        return String::new();
    };
    let flops_header = format!("FLOPs ({})", first.convention);
    let mut t = new_table(
        markdown,
        &[
            "case",
            "input",
            "params",
            "MACs",
            &flops_header,
            "memory",
            "FLOPs/byte",
        ],
    );
    let mut notes = String::new();
    // A dtype sweep counts each case once a dtype: the rows say which.
    let swept = counts.iter().any(|c| c.dtype != first.dtype);
    for c in counts {
        // Uncounted nodes make the totals lower bounds.
        let at_least = if c.uncounted.is_empty() { "" } else { "≥ " };
        let label = c.model.as_ref().map_or(&c.name, |m| &m.path);
        let label = if swept {
            format!("{label} ({})", c.dtype)
        } else {
            label.clone()
        };
        t.add_row(vec![
            label.clone(),
            c.input_shape.clone(),
            si(c.params as f64),
            format!("{at_least}{}", si(c.macs as f64)),
            format!("{at_least}{}", si(c.flops as f64)),
            format!("{at_least}{}", bytes(c.mem_bytes)),
            format!("{:.2}", c.intensity_flops_per_byte),
        ]);
        if let Some(text) = c.uncounted_text() {
            notes +=
                &format!("{label}: uncounted: {text} (counted as 0; totals are lower bounds)\n");
        }
    }
    align_numbers(&mut t, 2);
    let mut out = format!(
        "{t}\n{}{} · batch {} · BN {} · FLOPs = {}\n",
        if markdown { "\n" } else { "" },
        if swept {
            "dtype per row".to_string()
        } else {
            first.dtype.to_string()
        },
        first.batch,
        if first.fused_bn { "folded" } else { "counted" },
        match first.convention {
            crate::count::Convention::Paper => "multiply-adds (paper)",
            crate::count::Convention::Strict => "2 × multiply-adds + other ops (strict)",
        }
    ) + &notes;
    if per_layer {
        for c in counts {
            out += &layer_table(c, markdown);
        }
    }
    out
}

fn layer_table(c: &CaseCount, markdown: bool) -> String {
    let mut t = new_table(
        markdown,
        &[
            "#", "layer", "op", "output", "params", "MACs", "FLOPs", "memory",
        ],
    );
    for (i, l) in c.layers.iter().flatten().enumerate() {
        t.add_row(vec![
            i.to_string(),
            l.name.clone(),
            l.op.to_string(),
            l.output_shape.clone(),
            l.params.to_string(),
            l.macs.to_string(),
            l.flops.to_string(),
            bytes(l.mem_bytes),
        ]);
    }
    t.add_row(vec![
        String::new(),
        "total".into(),
        String::new(),
        String::new(),
        c.params.to_string(),
        c.macs.to_string(),
        c.flops.to_string(),
        bytes(c.mem_bytes),
    ]);
    align_numbers(&mut t, 4);
    format!("\n{}\n{t}\n", c.name)
}

/// Measured rows as a summary table: one row per case and backend.
fn records(rows: &[Row<'_>], markdown: bool) -> String {
    let mut t = new_table(
        markdown,
        &[
            "case",
            "backend",
            "device",
            "batch",
            "threads",
            "median",
            "95% CI",
            "p99 call",
            "throughput",
            "MAC/s",
            "B/s",
            "cold",
            "prepare",
            "+RSS",
            "status",
        ],
    );
    for r in rows.iter().map(|r| r.record) {
        let (median, ci, throughput, rate, bandwidth) =
            match (r.median_ms, r.ci95_low_ms, r.ci95_high_ms) {
                (Some(m), Some(_), Some(_)) => (
                    // On a GPU, the device's own time (CUDA events) beside the host's.
                    match r.gpu_median_ms {
                        Some(g) => format!("{} (GPU {})", duration_ms(m), duration_ms(g)),
                        None => duration_ms(m),
                    },
                    if r.samples == Some(1) {
                        "–".to_string()
                    } else {
                        format!(
                            "±{:.1}%{}",
                            r.ci_half_width().unwrap_or(f64::INFINITY) * 100.0,
                            if r.ci_target_met == Some(false) {
                                "*"
                            } else {
                                ""
                            }
                        )
                    },
                    format!("{}/s", si(r.throughput_per_s.unwrap_or(0.0))),
                    match r.gmacs_per_s {
                        Some(g) if r.macs > 0 => {
                            format!("{}{}", super::progress::lower_bound(r), si(g * 1e9))
                        }
                        _ => "–".to_string(),
                    },
                    super::progress::byte_rate(r).unwrap_or_else(|| "–".to_string()),
                ),
                _ => Default::default(),
            };
        // Long backend messages are cut here; results.csv keeps them whole.
        let short = |e: &str| match e.char_indices().nth(100) {
            Some((i, _)) => format!("{}… (full message in results.csv)", &e[..i]),
            None => e.to_string(),
        };
        let status = match r.status {
            Status::Ok => "ok".to_string(),
            Status::Error => format!("error: {}", short(&r.error)),
            Status::Skipped => format!("skipped: {}", short(&r.error)),
        };
        t.add_row(vec![
            // A row at another dtype than f32 says so (a sweep lists a case once a dtype).
            format!(
                "{}{}{}",
                r.case,
                match r.dtype {
                    crate::spec::Dtype::F32 => String::new(),
                    d => format!(" ({d})"),
                },
                if r.l2_flush { " (caches flushed)" } else { "" }
            ),
            r.backend.clone(),
            if r.emulated {
                format!("{} (emulated)", r.device)
            } else {
                r.device.to_string()
            },
            r.batch.to_string(),
            r.threads.to_string(),
            median,
            ci,
            r.call_p99_ms.map_or("–".into(), duration_ms),
            throughput,
            rate,
            bandwidth,
            r.cold_ms.map_or("–".into(), duration_ms),
            r.prepare_ms.map_or("–".into(), duration_ms),
            r.peak_rss_added_mib
                .map_or("–".into(), |m| format!("{m:.0} MiB")),
            status,
        ]);
    }
    align_numbers(&mut t, 3);
    if let Some(col) = t.column_mut(14) {
        col.set_cell_alignment(CellAlignment::Left);
    }
    let mut text = format!("{t}\n");
    if rows.iter().any(|r| r.record.ci_target_met == Some(false)) {
        text += "* CI wider than the run's target: sampling reached its time cap first\n";
    }
    // Which rates are lower bounds, and why.
    let mut noted: Vec<&str> = Vec::new();
    for r in rows.iter().map(|r| r.record) {
        if !r.uncounted_nodes.is_empty() && !noted.contains(&r.case.as_str()) {
            noted.push(&r.case);
            text += &format!(
                "≥ {}: uncounted {} (counted as 0; MAC/s and B/s are lower bounds)\n",
                r.case, r.uncounted_nodes
            );
        }
    }
    text
}

/// Measured rows as a summary table: terminal or Markdown.
pub struct TableExporter {
    /// Markdown instead of a terminal table.
    pub markdown: bool,
}

impl Exporter for TableExporter {
    fn write(&self, rows: &[Row<'_>], _header: bool, out: &mut dyn Write) -> Result<()> {
        out.write_all(records(rows, self.markdown).as_bytes())
            .map_err(|e| Error::Serialise {
                what: "the summary table",
                message: e.to_string(),
            })
    }
}
