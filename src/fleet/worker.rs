//! `flopsbench worker`: the remote half of a fleet run. Reads one [`Job`] on stdin, runs
//! it with the same pipeline as a local run (check against the reference, then time), and
//! writes [`Message`]s as JSON lines on stdout, flushed as each case finishes; logs go to
//! stderr.

use std::io::{Read, Write};

use crate::backend::Global;
use crate::bench::{RunContext, Silent, Sink, measure_cases, new_run_id, now, plan, plan_versions};
use crate::error::{Error, Result};
use crate::fleet::protocol::{Job, Listing, Message, PROTOCOL};
use crate::measure::calibrate_overhead;
use crate::meta;
use crate::profile::LayerSamples;
use crate::record::{OutputDigest, Record, RecordWithSamples, Status};

/// What a finished job sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    /// Rows sent.
    pub rows: usize,
    /// Of which failed.
    pub failed: usize,
}

/// Writes each row as a `record` line.
struct LineSink<'a> {
    out: &'a mut dyn Write,
    rows: usize,
    failed: usize,
}

fn send(out: &mut dyn Write, message: &Message) -> Result<()> {
    let line = message.to_line()?;
    writeln!(out, "{line}")
        .and_then(|_| out.flush())
        .map_err(|source| Error::Io {
            path: "<stdout>".into(),
            source,
        })
}

impl Sink for LineSink<'_> {
    fn append(
        &mut self,
        record: &Record,
        samples_ms: &[f64],
        output: Option<&OutputDigest>,
    ) -> Result<()> {
        self.rows += 1;
        // Skipped rows (a dtype a backend cannot compute in) are not failures.
        if record.status == Status::Error {
            self.failed += 1;
        }
        send(
            self.out,
            &Message::Record(Box::new(RecordWithSamples {
                record: record.clone(),
                samples_ms: samples_ms.to_vec(),
                output: output.cloned(),
            })),
        )
    }

    fn append_layers(&mut self, rows: &[LayerSamples]) -> Result<()> {
        send(
            self.out,
            &Message::Layers {
                rows: rows.to_vec(),
            },
        )
    }
}

/// Answers a `list` job: what this host has.
fn list(job: &Job, out: &mut dyn Write) -> Result<Sent> {
    let listing = Listing {
        host: meta::node_name(),
        device: job.device.to_string(),
        cpu: meta::cpu_summary(),
        backends: crate::backend::availability(&job.device),
    };
    send(out, &Message::Listing(listing))?;
    Ok(Sent { rows: 0, failed: 0 })
}

/// Removes this program's file, a copy Slurm broadcast for the job (the job says so);
/// running, the program needs no file. Only a file named as srun names broadcast copies.
fn remove_copy() {
    if let Ok(exe) = std::env::current_exe()
        && exe
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("slurm_bcast_"))
    {
        std::fs::remove_file(&exe).ok();
    }
}

/// Reads the job from `input` and runs it; an error before the first case is also sent
/// as an `error` line.
pub fn run(input: &mut dyn Read, out: &mut dyn Write, log: &mut dyn Write) -> Result<Sent> {
    match start(input, out, log) {
        Ok(finished) => Ok(finished),
        Err((e, sent_hello)) => {
            if !sent_hello {
                send(
                    out,
                    &Message::Error {
                        message: e.to_string(),
                    },
                )
                .ok();
            }
            Err(e)
        }
    }
}

fn start(
    input: &mut dyn Read,
    out: &mut dyn Write,
    log: &mut dyn Write,
) -> std::result::Result<Sent, (Error, bool)> {
    let mut text = String::new();
    input.read_to_string(&mut text).map_err(|e| {
        (
            Error::Usage(format!("worker: cannot read the job on stdin: {e}")),
            false,
        )
    })?;
    // A broadcast copy of this program goes first, whatever else the job holds.
    #[derive(serde::Deserialize)]
    struct Copy {
        #[serde(default)]
        remove_executable: bool,
    }
    if let Ok(Copy {
        remove_executable: true,
    }) = serde_json::from_str::<Copy>(&text)
    {
        remove_copy();
    }
    // The protocol first: a job of another version is refused as such, not as a job
    // with unknown fields.
    #[derive(serde::Deserialize)]
    struct Version {
        protocol: u32,
    }
    if let Ok(Version { protocol }) = serde_json::from_str::<Version>(&text)
        && protocol != PROTOCOL
    {
        return Err((
            Error::Usage(format!(
                "worker: the job is protocol {protocol}, this worker speaks {PROTOCOL}: \
                 rebuild the worker binary from the orchestrator's checkout (--build)"
            )),
            false,
        ));
    }
    let mut job: Job = serde_json::from_str(&text).map_err(|e| {
        (
            Error::Usage(format!(
                "worker: the job on stdin is not a protocol-{PROTOCOL} job: {e}"
            )),
            false,
        )
    })?;
    if job.list {
        return list(&job, out).map_err(|e| (e, true));
    }
    // Model files carried in the job: written out for its duration.
    let _models = crate::fleet::models::write_carried(&mut job)
        .map_err(|e| (Error::Usage(format!("worker: {e}")), false))?;
    let experiment = &job.experiment;
    experiment.validate().map_err(|e| (e, false))?;
    crate::backend::configure(&Global {
        threads: experiment.threads.unwrap_or(1),
        ..Global::default()
    });
    let cases = experiment.cases().map_err(|e| (e, false))?;
    let plan = plan(experiment, std::slice::from_ref(&job.device), log).map_err(|e| (e, false))?;
    let started = now();
    let run_id = job.run_id.clone().unwrap_or_else(|| new_run_id(&started));
    let overhead_ns = calibrate_overhead();
    let on_gpu = matches!(job.device, crate::device::DeviceSpec::Cuda(_));
    let meta = started_meta(&run_id, &started, &plan, overhead_ns, on_gpu);
    let backends = plan
        .iter()
        .flat_map(|(_, b)| b.iter().map(|b| b.name().to_string()))
        .collect();
    send(
        out,
        &Message::Hello {
            protocol: PROTOCOL,
            flopsbench: env!("CARGO_PKG_VERSION").into(),
            host: meta.host.clone(),
            arch: meta.arch.clone(),
            meta: Box::new(meta),
            backends,
            cases: cases.iter().map(|c| c.id.clone()).collect(),
            rows: crate::bench::rows_of(experiment, &cases, &plan),
        },
    )
    .map_err(|e| (e, false))?;
    let device = job.device.to_string();
    let context = RunContext {
        run_id,
        overhead_ns,
        done: job.done.clone(),
        profiled: job
            .profiled
            .iter()
            .map(|(case, backend, dtype)| (case.clone(), backend.clone(), device.clone(), *dtype))
            .collect(),
    };
    let mut sink = LineSink {
        out,
        rows: 0,
        failed: 0,
    };
    // Rows go to stdout; the orchestrator prints them, so the worker reports nothing.
    measure_cases(experiment, &cases, &plan, &context, &mut sink, &mut Silent)
        .map_err(|e| (e, true))?;
    let (rows, failed) = (sink.rows, sink.failed);
    send(out, &done(rows, failed, on_gpu)).map_err(|e| (e, true))?;
    Ok(Sent { rows, failed })
}
/// The worker's meta.json at its start; on a GPU, with nvidia-smi's reading of it.
fn started_meta(
    run_id: &str,
    started: &str,
    plan: &crate::bench::Plan<'_>,
    overhead_ns: f64,
    on_gpu: bool,
) -> meta::Meta {
    let mut meta = meta::collect(run_id, started, plan_versions(plan), overhead_ns);
    if on_gpu {
        meta.add_gpu_reading("start", now());
    }
    meta
}

/// The job's last message: its counts and, on a GPU, nvidia-smi's reading after the last
/// row (for the run's meta.json).
fn done(rows: usize, failed: usize, on_gpu: bool) -> Message {
    let gpu_end = on_gpu
        .then(|| crate::nvidia_smi::read("end", now()).ok())
        .flatten();
    Message::Done {
        rows,
        failed,
        gpu_end,
    }
}
