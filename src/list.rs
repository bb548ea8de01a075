//! `flopsbench list`: operator kinds, zoo networks with their counts, backends and
//! devices.

use crate::backend;
use crate::count::{CountOptions, count_zoo};
use crate::device::DeviceSpec;
use crate::error::Result;
use crate::output::units::si;
use crate::spec::OpKind;
use crate::zoo;

/// The text `list` prints; named devices from `devices` (default `./devices.toml`).
pub fn render(devices: Option<&std::path::Path>) -> Result<String> {
    let mut out = String::from("Operators (--kind, comma lists allowed):\n");
    for kind in OpKind::ALL {
        out += &format!("  {:<8} {}\n", kind.as_str(), kind.describe());
    }
    out += "\nNetworks (count NET; 3x224x224, batch 1, BN folded):\n";
    out += &format!(
        "  {:<18} {:>9} {:>9}  reference\n",
        "name", "params", "MACs"
    );
    for name in zoo::NAMES {
        let c = count_zoo(name, 224, &CountOptions::default(), false)?;
        out += &format!(
            "  {:<18} {:>9} {:>9}  {}\n",
            name,
            si(c.params as f64),
            si(c.macs as f64),
            zoo::reference(name).unwrap_or("")
        );
    }
    out += "\nBackends (--backend; availability on cpu):\n";
    out += &backend_lines(&backend::availability(&DeviceSpec::Cpu));
    out += "\nDevices (--device):\n";
    out += &format!("  cpu      {}\n", crate::meta::cpu_summary());
    let file = match (devices, crate::fleet::devices::load(devices)) {
        // A file named on the command line must be readable.
        (Some(_), Err(e)) => return Err(e),
        (_, file) => file,
    };
    let arm_entry = match &file {
        Ok(Some(f)) => f.get("arm").cloned(),
        _ => None,
    };
    let devices: &[(&str, DeviceSpec)] = if std::env::consts::ARCH == "aarch64" {
        &[("gpu", DeviceSpec::Cuda(0)), ("arm", DeviceSpec::Arm)]
    } else {
        &[("gpu", DeviceSpec::Cuda(0))]
    };
    if std::env::consts::ARCH != "aarch64" {
        out += &match &arm_entry {
            Some(d) => format!("  arm      the arm entry of devices.toml: {}\n", describe(d)),
            None => "  arm      not configured: add [devices.arm] to devices.toml (a board over ssh, or qemu; see docs/devices.md)\n".to_string(),
        };
    }
    match &file {
        Ok(Some(f)) => {
            for d in f.devices.iter().filter(|d| d.name != "arm") {
                out += &format!("  {:<8} {}\n", d.name, describe(d));
            }
        }
        Ok(None) => {}
        Err(e) => out += &format!("  (devices.toml: {e})\n"),
    }
    for (name, device) in devices {
        let usable: Vec<&str> = backend::registry()
            .iter()
            .filter(|b| b.probe(device).is_ok())
            .map(|b| b.name())
            .collect();
        let status = if usable.is_empty() {
            "no backend can run here yet".to_string()
        } else {
            format!("runs on {}", usable.join(", "))
        };
        out += &format!("  {name:<8} {status}\n");
    }
    Ok(out)
}

/// A named device in words; a Slurm device with `sinfo`'s view of its partition (state,
/// nodes idle) when `sinfo` is here.
fn describe(d: &crate::fleet::devices::Device) -> String {
    let mut out = format!(
        "{} ({}{})",
        d.via(),
        d.arch,
        if d.emulated { ", emulated" } else { "" }
    );
    if let crate::fleet::devices::Transport::Slurm(t) = &d.transport {
        out += &match crate::fleet::slurm::sinfo(t) {
            Some(view) => format!("; {view}"),
            None => "; sinfo not found here".to_string(),
        };
    }
    out
}

/// One line per backend: available (version) or unavailable (why).
pub fn backend_lines(backends: &[(String, std::result::Result<String, String>)]) -> String {
    backends
        .iter()
        .map(|(name, status)| match status {
            Ok(version) => format!("  {name:<8} available (version {version})\n"),
            Err(why) => format!("  {name:<8} unavailable: {why}\n"),
        })
        .collect()
}

/// `list --device NAME,…`: what each named device's host has, as its own flopsbench sees it
/// (run there as a worker: over SSH, under its emulator, or as a Slurm job); with the
/// number of devices that could not be asked.
pub fn render_remote(
    devices: Option<&std::path::Path>,
    names: &[String],
) -> Result<(String, usize)> {
    let file = crate::fleet::devices::load(devices)?;
    let label = file
        .as_ref()
        .map_or(crate::fleet::devices::DEFAULT_FILE.to_string(), |f| {
            f.path.display().to_string()
        });
    let mut out = String::new();
    let mut failed = 0;
    for name in names {
        let Some(device) = file.as_ref().and_then(|f| f.get(name)) else {
            return Err(crate::error::Error::flag(
                "--device",
                format!("unknown device '{name}': {label} does not name it"),
            ));
        };
        let binary = crate::fleet::binary::for_device(device)?;
        out += &format!("{name} ({}):\n", describe(device));
        match crate::fleet::probe::list(device, binary) {
            Ok(l) => {
                out += &format!("  host     {}\n  {:<8} {}\n", l.host, l.device, l.cpu);
                out += &backend_lines(&l.backends);
            }
            Err(why) => {
                failed += 1;
                out += &format!("  not reached: {why}\n");
            }
        }
    }
    Ok((out, failed))
}
