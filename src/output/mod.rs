//! Renders counts and measured rows to text, one file per format. Measured rows go
//! through one small trait, [`Exporter`] (after hyperfine's exporters): the same CSV
//! writer makes `results.csv` as a run goes, `--format csv` and the report's merged CSV;
//! the same JSON-lines writer makes `results.jsonl`.

pub mod csv;
pub mod json;
pub mod layers;
pub mod predict;
pub mod progress;
pub mod table;
pub mod units;

use std::fmt;
use std::io::Write;
use std::str::FromStr;

use crate::count::CaseCount;
use crate::error::{Error, Result};
use crate::record::{OutputDigest, Record};

/// One measured row as exporters see it: the row, its raw samples (per-iteration ms of
/// each sample) and its output's digest, where known.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    /// The row.
    pub record: &'a Record,
    /// Raw samples (empty for failed rows and summaries).
    pub samples_ms: &'a [f64],
    /// The checked output's digest.
    pub output: Option<&'a OutputDigest>,
}

impl<'a> Row<'a> {
    /// A row without samples or digest.
    pub fn bare(record: &'a Record) -> Row<'a> {
        Row {
            record,
            samples_ms: &[],
            output: None,
        }
    }
}

/// One format of measured rows. Streaming formats (CSV, JSON lines) may be called again
/// with more rows for the same file: `header` says whether this call starts the file.
pub trait Exporter {
    /// Writes `rows` to `out`.
    fn write(&self, rows: &[Row<'_>], header: bool, out: &mut dyn Write) -> Result<()>;
}

/// The exporter of `format`.
pub fn exporter(format: Format) -> Box<dyn Exporter> {
    match format {
        Format::Table => Box::new(table::TableExporter { markdown: false }),
        Format::Md => Box::new(table::TableExporter { markdown: true }),
        Format::Csv => Box::new(csv::CsvExporter),
        Format::Json => Box::new(json::JsonExporter),
    }
}

/// `rows` rendered by `exporter` into a string (header included).
pub fn to_string(exporter: &dyn Exporter, rows: &[Row<'_>]) -> Result<String> {
    let mut buf = Vec::new();
    exporter.write(rows, true, &mut buf)?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// Output formats of `count` and of the measured summary on stdout.
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
    let rows: Vec<Row<'_>> = records.iter().map(Row::bare).collect();
    to_string(exporter(format).as_ref(), &rows)
}
