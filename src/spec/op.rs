//! Operator cases: a stack of identical conv-family layers (the paper's Table 1 unit of
//! measurement), their validation, and their form as a [`Net`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::spec::layer::{Conv2d, Layer, PConv};
use crate::spec::net::{Net, NetBuilder};
use crate::spec::ratio::Ratio;
use crate::spec::shape::{MAX_KERNEL, MAX_LAYERS, Shape};

/// The operator kinds of the study.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpKind {
    /// Dense k×k convolution.
    Conv,
    /// Group convolution (`--groups`, default 16).
    Gconv,
    /// Depthwise convolution (groups = channels).
    Dwconv,
    /// Partial convolution: k×k conv on the first floor(c·r) channels.
    Pconv,
    /// Pointwise (1×1) convolution.
    Pwconv,
}

impl OpKind {
    /// Every kind, in the paper's order.
    pub const ALL: [OpKind; 5] = [
        OpKind::Conv,
        OpKind::Gconv,
        OpKind::Dwconv,
        OpKind::Pconv,
        OpKind::Pwconv,
    ];

    /// The names accepted by `--kind`.
    pub const NAMES: [&'static str; 5] = ["conv", "gconv", "dwconv", "pconv", "pwconv"];

    /// Command-line name.
    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// One-line description for `list`.
    pub fn describe(self) -> &'static str {
        match self {
            OpKind::Conv => "dense k×k convolution, c→c",
            OpKind::Gconv => "group convolution, --groups G (default 16)",
            OpKind::Dwconv => "depthwise convolution (groups = channels)",
            OpKind::Pconv => {
                "partial convolution: k×k conv on the first floor(c·r) channels, rest passed through (--ratio, default 1/4)"
            }
            OpKind::Pwconv => "pointwise 1×1 convolution, c→c",
        }
    }
}

impl fmt::Display for OpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OpKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        OpKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim().to_lowercase())
            .ok_or_else(|| Error::unknown("operator kind", s, &OpKind::NAMES))
    }
}

/// One operator case: `layers` identical layers of `kind` on a `shape` input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OpCase {
    /// Operator kind.
    pub kind: OpKind,
    /// Input shape c×h×w of the first layer.
    pub shape: Shape,
    /// Output channels of each layer (= input channels unless `--out-channels`).
    pub c_out: usize,
    /// Kernel size (1 for pwconv).
    pub kernel: usize,
    /// Stride of every layer.
    pub stride: usize,
    /// Zero padding on each side.
    pub padding: usize,
    /// Groups (gconv: as given; dwconv: channels; others: 1).
    pub groups: usize,
    /// Partial ratio (pconv only).
    pub ratio: Option<Ratio>,
    /// Number of stacked layers.
    pub layers: usize,
}

impl OpCase {
    /// The paper's Table-1 case for `kind` on `shape`: 3×3, stride 1, pad 1, 10 layers,
    /// 16 groups for gconv, r = 1/4 for pconv.
    pub fn paper(kind: OpKind, shape: Shape) -> OpCase {
        let kernel = if kind == OpKind::Pwconv { 1 } else { 3 };
        OpCase {
            kind,
            shape,
            c_out: shape.c,
            kernel,
            stride: 1,
            padding: kernel / 2,
            groups: match kind {
                OpKind::Gconv => 16,
                OpKind::Dwconv => shape.c,
                _ => 1,
            },
            ratio: (kind == OpKind::Pconv).then_some(Ratio::QUARTER),
            layers: 10,
        }
    }

    /// Convolved channels of a pconv case, `floor(c·r)`.
    pub fn partial_channels(&self) -> Option<usize> {
        self.ratio.map(|r| r.partial_channels(self.shape.c))
    }

    /// A readable, unique id encoding every parameter, e.g.
    /// `pconv-96x56x56-k3-r1_4-l10`.
    pub fn id(&self) -> String {
        let mut id = format!("{}-{}", self.kind, self.shape);
        if self.c_out != self.shape.c {
            id += &format!("-o{}", self.c_out);
        }
        id += &format!("-k{}", self.kernel);
        if self.stride != 1 {
            id += &format!("-s{}", self.stride);
        }
        if self.padding != self.kernel / 2 {
            id += &format!("-p{}", self.padding);
        }
        if self.kind == OpKind::Gconv {
            id += &format!("-g{}", self.groups);
        }
        if let Some(r) = self.ratio {
            id += &format!("-r{}", r.to_string().replace('/', "_"));
        }
        id + &format!("-l{}", self.layers)
    }

    /// Checks every parameter, naming the flag at fault.
    pub fn validate(&self) -> Result<()> {
        let s = self.shape;
        s.validate("--shape")?;
        if self.layers == 0 || self.layers > MAX_LAYERS {
            return Err(Error::flag(
                "--layers",
                format!("{} layers is outside 1..={MAX_LAYERS}", self.layers),
            ));
        }
        if self.kernel == 0 || self.kernel > MAX_KERNEL {
            return Err(Error::flag(
                "--kernel",
                format!("kernel {} is outside 1..={MAX_KERNEL}", self.kernel),
            ));
        }
        if self.stride == 0 || self.stride > MAX_KERNEL {
            return Err(Error::flag(
                "--stride",
                format!("stride {} is outside 1..={MAX_KERNEL}", self.stride),
            ));
        }
        if self.padding >= self.kernel.max(1) && self.padding > 0 {
            return Err(Error::flag(
                "--padding",
                format!(
                    "padding {} must be smaller than the kernel {}",
                    self.padding, self.kernel
                ),
            ));
        }
        Shape::new(self.c_out, 1, 1).validate("--out-channels")?;
        let padded = s.h.min(s.w) + 2 * self.padding;
        if self.kernel > padded {
            return Err(Error::flag(
                "--kernel",
                format!(
                    "kernel {k} is larger than the padded input ({h}x{w} + 2·{p} padding = {ph}x{pw}) of --shape {s}",
                    k = self.kernel,
                    h = s.h,
                    w = s.w,
                    p = self.padding,
                    ph = s.h + 2 * self.padding,
                    pw = s.w + 2 * self.padding,
                ),
            ));
        }
        match self.kind {
            OpKind::Gconv => {
                if self.groups == 0 {
                    return Err(Error::flag("--groups", "groups must be ≥ 1"));
                }
                for c in [s.c, self.c_out] {
                    if c % self.groups != 0 {
                        return Err(Error::flag(
                            "--groups",
                            format!(
                                "{} groups do not divide {c} channels (--shape {s})",
                                self.groups
                            ),
                        ));
                    }
                }
            }
            OpKind::Dwconv | OpKind::Pconv if self.c_out != s.c => {
                return Err(Error::flag(
                    "--out-channels",
                    format!(
                        "{} keeps the channel count; --out-channels {} differs from --shape {s}",
                        self.kind, self.c_out
                    ),
                ));
            }
            OpKind::Pconv => {
                if self.stride != 1 {
                    return Err(Error::flag(
                        "--stride",
                        "pconv keeps the feature-map size: stride must be 1",
                    ));
                }
                if self.kernel.is_multiple_of(2) {
                    return Err(Error::flag(
                        "--kernel",
                        format!(
                            "pconv keeps the feature-map size: kernel {} must be odd",
                            self.kernel
                        ),
                    ));
                }
                let r = self.ratio.unwrap_or(Ratio::QUARTER);
                if r.partial_channels(s.c) == 0 {
                    return Err(Error::flag(
                        "--ratio",
                        format!(
                            "r = {r} of {} channels (--shape {s}) gives c_p = floor({}·{r}) = 0 convolved channels; use a larger --ratio or more channels",
                            s.c, s.c
                        ),
                    ));
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The case as a net of `layers` nodes named `layer.0`, `layer.1`, ... Validates first.
    pub fn to_net(&self) -> Result<Net> {
        self.validate()?;
        let mut b = NetBuilder::new(self.id(), self.shape, "--shape");
        let mut x = b.input();
        for i in 0..self.layers {
            let c_in = b.shape(x).c;
            let layer = match self.kind {
                OpKind::Pconv => Layer::PConv(PConv {
                    channels: c_in,
                    partial: self.partial_channels().unwrap_or(0),
                    kernel: self.kernel,
                }),
                _ => Layer::Conv(Conv2d {
                    c_in,
                    c_out: self.c_out,
                    kernel: self.kernel,
                    stride: self.stride,
                    padding: self.padding,
                    groups: if self.kind == OpKind::Dwconv {
                        c_in
                    } else {
                        self.groups
                    },
                    bias: false,
                    folded_bn: false,
                }),
            };
            x = b.push(format!("layer.{i}"), layer, &[x])?;
        }
        Ok(b.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paper_cases_have_readable_ids() {
        let c = OpCase::paper(OpKind::Pconv, Shape::new(96, 56, 56));
        assert_eq!(c.id(), "pconv-96x56x56-k3-r1_4-l10");
        let g = OpCase::paper(OpKind::Gconv, Shape::new(96, 56, 56));
        assert_eq!(g.id(), "gconv-96x56x56-k3-g16-l10");
        assert_eq!(g.to_net().unwrap().nodes.len(), 10);
    }

    #[test]
    fn kinds_parse_with_suggestions() {
        assert_eq!("dwconv".parse::<OpKind>().unwrap(), OpKind::Dwconv);
        let e = "dwconvv".parse::<OpKind>().unwrap_err();
        assert!(e.to_string().contains("did you mean 'dwconv'"), "{e}");
    }

    #[test]
    fn validation_names_the_flag() {
        let mut c = OpCase::paper(OpKind::Pconv, Shape::new(8, 56, 56));
        c.ratio = Ratio::new(1, 16);
        assert!(c.validate().unwrap_err().to_string().starts_with("--ratio"));
        let mut g = OpCase::paper(OpKind::Gconv, Shape::new(96, 56, 56));
        g.groups = 5;
        assert!(
            g.validate()
                .unwrap_err()
                .to_string()
                .starts_with("--groups")
        );
        let mut k = OpCase::paper(OpKind::Conv, Shape::new(8, 3, 3));
        k.kernel = 7;
        k.padding = 1;
        assert!(
            k.validate()
                .unwrap_err()
                .to_string()
                .starts_with("--kernel")
        );
    }
}
