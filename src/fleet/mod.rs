//! Runs across devices: boards over SSH, emulators and Slurm partitions named in
//! `devices.toml`, each running this same program (built for its architecture) as
//! `flopsbench worker`.
//!
//! A fleet run (any device that is not this host's) writes one folder per host under the
//! run's folder: `<run>/<this host>/` for local devices, `<run>/<device name>/` for each
//! named device, each with its own `meta.json`, `results.csv` and `results.jsonl`;
//! `flopsbench report <run>` merges them. Hosts run in parallel, the devices of one host
//! one after another (emulators run on this host, so after the local devices); each
//! Slurm device is its own job, so they run in parallel too, placed by the cluster.
//!
//! This module runs the named devices; the run layer (`run`) decides which
//! devices are named and hands this host's own devices to the engine.

pub mod binary;
pub mod devices;
pub mod models;
pub mod probe;
pub mod protocol;
pub mod remote;
mod shared_log;
pub mod slurm;
pub mod ssh;
pub mod worker;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::bench::Experiment;
use crate::device::DeviceSpec;
use crate::error::{Error, Result};
use crate::record::Record;
use crate::target::Case;
use devices::{Device, DevicesFile, Transport};
use protocol::Job;
use remote::RemoteRun;
use shared_log::SharedLog;

/// Where named devices are defined, and how to get their binaries.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FleetOptions {
    /// `--devices FILE` (default `./devices.toml`).
    pub devices_file: Option<PathBuf>,
    /// `--build`: cross-build the worker binary first.
    pub build: bool,
    /// `--devices all`: every device of the file.
    pub all_devices: bool,
}

/// Where one device of a run executes.
#[derive(Debug, Clone, PartialEq)]
pub enum Place {
    /// This host (its CPU, its GPUs, or `arm` on an aarch64 host).
    Local(DeviceSpec),
    /// A device of devices.toml.
    Remote(Device),
}

fn file_label(file: Option<&DevicesFile>, options: &FleetOptions) -> String {
    file.map(|f| f.path.display().to_string())
        .or_else(|| {
            options
                .devices_file
                .as_ref()
                .map(|p| p.display().to_string())
        })
        .unwrap_or_else(|| devices::DEFAULT_FILE.into())
}

/// Resolves the run's devices: local ones, and named ones from the devices file.
pub fn place(devices: &[DeviceSpec], options: &FleetOptions) -> Result<Vec<Place>> {
    let host_is_arm = std::env::consts::ARCH == "aarch64";
    let named = |d: &DeviceSpec| match d {
        DeviceSpec::Named(_) => true,
        DeviceSpec::Arm => !host_is_arm,
        _ => false,
    };
    let file = if options.all_devices || options.devices_file.is_some() || devices.iter().any(named)
    {
        devices::load(options.devices_file.as_deref())?
    } else {
        None
    };
    let label = file_label(file.as_ref(), options);
    let known = || {
        file.as_ref()
            .map(|f| {
                f.devices
                    .iter()
                    .map(|d| d.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .filter(|s| !s.is_empty())
            .map_or(format!("{label} defines none"), |s| {
                format!("{label} has: {s}")
            })
    };
    let mut out: Vec<Place> = Vec::new();
    let push = |p: Place, out: &mut Vec<Place>| {
        if !out.contains(&p) {
            out.push(p);
        }
    };
    let mut wanted = devices.to_vec();
    if options.all_devices {
        wanted.retain(|d| *d != DeviceSpec::Cpu);
        wanted.push(DeviceSpec::Named("all".into()));
    }
    for d in &wanted {
        match d {
            DeviceSpec::Named(n) if n == "all" => {
                let all = file.as_ref().map(|f| f.devices.clone()).unwrap_or_default();
                if all.is_empty() {
                    return Err(Error::flag(
                        "--device",
                        format!("all: no devices to run on ({})", known()),
                    ));
                }
                for dev in all {
                    push(Place::Remote(dev), &mut out);
                }
            }
            DeviceSpec::Named(n) => match file.as_ref().and_then(|f| f.get(n)) {
                Some(dev) => push(Place::Remote(dev.clone()), &mut out),
                None => {
                    return Err(Error::flag(
                        "--device",
                        format!(
                            "unknown device '{n}'; built in: cpu, gpu, cuda:N, arm; {}",
                            known()
                        ),
                    ));
                }
            },
            DeviceSpec::Arm if !host_is_arm => match file.as_ref().and_then(|f| f.get("arm")) {
                Some(dev) => push(Place::Remote(dev.clone()), &mut out),
                None => {
                    return Err(Error::flag(
                        "--device",
                        format!("arm: {}", devices::how_to_configure_arm(&label)),
                    ));
                }
            },
            local => push(Place::Local(local.clone()), &mut out),
        }
    }
    Ok(out)
}

/// The binary of every remote device, building per architecture first with `--build`.
pub fn binaries(remote: &[&Device], build: bool, log: &mut dyn Write) -> Result<Vec<PathBuf>> {
    if build {
        let mut arches: Vec<&str> = remote
            .iter()
            .filter(|d| d.binary.is_none() && d.arch != std::env::consts::ARCH)
            .map(|d| d.arch.as_str())
            .collect();
        arches.dedup();
        for arch in arches {
            binary::build(arch, log)?;
        }
    }
    remote.iter().map(|d| binary::for_device(d)).collect()
}

/// The folder of this host's own rows in a fleet run.
pub fn local_dir(root: &Path, remote: &[&Device]) -> PathBuf {
    let host = crate::meta::host_name();
    let name: String = host
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if remote.iter().any(|d| d.name == name) {
        root.join(format!("{name}-local"))
    } else {
        root.join(name)
    }
}

/// One fleet run's remote part: the experiment and its cases, the named devices, and the
/// run's folder (each device writes `<root>/<device name>/`).
pub struct Remote<'a> {
    /// What is measured.
    pub experiment: &'a Experiment,
    /// Its cases, as expanded here.
    pub cases: &'a [Case],
    /// The named devices, each with the binary it runs.
    pub devices: Vec<(&'a Device, PathBuf)>,
    /// The run's folder.
    pub root: &'a Path,
    /// No per-case lines.
    pub quiet: bool,
    /// Resume the run's folder: each device keeps its ok rows and runs what is missing.
    pub resume: bool,
}

/// Runs the named devices of `remote` while `local` runs this host's devices (see the
/// module's documentation): SSH hosts and Slurm devices in parallel threads, each SSH
/// host's devices in turn;
/// emulators here, after `local`, so that nothing else loads this host while it measures.
/// Every line goes to `log`, whole.
pub fn run(
    remote: &Remote<'_>,
    log: &mut (dyn Write + Send),
    local: impl FnOnce(&mut dyn Write) -> Result<Vec<Record>>,
) -> Result<Vec<Record>> {
    let jobs: Vec<Job> = remote
        .devices
        .iter()
        .map(|(d, _)| Job::new(remote.experiment, d.device.clone()))
        .collect();
    let runs: Vec<RemoteRun<'_>> = remote
        .devices
        .iter()
        .zip(&jobs)
        .map(|((device, binary), job)| RemoteRun {
            device,
            job,
            experiment: remote.experiment,
            quiet: remote.quiet,
            cases: remote.cases,
            binary: binary.clone(),
            dir: remote::device_dir(remote.root, &device.name),
            resume: remote.resume,
        })
        .collect();
    let mut by_host: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut here = Vec::new();
    for (i, r) in runs.iter().enumerate() {
        match r.device.transport {
            Transport::Ssh(_) | Transport::Slurm(_) => {
                by_host.entry(r.device.host_key()).or_default().push(i)
            }
            Transport::Emulator(_) => here.push(i),
        }
    }
    let mut results: Vec<Option<Result<Vec<Record>>>> = runs.iter().map(|_| None).collect();
    let shared = Mutex::new(log);
    let local_records = std::thread::scope(|s| {
        let handles: Vec<_> = by_host
            .values()
            .map(|indices| {
                let (runs, shared) = (&runs, &shared);
                s.spawn(move || {
                    let mut log = SharedLog::new(shared);
                    indices
                        .iter()
                        .map(|&i| (i, remote::run(&runs[i], &mut log)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut log = SharedLog::new(&shared);
        let local_records = local(&mut log);
        for &i in &here {
            results[i] = Some(remote::run(&runs[i], &mut log));
        }
        for h in handles {
            match h.join() {
                Ok(done) => {
                    for (i, r) in done {
                        results[i] = Some(r);
                    }
                }
                Err(_) => writeln!(log, "error: a device thread panicked").unwrap_or(()),
            }
        }
        local_records
    });
    let mut records = local_records?;
    for r in results.into_iter().flatten() {
        records.extend(r?);
    }
    Ok(records)
}
