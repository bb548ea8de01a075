//! FasterNet T0–L as in the authors' code and timm's `fasternet_*` (node names follow
//! timm's modules): patch embedding, four stages of PConv + MLP blocks with patch
//! merging between them, and the pooled 1×1-conv + linear head.

use crate::error::Result;
use crate::spec::{Activation, Conv2d, Layer, Net, NetBuilder, PConv, Ratio, Shape};

/// One FasterNet variant's configuration.
#[derive(Debug, Clone, Copy)]
pub struct FasterNetConfig {
    /// Embedding width c (stage widths c, 2c, 4c, 8c).
    pub embed_dim: usize,
    /// Blocks per stage.
    pub depths: [usize; 4],
    /// Activation in the MLP and head.
    pub act: Activation,
}

/// The six published variants (authors' configs; see shared paper README).
pub const VARIANTS: [(&str, FasterNetConfig); 6] = [
    ("fasternet-t0", cfg(40, [1, 2, 8, 2], Activation::Gelu)),
    ("fasternet-t1", cfg(64, [1, 2, 8, 2], Activation::Gelu)),
    ("fasternet-t2", cfg(96, [1, 2, 8, 2], Activation::Relu)),
    ("fasternet-s", cfg(128, [1, 2, 13, 2], Activation::Relu)),
    ("fasternet-m", cfg(144, [3, 4, 18, 3], Activation::Relu)),
    ("fasternet-l", cfg(192, [3, 4, 18, 3], Activation::Relu)),
];

const fn cfg(embed_dim: usize, depths: [usize; 4], act: Activation) -> FasterNetConfig {
    FasterNetConfig {
        embed_dim,
        depths,
        act,
    }
}

const MLP_RATIO: usize = 2;
const FEATURE_DIM: usize = 1280;
const CLASSES: usize = 1000;

/// Builds a FasterNet on `3×resolution×resolution` inputs.
pub fn build(name: &str, config: &FasterNetConfig, resolution: usize) -> Result<Net> {
    let mut b = NetBuilder::new(name, Shape::new(3, resolution, resolution), "--resolution");
    let c = config.embed_dim;
    let x = b.input();
    let x = b.conv("patch_embed.proj", x, Conv2d::new(3, c, 4, 4, 1).padding(0))?;
    let mut x = b.bn("patch_embed.norm", x)?;
    for (stage, &depth) in config.depths.iter().enumerate() {
        let dim = c << stage;
        if stage > 0 {
            let prefix = format!("stages.{stage}.downsample");
            let conv = Conv2d::new(dim / 2, dim, 2, 2, 1).padding(0);
            x = b.conv(format!("{prefix}.reduction"), x, conv)?;
            x = b.bn(format!("{prefix}.norm"), x)?;
        }
        for block in 0..depth {
            x = mlp_block(
                &mut b,
                &format!("stages.{stage}.blocks.{block}"),
                x,
                dim,
                config.act,
            )?;
        }
    }
    let x = b.push("global_pool", Layer::GlobalAvgPool, &[x])?;
    let x = b.conv("conv_head", x, Conv2d::new(8 * c, FEATURE_DIM, 1, 1, 1))?;
    let x = b.act("act", x, config.act)?;
    let x = b.push("flatten", Layer::Flatten, &[x])?;
    b.push(
        "classifier",
        Layer::Linear {
            in_features: FEATURE_DIM,
            out_features: CLASSES,
            bias: true,
        },
        &[x],
    )?;
    Ok(b.finish())
}

fn mlp_block(
    b: &mut NetBuilder,
    prefix: &str,
    x: crate::spec::Tensor,
    dim: usize,
    act: Activation,
) -> Result<crate::spec::Tensor> {
    let pconv = PConv {
        channels: dim,
        partial: Ratio::QUARTER.partial_channels(dim),
        kernel: 3,
    };
    let hidden = dim * MLP_RATIO;
    let y = b.push(
        format!("{prefix}.spatial_mixing.partial_conv3"),
        Layer::PConv(pconv),
        &[x],
    )?;
    let y = b.conv(
        format!("{prefix}.mlp.0"),
        y,
        Conv2d::new(dim, hidden, 1, 1, 1),
    )?;
    let y = b.bn(format!("{prefix}.mlp.1"), y)?;
    let y = b.act(format!("{prefix}.mlp.2"), y, act)?;
    let y = b.conv(
        format!("{prefix}.mlp.3"),
        y,
        Conv2d::new(hidden, dim, 1, 1, 1),
    )?;
    b.add(format!("{prefix}.add"), x, y)
}
