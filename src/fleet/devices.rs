//! `devices.toml`: the devices of this machine's fleet, each an SSH-reachable host, an
//! emulator or a Slurm partition, by name. Every error names the file and line.
//!
//! ```toml
//! [devices.arm]                # a Raspberry Pi over SSH
//! ssh = "pi@raspberrypi.local"
//! arch = "aarch64"
//!
//! [devices.arm-qemu]           # the aarch64 build under qemu-user, here
//! runner = "qemu-aarch64 -L /usr/aarch64-linux-gnu -cpu cortex-a72"
//! arch = "aarch64"
//! emulated = true
//!
//! [devices.a100]               # nodes of a Slurm cluster, through srun
//! slurm = "--partition=gpu --gres=gpu:1 --time=00:30:00"
//! device = "gpu"
//! ```

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::device::{DeviceSpec, is_device_name};
use crate::error::{Error, Result};
use crate::fleet::slurm::{self, SlurmTarget};

/// The devices file read when `--devices` is not given.
pub const DEFAULT_FILE: &str = "devices.toml";

/// Architectures a worker binary can be built for.
pub const ARCHES: [&str; 2] = ["x86_64", "aarch64"];

/// How a device is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// The system OpenSSH client, in batch mode.
    Ssh(SshTarget),
    /// A local emulator command (program and arguments) that runs the binary.
    Emulator(Vec<String>),
    /// `srun` with the entry's options: the cluster places the worker.
    Slurm(SlurmTarget),
}

/// An SSH destination and its options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshTarget {
    /// `user@host` or `host` (or a `Host` alias of ~/.ssh/config).
    pub destination: String,
    /// Port (default: ssh's own, 22 or ~/.ssh/config).
    pub port: Option<u16>,
    /// Private key file.
    pub identity: Option<PathBuf>,
    /// Folder on the host for the worker binaries, relative to the remote home unless
    /// absolute [default: .cache/flopsbench].
    pub remote_dir: String,
    /// Extra `-o` options for ssh (`StrictHostKeyChecking=accept-new`, ...).
    pub options: Vec<String>,
}

/// One named device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// The name (`[devices.NAME]`).
    pub name: String,
    /// How it is reached.
    pub transport: Transport,
    /// Its CPU architecture: which binary runs there.
    pub arch: String,
    /// Whether its times are emulated (never results; kept out of charts).
    pub emulated: bool,
    /// The binary to run there [default: this one, or target/<arch>-unknown-linux-gnu/
    /// release/flopsbench].
    pub binary: Option<PathBuf>,
    /// The device on that host: `cpu` (default) or a GPU (`gpu`, `cuda:N`) of a Jetson, say.
    pub device: DeviceSpec,
}

impl Device {
    /// How it is reached, in words (meta.json's `via`, messages).
    pub fn via(&self) -> String {
        match &self.transport {
            Transport::Ssh(t) => match t.port {
                Some(p) => format!("ssh {} (port {p})", t.destination),
                None => format!("ssh {}", t.destination),
            },
            Transport::Emulator(argv) => argv.join(" "),
            Transport::Slurm(t) => format!("srun {}", t.options.join(" ")).trim().to_string(),
        }
    }

    /// The host's name as far as known here: the SSH destination's host part, or this
    /// host for an emulator.
    pub fn host(&self) -> String {
        match &self.transport {
            Transport::Ssh(t) => t
                .destination
                .rsplit_once('@')
                .map_or(t.destination.clone(), |(_, h)| h.to_string()),
            Transport::Emulator(_) => crate::meta::host_name(),
            Transport::Slurm(t) => format!(
                "slurm:{}",
                t.partition.as_deref().unwrap_or("default partition")
            ),
        }
    }

    /// The physical host it runs on, for running devices of one host one after another:
    /// the SSH destination and port, `local` for emulators, and the device itself for a
    /// Slurm device (the cluster places each job).
    pub fn host_key(&self) -> String {
        match &self.transport {
            Transport::Ssh(t) => format!("{}:{}", t.destination, t.port.unwrap_or(22)),
            Transport::Emulator(_) => "local".into(),
            Transport::Slurm(_) => format!("slurm:{}", self.name),
        }
    }
}

/// A parsed devices file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevicesFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its devices, by name order.
    pub devices: Vec<Device>,
}

impl DevicesFile {
    /// The device called `name`.
    pub fn get(&self, name: &str) -> Option<&Device> {
        self.devices.iter().find(|d| d.name == name)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileToml {
    #[serde(default)]
    devices: BTreeMap<String, Spanned<EntryToml>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryToml {
    ssh: Option<Spanned<String>>,
    port: Option<Spanned<i64>>,
    identity: Option<PathBuf>,
    remote_dir: Option<Spanned<String>>,
    #[serde(default)]
    ssh_options: Vec<Spanned<String>>,
    runner: Option<Spanned<String>>,
    slurm: Option<Spanned<String>>,
    arch: Option<Spanned<String>>,
    emulated: Option<bool>,
    binary: Option<PathBuf>,
    device: Option<Spanned<String>>,
}

struct Ctx<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Ctx<'_> {
    fn err(&self, span: Range<usize>, message: impl Into<String>) -> Error {
        let end = span.start.min(self.text.len());
        Error::InputFile {
            path: self.path.to_path_buf(),
            line: Some(self.text[..end].matches('\n').count() as u64 + 1),
            message: message.into(),
        }
    }
}

/// Whether `s` is a plausible `[user@]host` for ssh: no spaces, quotes or shell
/// characters, and no leading `-` (which ssh would read as an option).
fn is_destination(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('-')
        && s.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '@' | '.' | '-' | '_' | ':' | '[' | ']' | '%')
        })
}

fn entry(ctx: &Ctx<'_>, base: &Path, name: &str, e: &Spanned<EntryToml>) -> Result<Device> {
    let span = e.span();
    let v = e.get_ref();
    let here = |m: String| ctx.err(span.clone(), format!("[devices.{name}]: {m}"));
    if !is_device_name(name) {
        return Err(here(
            "a device name takes letters, digits, '-', '_' and '.', starting with a letter or digit"
                .into(),
        ));
    }
    if ["cpu", "gpu", "cuda", "all"].contains(&name.to_lowercase().as_str())
        || name.to_lowercase().starts_with("cuda:")
    {
        return Err(here(format!(
            "'{name}' is a built-in device; choose another name"
        )));
    }
    let arch = match &v.arch {
        Some(a) if ARCHES.contains(&a.get_ref().as_str()) => a.get_ref().clone(),
        Some(a) => {
            return Err(ctx.err(
                a.span(),
                format!(
                    "[devices.{name}] arch = \"{}\": expected one of {}",
                    a.get_ref(),
                    ARCHES.join(", ")
                ),
            ));
        }
        None => std::env::consts::ARCH.to_string(),
    };
    let device = match &v.device {
        Some(d) => match d.get_ref().parse::<DeviceSpec>() {
            Ok(spec @ (DeviceSpec::Cpu | DeviceSpec::Cuda(_))) => spec,
            _ => {
                return Err(ctx.err(
                    d.span(),
                    format!(
                        "[devices.{name}] device = \"{}\": the device on that host is cpu, gpu or cuda:N",
                        d.get_ref()
                    ),
                ));
            }
        },
        None => DeviceSpec::Cpu,
    };
    let transport = match (&v.ssh, &v.runner, &v.slurm) {
        (Some(ssh), None, None) => ssh_transport(ctx, base, name, v, ssh)?,
        (None, Some(runner), None) => {
            let argv = shlex::split(runner.get_ref()).filter(|a| !a.is_empty());
            match argv {
                Some(argv) => Transport::Emulator(argv),
                None => {
                    return Err(ctx.err(
                        runner.span(),
                        format!(
                            "[devices.{name}] runner = \"{}\": expected a command, e.g. \"qemu-aarch64 -L /usr/aarch64-linux-gnu\"",
                            runner.get_ref()
                        ),
                    ));
                }
            }
        }
        (None, None, Some(options)) => slurm_transport(ctx, name, v, options)?,
        _ => {
            return Err(here(
                "give exactly one of ssh = \"user@host\" (a board), runner = \"qemu-aarch64 …\" (an emulator) or slurm = \"--partition=…\" (a Slurm cluster)"
                    .into(),
            ));
        }
    };
    if !matches!(transport, Transport::Ssh(_)) {
        let what = match transport {
            Transport::Slurm(_) => "to slurm devices",
            _ => "to a runner",
        };
        for (field, given) in [
            ("port", v.port.is_some()),
            ("identity", v.identity.is_some()),
            (
                "remote_dir",
                v.remote_dir.is_some() && matches!(transport, Transport::Emulator(_)),
            ),
            ("ssh_options", !v.ssh_options.is_empty()),
        ] {
            if given {
                return Err(here(format!("{field} applies to ssh devices, not {what}")));
            }
        }
    }
    let emulated = v
        .emulated
        .unwrap_or(matches!(transport, Transport::Emulator(_)));
    Ok(Device {
        name: name.to_string(),
        transport,
        arch,
        emulated,
        binary: v.binary.as_ref().map(|p| base.join(p)),
        device,
    })
}

/// The entry's `remote_dir`, or `default`; an empty one is refused.
fn remote_dir(ctx: &Ctx<'_>, name: &str, v: &EntryToml, default: &str) -> Result<String> {
    match &v.remote_dir {
        Some(d) if d.get_ref().trim().is_empty() || d.get_ref().contains('\0') => {
            Err(ctx.err(d.span(), format!("[devices.{name}] remote_dir is empty")))
        }
        Some(d) => Ok(d.get_ref().clone()),
        None => Ok(default.into()),
    }
}

/// The transport of an `ssh = "user@host"` entry, with its port, key, folder and options.
fn ssh_transport(
    ctx: &Ctx<'_>,
    base: &Path,
    name: &str,
    v: &EntryToml,
    ssh: &Spanned<String>,
) -> Result<Transport> {
    let dest = ssh.get_ref().trim();
    if !is_destination(dest) {
        return Err(ctx.err(
            ssh.span(),
            format!(
                "[devices.{name}] ssh = \"{}\": expected user@host (letters, digits, '.', '-', '_', '@', ':'; no spaces, no leading '-')",
                ssh.get_ref()
            ),
        ));
    }
    let port = match &v.port {
        Some(p) if (1..=65535).contains(p.get_ref()) => Some(*p.get_ref() as u16),
        Some(p) => {
            return Err(ctx.err(
                p.span(),
                format!("[devices.{name}] port = {}: outside 1..=65535", p.get_ref()),
            ));
        }
        None => None,
    };
    let remote_dir = remote_dir(ctx, name, v, ".cache/flopsbench")?;
    let mut options = Vec::new();
    for o in &v.ssh_options {
        let text = o.get_ref();
        if !text.contains('=') || text.starts_with('-') {
            return Err(ctx.err(
                o.span(),
                format!(
                    "[devices.{name}] ssh_options entry \"{text}\": write Key=value (passed as ssh -o Key=value)"
                ),
            ));
        }
        options.push(text.clone());
    }
    Ok(Transport::Ssh(SshTarget {
        destination: dest.to_string(),
        port,
        identity: v.identity.as_ref().map(|p| base.join(p)),
        remote_dir,
        options,
    }))
}

/// The transport of a `slurm = "srun options"` entry: the options checked (see
/// [`slurm::check_options`]); `remote_dir` is the node's folder for the broadcast binary.
fn slurm_transport(
    ctx: &Ctx<'_>,
    name: &str,
    v: &EntryToml,
    options: &Spanned<String>,
) -> Result<Transport> {
    let (words, partition) = slurm::check_options(options.get_ref()).map_err(|why| {
        ctx.err(
            options.span(),
            format!("[devices.{name}] slurm = \"{}\": {why}", options.get_ref()),
        )
    })?;
    let bcast_dir = remote_dir(ctx, name, v, "/tmp")?;
    Ok(Transport::Slurm(SlurmTarget {
        options: words,
        partition,
        bcast_dir,
    }))
}

/// Parses a devices file's text; relative paths in it are relative to its folder.
pub fn parse(path: &Path, text: &str) -> Result<DevicesFile> {
    let ctx = Ctx { path, text };
    let file: FileToml = toml::from_str(text).map_err(|e| Error::InputFile {
        path: path.to_path_buf(),
        line: e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() as u64 + 1),
        message: e.message().trim().to_string(),
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    let devices = file
        .devices
        .iter()
        .map(|(name, e)| entry(&ctx, base, name, e))
        .collect::<Result<Vec<_>>>()?;
    Ok(DevicesFile {
        path: path.to_path_buf(),
        devices,
    })
}

/// Reads `path` (`--devices FILE`), or `devices.toml` in the current folder when it exists.
pub fn load(path: Option<&Path>) -> Result<Option<DevicesFile>> {
    let (path, given) = match path {
        Some(p) => (p.to_path_buf(), true),
        None => (PathBuf::from(DEFAULT_FILE), false),
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if !given && e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Error::flag(
                "--devices",
                format!("cannot read {}: {e}", path.display()),
            ));
        }
    };
    parse(&path, &text).map(Some)
}

/// How to configure the device `arm` on a host that is not aarch64.
pub fn how_to_configure_arm(file: &str) -> String {
    format!(
        "this host is {}, so `arm` means the device named arm in {file}, and it has none. Either\n  \
        - a board over SSH (a Raspberry Pi, Graviton, Jetson): add to {file}\n      \
        [devices.arm]\n      ssh = \"user@board\"\n      arch = \"aarch64\"\n    \
        then `scripts/setup-arm --build` (or --build) makes the aarch64 binary it runs;\n  \
        - or the aarch64 build under qemu here (functional checks; emulated times are not results):\n      \
        [devices.arm]\n      runner = \"qemu-aarch64 -L /usr/aarch64-linux-gnu -cpu cortex-a72\"\n      \
        arch = \"aarch64\"\n      emulated = true",
        std::env::consts::ARCH
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Result<DevicesFile> {
        parse(Path::new("dir/devices.toml"), text)
    }

    #[test]
    fn reads_ssh_and_emulator_entries() {
        let f = parsed(
            "[devices.pi]\nssh = \"pi@board.local\"\nport = 2222\narch = \"aarch64\"\nidentity = \"keys/id\"\n\
             ssh_options = [\"StrictHostKeyChecking=accept-new\"]\n\
             [devices.arm]\nrunner = \"qemu-aarch64 -L '/usr/aarch64-linux-gnu'\"\narch = \"aarch64\"\n",
        )
        .unwrap();
        let pi = f.get("pi").unwrap();
        assert_eq!(pi.arch, "aarch64");
        assert!(!pi.emulated);
        let Transport::Ssh(t) = &pi.transport else {
            panic!("ssh expected")
        };
        assert_eq!(t.port, Some(2222));
        assert_eq!(t.identity.as_deref(), Some(Path::new("dir/keys/id")));
        assert_eq!(t.remote_dir, ".cache/flopsbench");
        let arm = f.get("arm").unwrap();
        assert!(arm.emulated, "emulators are emulated unless told otherwise");
        assert_eq!(
            arm.transport,
            Transport::Emulator(vec![
                "qemu-aarch64".into(),
                "-L".into(),
                "/usr/aarch64-linux-gnu".into()
            ])
        );
    }

    #[test]
    fn errors_name_the_line() {
        let e = parsed("[devices.pi]\narch = \"aarch64\"\nssh = \"-oProxyCommand=x\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("dir/devices.toml:3:"), "{e}");
        let e = parsed("[devices.pi]\nssh = \"a@b\"\nprot = 22\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("prot"), "{e}");
        assert!(parsed("[devices.\"a;b\"]\nssh = \"a@b\"\n").is_err());
        assert!(parsed("[devices.cpu]\nssh = \"a@b\"\n").is_err());
    }

    #[test]
    fn reads_slurm_entries_and_refuses_hostile_options() {
        let f =
            parsed("[devices.a100]\nslurm = \"--partition=gpu --gres=gpu:1\"\ndevice = \"gpu\"\n")
                .unwrap();
        let d = f.get("a100").unwrap();
        let Transport::Slurm(t) = &d.transport else {
            panic!("slurm expected")
        };
        assert_eq!(t.partition.as_deref(), Some("gpu"));
        assert_eq!(t.bcast_dir, "/tmp");
        assert!(!d.emulated);
        assert_eq!(d.host_key(), "slurm:a100");
        let e = parsed("[devices.x]\narch = \"x86_64\"\nslurm = \"-p debug --output=o.txt\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("dir/devices.toml:3:") && e.contains("--output"),
            "{e}"
        );
        assert!(parsed("[devices.x]\nslurm = \"-p a\"\nssh = \"a@b\"\n").is_err());
        assert!(parsed("[devices.x]\nslurm = \"-p a\"\nport = 22\n").is_err());
    }
}
