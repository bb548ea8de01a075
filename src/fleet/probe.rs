//! `flopsbench list --device NAME`: what a named device's host has, asked of the
//! flopsbench that runs there. The worker gets a `list` job (reached as for a measuring
//! job: over SSH, under the emulator, or through srun) and answers with one `listing`
//! line: its host name, CPU, and each backend's version or why it cannot load there
//! (a runtime library missing on a Slurm node shows here).

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;

use crate::bench::Experiment;
use crate::fleet::devices::Device;
use crate::fleet::protocol::{Job, Listing, Message};
use crate::fleet::remote::{RemoteRun, last_error_in, spawn};
use crate::target::Target;

/// Asks `device`'s host, running `binary` there, what it has.
pub fn list(device: &Device, binary: PathBuf) -> Result<Listing, String> {
    let experiment = Experiment::new(Target::Peak);
    let mut job = Job::new(&experiment, device.device.clone());
    job.list = true;
    let run = RemoteRun {
        device,
        job: &job,
        experiment: &experiment,
        quiet: true,
        cases: &[],
        binary,
        dir: PathBuf::new(),
        resume: false,
    };
    let (mut child, job) = spawn(&run, &job)?;
    // stderr drained beside stdout, so that a chatty srun never blocks the answer.
    let stderr = child.stderr.take().map(|mut e| {
        std::thread::spawn(move || {
            let mut text = String::new();
            e.read_to_string(&mut text).ok();
            text
        })
    });
    if let Some(mut stdin) = child.stdin.take() {
        let text = serde_json::to_string(&job).map_err(|e| e.to_string())?;
        stdin.write_all(text.as_bytes()).ok();
    }
    let mut listing = None;
    let mut failure = None;
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines().map_while(|l| l.ok()) {
            if line.trim().is_empty() {
                continue;
            }
            match Message::parse(&line) {
                Ok(Message::Listing(l)) => listing = Some(l),
                Ok(Message::Error { message }) => failure = Some(message),
                Ok(other) => {
                    failure = Some(format!(
                        "the worker broke the protocol: {}",
                        other.to_line().unwrap_or_default()
                    ))
                }
                Err(why) => failure = Some(why),
            }
        }
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    let stderr = stderr.and_then(|h| h.join().ok()).unwrap_or_default();
    match (listing, failure) {
        (Some(l), None) => Ok(l),
        (_, Some(why)) => Err(why),
        _ => Err(format!(
            "the worker stopped without answering ({status}): {}",
            last_error_in(stderr.lines())
        )),
    }
}
