//! The report's "PConv / DWConv achieved FLOPS" table: per column of Table 1, the mean
//! achieved FLOPS of the PConv rows over that of the DWConv rows (the paper's finding),
//! with a bootstrap 95% CI from the rows' own samples — paired round by round when each
//! feature map's PConv and DWConv rows were measured in the same interleaved rounds —,
//! PConv as a share of Conv, and the paper's ratio.

use super::load::Loaded;
use super::select::{is_table1, pick};
use super::tables::{Table, mean, paper_ratios};
use super::{Column, columns};
use crate::measure::rates::{Rated, RatioCi, paired_ratio_of_mean_rates, ratio_of_mean_rates};
use crate::record::{Record, RowKey};
use crate::spec::{OpKind, PAPER_SHAPES};

/// The rows of `kind` standing for column `c` (one per feature map measured).
fn rows_of<'a>(
    by: &std::collections::BTreeMap<(Column, String), &'a Record>,
    c: &Column,
    kind: OpKind,
) -> Vec<&'a Record> {
    by.iter()
        .filter(|((col, _), r)| col == c && r.kind == kind)
        .filter(|(_, r)| PAPER_SHAPES.iter().any(|s| s.to_string() == r.shape))
        .map(|(_, r)| *r)
        .collect()
}

fn mean_rate(rows: &[&Record]) -> Option<f64> {
    mean(
        &rows
            .iter()
            .filter_map(|r| r.gmacs_per_s)
            .collect::<Vec<_>>(),
    )
}

/// The feature maps' (PConv, DWConv) pairs, when every PConv row has a DWConv row of its
/// shape measured in the same interleaved rounds (same run and timestamp), and vice versa.
fn in_rounds<'a>(
    pconv: &[&'a Record],
    dwconv: &[&'a Record],
) -> Option<Vec<(&'a Record, &'a Record)>> {
    if pconv.len() != dwconv.len() {
        return None;
    }
    pconv
        .iter()
        .map(|p| {
            let d = dwconv.iter().find(|d| d.shape == p.shape)?;
            let together = p.interleaved
                && d.interleaved
                && (&p.run_id, &p.timestamp) == (&d.run_id, &d.timestamp);
            together.then_some((*p, *d))
        })
        .collect()
}

/// A row's multiply-adds and samples (from results.jsonl), when it has samples.
fn rated<'a>(loaded: &'a Loaded, r: &Record) -> Option<Rated<'a>> {
    let samples = loaded.samples.get(&(r.run_id.clone(), RowKey::of(r)))?;
    Some(Rated {
        work: r.macs as f64,
        samples,
    })
}

fn paired_ci(loaded: &Loaded, pairs: &[(&Record, &Record)], seed: u64) -> Option<RatioCi> {
    let rated: Option<Vec<_>> = pairs
        .iter()
        .map(|(p, d)| Some((rated(loaded, p)?, rated(loaded, d)?)))
        .collect();
    paired_ratio_of_mean_rates(&rated?, seed)
}

fn unpaired_ci(loaded: &Loaded, a: &[&Record], b: &[&Record], seed: u64) -> Option<RatioCi> {
    let all = |rows: &[&Record]| -> Option<Vec<Rated<'_>>> {
        rows.iter().map(|r| rated(loaded, r)).collect()
    };
    ratio_of_mean_rates(&all(a)?, &all(b)?, seed)
}

/// The table, when some column has both PConv and DWConv rows.
pub(super) fn table(loaded: &Loaded, rows: &[&Record], seed: u64) -> Option<Table> {
    let t1: Vec<&Record> = rows.iter().copied().filter(|r| is_table1(r)).collect();
    let by = pick(&t1);
    let paper = paper_ratios();
    let mut out_rows = Vec::new();
    for c in columns(&t1) {
        let (pconv, dwconv) = (
            rows_of(&by, &c, OpKind::Pconv),
            rows_of(&by, &c, OpKind::Dwconv),
        );
        let (Some(p), Some(d)) = (mean_rate(&pconv), mean_rate(&dwconv)) else {
            continue;
        };
        // In rounds, the ratio is the one the paired CI is about: over the common rounds.
        let (ci, how, ratio) = match in_rounds(&pconv, &dwconv) {
            Some(pairs) => {
                let ci = paired_ci(loaded, &pairs, seed);
                (ci, "in rounds", ci.map_or(p / d, |r| r.ratio))
            }
            None => {
                let ci = unpaired_ci(loaded, &pconv, &dwconv, seed);
                (ci, "one after another", p / d)
            }
        };
        let ci = ci.map_or("–".to_string(), |r| {
            format!("[{:.2}, {:.2}]", r.low, r.high)
        });
        let conv = mean_rate(&rows_of(&by, &c, OpKind::Conv))
            .map_or("–".into(), |v| format!("{:.0}%", p / v * 100.0));
        let paper = paper
            .get(c.paper_device())
            .map_or("–".into(), |r| format!("{r:.1}× ({})", c.paper_device()));
        out_rows.push(vec![
            c.to_string(),
            format!("{ratio:.2}×"),
            ci,
            how.into(),
            conv,
            paper,
        ]);
    }
    (!out_rows.is_empty()).then(|| Table {
        title: "PConv / DWConv achieved FLOPS".into(),
        intro: "The paper's finding: PConv has fewer FLOPs than Conv but keeps its FLOPS \
                high, while DWConv's FLOPS collapse. Ratios of the per-operator averages; \
                the 95% CI is a seeded bootstrap over the rows' own samples (from \
                results.jsonl; – without them). Sampled: in rounds when each feature \
                map's PConv and DWConv rows took their samples in the same interleaved \
                rounds — the ratio and its CI are then taken over the rounds both rows \
                sampled in, and the bootstrap draws the same rounds for both, so a drift \
                of the machine cancels; one after another otherwise (the rows' own \
                rates, each row resampled on its own: the CI covers their sampling \
                noise, not a drift between them)."
            .into(),
        header: vec![
            "Column".into(),
            "PConv / DWConv".into(),
            "95% CI".into(),
            "Sampled".into(),
            "PConv as % of Conv".into(),
            "Paper".into(),
        ],
        rows: out_rows,
    })
}
