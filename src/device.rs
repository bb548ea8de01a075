//! Where a case runs: a plain, comparable device description (no live handles).

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// A device named on the command line.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DeviceSpec {
    /// This host's CPU.
    Cpu,
    /// An NVIDIA GPU by index (`gpu` = `cuda:0`).
    Cuda(usize),
    /// An ARM CPU: the host on aarch64, otherwise the `arm` entry of devices.toml.
    Arm,
    /// A device named in devices.toml (an SSH-reachable board, an emulator).
    Named(String),
}

/// Whether `name` can name a device in devices.toml: letters, digits, `-`, `_` and `.`,
/// starting with a letter or digit (it becomes a folder name and a CSV value; it never
/// reaches a shell).
pub fn is_device_name(name: &str) -> bool {
    name.len() <= 64
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl DeviceSpec {
    /// Whether this device is the host's own CPU, so local CPU backends can run it.
    pub fn is_host_cpu(&self) -> bool {
        match self {
            DeviceSpec::Cpu => true,
            DeviceSpec::Arm => std::env::consts::ARCH == "aarch64",
            DeviceSpec::Cuda(_) | DeviceSpec::Named(_) => false,
        }
    }

    /// The paper's protocol for this device: (batch, threads). CPU and ARM: batch 1, one
    /// thread (latency); GPU: batch 32 (throughput).
    pub fn paper_protocol(&self) -> (usize, usize) {
        match self {
            DeviceSpec::Cuda(_) => (32, 1),
            _ => (1, 1),
        }
    }
}

impl fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceSpec::Cpu => f.write_str("cpu"),
            DeviceSpec::Cuda(n) => write!(f, "cuda:{n}"),
            DeviceSpec::Arm => f.write_str("arm"),
            DeviceSpec::Named(n) => f.write_str(n),
        }
    }
}

impl FromStr for DeviceSpec {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let given = s.trim();
        let s = given.to_lowercase();
        match s.as_str() {
            "cpu" => Ok(DeviceSpec::Cpu),
            "gpu" | "cuda" => Ok(DeviceSpec::Cuda(0)),
            "arm" => Ok(DeviceSpec::Arm),
            _ => match s.strip_prefix("cuda:").map(str::parse::<usize>) {
                Some(Ok(n)) => Ok(DeviceSpec::Cuda(n)),
                None if is_device_name(given) => Ok(DeviceSpec::Named(given.to_string())),
                _ => Err(Error::unknown(
                    "device",
                    &s,
                    &["cpu", "gpu", "cuda:N", "arm", "a name from devices.toml"],
                )),
            },
        }
    }
}

serde_as_text!(DeviceSpec);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_devices() {
        assert_eq!("cpu".parse::<DeviceSpec>().unwrap(), DeviceSpec::Cpu);
        assert_eq!("gpu".parse::<DeviceSpec>().unwrap(), DeviceSpec::Cuda(0));
        assert_eq!("cuda:1".parse::<DeviceSpec>().unwrap(), DeviceSpec::Cuda(1));
        assert_eq!(
            "pi4".parse::<DeviceSpec>().unwrap(),
            DeviceSpec::Named("pi4".into())
        );
        assert!("cuda:x".parse::<DeviceSpec>().is_err());
        assert!("a;b".parse::<DeviceSpec>().is_err());
        assert!("-oProxyCommand=x".parse::<DeviceSpec>().is_err());
        assert_eq!(DeviceSpec::Cuda(0).paper_protocol(), (32, 1));
    }
}
