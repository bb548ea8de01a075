//! What the orchestrator and a worker say to each other: one job (JSON) on the worker's
//! stdin, then JSON lines on its stdout: `hello`, one `record` per case, `done` (or
//! `error`). Every message carries the protocol version through `hello`; the orchestrator
//! refuses a worker that speaks another one, and any line it cannot parse.

use serde::{Deserialize, Serialize};

use crate::bench::Experiment;
use crate::device::DeviceSpec;
use crate::error::{Error, Result};
use crate::meta::Meta;
use crate::profile::LayerSamples;
use crate::record::{Record, RecordWithSamples};

/// The version of this protocol. Bump it on any change a worker of the previous version
/// would misread.
pub const PROTOCOL: u32 = 11;

/// A worker's job: what to measure, and on which of the worker's devices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Job {
    /// [`PROTOCOL`] of the orchestrator.
    pub protocol: u32,
    /// What to measure.
    pub experiment: Experiment,
    /// The device on the worker's host (`cpu`, or a GPU).
    pub device: DeviceSpec,
    /// A resumed run's id, kept for its new rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// Rows already ok (a resumed run), as the worker would record them: not rerun.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub done: Vec<Record>,
    /// The (case, backend, dtype) of per-layer profiles already written: not profiled
    /// again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub profiled: Vec<(String, String, crate::spec::Dtype)>,
    /// The worker's executable is a copy made for this job (Slurm's broadcast): the
    /// worker removes it once running.
    #[serde(default)]
    pub remove_executable: bool,
    /// Model files carried in the job itself (a Slurm device without a shared file
    /// system): the worker writes them to its temporary folder and runs those copies.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<CarriedModel>,
    /// Measure nothing: say what the host has (`flopsbench list --device NAME`).
    #[serde(default)]
    pub list: bool,
}

/// A model file carried in a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CarriedModel {
    /// The file's SHA-256 (hex): the job's cases name the file by `<sha256>.onnx`.
    pub sha256: String,
    /// Its bytes, base64.
    pub base64: String,
}

impl Job {
    /// The job that runs `experiment` on `device` of a worker's host.
    pub fn new(experiment: &Experiment, device: DeviceSpec) -> Job {
        Job {
            protocol: PROTOCOL,
            experiment: experiment.clone(),
            device,
            run_id: None,
            done: Vec::new(),
            profiled: Vec::new(),
            remove_executable: false,
            models: Vec::new(),
            list: false,
        }
    }
}

/// One line of a worker's stdout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Message {
    /// First line: who is running the job, and what it will run.
    Hello {
        /// The worker's [`PROTOCOL`].
        protocol: u32,
        /// The worker's flopsbench version.
        flopsbench: String,
        /// Its host name.
        host: String,
        /// Its architecture.
        arch: String,
        /// Its run metadata (meta.json of its folder).
        meta: Box<Meta>,
        /// The backends that will run, in order.
        backends: Vec<String>,
        /// The case ids that will run, in order.
        cases: Vec<String>,
        /// The rows it will send: every case on every backend at every dtype, skipped or
        /// measured, and `peak`'s micro-kernel rows.
        rows: usize,
    },
    /// One finished row, with its samples and output digest.
    Record(Box<RecordWithSamples>),
    /// The per-layer profile of the network row sent just before.
    Layers {
        /// Its rows, with their samples.
        rows: Vec<LayerSamples>,
    },
    /// The job is finished.
    Done {
        /// Rows sent.
        rows: usize,
        /// Of which failed.
        failed: usize,
        /// On a GPU: its clocks, power and temperature after the last row (nvidia-smi),
        /// for the run's meta.json.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        gpu_end: Option<crate::nvidia_smi::GpuReading>,
    },
    /// What the host has (the answer to a `list` job): its name, CPU, and each backend's
    /// version or why it cannot run on the job's device.
    Listing(Listing),
    /// The job could not start (bad job, no backend can run).
    Error {
        /// Why.
        message: String,
    },
}

impl Message {
    /// The message as one line of JSON (no newline).
    pub fn to_line(&self) -> Result<String> {
        serde_json::to_string(self).map_err(|e| Error::Serialise {
            what: "a worker message",
            message: e.to_string(),
        })
    }

    /// Parses one line, or says why it is not a message of this protocol.
    pub fn parse(line: &str) -> std::result::Result<Message, String> {
        serde_json::from_str(line).map_err(|e| {
            let shown: String = line.chars().take(120).collect();
            format!("unreadable line from the worker ({e}): {shown}")
        })
    }
}

/// A host's answer to a `list` job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Listing {
    /// The host's name.
    pub host: String,
    /// The device asked about (`cpu`, `cuda:0`).
    pub device: String,
    /// Its CPU in words.
    pub cpu: String,
    /// Each backend: its version, or why it cannot run on the device.
    pub backends: Vec<(String, std::result::Result<String, String>)>,
}

/// Checks a worker's hello against this orchestrator.
pub fn check_hello(protocol: u32, version: &str) -> std::result::Result<(), String> {
    if protocol != PROTOCOL {
        return Err(format!(
            "the worker speaks protocol {protocol}, this flopsbench {PROTOCOL}: rebuild the worker binary from this checkout (--build)"
        ));
    }
    if version != env!("CARGO_PKG_VERSION") {
        return Err(format!(
            "the worker is flopsbench {version}, this is {}: rebuild the worker binary from this checkout (--build)",
            env!("CARGO_PKG_VERSION")
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{OpKind, OpSweep, Ratio};
    use crate::target::Target;

    #[test]
    fn a_job_survives_the_wire() {
        let experiment = Experiment {
            target: Target::Ops(OpSweep {
                kinds: vec![OpKind::Pconv],
                ratios: vec![Ratio::new(1, 3).unwrap()],
                ..OpSweep::default()
            }),
            backends: "candle,tract".parse().unwrap(),
            threads: Some(2),
            ..Experiment::new(Target::Peak)
        };
        let job = Job::new(&experiment, DeviceSpec::Cpu);
        let back: Job = serde_json::from_str(&serde_json::to_string(&job).unwrap()).unwrap();
        assert_eq!(back, job);
        assert_eq!(back.experiment, experiment);
        let nets = Job::new(
            &Experiment::new(Target::Nets(vec!["fasternet-t0".into()])),
            DeviceSpec::Cuda(1),
        );
        let text = serde_json::to_string(&nets).unwrap();
        assert_eq!(serde_json::from_str::<Job>(&text).unwrap(), nets);
    }

    #[test]
    fn a_profile_survives_the_wire() {
        let of = crate::profile::ProfileOf {
            run_id: "r".into(),
            case: "c".into(),
            backend: "tract".into(),
            device: "cpu".into(),
            threads: 1,
            batch: 1,
            dtype: crate::spec::Dtype::Int8,
        };
        let message = Message::Layers {
            rows: vec![of.error("no hook")],
        };
        let line = message.to_line().unwrap();
        assert_eq!(Message::parse(&line).unwrap(), message);
    }

    #[test]
    fn bad_lines_and_versions_are_refused() {
        assert!(Message::parse("not json").is_err());
        assert!(Message::parse(r#"{"type":"done","rows":1}"#).is_err());
        assert!(Message::parse(r#"{"type":"done","rows":1,"failed":0,"x":1}"#).is_err());
        assert!(Message::parse(r#"{"type":"bye"}"#).is_err());
        assert_eq!(
            Message::parse(r#"{"type":"done","rows":2,"failed":1}"#).unwrap(),
            Message::Done {
                rows: 2,
                failed: 1,
                gpu_end: None
            }
        );
        // A GPU worker's last message carries its end reading, through and back.
        let line = "0, NVIDIA H100 80GB HBM3, 580.95.05, P0, 1980, 2619, 1980, 2619, 300.5, \
                    700.00, 55, 100";
        let done = Message::Done {
            rows: 3,
            failed: 0,
            gpu_end: Some(crate::nvidia_smi::GpuReading {
                moment: "end".into(),
                at: "2026-12-07T05:00:00Z".into(),
                gpus: crate::nvidia_smi::parse(line).unwrap(),
            }),
        };
        assert_eq!(Message::parse(&done.to_line().unwrap()).unwrap(), done);
        assert!(check_hello(PROTOCOL, env!("CARGO_PKG_VERSION")).is_ok());
        assert!(check_hello(PROTOCOL + 1, env!("CARGO_PKG_VERSION")).is_err());
        assert!(check_hello(PROTOCOL, "0.0.0-other").is_err());
    }
}
