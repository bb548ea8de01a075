//! JSON rendering: a pretty-printed array with one object per case, and JSON lines.

use std::io::Write;

use crate::count::CaseCount;
use crate::error::{Error, Result};
use crate::output::{Exporter, Row};
use crate::record::{OutputDigest, Record};

/// Counts as a JSON array (per-layer rows included when they were computed).
pub fn counts(counts: &[CaseCount]) -> Result<String> {
    serde_json::to_string_pretty(counts)
        .map(|s| s + "\n")
        .map_err(|e| Error::Serialise {
            what: "counts",
            message: e.to_string(),
        })
}

/// Measured rows as a pretty-printed JSON array (without samples).
pub struct JsonExporter;

impl Exporter for JsonExporter {
    fn write(&self, rows: &[Row<'_>], _header: bool, out: &mut dyn Write) -> Result<()> {
        let records: Vec<&Record> = rows.iter().map(|r| r.record).collect();
        let text = serde_json::to_string_pretty(&records).map_err(|e| Error::Serialise {
            what: "records",
            message: e.to_string(),
        })?;
        writeln!(out, "{text}").map_err(|e| Error::Serialise {
            what: "records",
            message: e.to_string(),
        })
    }
}

/// One JSON object per line: each row with its raw samples and output digest (the lines
/// of results.jsonl).
pub struct JsonLinesExporter;

/// A line of results.jsonl (the fields of [`crate::record::RecordWithSamples`]).
#[derive(serde::Serialize)]
struct Line<'a> {
    #[serde(flatten)]
    record: &'a Record,
    samples_ms: &'a [f64],
    #[serde(skip_serializing_if = "Option::is_none")]
    output: Option<&'a OutputDigest>,
}

impl Exporter for JsonLinesExporter {
    fn write(&self, rows: &[Row<'_>], _header: bool, out: &mut dyn Write) -> Result<()> {
        for r in rows {
            let line = serde_json::to_string(&Line {
                record: r.record,
                samples_ms: r.samples_ms,
                output: r.output,
            })
            .map_err(|e| Error::Serialise {
                what: "a results.jsonl row",
                message: e.to_string(),
            })?;
            writeln!(out, "{line}").map_err(|e| Error::Serialise {
                what: "a results.jsonl row",
                message: e.to_string(),
            })?;
        }
        out.flush().map_err(|e| Error::Serialise {
            what: "a results.jsonl row",
            message: e.to_string(),
        })
    }
}
