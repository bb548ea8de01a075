//! Reads `report`'s inputs: result folders (their `results.csv` and `meta.json`) and CSV
//! files, from any host, device, backend or run. Rows are checked column by column; a
//! file that cannot be read is refused naming the file, the line and the column.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::profile::LayerRow;
use crate::record::{Record, RowKey};

/// The columns a row needs for `report`: every column of results.csv but the newest ones
/// (a file without one is refused, naming it, rather than showing empty cells or failing
/// on a row). `gbytes_per_s` is computed from `mem_bytes` and `median_ms` where absent;
/// without `mem_bytes_graph` the roofline uses `mem_bytes`; without `model_path`,
/// `model_sha256` and `uncounted_nodes` a row is not a model file's.
pub const REQUIRED_COLUMNS: [&str; 49] = [
    "run_id",
    "timestamp",
    "host",
    "device",
    "device_model",
    "arch",
    "emulated",
    "backend",
    "backend_version",
    "case",
    "kind",
    "name",
    "shape",
    "layers",
    "ratio",
    "groups",
    "kernel",
    "stride",
    "batch",
    "dtype",
    "threads",
    "fused_bn",
    "macs",
    "flops",
    "params",
    "mem_bytes",
    "warmup_iters",
    "samples",
    "iters_per_sample",
    "median_ms",
    "mean_ms",
    "stddev_ms",
    "ci95_low_ms",
    "ci95_high_ms",
    "min_ms",
    "max_ms",
    "outliers",
    "throughput_per_s",
    "gmacs_per_s",
    "gflops_per_s",
    "max_abs_err",
    "status",
    "error",
    "convention",
    "resolution",
    "pconv_impl",
    "reference",
    "detail",
    "overhead_ns",
];

/// What `meta.json` says about a run (the fields the report shows).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct RunMeta {
    /// The run.
    #[serde(default)]
    pub run_id: String,
    /// When it started.
    #[serde(default)]
    pub started: String,
    /// Host name.
    #[serde(default)]
    pub host: String,
    /// Operating system.
    #[serde(default)]
    pub os: String,
    /// CPU model.
    #[serde(default)]
    pub cpu_model: String,
    /// flopsbench version.
    #[serde(default)]
    pub flopsbench_version: String,
    /// Git commit of the binary.
    #[serde(default)]
    pub git_commit: String,
    /// Architecture.
    #[serde(default)]
    pub arch: String,
    /// Logical CPU cores.
    #[serde(default)]
    pub logical_cores: usize,
    /// GPUs seen.
    #[serde(default)]
    pub gpus: Vec<String>,
    /// (backend, version) pairs.
    #[serde(default)]
    pub backends: Vec<(String, String)>,
    /// How a remote or emulated device was reached.
    #[serde(default)]
    pub via: Option<String>,
    /// Whether its device was emulated.
    #[serde(default)]
    pub emulated: bool,
    /// The theoretical compute peaks it derived (where the clock was known).
    #[serde(default)]
    pub theoretical_peaks: Vec<crate::roofs::theory::Theoretical>,
}

/// Everything read from the inputs.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// Rows, merged and deduplicated, in input order.
    pub records: Vec<Record>,
    /// Runs' metadata by run id (from meta.json where present).
    pub runs: BTreeMap<String, RunMeta>,
    /// Rows dropped as duplicates.
    pub duplicates: usize,
    /// Per-layer profiles (each result folder's `layers.csv`), deduplicated.
    pub layers: Vec<LayerRow>,
    /// The raw samples of the rows (from each result folder's `results.jsonl`), by run and
    /// row key; for rows measured in interleaved rounds, sample i was taken in round i.
    pub samples: BTreeMap<(String, RowKey), Vec<f64>>,
    /// The per-pass times of the profiled layers (each result folder's `layers.jsonl`),
    /// by [`layer_key`].
    pub layer_samples: BTreeMap<LayerKey, Vec<f64>>,
    /// Comparisons kept by `flopsbench compare --out` in the input folders.
    pub comparisons: Vec<super::comparison::Found>,
}

/// A profiled layer's identity: run, case, backend, device, dtype, batch, threads and the
/// layer's index in its profile.
pub type LayerKey = (String, String, String, String, String, usize, usize, usize);

/// The key of `row` in [`Loaded::layer_samples`].
pub fn layer_key(row: &LayerRow) -> LayerKey {
    (
        row.run_id.clone(),
        row.case.clone(),
        row.backend.clone(),
        row.device.clone(),
        row.dtype.to_string(),
        row.batch,
        row.threads,
        row.index,
    )
}

/// The per-pass times of a `layers.jsonl` (none without the file; a line cut short by a
/// kill is left out).
fn read_layer_samples(path: &Path, into: &mut BTreeMap<LayerKey, Vec<f64>>) -> Result<()> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(());
    };
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        if let Ok(row) = serde_json::from_str::<crate::profile::LayerSamples>(line)
            && !row.samples_ms.is_empty()
        {
            into.entry(layer_key(&row.row)).or_insert(row.samples_ms);
        }
    }
    Ok(())
}

fn bad(path: &Path, line: Option<u64>, message: impl Into<String>) -> Error {
    Error::InputFile {
        path: path.to_path_buf(),
        line,
        message: message.into(),
    }
}

/// The CSV of an input: `DIR/results.csv` for a folder, the file itself otherwise.
/// The result folders at or under `dir` (a fleet run has one per host), sorted; three
/// levels deep at most.
fn result_dirs(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    if dir.join("results.csv").is_file() {
        out.push(dir.to_path_buf());
        return;
    }
    if depth == 0 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut subdirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    subdirs.sort();
    for d in subdirs {
        result_dirs(&d, depth - 1, out);
    }
}

/// The CSV files an input stands for, each with its folder (for meta.json): a CSV file, a
/// result folder, or a folder of result folders (a fleet run, `reports/`).
fn sources(input: &Path) -> Result<Vec<(PathBuf, Option<PathBuf>)>> {
    if input.is_dir() {
        let mut dirs = Vec::new();
        result_dirs(input, 3, &mut dirs);
        if dirs.is_empty() && input.join("comparison.csv").is_file() {
            // A comparison of result folders kept on its own.
            return Ok(Vec::new());
        }
        if dirs.is_empty() {
            return Err(bad(
                input,
                None,
                "is a folder without results.csv, in it or in its subfolders (give a flopsbench result folder or a CSV file)",
            ));
        }
        Ok(dirs
            .into_iter()
            .map(|d| (d.join("results.csv"), Some(d)))
            .collect())
    } else if input.is_file() {
        Ok(vec![(input.to_path_buf(), None)])
    } else {
        Err(bad(input, None, "no such file or folder"))
    }
}

fn read_rows(path: &Path) -> Result<Vec<Record>> {
    let text = std::fs::read_to_string(path).map_err(|e| bad(path, None, e.to_string()))?;
    if text.trim().is_empty() {
        return Err(bad(
            path,
            Some(1),
            "the file is empty (expected a header row)",
        ));
    }
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader
        .headers()
        .map_err(|e| bad(path, Some(1), e.to_string()))?
        .clone();
    for column in REQUIRED_COLUMNS {
        if !header.iter().any(|h| h == column) {
            return Err(bad(
                path,
                Some(1),
                format!(
                    "missing column '{column}' (not a flopsbench results.csv, or one too old to read)"
                ),
            ));
        }
    }
    let mut rows = Vec::new();
    for result in reader.records() {
        // The line a person sees in an editor, from the byte offset (csv's own line count
        // depends on whether lines end in CRLF or LF; after a CRLF, the offset it gives is
        // the LF's, hence the byte at it is counted too).
        let line_at = |p: &csv::Position| {
            let end = (p.byte() as usize + 1).min(text.len());
            text.as_bytes()[..end]
                .iter()
                .filter(|&&b| b == b'\n')
                .count() as u64
                + 1
        };
        let raw = result.map_err(|e| bad(path, e.position().map(line_at), e.to_string()))?;
        let record = raw.deserialize::<Record>(Some(&header)).map_err(|e| {
            let line = raw.position().map(line_at);
            let message = match e.kind() {
                csv::ErrorKind::Deserialize { err, .. } => {
                    // serde names the field for most errors; for an unknown enum value or a
                    // name flopsbench does not know it does not, so find the column holding
                    // the value the message quotes (`v` or 'v', in any case).
                    let column = err
                        .field()
                        .and_then(|i| header.get(i as usize))
                        .or_else(|| {
                            let text = err.kind().to_string().to_lowercase();
                            raw.iter()
                                .position(|v| {
                                    let v = v.to_lowercase();
                                    !v.is_empty()
                                        && (text.contains(&format!("`{v}`"))
                                            || text.contains(&format!("'{v}'")))
                                })
                                .and_then(|i| header.get(i))
                        })
                        .unwrap_or("?");
                    format!("column '{column}': {}", err.kind())
                }
                _ => e.to_string(),
            };
            bad(path, line, message)
        })?;
        rows.push(record);
    }
    if !header.iter().any(|h| h == "gbytes_per_s") {
        for r in &mut rows {
            r.gbytes_per_s = r.median_ms.map(|m| r.mem_bytes as f64 / (m / 1e3) / 1e9);
        }
    }
    if rows.is_empty() {
        return Err(bad(path, Some(2), "has a header but no rows"));
    }
    Ok(rows)
}

/// The rows of a `layers.csv` (none when the run profiled nothing).
fn read_layers(path: &Path) -> Result<Vec<LayerRow>> {
    if !path.is_file() {
        return Ok(Vec::new());
    }
    let mut reader = csv::Reader::from_path(path).map_err(|e| bad(path, None, e.to_string()))?;
    reader
        .deserialize()
        .map(|r| {
            r.map_err(|e: csv::Error| {
                let line = e.position().map(|p| p.line());
                bad(path, line, e.to_string())
            })
        })
        .collect()
}

/// The samples of the rows of a `results.jsonl` (none without the file; a line cut short
/// by a kill is left out, as `--resume` leaves it; the first copy of a row is kept, as for
/// results.csv).
fn read_samples(path: &Path, into: &mut BTreeMap<(String, RowKey), Vec<f64>>) -> Result<()> {
    for row in crate::results::read_jsonl(path)? {
        if !row.samples_ms.is_empty() {
            into.entry(key(&row.record)).or_insert(row.samples_ms);
        }
    }
    Ok(())
}

fn read_meta(dir: &Path) -> Result<Option<RunMeta>> {
    let path = dir.join("meta.json");
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path).map_err(|e| bad(&path, None, e.to_string()))?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| bad(&path, Some(e.line() as u64), e.to_string()))
}

/// The key rows are deduplicated by: the run and the case, on one device and backend with
/// one dtype, batch and thread count.
fn key(r: &Record) -> (String, RowKey) {
    (r.run_id.clone(), RowKey::of(r))
}

/// Reads every input (folders and CSV files), merging and deduplicating rows; a row seen
/// again (the same run and case) keeps its first copy unless the first failed and a later
/// one succeeded (a resumed run).
pub fn load(inputs: &[PathBuf]) -> Result<Loaded> {
    if inputs.is_empty() {
        return Err(Error::flag(
            "INPUT",
            "give at least one result folder or results CSV",
        ));
    }
    let mut out = Loaded::default();
    for input in inputs.iter().filter(|i| i.is_dir()) {
        if let Some(found) = super::comparison::read(input)? {
            out.comparisons.push(found);
        }
    }
    let mut index: BTreeMap<_, usize> = BTreeMap::new();
    for (csv, dir) in inputs
        .iter()
        .map(|i| sources(i))
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .flatten()
    {
        if let Some(dir) = &dir
            && let Some(meta) = read_meta(dir)?
        {
            out.runs.insert(meta.run_id.clone(), meta);
        }
        if let Some(dir) = &dir {
            for row in read_layers(&dir.join("layers.csv"))? {
                if !out.layers.contains(&row) {
                    out.layers.push(row);
                }
            }
            read_samples(&dir.join("results.jsonl"), &mut out.samples)?;
            read_layer_samples(&dir.join("layers.jsonl"), &mut out.layer_samples)?;
        }
        for row in read_rows(&csv)? {
            let k = key(&row);
            match index.get(&k) {
                Some(&i) => {
                    out.duplicates += 1;
                    if out.records[i].status != crate::record::Status::Ok
                        && row.status == crate::record::Status::Ok
                    {
                        out.records[i] = row;
                    }
                }
                None => {
                    index.insert(k, out.records.len());
                    out.records.push(row);
                }
            }
        }
    }
    Ok(out)
}
