//! `flopsbench compare`: did it get faster? Two sets of rows (two runs, two backends, two
//! devices, two precisions or two models) matched by configuration, each matched pair's
//! NEW / BASE ratio with its bootstrap 95% CI and a verdict against a noise band
//! ([`change`]), rows found on one side only listed, and where both sides were profiled
//! layer by layer, the per-layer diff ([`layers`]).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::record::{Record, RowKey, Status};
use crate::report::load::Loaded;

pub mod change;
pub mod layers;
pub mod render;

pub use change::{Change, NOISE_PAIRED, NOISE_SEPARATE, Verdict};

/// The one field two matched rows may differ in (`--across`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Field {
    /// The case: two models, two networks, two operator stacks.
    Case,
    /// The backend.
    Backend,
    /// The device.
    Device,
    /// The element type.
    Dtype,
}

impl Field {
    /// The name on the command line and in files.
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Case => "case",
            Field::Backend => "backend",
            Field::Device => "device",
            Field::Dtype => "dtype",
        }
    }

    fn of(self, r: &Record) -> String {
        match self {
            Field::Case => r.case.clone(),
            Field::Backend => r.backend.clone(),
            Field::Device => r.device.to_string(),
            Field::Dtype => r.dtype.to_string(),
        }
    }
}

/// `--across FIELD[=BASE,NEW]`: the field allowed to differ, and optionally the value each
/// side keeps (so that one folder can be compared with itself: two backends of one run).
#[derive(Debug, Clone, PartialEq)]
pub struct Across {
    /// The field.
    pub field: Field,
    /// BASE's value and NEW's.
    pub values: Option<(String, String)>,
}

/// How to compare.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Options {
    /// The field allowed to differ (none: rows match on every field).
    pub across: Option<Across>,
    /// The noise band, a fraction (`None`: 5% for separate runs, 1% for paired rounds).
    pub noise: Option<f64>,
    /// Seed of the bootstrap.
    pub seed: u64,
    /// The cases of one run were measured in the same rounds (compare's own A/B runs), so
    /// rows of one run that differ in case are paired.
    pub cases_share_rounds: bool,
}

/// A matched pair of rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Pair {
    /// BASE's row.
    pub base: Record,
    /// NEW's row.
    pub new: Record,
    /// NEW / BASE with its CI, from both rows' samples (`None` without samples on a side,
    /// or when a row did not run).
    pub change: Option<Change>,
    /// The noise band the verdict used.
    pub noise: f64,
    /// Improved, regressed or unchanged (`None` without a change or across protocols).
    pub verdict: Option<Verdict>,
    /// What the reader must know: why there is no verdict, or what differs beside the
    /// compared field (another model file, another protocol).
    pub note: String,
}

impl Pair {
    /// NEW's median / BASE's, when both rows have one.
    pub fn ratio_of_medians(&self) -> Option<f64> {
        Some(self.new.median_ms? / self.base.median_ms?)
    }
}

/// Everything `compare` found.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The matched pairs, in BASE's order.
    pub pairs: Vec<Pair>,
    /// BASE's rows without a match.
    pub only_base: Vec<Record>,
    /// NEW's rows without a match.
    pub only_new: Vec<Record>,
    /// Per-layer diffs of the pairs both of whose rows were profiled.
    pub layers: Vec<layers::Diff>,
    /// The field allowed to differ.
    pub across: Option<Field>,
    /// Rows of BASE and NEW that match but for their protocols, not compared.
    pub refused: Vec<String>,
}

impl Comparison {
    /// The pairs that regressed by more than `threshold` (a fraction) with the whole CI
    /// beyond it.
    pub fn regressions_beyond(&self, threshold: f64) -> Vec<&Pair> {
        self.pairs
            .iter()
            .filter(|p| p.verdict.is_some())
            .filter(|p| p.change.is_some_and(|c| c.low > 1.0 + threshold))
            .collect()
    }
}

/// The key rows are matched by: every field of the row's identity but `across`, and its
/// protocol ([`protocol`]); a model file's case without its digest, so that an edited
/// file matches its earlier version.
type MatchKey = (RowKey, String);

fn match_key(r: &Record, across: Option<Field>) -> MatchKey {
    let mut k = RowKey::of(r);
    if let Some(digest) = r.model_sha256.get(..12) {
        k.case = k.case.replacen(&format!("-{digest}"), "", 1);
    }
    match across {
        Some(Field::Case) => k.case.clear(),
        Some(Field::Backend) => k.backend.clear(),
        Some(Field::Device) => k.device = crate::device::DeviceSpec::Cpu,
        Some(Field::Dtype) => k.dtype = crate::spec::Dtype::F32,
        None => {}
    }
    (k, protocol(r))
}

/// What besides its key says how a row was measured: rows under two protocols are not
/// compared.
fn protocol(r: &Record) -> String {
    format!(
        "convention {}, BN {}, {}PConv forward {}{}",
        r.convention,
        if r.fused_bn { "folded" } else { "kept" },
        if r.emulated { "emulated, " } else { "" },
        if r.pconv_impl.is_empty() {
            "–"
        } else {
            &r.pconv_impl
        },
        if r.l2_flush { ", caches flushed" } else { "" }
    )
}

/// What differs between two matched rows beside their key and protocol (a model file's
/// input resolution is not in its case id): a pair so labelled gets no verdict.
fn protocol_differences(a: &Record, b: &Record) -> Vec<String> {
    match (a.resolution, b.resolution) {
        (Some(x), Some(y)) if x != y => vec![format!("resolution {x} vs {y}")],
        _ => Vec::new(),
    }
}

/// The rows of one side: every row, or those whose `across` field has the side's value.
fn side<'a>(
    loaded: &'a Loaded,
    across: Option<&Across>,
    new: bool,
    arg: &str,
) -> Result<Vec<&'a Record>> {
    let rows: Vec<&Record> = match across.and_then(|a| a.values.as_ref().map(|v| (a.field, v))) {
        Some((field, (b, n))) => {
            let want = if new { n } else { b };
            let rows: Vec<&Record> = loaded
                .records
                .iter()
                .filter(|r| &field.of(r) == want)
                .collect();
            if rows.is_empty() {
                let mut seen: Vec<String> = loaded.records.iter().map(|r| field.of(r)).collect();
                seen.sort();
                seen.dedup();
                return Err(Error::flag(
                    "--across",
                    format!(
                        "{arg} has no row with {} {want} (it has {})",
                        field.as_str(),
                        seen.join(", ")
                    ),
                ));
            }
            rows
        }
        None => loaded.records.iter().collect(),
    };
    Ok(rows)
}

/// Compares NEW's rows with BASE's.
pub fn compare(base: &Loaded, new: &Loaded, options: &Options) -> Result<Comparison> {
    let field = options.across.as_ref().map(|a| a.field);
    let base_rows = side(base, options.across.as_ref(), false, "BASE")?;
    let new_rows = side(new, options.across.as_ref(), true, "NEW")?;
    let index = |rows: &[&Record], arg: &str| -> Result<BTreeMap<MatchKey, usize>> {
        let mut map = BTreeMap::new();
        for (i, r) in rows.iter().enumerate() {
            if let Some(j) = map.insert(match_key(r, field), i) {
                return Err(ambiguous(arg, rows[j], r, field));
            }
        }
        Ok(map)
    };
    let (base_index, new_index) = (index(&base_rows, "BASE")?, index(&new_rows, "NEW")?);
    let mut pairs = Vec::new();
    let mut only_base = Vec::new();
    for r in &base_rows {
        match new_index.get(&match_key(r, field)) {
            Some(&j) => pairs.push(pair(base, new, r, new_rows[j], options)),
            None => only_base.push((*r).clone()),
        }
    }
    let only_new: Vec<Record> = new_rows
        .iter()
        .filter(|r| !base_index.contains_key(&match_key(r, field)))
        .map(|r| (*r).clone())
        .collect();
    // Rows that would match but for their protocols: named, never compared.
    let refused: Vec<String> = only_base
        .iter()
        .filter_map(|b| {
            let n = only_new
                .iter()
                .find(|n| match_key(n, field).0 == match_key(b, field).0)?;
            Some(format!(
                "{} · {} · {}: not compared, protocols differ (BASE {}; NEW {})",
                b.case,
                b.backend,
                b.device,
                protocol(b),
                protocol(n)
            ))
        })
        .collect();
    if base_rows.is_empty() || new_rows.is_empty() {
        let side = if base_rows.is_empty() { "BASE" } else { "NEW" };
        return Err(Error::flag(
            side,
            "holds no result rows (a folder with only a comparison in it?): give a run folder or a results CSV",
        ));
    }
    if pairs.is_empty() {
        let fields = match field {
            Some(f) => format!("every field of a row but {}", f.as_str()),
            None => "case, backend, device, dtype, batch, threads and protocol".into(),
        };
        return Err(Error::flag(
            "NEW",
            format!(
                "BASE and NEW have no row in common ({} rows and {}; rows match on {fields}); \
                 to compare two backends, devices, precisions or models, name the one that \
                 differs with --across{}",
                base_rows.len(),
                new_rows.len(),
                match refused.first() {
                    Some(first) if refused.len() > 1 => {
                        format!("; {first}, and {} more such rows", refused.len() - 1)
                    }
                    Some(first) => format!("; {first}"),
                    None => String::new(),
                }
            ),
        ));
    }
    let layers = pairs
        .iter()
        .filter_map(|p| layers::diff(p, base, new, options))
        .collect();
    Ok(Comparison {
        pairs,
        only_base,
        only_new,
        layers,
        across: field,
        refused,
    })
}

fn ambiguous(arg: &str, a: &Record, b: &Record, field: Option<Field>) -> Error {
    let differ = match field {
        Some(f) => format!(
            " differing only in {} ({} and {})",
            f.as_str(),
            f.of(a),
            f.of(b)
        ),
        None => format!(
            " of case {} (two runs: {} and {})",
            a.case, a.run_id, b.run_id
        ),
    };
    Error::flag(
        arg,
        format!(
            "has two rows that match the same row of the other side{differ} on {} · {}; \
             give one run folder per side, or pick a value per side with --across FIELD=BASE,NEW",
            a.backend, a.device
        ),
    )
}

fn samples<'a>(l: &'a Loaded, r: &Record) -> Option<&'a Vec<f64>> {
    l.samples.get(&(r.run_id.clone(), RowKey::of(r)))
}

/// Two rows' change: paired when they share a run and were measured in rounds.
fn pair(base: &Loaded, new: &Loaded, b: &Record, n: &Record, options: &Options) -> Pair {
    // Sample i of each was taken in round i: the case's backends share rounds, and so do
    // compare's own A and B.
    // (A resumed run's later session has another timestamp.)
    let paired = b.run_id == n.run_id
        && b.timestamp == n.timestamp
        && b.interleaved
        && n.interleaved
        && (b.case == n.case || options.cases_share_rounds)
        && b.device == n.device
        && b.dtype == n.dtype;
    let noise = options
        .noise
        .unwrap_or(if paired { NOISE_PAIRED } else { NOISE_SEPARATE });
    let mut notes = Vec::new();
    let differences = protocol_differences(b, n);
    if !differences.is_empty() {
        notes.push(format!(
            "protocols differ ({}): no verdict",
            differences.join(", ")
        ));
    }
    let across_cases = options
        .across
        .as_ref()
        .is_some_and(|a| a.field == Field::Case);
    if b.model_sha256 != n.model_sha256
        && !across_cases
        && !b.model_sha256.is_empty()
        && !n.model_sha256.is_empty()
    {
        let short = |d: &str| d.get(..8).unwrap_or(d).to_string();
        notes.push(format!(
            "model files differ (sha256 {}… vs {}…)",
            short(&b.model_sha256),
            short(&n.model_sha256)
        ));
    }
    let ran = b.status == Status::Ok && n.status == Status::Ok;
    let change = match (ran, samples(base, b), samples(new, n)) {
        (false, ..) => {
            let which = if b.status != Status::Ok { b } else { n };
            notes.push(format!(
                "{} on {}: {}",
                which.status.as_str(),
                which.backend,
                which.error
            ));
            None
        }
        (true, Some(x), Some(y)) => {
            let c = if paired {
                Change::paired(x, y, options.seed)
            } else {
                Change::unpaired(x, y, options.seed)
            };
            if c.is_none() {
                notes.push(
                    "no ratio from the samples (no common round, or a non-positive sample)".into(),
                );
            }
            c
        }
        (true, ..) => {
            notes.push("no samples (results.jsonl): ratio of medians, no verdict".into());
            None
        }
    };
    let verdict = change
        .filter(|_| differences.is_empty())
        .map(|c| c.verdict(noise));
    Pair {
        base: b.clone(),
        new: n.clone(),
        change,
        noise,
        verdict,
        note: notes.join("; "),
    }
}
