//! JSON rendering: a pretty-printed array with one object per case.

use crate::count::CaseCount;
use crate::error::{Error, Result};
use crate::record::Record;

/// Counts as a JSON array (per-layer rows included when they were computed).
pub fn counts(counts: &[CaseCount]) -> Result<String> {
    serde_json::to_string_pretty(counts)
        .map(|s| s + "\n")
        .map_err(|e| Error::Serialise {
            what: "counts",
            message: e.to_string(),
        })
}

/// Measured rows as a JSON array.
pub fn records(records: &[Record]) -> Result<String> {
    serde_json::to_string_pretty(records)
        .map(|s| s + "\n")
        .map_err(|e| Error::Serialise {
            what: "records",
            message: e.to_string(),
        })
}
