//! `flopsbench report`: merges result folders and CSVs from any hosts, devices and
//! backends into one `results.csv`, `report.md` (the paper's tables beside the
//! measurement), SVG charts and one self-contained `report.html`.
//!
//! Data flow: `load` (rows + meta) → `select` (which rows are the paper's) → `tables`
//! (neutral tables) and `charts` (SVG strings) → `markdown` / `html` renderers → files
//! written atomically.

mod calls;
pub mod ceilings;
mod charts;
pub mod comparison;
pub mod html;
pub mod layers;
pub mod load;
pub mod markdown;
pub mod models;
mod paired;
pub mod precision;
pub mod predicted;
mod ratios;
pub mod roofline;
pub mod select;
pub mod tables;

use std::fmt;
use std::path::{Path, PathBuf};

use crate::device::DeviceSpec;
use crate::error::{Error, Result};
use crate::output::Row;
use crate::output::csv::CsvExporter;
use crate::record::{Record, Status};
use crate::spec::Dtype;

/// What `report` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ReportFormat {
    /// `report.md`.
    Md,
    /// The merged `results.csv`.
    Csv,
    /// The charts, one `.svg` each.
    Svg,
    /// `report.html` (tables and inline charts).
    Html,
}

/// The configuration of `flopsbench report`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportConfig {
    /// Result folders and CSV files.
    pub inputs: Vec<PathBuf>,
    /// Output folder.
    pub out: PathBuf,
    /// What to write (all by default).
    pub formats: Vec<ReportFormat>,
    /// Draw rows measured under an emulator in charts too.
    pub include_emulated: bool,
}

/// Where the rows of one column of a table come from: a backend on a device of a host,
/// under one protocol. Rows measured under the paper's protocol for their device (CPU/ARM:
/// 1 thread, batch 1; GPU: batch 32; the authors' split-cat PConv; f32; warm caches) share
/// the plain column; any other thread count, batch, PConv forward, dtype or a cache flush
/// gets its own, labelled.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Column {
    /// Host name.
    pub host: String,
    /// Device (`cpu`, `cuda:0`, `arm`).
    pub device: DeviceSpec,
    /// Backend.
    pub backend: String,
    /// Element type.
    pub dtype: Dtype,
    /// Architecture of the device's host.
    pub arch: String,
    /// Measured under an emulator.
    pub emulated: bool,
    /// Threads, when not the paper's for the device.
    pub threads: Option<usize>,
    /// Batch, when not the paper's for the device.
    pub batch: Option<usize>,
    /// PConv run by slicing instead of the authors' split-cat.
    pub slicing: bool,
    /// The timed runs include host↔device copies (ort on a GPU), which the paper's do not.
    pub copies: bool,
    /// BatchNorm kept as its own layer (`--no-fuse-bn`) instead of folded, as the paper.
    pub unfused: bool,
    /// The dtype's graph ran in f32 on quantized values (tract's int8: `computed` says
    /// `QDQ simulated`), not in the dtype's own arithmetic.
    pub simulated: bool,
    /// The caches were flushed before every timed call (`--l2-flush`: cold caches; the
    /// paper's figures are warm).
    pub cold: bool,
}

impl Column {
    /// The column of a row.
    pub fn of(r: &Record) -> Column {
        let (paper_batch, paper_threads) = r.device.paper_protocol();
        Column {
            host: r.host.clone(),
            device: r.device.clone(),
            backend: r.backend.clone(),
            dtype: r.dtype,
            arch: r.arch.clone(),
            emulated: r.emulated,
            threads: (r.threads != paper_threads).then_some(r.threads),
            batch: (r.batch != paper_batch).then_some(r.batch),
            slicing: r.pconv_impl == "slicing",
            // (older files said "input copied from host each run")
            copies: r.detail.contains("host↔device copies")
                || r.detail.contains("copied from host each run"),
            unfused: !r.fused_bn,
            simulated: r.computed.contains("QDQ simulated"),
            cold: r.l2_flush,
        }
    }

    /// The column of a row without its protocol: the backend on the device, for cases
    /// whose ids already say their threads and batch (`peak`).
    pub fn device_of(r: &Record) -> Column {
        Column {
            threads: None,
            batch: None,
            slicing: false,
            copies: false,
            unfused: false,
            ..Column::of(r)
        }
    }

    /// Whether this column is a GPU (reported as throughput, like the paper).
    pub fn is_gpu(&self) -> bool {
        matches!(self.device, DeviceSpec::Cuda(_))
    }

    /// The paper's device this column is compared with.
    pub fn paper_device(&self) -> &'static str {
        if self.is_gpu() {
            "GPU"
        } else if self.device == DeviceSpec::Arm || self.arch == "aarch64" {
            "ARM"
        } else {
            "CPU"
        }
    }
}

impl Column {
    /// What columns sort by: the names as written in files (so `arm` < `cpu`), the dtype
    /// from the most precise (f32, f16, bf16, int8), then the protocol (the paper's
    /// first).
    #[allow(clippy::type_complexity)]
    fn sort_key(
        &self,
    ) -> (
        &str,
        String,
        &str,
        Dtype,
        bool,
        &str,
        bool,
        Option<usize>,
        Option<usize>,
        (bool, bool, bool, bool),
    ) {
        (
            &self.host,
            self.device.to_string(),
            &self.backend,
            self.dtype,
            self.simulated,
            &self.arch,
            self.emulated,
            self.threads,
            self.batch,
            (self.slicing, self.copies, self.unfused, self.cold),
        )
    }
}

impl PartialOrd for Column {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Column {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.sort_key().cmp(&other.sort_key())
    }
}

impl fmt::Display for Column {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} · {} @ {}", self.backend, self.device, self.host)?;
        match (self.dtype, self.simulated) {
            (Dtype::F32, _) => {}
            (d, true) => write!(f, " ({d} simulated in f32)")?,
            (d, false) => write!(f, " ({d})")?,
        }
        match self.threads {
            Some(1) => f.write_str(" (1 thread)")?,
            Some(t) => write!(f, " ({t} threads)")?,
            None => {}
        }
        if let Some(b) = self.batch {
            write!(f, " (batch {b})")?;
        }
        if self.slicing {
            f.write_str(" (PConv slicing)")?;
        }
        if self.copies {
            f.write_str(" (incl. host↔device copies)")?;
        }
        if self.unfused {
            f.write_str(" (BN unfused)")?;
        }
        if self.cold {
            f.write_str(" (caches flushed)")?;
        }
        if self.emulated {
            f.write_str(" (emulated)")?;
        }
        Ok(())
    }
}

/// The measured rows the report uses: ok rows, emulated ones only when asked for.
pub fn usable(records: &[Record], include_emulated: bool) -> Vec<&Record> {
    records
        .iter()
        .filter(|r| r.status == Status::Ok && r.median_ms.is_some())
        .filter(|r| include_emulated || !r.emulated)
        .collect()
}

/// The distinct columns of `rows`, sorted.
pub fn columns(rows: &[&Record]) -> Vec<Column> {
    let mut c: Vec<Column> = rows.iter().map(|r| Column::of(r)).collect();
    c.sort();
    c.dedup();
    c
}

/// Writes `text` to `dir/name` atomically (a temporary file renamed into place).
fn write_file(dir: &Path, name: &str, text: &str) -> Result<PathBuf> {
    let path = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, text)
        .and_then(|_| std::fs::rename(&tmp, &path))
        .map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
    Ok(path)
}

fn merged_csv(records: &[Record]) -> Result<String> {
    let rows: Vec<Row<'_>> = records.iter().map(Row::bare).collect();
    crate::output::to_string(&CsvExporter, &rows)
}

/// Reads the inputs and writes the report; returns the files written. Nothing is written
/// when an input is malformed.
pub fn run(config: &ReportConfig) -> Result<Vec<PathBuf>> {
    let loaded = load::load(&config.inputs)?;
    let all = |f| config.formats.is_empty() || config.formats.contains(&f);
    let mut tables = tables::build(&loaded, config.include_emulated);
    // The per-layer sections before the provenance table, which stays last.
    let at = tables.len().saturating_sub(1);
    tables.splice(
        at..at,
        layers::tables(&loaded.layers, &loaded.records, config.include_emulated),
    );
    // The predictors learn from the rows the report shows (emulated ones when asked for).
    let shown: Vec<crate::record::Record> = loaded
        .records
        .iter()
        .filter(|r| config.include_emulated || !r.emulated)
        .cloned()
        .collect();
    let at = tables.len().saturating_sub(1);
    tables.splice(at..at, predicted::tables(&shown, &loaded.layers));
    let at = tables.len().saturating_sub(1);
    tables.splice(at..at, comparison::tables(&loaded.comparisons));
    let mut charts = charts::build(&loaded.records, config.include_emulated)?;
    charts.extend(roofline::charts(&loaded.records, config.include_emulated)?);
    charts.extend(charts::sweeps(&loaded.records, config.include_emulated)?);
    charts.extend(precision::charts(&usable(
        &loaded.records,
        config.include_emulated,
    ))?);
    charts.extend(layers::charts(
        &loaded.layers,
        &loaded.records,
        config.include_emulated,
    )?);
    charts.extend(predicted::charts(&shown, &loaded.layers)?);
    charts.extend(comparison::charts(&loaded.comparisons)?);
    crate::results::prepare_dir(&config.out)
        .map_err(|_| Error::flag("-o", format!("cannot write to {}", config.out.display())))?;
    let mut written = Vec::new();
    if all(ReportFormat::Csv) {
        written.push(write_file(
            &config.out,
            "results.csv",
            &merged_csv(&loaded.records)?,
        )?);
    }
    if all(ReportFormat::Md) {
        written.push(write_file(
            &config.out,
            "report.md",
            // Chart links only where the charts are written too.
            &markdown::markdown(&tables, if all(ReportFormat::Svg) { &charts } else { &[] }),
        )?);
    }
    if all(ReportFormat::Svg) {
        for chart in &charts {
            written.push(write_file(&config.out, &chart.file, &chart.svg)?);
        }
    }
    if all(ReportFormat::Html) {
        written.push(write_file(
            &config.out,
            "report.html",
            &html::page(&tables, &charts),
        )?);
    }
    Ok(written)
}
