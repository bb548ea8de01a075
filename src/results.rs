//! Writes a run's files: `meta.json` at the start, then `results.csv` and
//! `results.jsonl`, one row appended and flushed as each case finishes, so an
//! interrupted run keeps every finished case.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::bench::Sink;
use crate::error::{Error, Result};
use crate::meta::Meta;
use crate::output::csv::CsvExporter;
use crate::output::json::JsonLinesExporter;
use crate::output::{Exporter, Row};
use crate::profile::LayerSamples;
use crate::record::{OutputDigest, Record, RecordWithSamples, Status};

/// The open result files of a run.
pub struct ResultsWriter {
    dir: PathBuf,
    csv: File,
    /// Whether results.csv still needs its header row.
    csv_header: bool,
    jsonl: BufWriter<File>,
    /// `layers.csv` and `layers.jsonl`, opened with the first per-layer profile.
    layers: Option<(File, File)>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// An exporter's failure on a file, as an I/O error naming the file.
fn on(path: &Path) -> impl FnOnce(Error) -> Error + '_ {
    move |e| match e {
        e @ Error::Io { .. } => e,
        other => Error::Io {
            path: path.to_path_buf(),
            source: std::io::Error::other(other.to_string()),
        },
    }
}

/// Creates a new folder `reports/<name>` for a run that was given no `--out`: `<name>`,
/// or `<name>-2`, `<name>-3`, … when another run (started in the same second) has it.
/// The folder is created here, atomically, so two runs never share one.
pub fn new_default_dir(name: &str) -> Result<PathBuf> {
    let reports = Path::new("reports");
    let fail = |dir: &Path, e: std::io::Error| {
        Error::Usage(format!(
            "cannot create the result folder {} in the current folder ({e}); choose one with --out",
            dir.display()
        ))
    };
    fs::create_dir_all(reports).map_err(|e| fail(reports, e))?;
    for n in 1..1000 {
        let dir = if n == 1 {
            reports.join(name)
        } else {
            reports.join(format!("{name}-{n}"))
        };
        match fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(fail(&dir, e)),
        }
    }
    Err(Error::Usage(format!(
        "reports/{name}-2 … -999 all exist; choose a folder with --out"
    )))
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

/// Writes `dir/meta.json` (through a temporary file renamed into place).
pub fn write_meta(dir: &Path, meta: &Meta) -> Result<()> {
    let meta_path = dir.join("meta.json");
    let text = serde_json::to_string_pretty(meta).map_err(|e| Error::Serialise {
        what: "meta.json",
        message: e.to_string(),
    })?;
    let tmp = meta_path.with_extension("json.tmp");
    fs::write(&tmp, text + "\n")
        .and_then(|_| fs::rename(&tmp, &meta_path))
        .map_err(io(&meta_path))
}

impl ResultsWriter {
    /// Creates the run's files in `dir` (which [`prepare_dir`] checked) and writes
    /// `meta.json`.
    pub fn create(dir: &Path, meta: &Meta) -> Result<Self> {
        write_meta(dir, meta)?;
        let csv_path = dir.join("results.csv");
        let csv = File::create(&csv_path).map_err(io(&csv_path))?;
        let jsonl_path = dir.join("results.jsonl");
        let jsonl = BufWriter::new(File::create(&jsonl_path).map_err(io(&jsonl_path))?);
        Ok(ResultsWriter {
            dir: dir.to_path_buf(),
            csv,
            csv_header: true,
            jsonl,
            layers: None,
        })
    }

    /// The folder the files are in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends one row to both files and flushes them.
    pub fn append(&mut self, record: &Record, samples_ms: &[f64]) -> Result<()> {
        self.append_with(record, samples_ms, None)
    }

    /// [`ResultsWriter::append`], with the output's digest in `results.jsonl`.
    pub fn append_with(
        &mut self,
        record: &Record,
        samples_ms: &[f64],
        output: Option<&OutputDigest>,
    ) -> Result<()> {
        let row = [Row {
            record,
            samples_ms,
            output,
        }];
        let csv_path = self.dir.join("results.csv");
        CsvExporter
            .write(&row, self.csv_header, &mut self.csv)
            .map_err(on(&csv_path))?;
        self.csv_header = false;
        let jsonl_path = self.dir.join("results.jsonl");
        JsonLinesExporter
            .write(&row, false, &mut self.jsonl)
            .map_err(on(&jsonl_path))?;
        match crate::roofs::Figure::of(record) {
            Some(figure) => self.add_roof(figure),
            None => Ok(()),
        }
    }

    /// Adds a measured roof to `meta.json`'s `roofs` (rewritten in place).
    fn add_roof(&self, figure: crate::roofs::Figure) -> Result<()> {
        self.update_meta(|meta| meta.roofs.push(figure))
    }

    /// Changes `meta.json` with `change` (rewritten in place).
    pub fn update_meta(&self, change: impl FnOnce(&mut Meta)) -> Result<()> {
        let path = self.dir.join("meta.json");
        let text = fs::read_to_string(&path).map_err(io(&path))?;
        let mut meta: Meta = serde_json::from_str(&text).map_err(|e| Error::Serialise {
            what: "meta.json",
            message: e.to_string(),
        })?;
        change(&mut meta);
        write_meta(&self.dir, &meta)
    }
}

impl Sink for ResultsWriter {
    fn append(
        &mut self,
        record: &Record,
        samples_ms: &[f64],
        output: Option<&OutputDigest>,
    ) -> Result<()> {
        self.append_with(record, samples_ms, output)
    }

    fn append_layers(&mut self, rows: &[LayerSamples]) -> Result<()> {
        self.append_layer_rows(rows)
    }

    fn graph(&mut self, name: &str, bytes: &[u8]) -> Result<bool> {
        let dir = self.dir.join("graphs");
        fs::create_dir_all(&dir).map_err(io(&dir))?;
        let path = dir.join(name);
        fs::write(&path, bytes).map_err(io(&path))?;
        Ok(true)
    }
}

impl ResultsWriter {
    /// Appends a per-layer profile to `layers.csv` and `layers.jsonl` (created, or
    /// appended to after a resume, with the first one), each file in one write, flushed.
    pub fn append_layer_rows(&mut self, rows: &[LayerSamples]) -> Result<()> {
        let csv_path = self.dir.join("layers.csv");
        let jsonl_path = self.dir.join("layers.jsonl");
        if self.layers.is_none() {
            self.layers = Some((append(&csv_path)?, append(&jsonl_path)?));
        }
        let Some((csv_file, jsonl_file)) = self.layers.as_mut() else {
            // Opened just above.
            return Ok(());
        };
        let bad = |path: &Path, e: String| Error::Io {
            path: path.to_path_buf(),
            source: std::io::Error::other(e),
        };
        let header = csv_file.metadata().map_or(true, |m| m.len() == 0);
        let mut csv = csv::WriterBuilder::new()
            .has_headers(header)
            .from_writer(Vec::new());
        let mut jsonl = String::new();
        for r in rows {
            csv.serialize(&r.row)
                .map_err(|e| bad(&csv_path, e.to_string()))?;
            jsonl += &serde_json::to_string(r).map_err(|e| bad(&jsonl_path, e.to_string()))?;
            jsonl.push('\n');
        }
        let bytes = csv
            .into_inner()
            .map_err(|e| bad(&csv_path, e.to_string()))?;
        csv_file
            .write_all(&bytes)
            .and_then(|_| csv_file.flush())
            .map_err(io(&csv_path))?;
        jsonl_file
            .write_all(jsonl.as_bytes())
            .and_then(|_| jsonl_file.flush())
            .map_err(io(&jsonl_path))
    }
}

/// The rows of `dir/results.jsonl` that parse, dropping a last line cut short by a kill.
/// The complete rows of a `results.jsonl` (a line cut short by a kill, or one that does
/// not parse, is left out).
pub(crate) fn read_jsonl(path: &Path) -> Result<Vec<RecordWithSamples>> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(source) => {
            return Err(Error::Io {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let complete = match text.rfind('\n') {
        Some(i) => &text[..=i],
        None => "",
    };
    Ok(complete
        .lines()
        .filter_map(|l| serde_json::from_str::<RecordWithSamples>(l).ok())
        .collect())
}

impl ResultsWriter {
    /// Reopens the run folder `dir` to complete it (`--resume`): rows already `ok` are
    /// kept (and returned), failed rows and a row cut short by a kill are dropped, and new
    /// rows are appended. Both files are rewritten atomically first, so every case ends up
    /// in them exactly once. A folder measured with caches flushed (`--l2-flush`) resumes
    /// only so, and one measured warm only warm (`l2_flush`): nothing is rewritten
    /// otherwise.
    pub fn resume(dir: &Path, l2_flush: bool) -> Result<(Self, Vec<Record>)> {
        let jsonl_path = dir.join("results.jsonl");
        let csv_path = dir.join("results.csv");
        if !csv_path.is_file() && !jsonl_path.is_file() {
            return Err(Error::flag(
                "--resume",
                format!("{} has no results.csv to resume", dir.display()),
            ));
        }
        let kept: Vec<RecordWithSamples> = read_jsonl(&jsonl_path)?
            .into_iter()
            .filter(|r| r.record.status == Status::Ok)
            .collect();
        if let Some(r) = kept.iter().find(|r| r.record.l2_flush != l2_flush) {
            let how = |flushed: bool| {
                if flushed {
                    "with --l2-flush"
                } else {
                    "without --l2-flush"
                }
            };
            return Err(Error::flag(
                "--resume",
                format!(
                    "{} was measured {} ({}); resume it {} too: flushed and warm caches are \
                     two protocols, never one run",
                    dir.display(),
                    how(r.record.l2_flush),
                    r.record.case,
                    how(r.record.l2_flush)
                ),
            ));
        }
        let rows: Vec<Row<'_>> = kept
            .iter()
            .map(|r| Row {
                record: &r.record,
                samples_ms: &r.samples_ms,
                output: r.output.as_ref(),
            })
            .collect();
        let mut csv_bytes = Vec::new();
        CsvExporter.write(&rows, true, &mut csv_bytes)?;
        let mut jsonl_bytes = Vec::new();
        JsonLinesExporter.write(&rows, false, &mut jsonl_bytes)?;
        let csv_header = csv_bytes.is_empty();
        for (path, bytes) in [(&csv_path, csv_bytes), (&jsonl_path, jsonl_bytes)] {
            let tmp = path.with_extension("tmp");
            fs::write(&tmp, bytes)
                .and_then(|_| fs::rename(&tmp, path))
                .map_err(io(path))?;
        }
        for name in ["layers.csv", "layers.jsonl"] {
            cut_partial_line(&dir.join(name))?;
        }
        let append = |p: &Path| fs::OpenOptions::new().append(true).open(p).map_err(io(p));
        let csv = append(&csv_path)?;
        let jsonl = BufWriter::new(append(&jsonl_path)?);
        Ok((
            ResultsWriter {
                dir: dir.to_path_buf(),
                csv,
                csv_header,
                jsonl,
                layers: None,
            },
            kept.into_iter().map(|r| r.record).collect(),
        ))
    }
}

/// Drops a last line cut short by a kill from `path` (when it exists), atomically.
fn cut_partial_line(path: &Path) -> Result<()> {
    let Ok(bytes) = fs::read(path) else {
        return Ok(());
    };
    if bytes.is_empty() || bytes.ends_with(b"\n") {
        return Ok(());
    }
    let keep = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, &bytes[..keep])
        .and_then(|_| fs::rename(&tmp, path))
        .map_err(io(path))
}

/// The (case, backend, device) of every per-layer profile in `dir/layers.csv`.
pub fn profiled(dir: &Path) -> Vec<crate::bench::Profiled> {
    let Ok(mut reader) = csv::Reader::from_path(dir.join("layers.csv")) else {
        return Vec::new();
    };
    let mut out: Vec<crate::bench::Profiled> = Vec::new();
    for row in reader.deserialize::<crate::profile::LayerRow>().flatten() {
        let key = (row.case, row.backend, row.device, row.dtype);
        if !out.contains(&key) {
            out.push(key);
        }
    }
    out
}

/// `path` opened for appending, created when missing.
fn append(path: &Path) -> Result<File> {
    fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io(path))
}

/// A lock on a run folder: two runs never write the same files. Stale locks (their
/// process is gone, e.g. after a kill) are taken over.
pub struct DirLock {
    path: PathBuf,
}

impl DirLock {
    /// Takes the lock of `dir` or says which process holds it, naming `flag`.
    pub fn take(dir: &Path, flag: &str) -> Result<DirLock> {
        let path = dir.join(".flopsbench.lock");
        let me = std::process::id().to_string();
        for _ in 0..2 {
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut f) => {
                    f.write_all(me.as_bytes()).map_err(io(&path))?;
                    return Ok(DirLock { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = fs::read_to_string(&path).unwrap_or_default();
                    let alive = holder.trim().parse::<u32>().is_ok_and(|pid| {
                        pid != std::process::id() && Path::new(&format!("/proc/{pid}")).exists()
                    });
                    if alive {
                        return Err(Error::flag(
                            flag,
                            format!(
                                "{} is being written by another flopsbench run (pid {}); wait for it or choose another folder",
                                dir.display(),
                                holder.trim()
                            ),
                        ));
                    }
                    fs::remove_file(&path).map_err(io(&path))?;
                }
                Err(e) => return Err(io(&path)(e)),
            }
        }
        Err(Error::flag(flag, format!("cannot lock {}", dir.display())))
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}
