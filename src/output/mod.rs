//! Renders results to text: one file per format, pure functions from data to a string.

pub mod csv;
pub mod json;
pub mod progress;
pub mod table;
pub mod units;

use std::fmt;
use std::str::FromStr;

use crate::count::CaseCount;
use crate::error::{Error, Result};
use crate::record::Record;

/// Output formats of `count` (and later of measured results).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Aligned terminal table.
    #[default]
    Table,
    /// Comma-separated values with raw integers.
    Csv,
    /// JSON array of objects.
    Json,
    /// Markdown table.
    Md,
}

impl Format {
    /// The names accepted by `--format`.
    pub const NAMES: [&'static str; 4] = ["table", "csv", "json", "md"];
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::NAMES[*self as usize])
    }
}

impl FromStr for Format {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "table" => Ok(Format::Table),
            "csv" => Ok(Format::Csv),
            "json" => Ok(Format::Json),
            "md" | "markdown" => Ok(Format::Md),
            _ => Err(Error::unknown("format", s, &Format::NAMES)),
        }
    }
}

/// Renders counts in `format`; `per_layer` adds each case's layer rows.
pub fn render_counts(counts: &[CaseCount], format: Format, per_layer: bool) -> Result<String> {
    match format {
        Format::Table => Ok(table::counts(counts, per_layer, false)),
        Format::Md => Ok(table::counts(counts, per_layer, true)),
        Format::Csv => csv::counts(counts, per_layer),
        Format::Json => json::counts(counts),
    }
}

/// Renders measured rows in `format` (CSV has every column; the table a summary).
pub fn render_records(records: &[Record], format: Format) -> Result<String> {
    match format {
        Format::Table => Ok(table::records(records, false)),
        Format::Md => Ok(table::records(records, true)),
        Format::Csv => csv::records(records),
        Format::Json => json::records(records),
    }
}
