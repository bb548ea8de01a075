//! `flopsbench list`: operator kinds, zoo networks with their counts, backends and
//! devices.

use sysinfo::System;

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
    for b in backend::registry() {
        let name = b.name();
        let status = match b.probe(&DeviceSpec::Cpu) {
            Ok(()) => format!("available (version {})", b.version()),
            Err(why) => format!("unavailable: {why}"),
        };
        out += &format!("  {name:<8} {status}\n");
    }
    out += "\nDevices (--device):\n";
    out += &format!("  cpu      {}\n", host_cpu());
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
            None => "  arm      not configured: add [devices.arm] to devices.toml (a board over ssh, or qemu; see README)\n".to_string(),
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

/// This host's CPU, e.g. `Intel(R) Xeon(R) ... (2 logical cores, x86_64)`.
pub fn host_cpu() -> String {
    let mut sys = System::new();
    sys.refresh_cpu_all();
    let model = sys
        .cpus()
        .first()
        .map(|c| c.brand().trim().to_string())
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| "unknown CPU".into());
    format!(
        "{model} ({} logical cores, {})",
        sys.cpus().len().max(1),
        std::env::consts::ARCH
    )
}
