//! Writes a run's files: `meta.json` at the start, then `results.csv` and
//! `results.jsonl`, one row appended and flushed as each case finishes, so an
//! interrupted run keeps every finished case.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::meta::Meta;
use crate::record::{Record, RecordWithSamples};

/// The open result files of a run.
pub struct ResultsWriter {
    dir: PathBuf,
    csv: csv::Writer<File>,
    jsonl: BufWriter<File>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Creates `dir` (and parents) or explains, naming `--out`, why it cannot.
pub fn prepare_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir)
        .map_err(|e| Error::flag("--out", format!("cannot create {}: {e}", dir.display())))?;
    let probe = dir.join(".flopsbench-write-test");
    File::create(&probe)
        .and_then(|_| fs::remove_file(&probe))
        .map_err(|e| Error::flag("--out", format!("{} is not writable: {e}", dir.display())))
}

impl ResultsWriter {
    /// Creates the run's files in `dir` (which [`prepare_dir`] checked) and writes
    /// `meta.json`.
    pub fn create(dir: &Path, meta: &Meta) -> Result<Self> {
        let meta_path = dir.join("meta.json");
        let text = serde_json::to_string_pretty(meta).map_err(|e| Error::Serialise {
            what: "meta.json",
            message: e.to_string(),
        })?;
        fs::write(&meta_path, text + "\n").map_err(io(&meta_path))?;
        let csv_path = dir.join("results.csv");
        let csv = csv::Writer::from_writer(File::create(&csv_path).map_err(io(&csv_path))?);
        let jsonl_path = dir.join("results.jsonl");
        let jsonl = BufWriter::new(File::create(&jsonl_path).map_err(io(&jsonl_path))?);
        Ok(ResultsWriter {
            dir: dir.to_path_buf(),
            csv,
            jsonl,
        })
    }

    /// The folder the files are in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends one row to both files and flushes them.
    pub fn append(&mut self, record: &Record, samples_ms: &[f64]) -> Result<()> {
        let csv_path = self.dir.join("results.csv");
        self.csv.serialize(record).map_err(|e| Error::Serialise {
            what: "a results.csv row",
            message: e.to_string(),
        })?;
        self.csv.flush().map_err(io(&csv_path))?;
        let jsonl_path = self.dir.join("results.jsonl");
        let line = serde_json::to_string(&RecordWithSamples {
            record: record.clone(),
            samples_ms: samples_ms.to_vec(),
        })
        .map_err(|e| Error::Serialise {
            what: "a results.jsonl row",
            message: e.to_string(),
        })?;
        writeln!(self.jsonl, "{line}").map_err(io(&jsonl_path))?;
        self.jsonl.flush().map_err(io(&jsonl_path))
    }
}
