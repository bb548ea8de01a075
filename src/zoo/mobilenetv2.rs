//! MobileNetV2 (width 1.0) as torchvision defines it; node names follow torchvision's
//! modules (`features.N.conv.M`).

use crate::error::Result;
use crate::spec::{Activation, Conv2d, Layer, Net, NetBuilder, Shape, Tensor};

/// torchvision's `_make_divisible`: round `v` to a multiple of `divisor`, never below
/// `divisor` nor more than 10% below `v`.
pub fn make_divisible(v: usize, divisor: usize) -> usize {
    let rounded = ((v + divisor / 2) / divisor * divisor).max(divisor);
    if (rounded as f64) < 0.9 * v as f64 {
        rounded + divisor
    } else {
        rounded
    }
}

/// Inverted-residual settings: expansion t, output channels c, repeats n, stride s.
const SETTINGS: [(usize, usize, usize, usize); 7] = [
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
];

const ACT: Option<Activation> = Some(Activation::Relu6);

/// Builds MobileNetV2 on `3×resolution×resolution` inputs.
pub fn build(name: &str, resolution: usize) -> Result<Net> {
    let mut b = NetBuilder::new(name, Shape::new(3, resolution, resolution), "--resolution");
    let x = b.input();
    let mut x = b.conv_bn_act("features.0", x, Conv2d::new(3, 32, 3, 2, 1), ACT)?;
    let mut c_in = 32;
    let mut index = 1;
    for (t, c, n, s) in SETTINGS {
        for i in 0..n {
            let stride = if i == 0 { s } else { 1 };
            x = inverted_residual(&mut b, &format!("features.{index}"), x, c_in, c, stride, t)?;
            c_in = c;
            index += 1;
        }
    }
    let x = b.conv_bn_act(
        &format!("features.{index}"),
        x,
        Conv2d::new(c_in, 1280, 1, 1, 1),
        ACT,
    )?;
    let x = b.push("avgpool", Layer::GlobalAvgPool, &[x])?;
    let x = b.push("flatten", Layer::Flatten, &[x])?;
    b.push(
        "classifier.1",
        Layer::Linear {
            in_features: 1280,
            out_features: 1000,
            bias: true,
        },
        &[x],
    )?;
    Ok(b.finish())
}

fn inverted_residual(
    b: &mut NetBuilder,
    prefix: &str,
    x: Tensor,
    c_in: usize,
    c_out: usize,
    stride: usize,
    expand: usize,
) -> Result<Tensor> {
    let hidden = c_in * expand;
    let mut y = x;
    let mut m = 0;
    if expand != 1 {
        y = b.conv_bn_act(
            &format!("{prefix}.conv.{m}"),
            y,
            Conv2d::new(c_in, hidden, 1, 1, 1),
            ACT,
        )?;
        m += 1;
    }
    let dw = Conv2d::new(hidden, hidden, 3, stride, hidden);
    y = b.conv_bn_act(&format!("{prefix}.conv.{m}"), y, dw, ACT)?;
    y = b.conv(
        format!("{prefix}.conv.{}", m + 1),
        y,
        Conv2d::new(hidden, c_out, 1, 1, 1),
    )?;
    y = b.bn(format!("{prefix}.conv.{}", m + 2), y)?;
    if stride == 1 && c_in == c_out {
        b.add(format!("{prefix}.add"), x, y)
    } else {
        Ok(y)
    }
}

#[cfg(test)]
mod tests {
    use super::make_divisible;

    #[test]
    fn make_divisible_matches_torchvision() {
        assert_eq!(make_divisible(18, 8), 24);
        assert_eq!(make_divisible(16, 8), 16);
        assert_eq!(make_divisible(4, 8), 8);
        assert_eq!(make_divisible(240 / 4, 8), 64);
        assert_eq!(make_divisible(120 / 4, 8), 32);
    }
}
