//! The report's "Backends against each other, in interleaved rounds" table: for every case
//! whose backends were measured in interleaved rounds in one run, each backend's latency
//! relative to the fastest one, as the median of the per-round ratios with its bootstrap
//! 95% CI (a drift of the machine cancels within a round).

use std::collections::BTreeMap;

use super::Column;
use super::load::Loaded;
use super::tables::{Table, f};
use crate::measure::paired::paired_ratio;
use crate::record::{Record, RowKey, Status};

/// Run and timestamp, case, device and protocol (dtype, batch, threads).
type Group = (String, String, String, String);

/// The table, when some run measured a case's backends in rounds.
pub(super) fn table(loaded: &Loaded, rows: &[&Record], seed: u64) -> Option<Table> {
    // Rows of one run, case, device and protocol measured together.
    let mut groups: BTreeMap<Group, Vec<(&Record, &Vec<f64>)>> = BTreeMap::new();
    for r in rows
        .iter()
        .copied()
        .filter(|r| r.interleaved && r.status == Status::Ok)
    {
        let Some(samples) = loaded.samples.get(&(r.run_id.clone(), RowKey::of(r))) else {
            continue;
        };
        // Rows sampled in the same rounds share their run id and timestamp (a resumed
        // run's later session has another).
        let group = (
            format!("{} {}", r.run_id, r.timestamp),
            r.case.clone(),
            r.device.to_string(),
            format!("{} {} {}", r.dtype, r.batch, r.threads),
        );
        groups.entry(group).or_default().push((r, samples));
    }
    let mut out_rows = Vec::new();
    for ((_, case, _, _), mut members) in groups {
        if members.len() < 2 {
            continue;
        }
        members.sort_by(|a, b| {
            a.0.median_ms
                .unwrap_or(0.0)
                .total_cmp(&b.0.median_ms.unwrap_or(0.0))
        });
        let (fastest, base) = members[0];
        for (r, samples) in &members[1..] {
            let Some(ratio) = paired_ratio(samples, base, seed) else {
                continue;
            };
            out_rows.push(vec![
                case.clone(),
                Column::of(r).to_string(),
                Column::of(fastest).to_string(),
                format!("{}×", f(ratio.ratio, 3)),
                format!("{}× … {}×", f(ratio.low, 3), f(ratio.high, 3)),
                ratio.rounds.to_string(),
            ]);
        }
    }
    if out_rows.is_empty() {
        return None;
    }
    Some(Table {
        title: "Backends against each other, in interleaved rounds".into(),
        intro: "Each case's backends took their samples in turn (A B C A B C …) in one run, \
                so a drift of the machine falls on every backend of a round alike. Ratio: \
                the median over rounds of the backend's sample time over the fastest \
                backend's in the same round, with its bootstrap 95% CI (from results.jsonl; \
                a backend that stopped earlier pairs only its own rounds)."
            .into(),
        header: ["Case", "Column", "Against", "Ratio", "95% CI", "Rounds"]
            .map(String::from)
            .to_vec(),
        rows: out_rows,
    })
}
