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

/// The text `list` prints.
pub fn render() -> Result<String> {
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
    for name in backend::NAMES {
        let b = backend::by_name(name)?;
        let status = match b.probe(&DeviceSpec::Cpu) {
            Ok(()) => format!("available (version {})", b.version()),
            Err(why) => format!("unavailable: {why}"),
        };
        out += &format!("  {name:<8} {status}\n");
    }
    out += "\nDevices (--device):\n";
    out += &format!("  cpu      {}\n", host_cpu());
    for (name, device) in [("gpu", DeviceSpec::Cuda(0)), ("arm", DeviceSpec::Arm)] {
        let usable: Vec<&str> = backend::NAMES
            .iter()
            .filter(|n| backend::by_name(n).is_ok_and(|b| b.probe(&device).is_ok()))
            .copied()
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
