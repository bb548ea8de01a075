//! MobileNetV3 small and large (width 1.0) as torchvision defines them, with
//! squeeze-excitation; node names follow torchvision's modules (`features.N.block.M`).

use crate::error::Result;
use crate::spec::{Activation, Conv2d, Layer, Net, NetBuilder, Shape, Tensor};
use crate::zoo::mobilenetv2::make_divisible;

/// One bottleneck: input c, kernel, expanded c, output c, squeeze-excitation, activation,
/// stride.
type Bneck = (usize, usize, usize, usize, bool, Activation, usize);

const RE: Activation = Activation::Relu;
const HS: Activation = Activation::Hardswish;

/// MobileNetV3-Large bottlenecks (torchvision `_mobilenet_v3_conf`).
pub const LARGE: [Bneck; 15] = [
    (16, 3, 16, 16, false, RE, 1),
    (16, 3, 64, 24, false, RE, 2),
    (24, 3, 72, 24, false, RE, 1),
    (24, 5, 72, 40, true, RE, 2),
    (40, 5, 120, 40, true, RE, 1),
    (40, 5, 120, 40, true, RE, 1),
    (40, 3, 240, 80, false, HS, 2),
    (80, 3, 200, 80, false, HS, 1),
    (80, 3, 184, 80, false, HS, 1),
    (80, 3, 184, 80, false, HS, 1),
    (80, 3, 480, 112, true, HS, 1),
    (112, 3, 672, 112, true, HS, 1),
    (112, 5, 672, 160, true, HS, 2),
    (160, 5, 960, 160, true, HS, 1),
    (160, 5, 960, 160, true, HS, 1),
];

/// MobileNetV3-Small bottlenecks.
pub const SMALL: [Bneck; 11] = [
    (16, 3, 16, 16, true, RE, 2),
    (16, 3, 72, 24, false, RE, 2),
    (24, 3, 88, 24, false, RE, 1),
    (24, 5, 96, 40, true, HS, 2),
    (40, 5, 240, 40, true, HS, 1),
    (40, 5, 240, 40, true, HS, 1),
    (40, 5, 120, 48, true, HS, 1),
    (48, 5, 144, 48, true, HS, 1),
    (48, 5, 288, 96, true, HS, 2),
    (96, 5, 576, 96, true, HS, 1),
    (96, 5, 576, 96, true, HS, 1),
];

/// Builds a MobileNetV3 from its bottlenecks and classifier width (1280 large, 1024
/// small) on `3×resolution×resolution` inputs.
pub fn build(name: &str, bnecks: &[Bneck], last_channel: usize, resolution: usize) -> Result<Net> {
    let mut b = NetBuilder::new(name, Shape::new(3, resolution, resolution), "--resolution");
    let x = b.input();
    let mut x = b.conv_bn_act("features.0", x, Conv2d::new(3, 16, 3, 2, 1), Some(HS))?;
    for (i, bneck) in bnecks.iter().enumerate() {
        x = inverted_residual(&mut b, &format!("features.{}", i + 1), x, bneck)?;
    }
    let c_last = bnecks[bnecks.len() - 1].3;
    let prefix = format!("features.{}", bnecks.len() + 1);
    let x = b.conv_bn_act(
        &prefix,
        x,
        Conv2d::new(c_last, 6 * c_last, 1, 1, 1),
        Some(HS),
    )?;
    let x = b.push("avgpool", Layer::GlobalAvgPool, &[x])?;
    let x = b.push("flatten", Layer::Flatten, &[x])?;
    let linear = |i, o| Layer::Linear {
        in_features: i,
        out_features: o,
        bias: true,
    };
    let x = b.push("classifier.0", linear(6 * c_last, last_channel), &[x])?;
    let x = b.act("classifier.1", x, HS)?;
    b.push("classifier.3", linear(last_channel, 1000), &[x])?;
    Ok(b.finish())
}

fn inverted_residual(b: &mut NetBuilder, prefix: &str, x: Tensor, bneck: &Bneck) -> Result<Tensor> {
    let &(c_in, kernel, expanded, c_out, se, act, stride) = bneck;
    let mut y = x;
    let mut m = 0;
    if expanded != c_in {
        let conv = Conv2d::new(c_in, expanded, 1, 1, 1);
        y = b.conv_bn_act(&format!("{prefix}.block.{m}"), y, conv, Some(act))?;
        m += 1;
    }
    let dw = Conv2d::new(expanded, expanded, kernel, stride, expanded);
    y = b.conv_bn_act(&format!("{prefix}.block.{m}"), y, dw, Some(act))?;
    m += 1;
    if se {
        y = squeeze_excitation(b, &format!("{prefix}.block.{m}"), y, expanded)?;
        m += 1;
    }
    let project = Conv2d::new(expanded, c_out, 1, 1, 1);
    y = b.conv_bn_act(&format!("{prefix}.block.{m}"), y, project, None)?;
    if stride == 1 && c_in == c_out {
        b.add(format!("{prefix}.add"), x, y)
    } else {
        Ok(y)
    }
}

/// torchvision's `SqueezeExcitation`: global pool, 1×1 conv (bias) to
/// `make_divisible(c/4, 8)`, ReLU, 1×1 conv (bias) back, Hardsigmoid, channel scale.
fn squeeze_excitation(b: &mut NetBuilder, prefix: &str, x: Tensor, c: usize) -> Result<Tensor> {
    let squeeze = make_divisible(c / 4, 8);
    let s = b.push(format!("{prefix}.avgpool"), Layer::GlobalAvgPool, &[x])?;
    let s = b.conv(
        format!("{prefix}.fc1"),
        s,
        Conv2d::new(c, squeeze, 1, 1, 1).with_bias(),
    )?;
    let s = b.act(format!("{prefix}.activation"), s, RE)?;
    let s = b.conv(
        format!("{prefix}.fc2"),
        s,
        Conv2d::new(squeeze, c, 1, 1, 1).with_bias(),
    )?;
    let s = b.act(
        format!("{prefix}.scale_activation"),
        s,
        Activation::Hardsigmoid,
    )?;
    b.push(format!("{prefix}.scale"), Layer::Mul, &[x, s])
}
