//! ResNet-18 and ResNet-50 as torchvision defines them (v1.5: the stride sits on the 3×3
//! conv of a bottleneck); node names follow torchvision's modules.

use crate::error::Result;
use crate::spec::{Activation, Conv2d, Layer, Net, NetBuilder, PoolKind, Shape, Tensor};

/// Residual block type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Block {
    /// Two 3×3 convs (expansion 1).
    Basic,
    /// 1×1, 3×3, 1×1 (expansion 4).
    Bottleneck,
}

/// The two variants in the zoo.
pub const VARIANTS: [(&str, Block, [usize; 4]); 2] = [
    ("resnet18", Block::Basic, [2, 2, 2, 2]),
    ("resnet50", Block::Bottleneck, [3, 4, 6, 3]),
];

const RELU: Activation = Activation::Relu;

/// Builds a ResNet on `3×resolution×resolution` inputs.
pub fn build(name: &str, block: Block, layers: [usize; 4], resolution: usize) -> Result<Net> {
    let mut b = NetBuilder::new(name, Shape::new(3, resolution, resolution), "--resolution");
    let expansion = if block == Block::Basic { 1 } else { 4 };
    let x = b.input();
    let x = b.conv("conv1", x, Conv2d::new(3, 64, 7, 2, 1).padding(3))?;
    let x = b.bn("bn1", x)?;
    let x = b.act("relu", x, RELU)?;
    let pool = Layer::Pool {
        kind: PoolKind::Max,
        kernel: 3,
        stride: 2,
        padding: 1,
    };
    let mut x = b.push("maxpool", pool, &[x])?;
    let mut inplanes = 64;
    for (i, &blocks) in layers.iter().enumerate() {
        let planes = 64 << i;
        for j in 0..blocks {
            let stride = if i > 0 && j == 0 { 2 } else { 1 };
            let prefix = format!("layer{}.{j}", i + 1);
            x = residual(&mut b, &prefix, x, block, inplanes, planes, stride)?;
            inplanes = planes * expansion;
        }
    }
    let x = b.push("avgpool", Layer::GlobalAvgPool, &[x])?;
    let x = b.push("flatten", Layer::Flatten, &[x])?;
    b.push(
        "fc",
        Layer::Linear {
            in_features: 512 * expansion,
            out_features: 1000,
            bias: true,
        },
        &[x],
    )?;
    Ok(b.finish())
}

fn residual(
    b: &mut NetBuilder,
    prefix: &str,
    x: Tensor,
    block: Block,
    inplanes: usize,
    planes: usize,
    stride: usize,
) -> Result<Tensor> {
    let out_planes = if block == Block::Basic {
        planes
    } else {
        planes * 4
    };
    let convs: Vec<Conv2d> = match block {
        Block::Basic => vec![
            Conv2d::new(inplanes, planes, 3, stride, 1),
            Conv2d::new(planes, planes, 3, 1, 1),
        ],
        Block::Bottleneck => vec![
            Conv2d::new(inplanes, planes, 1, 1, 1),
            Conv2d::new(planes, planes, 3, stride, 1),
            Conv2d::new(planes, out_planes, 1, 1, 1),
        ],
    };
    let last = convs.len();
    let mut y = x;
    for (k, conv) in convs.into_iter().enumerate() {
        y = b.conv(format!("{prefix}.conv{}", k + 1), y, conv)?;
        y = b.bn(format!("{prefix}.bn{}", k + 1), y)?;
        if k + 1 < last {
            y = b.act(format!("{prefix}.relu{}", k + 1), y, RELU)?;
        }
    }
    let identity = if stride != 1 || inplanes != out_planes {
        let d = b.conv(
            format!("{prefix}.downsample.0"),
            x,
            Conv2d::new(inplanes, out_planes, 1, stride, 1),
        )?;
        b.bn(format!("{prefix}.downsample.1"), d)?
    } else {
        x
    };
    let y = b.add(format!("{prefix}.add"), y, identity)?;
    b.act(format!("{prefix}.relu"), y, RELU)
}
