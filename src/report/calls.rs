//! The report's "Per call, cold start and memory" table: for each measured row that has
//! them, the per-call latency percentiles (calls timed one by one), the first call after
//! preparation, the preparation itself, the peak memory the case added, and whether the
//! row's confidence interval met the run's target.

use super::Column;
use super::tables::{Table, f};
use crate::record::{Record, Status};

/// A duration in ms (three decimals under 10 ms, one above), or a dash.
fn ms(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| f(v, if v < 10.0 { 3 } else { 1 }))
}

/// The table, when some row has per-call, cold-start or memory figures.
pub(super) fn table(rows: &[&Record]) -> Option<Table> {
    let mut shown: Vec<&Record> = rows
        .iter()
        .copied()
        .filter(|r| r.status == Status::Ok)
        .filter(|r| r.cold_ms.is_some() || r.call_p50_ms.is_some() || r.prepare_ms.is_some())
        .collect();
    if shown.is_empty() {
        return None;
    }
    shown.sort_by(|a, b| (&a.case, Column::of(a)).cmp(&(&b.case, Column::of(b))));
    let out_rows = shown
        .iter()
        .map(|r| {
            let ci = r
                .ci_half_width()
                .map_or("–".into(), |h| format!("±{:.1}%", h * 100.0));
            vec![
                r.case.clone(),
                Column::of(r).to_string(),
                ms(r.median_ms),
                ci,
                match r.ci_target_met {
                    Some(true) => "yes".into(),
                    Some(false) => "no †".into(),
                    None => "–".into(),
                },
                ms(r.call_p50_ms),
                ms(r.call_p90_ms),
                ms(r.call_p99_ms),
                ms(r.call_max_ms),
                ms(r.cold_ms),
                ms(r.prepare_ms),
                r.peak_rss_added_mib.map_or("–".into(), |m| f(m, 1)),
            ]
        })
        .collect();
    Some(Table {
        title: "Per call, cold start and memory".into(),
        intro: "Per batch, in ms. The median and its 95% CI are over samples (each the mean \
                of its calls); p50/p90/p99/max are over the timed calls one by one (calls of \
                at least 50 µs; shorter ones show –). Cold: the first call after \
                preparation (lazy initialisation, allocation, autotuning). Prepare: \
                building or loading the graph, optimising it, creating the session. +RSS: \
                the peak resident memory the case added (MiB; memory an allocator kept from \
                earlier cases is not counted again). \"no †\": sampling stopped (at its time \
                cap, or after --runs samples) with the CI wider than the run's target; such \
                rows carry † in every table."
            .into(),
        header: [
            "Case",
            "Column",
            "Median",
            "95% CI",
            "CI target met",
            "p50 call",
            "p90 call",
            "p99 call",
            "max call",
            "Cold",
            "Prepare",
            "+RSS MiB",
        ]
        .map(String::from)
        .to_vec(),
        rows: out_rows,
    })
}
