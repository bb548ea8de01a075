//! The network zoo: FasterNet T0–L (timm `fasternet_*`), ResNet-18/50, MobileNetV2 and
//! MobileNetV3 small/large (torchvision), each built as a [`Net`] for a resolution.

pub mod fasternet;
pub mod mobilenetv2;
pub mod mobilenetv3;
pub mod resnet;

use crate::error::{Error, Result};
use crate::spec::Net;

/// Every zoo network, in the order `list` prints them.
pub const NAMES: [&str; 11] = [
    "fasternet-t0",
    "fasternet-t1",
    "fasternet-t2",
    "fasternet-s",
    "fasternet-m",
    "fasternet-l",
    "resnet18",
    "resnet50",
    "mobilenetv2",
    "mobilenetv3-small",
    "mobilenetv3-large",
];

/// Largest `--resolution` accepted.
pub const MAX_RESOLUTION: usize = 8192;

/// The reference implementation a zoo name follows.
pub fn reference(name: &str) -> Option<&'static str> {
    Some(match name {
        "fasternet-t0" => "timm fasternet_t0",
        "fasternet-t1" => "timm fasternet_t1",
        "fasternet-t2" => "timm fasternet_t2",
        "fasternet-s" => "timm fasternet_s",
        "fasternet-m" => "timm fasternet_m",
        "fasternet-l" => "timm fasternet_l",
        "resnet18" => "torchvision resnet18",
        "resnet50" => "torchvision resnet50",
        "mobilenetv2" => "torchvision mobilenet_v2",
        "mobilenetv3-small" => "torchvision mobilenet_v3_small",
        "mobilenetv3-large" => "torchvision mobilenet_v3_large",
        _ => return None,
    })
}

/// Checks a network name, suggesting the closest one when it is unknown.
pub fn check_name(name: &str) -> Result<&'static str> {
    NAMES
        .iter()
        .find(|n| **n == name.trim().to_lowercase())
        .copied()
        .ok_or_else(|| Error::unknown("network", name, &NAMES))
}

/// Builds network `name` on `3×resolution×resolution` inputs (unfused: BatchNorm
/// layers present, as in the reference definition).
pub fn build(name: &str, resolution: usize) -> Result<Net> {
    let name = check_name(name)?;
    if resolution == 0 || resolution > MAX_RESOLUTION {
        return Err(Error::flag(
            "--resolution",
            format!("{resolution} is outside 1..={MAX_RESOLUTION}"),
        ));
    }
    if let Some((_, cfg)) = fasternet::VARIANTS.iter().find(|(n, _)| *n == name) {
        return fasternet::build(name, cfg, resolution);
    }
    if let Some((_, block, layers)) = resnet::VARIANTS.iter().find(|(n, ..)| *n == name) {
        return resnet::build(name, *block, *layers, resolution);
    }
    match name {
        "mobilenetv2" => mobilenetv2::build(name, resolution),
        "mobilenetv3-small" => mobilenetv3::build(name, &mobilenetv3::SMALL, 1024, resolution),
        "mobilenetv3-large" => mobilenetv3::build(name, &mobilenetv3::LARGE, 1280, resolution),
        _ => unreachable!("every name in NAMES has a builder"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_builds_at_224() {
        for name in NAMES {
            let net = build(name, 224).unwrap();
            assert_eq!(net.output().c, 1000, "{name}");
            assert!(reference(name).is_some());
        }
    }

    #[test]
    fn too_small_a_resolution_names_the_flag() {
        let e = build("fasternet-t0", 3).unwrap_err();
        assert!(e.to_string().starts_with("--resolution"), "{e}");
        assert_eq!(e.exit_code(), 2);
    }
}
