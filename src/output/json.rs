//! JSON rendering: a pretty-printed array with one object per case.

use crate::count::CaseCount;
use crate::error::{Error, Result};

/// Counts as a JSON array (per-layer rows included when they were computed).
pub fn counts(counts: &[CaseCount]) -> Result<String> {
    serde_json::to_string_pretty(counts)
        .map(|s| s + "\n")
        .map_err(|e| Error::Serialise {
            what: "counts",
            message: e.to_string(),
        })
}
