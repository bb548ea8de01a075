//! `flopsbench list`: operator kinds, zoo networks with their counts, backends and
//! devices.

use sysinfo::System;

use crate::count::{CountOptions, count_zoo};
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
    out += "\nBackends (--backend):\n";
    out += "  none in this version: timing backends (candle, tract, ort, tch) are not built yet;\n";
    out += "  `count` and `list` need none.\n";
    out += "\nDevices (--device):\n";
    out += &format!("  cpu      {}\n", host_cpu());
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
