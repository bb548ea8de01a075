//! A network's per-layer profile on one backend, for the terminal: the honesty line, the
//! ten slowest layers, the summary by op type, and the roll-up by module (`--depth`).

use crate::output::progress::duration_ms;
use crate::output::table::{align_numbers, new_table};
use crate::output::units::si;
use crate::profile::LayerSamples;
use crate::profile::summary::{self, Group};
use crate::record::Record;

fn percent(x: Option<f64>) -> String {
    x.map_or("–".into(), |v| format!("{:.1}%", v * 100.0))
}

fn rate(x: Option<f64>) -> String {
    x.map_or("–".into(), |g| format!("{}MAC/s", si(g * 1e9)))
}

fn groups(title: &str, first: &str, groups: &[Group]) -> String {
    let mut t = new_table(
        false,
        &[
            first, "layers", "params", "MACs", "time", "% time", "% MACs", "MAC/s",
        ],
    );
    for g in groups {
        t.add_row(vec![
            g.name.clone(),
            g.count.to_string(),
            si(g.params as f64),
            si(g.macs as f64),
            duration_ms(g.ms),
            percent(Some(g.share_of_time)),
            percent(Some(g.share_of_macs)),
            rate(g.gmacs_per_s),
        ]);
    }
    align_numbers(&mut t, 1);
    format!("{title}\n{t}\n")
}

/// The profile of `record`'s network on its backend, as text.
pub fn render(record: &Record, rows: &[LayerSamples], depth: Option<usize>) -> String {
    let head = format!("    per layer · {} · {}", record.case, record.backend);
    if let [only] = rows
        && only.row.status != "ok"
    {
        return format!("{head}: error: {}\n", only.row.error);
    }
    let network = record.median_ms.unwrap_or(0.0);
    let mut out = format!(
        "{head} · {} passes: {}\n",
        rows.iter().map(|r| r.row.samples).max().unwrap_or(0),
        summary::honesty(rows, network)
    );
    let mut t = new_table(
        false,
        &[
            "slowest layers",
            "op",
            "ran as",
            "median",
            "95% CI",
            "% time",
            "% MACs",
            "MAC/s",
        ],
    );
    for r in summary::slowest(rows, 10) {
        let ci = match (r.median_ms, r.ci95_low_ms, r.ci95_high_ms) {
            (Some(m), Some(lo), Some(hi)) if m > 0.0 => {
                format!("±{:.1}%", (hi - lo) / 2.0 / m * 100.0)
            }
            _ => "–".into(),
        };
        t.add_row(vec![
            r.layer.clone(),
            r.op.clone(),
            r.ran_as.clone(),
            r.median_ms.map_or("–".into(), duration_ms),
            ci,
            percent(r.share_of_time),
            percent(r.share_of_macs),
            rate(r.gmacs_per_s),
        ]);
    }
    align_numbers(&mut t, 3);
    out += &format!("{t}\n");
    out += &groups("by op type", "op", &summary::by_op(rows));
    if let Some(d) = depth {
        out += &groups(
            &format!("by module (depth {d})"),
            "module",
            &summary::modules(rows, d),
        );
    }
    out
}
