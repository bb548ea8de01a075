//! Runs a job on one named device (over SSH, under an emulator or through Slurm's srun)
//! and writes what its worker streams back to the device's folder, row by row. Whatever
//! goes wrong there (unreachable host, refused key, a job Slurm refused or cancelled, a
//! worker killed mid-run, a line that is not protocol) ends as one error row per case that
//! did not come back; rows already received stay. A resumed run keeps the folder's ok rows
//! and sends the worker only what is missing.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use super::shared_log::SharedLog;

use crate::bench::{Experiment, RowBase, blank_record, new_run_id, now};
use crate::device::DeviceSpec;
use crate::error::Result;
use crate::fleet::devices::{Device, Transport};
use crate::fleet::protocol::{Job, Message, check_hello};
use crate::fleet::{models, slurm, ssh};
use crate::meta::{self, Meta, SlurmJob};
use crate::record::{Record, Status};
use crate::results::{ResultsWriter, prepare_dir};
use crate::target::Case;

/// One device's part of a fleet run.
pub struct RemoteRun<'a> {
    /// The device.
    pub device: &'a Device,
    /// Its job.
    pub job: &'a Job,
    /// What is measured (for the rows of lost cases).
    pub experiment: &'a Experiment,
    /// No per-case lines.
    pub quiet: bool,
    /// The cases as expanded here.
    pub cases: &'a [Case],
    /// The binary it runs.
    pub binary: PathBuf,
    /// Its folder.
    pub dir: PathBuf,
    /// Resume the folder: keep its ok rows, run what is missing.
    pub resume: bool,
}

/// Lines of the worker's stderr kept for error messages.
type Tail = Arc<Mutex<Vec<String>>>;

/// Starts the worker; returns it with the job it must get (model files' paths as the
/// worker sees them).
pub(crate) fn spawn(run: &RemoteRun<'_>, job: &Job) -> std::result::Result<(Child, Job), String> {
    let (mut command, job) = match &run.device.transport {
        Transport::Emulator(argv) => {
            // Same host, same folder: model files are where they are.
            let mut c = Command::new(&argv[0]);
            c.args(&argv[1..]).arg(&run.binary).arg("worker");
            (c, job.clone())
        }
        Transport::Ssh(target) => {
            let binary = crate::fleet::binary::slim(&run.binary, &run.device.arch);
            let path = ssh::install(target, &binary, &run.device.arch)?;
            let job = models::send(target, job, run.cases)?;
            let worker = ssh::worker_command(&path, &ssh::openmp_vars())?;
            (ssh::command(target, &worker), job)
        }
        Transport::Slurm(target) => {
            // Broadcast by srun, unless devices.toml names the binary (a shared file system).
            let broadcast = run.device.binary.is_none();
            let binary = if broadcast {
                crate::fleet::binary::slim(&run.binary, &run.device.arch)
            } else {
                run.binary.clone()
            };
            let mut job = models::embed(job, run.cases, broadcast)?;
            job.remove_executable = broadcast;
            let command = slurm::command(target, &run.device.name, &binary, broadcast);
            (command, job)
        }
    };
    let child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            let hint = if matches!(run.device.transport, Transport::Slurm(_)) {
                " (is Slurm's client installed here?)"
            } else {
                ""
            };
            format!(
                "cannot start `{}`: {e}{hint}",
                command.get_program().to_string_lossy()
            )
        })?;
    Ok((child, job))
}

/// Forwards the worker's stderr to `log` (each line prefixed with the device, whole lines
/// only, unless quiet), keeping the last lines in `tail`.
fn forward_stderr(
    stderr: std::process::ChildStderr,
    name: &str,
    quiet: bool,
    tail: &Tail,
    log: &Mutex<&mut (dyn Write + Send)>,
) {
    let mut log = SharedLog::new(log);
    for line in BufReader::new(stderr).lines().map_while(|l| l.ok()) {
        if !quiet {
            writeln!(log, "[{name}] {line}").ok();
        }
        let mut t = tail.lock().unwrap_or_else(|p| p.into_inner());
        t.push(line);
        if t.len() > 20 {
            t.remove(0);
        }
    }
}

fn last_error(tail: &Tail) -> String {
    let t = tail.lock().unwrap_or_else(|p| p.into_inner());
    last_error_in(t.iter().map(String::as_str))
}

/// The line of a worker's (or srun's) stderr that says what went wrong: Slurm's
/// `*** … CANCELLED … ***` line first (why a job ended: scancel, time limit, node failure),
/// else the last line with "error", else the last line.
pub(crate) fn last_error_in<'a>(lines: impl DoubleEndedIterator<Item = &'a str> + Clone) -> String {
    let mut rev = lines.clone().rev();
    rev.clone()
        .find(|l| l.contains("*** ") && l.contains("slurmstepd"))
        .or_else(|| rev.clone().find(|l| l.contains("error")))
        .or_else(|| rev.next())
        .unwrap_or_default()
        .to_string()
}

/// The device's meta.json: the worker's own, or, when none came back (the device was not
/// reached), only what is known of the device: its name, architecture and how it was
/// reached, never this host's CPU or memory.
fn meta_of(device: &Device, meta: Option<Meta>) -> Meta {
    let mut meta = meta.unwrap_or_else(|| {
        let started = now();
        let mut m = meta::collect(&new_run_id(&started), &started, Vec::new(), 0.0);
        m.host = device.host();
        m.arch = device.arch.clone();
        m.os = String::new();
        m.cpu_model = "unknown (the device was not reached)".into();
        m.logical_cores = 0;
        m.physical_cores = None;
        m.memory_bytes = 0;
        m.gpus = Vec::new();
        m.overhead_ns = 0.0;
        m.executable = String::new();
        m.slurm = None;
        m.precision_features = Vec::new();
        m
    });
    meta.via = Some(device.via());
    meta.emulated = device.emulated;
    meta
}

/// The device a row of the named device `name` records (`arm` reads back as `arm`).
fn named(name: &str) -> DeviceSpec {
    if name == "arm" {
        DeviceSpec::Arm
    } else {
        DeviceSpec::Named(name.to_string())
    }
}

/// `record` as run by Slurm job `job`: its id, partition, and the node as its host.
fn stamp(record: &mut Record, job: &SlurmJob) {
    record.slurm_job_id = job.job_id.clone();
    record.partition = job.partition.clone();
    if !job.node.is_empty() {
        record.host = job.node.clone();
    }
}

/// A received row, as this run records it: the device's name, emulated or not, and the
/// Slurm job that ran it.
fn adopt(device: &Device, slurm: Option<&SlurmJob>, mut record: Record) -> Record {
    record.device = named(&device.name);
    if let Some(job) = slurm {
        stamp(&mut record, job);
    }
    if device.emulated {
        record.emulated = true;
        if let Transport::Emulator(argv) = &device.transport {
            record.device_model = format!("{} (emulated by {})", device.arch, argv[0]);
        }
    }
    record
}

struct Received {
    writer: Option<ResultsWriter>,
    hello: bool,
    slurm: Option<SlurmJob>,
    records: Vec<Record>,
    backends: Vec<String>,
    case_ids: Option<Vec<String>>,
    run_id: Option<String>,
    done: bool,
    failure: Option<String>,
    total: usize,
}

fn read_messages(
    run: &RemoteRun<'_>,
    child: &mut Child,
    got: &mut Received,
    log: &mut dyn Write,
) -> Result<()> {
    let Some(stdout) = child.stdout.take() else {
        return Ok(());
    };
    let name = &run.device.name;
    for line in BufReader::new(stdout).lines() {
        let line = match line {
            Ok(l) => l,
            Err(e) => {
                got.failure = Some(format!("reading the worker's output: {e}"));
                break;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        let message = match Message::parse(&line) {
            Ok(m) => m,
            Err(why) => {
                got.failure = Some(why);
                break;
            }
        };
        match message {
            Message::Hello {
                protocol,
                flopsbench,
                meta,
                backends,
                cases,
                rows,
                ..
            } if !got.hello => {
                if let Err(why) = check_hello(protocol, &flopsbench) {
                    got.failure = Some(why);
                    break;
                }
                if meta.git_commit != env!("FLOPSBENCH_GIT_COMMIT") {
                    writeln!(
                        log,
                        "[{name}] note: the worker was built from commit {}, this flopsbench from {}",
                        meta.git_commit,
                        env!("FLOPSBENCH_GIT_COMMIT")
                    )
                    .ok();
                }
                greeted(run, got, *meta)?;
                got.total = rows;
                got.backends = backends;
                got.case_ids = Some(cases);
            }
            Message::Record(row) if got.hello => {
                let record = adopt(run.device, got.slurm.as_ref(), row.record);
                let record = models::local_path(record, run.cases);
                if let Some(w) = got.writer.as_mut() {
                    w.append_with(&record, &row.samples_ms, row.output.as_ref())?;
                }
                if !run.quiet {
                    let n = got.records.len() + 1;
                    crate::output::progress::line(log, n, got.total, &record);
                }
                got.records.push(record);
            }
            Message::Layers { rows } if got.hello => {
                let rows: Vec<_> = rows
                    .into_iter()
                    .map(|mut r| {
                        r.row.device = run.device.name.clone();
                        r
                    })
                    .collect();
                if let Some(w) = got.writer.as_mut() {
                    w.append_layer_rows(&rows)?;
                }
                if !run.quiet
                    && let Some(record) = got.records.last()
                {
                    let text = crate::output::layers::render(record, &rows, run.experiment.depth);
                    write!(log, "{text}").ok();
                }
            }
            Message::Done { gpu_end, .. } if got.hello => {
                if let (Some(reading), Some(w)) = (gpu_end, got.writer.as_ref()) {
                    w.update_meta(|meta| meta.gpu_readings.push(reading))?;
                }
                got.done = true;
                break;
            }
            Message::Error { message } => {
                // A worker of another version cannot read this job.
                let hint = if message.contains("protocol") && !message.contains("--build") {
                    "; rebuild the worker binary from this checkout (--build)"
                } else {
                    ""
                };
                got.failure = Some(format!("{message}{hint}"));
                break;
            }
            other => {
                got.failure = Some(format!(
                    "the worker broke the protocol: {} out of order",
                    other.to_line().unwrap_or_default()
                ));
                break;
            }
        }
    }
    Ok(())
}

/// The worker said hello with `meta`: its folder gets its meta.json (a resumed folder is
/// described anew: the first session's device may never have been reached).
fn greeted(run: &RemoteRun<'_>, got: &mut Received, meta: Meta) -> Result<()> {
    got.hello = true;
    got.run_id = Some(meta.run_id.clone());
    // Only a Slurm device's job is ours (a worker started by ssh or an emulator inside
    // someone's Slurm job sees that job's variables).
    if matches!(run.device.transport, Transport::Slurm(_)) {
        got.slurm = meta.slurm.clone();
    }
    let meta = meta_of(run.device, Some(meta));
    if got.writer.is_none() {
        got.writer = Some(ResultsWriter::create(&run.dir, &meta)?);
    } else {
        crate::results::write_meta(&run.dir, &meta)?;
    }
    Ok(())
}

/// Runs the device's job; `Err` only when its folder cannot be written.
pub fn run(run: &RemoteRun<'_>, mut log: &mut (dyn Write + Send)) -> Result<Vec<Record>> {
    prepare_dir(&run.dir)?;
    let mut got = Received {
        writer: None,
        hello: false,
        slurm: None,
        records: Vec::new(),
        backends: Vec::new(),
        case_ids: None,
        run_id: None,
        done: false,
        failure: None,
        total: 0,
    };
    let mut job = run.job.clone();
    if run.resume && run.dir.join("results.csv").is_file() {
        resume(run, &mut got, &mut job)?;
        if nothing_missing(run, &got.records) {
            // No worker, no job in a cluster's queue: the folder stays as it is.
            writeln!(
                log,
                "[{}] nothing missing: no worker started",
                run.device.name
            )
            .ok();
            return Ok(got.records);
        }
    }
    let tail: Tail = Arc::default();
    match spawn(run, &job) {
        Err(why) => got.failure = Some(why),
        Ok((mut child, job)) => {
            let stderr = child.stderr.take();
            // The log, shared with the thread forwarding the worker's stderr; given back below.
            let shared = Mutex::new(log);
            let read = std::thread::scope(|s| {
                let forward = stderr.map(|e| {
                    let (tail, shared) = (&tail, &shared);
                    s.spawn(move || forward_stderr(e, &run.device.name, run.quiet, tail, shared))
                });
                let job = serde_json::to_string(&job).unwrap_or_default();
                if let Some(mut stdin) = child.stdin.take() {
                    // A worker that died at once has closed its stdin: what it said explains.
                    stdin.write_all(job.as_bytes()).ok();
                }
                let read = read_messages(run, &mut child, &mut got, &mut SharedLog::new(&shared));
                if !got.done {
                    // Killing srun alone could leave its job running on the node.
                    if let Some(job) = &got.slurm {
                        slurm::cancel(job);
                    }
                    child.kill().ok();
                }
                let status = child.wait();
                if let Some(h) = forward {
                    h.join().ok();
                }
                if !got.done && got.failure.is_none() {
                    let status = status.map_or("unknown".to_string(), |s| s.to_string());
                    got.failure = Some(format!("the worker stopped before finishing ({status})"));
                }
                read
            });
            log = shared.into_inner().unwrap_or_else(|p| p.into_inner());
            read?;
        }
    }
    if let Some(why) = &got.failure {
        let stderr = last_error(&tail);
        let said = if stderr.starts_with("srun:") || stderr.starts_with("slurmstepd") {
            "Slurm said"
        } else {
            "its last words"
        };
        let why = if stderr.is_empty() || why.contains(&stderr) {
            why.clone()
        } else {
            format!("{why}; {said}: {stderr}")
        };
        writeln!(log, "[{}] error: {why}", run.device.name).ok();
        lost_rows(run, &mut got, &why)?;
    }
    Ok(got.records)
}

/// Resumes the device's folder: its ok rows kept (and told to the worker, as it would
/// record them, so that it runs only what is missing), under their run id.
fn resume(run: &RemoteRun<'_>, got: &mut Received, job: &mut Job) -> Result<()> {
    let (writer, kept) = ResultsWriter::resume(&run.dir, run.experiment.sampler.l2_flush)?;
    got.writer = Some(writer);
    // The run's id: its kept rows', else its meta.json's.
    let meta_id = || {
        let text = std::fs::read_to_string(run.dir.join("meta.json")).ok()?;
        serde_json::from_str::<Meta>(&text).ok().map(|m| m.run_id)
    };
    job.run_id = kept.first().map(|r| r.run_id.clone()).or_else(meta_id);
    got.run_id = job.run_id.clone();
    job.done = kept
        .iter()
        .map(|r| Record {
            device: job.device.clone(),
            ..r.clone()
        })
        .collect();
    let name = run.device.name.as_str();
    job.profiled = crate::results::profiled(&run.dir)
        .into_iter()
        .filter(|(_, _, device, _)| device == name)
        .map(|(case, backend, _, dtype)| (case, backend, dtype))
        .collect();
    got.records = kept;
    Ok(())
}

/// Whether a resumed device's `kept` rows hold every case on every backend it runs: the
/// backends named by `--backend`, or (for `all`) those its last worker ran (meta.json).
fn nothing_missing(run: &RemoteRun<'_>, kept: &[Record]) -> bool {
    let backends = match &run.experiment.backends {
        crate::backend::Selection::Named(names) => names.clone(),
        crate::backend::Selection::All => {
            let meta = std::fs::read_to_string(run.dir.join("meta.json")).ok();
            match meta.and_then(|t| serde_json::from_str::<Meta>(&t).ok()) {
                Some(meta) if !meta.backends.is_empty() => {
                    meta.backends.into_iter().map(|(name, _)| name).collect()
                }
                _ => return false,
            }
        }
    };
    let seen = case_backends(kept);
    run.experiment.dtypes.iter().all(|d| {
        run.cases.iter().all(|case| {
            backends.iter().all(|b| {
                let at = crate::bench::At {
                    dtype: *d,
                    device: &run.device.device,
                    own_only: run.experiment.own_dtype,
                };
                seen.contains(&(case.id.clone(), b.clone(), *d))
                    || crate::bench::refuses(case, b, at).is_some()
            })
        })
    })
}

/// The (case, backend, dtype) rows that `records` hold.
fn case_backends(records: &[Record]) -> HashSet<(String, String, crate::spec::Dtype)> {
    records
        .iter()
        .map(|r| (r.case.clone(), r.backend.clone(), r.dtype))
        .collect()
}

/// Error rows for every (case, backend, dtype) that did not come back (a pair the worker
/// would have skipped is not lost).
fn lost_rows(run: &RemoteRun<'_>, got: &mut Received, why: &str) -> Result<()> {
    if got.writer.is_none() {
        got.writer = Some(ResultsWriter::create(&run.dir, &meta_of(run.device, None))?);
    }
    let backends = if !got.backends.is_empty() {
        got.backends.clone()
    } else {
        run.experiment.backends.names()
    };
    let seen = case_backends(&got.records);
    let ids = got.case_ids.clone();
    let run_id = got.run_id.clone().unwrap_or_else(|| new_run_id(&now()));
    let at: Vec<crate::bench::Experiment> = run
        .experiment
        .dtypes
        .iter()
        .map(|d| run.experiment.at(*d))
        .collect();
    for (experiment, case) in at
        .iter()
        .flat_map(|e| run.cases.iter().map(move |c| (e, c)))
    {
        if ids.as_ref().is_some_and(|ids| !ids.contains(&case.id)) {
            continue;
        }
        let dtype = experiment.dtype();
        for backend in &backends {
            let at = crate::bench::At {
                dtype,
                device: &run.device.device,
                own_only: run.experiment.own_dtype,
            };
            if seen.contains(&(case.id.clone(), backend.clone(), dtype))
                || crate::bench::refuses(case, backend, at).is_some()
            {
                continue;
            }
            let (batch, threads) = experiment.protocol(case, &run.device.device);
            let opts = experiment.count_options(batch);
            // A lost model file's row keeps no counts (they need the file imported).
            let counts = case
                .spec_net()
                .map(|net| crate::count::count_net(net, &opts, false));
            let mut record = blank_record(
                experiment,
                case,
                &RowBase {
                    run_id: run_id.clone(),
                    host: run.device.host(),
                    device: named(&run.device.name),
                    device_model: String::new(),
                    arch: run.device.arch.clone(),
                    backend: backend.clone(),
                    backend_version: String::new(),
                    batch,
                    threads,
                    overhead_ns: 0.0,
                },
                counts.as_ref(),
            );
            record.emulated = run.device.emulated;
            if let Some(job) = &got.slurm {
                stamp(&mut record, job);
            } else if let Transport::Slurm(t) = &run.device.transport {
                record.partition = t.partition.clone().unwrap_or_default();
            }
            record.status = Status::Error;
            record.error = format!("lost on {}: {why}", run.device.name);
            record.timestamp = now();
            if let Some(w) = got.writer.as_mut() {
                w.append(&record, &[])?;
            }
            got.records.push(record);
        }
    }
    Ok(())
}

/// The folder of a device's rows under a fleet run's folder.
pub fn device_dir(root: &Path, name: &str) -> PathBuf {
    root.join(name)
}
