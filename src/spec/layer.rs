//! The closed set of layer types networks and operator stacks are built from, and the
//! shape each produces.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::spec::shape::Shape;

/// Elementwise activation functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// max(x, 0)
    Relu,
    /// min(max(x, 0), 6)
    Relu6,
    /// x·Φ(x) (erf form, as PyTorch's default `nn.GELU`)
    Gelu,
    /// x·relu6(x + 3)/6
    Hardswish,
    /// relu6(x + 3)/6
    Hardsigmoid,
}

impl Activation {
    /// Name as printed in per-layer output.
    pub fn as_str(self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::Relu6 => "relu6",
            Activation::Gelu => "gelu",
            Activation::Hardswish => "hardswish",
            Activation::Hardsigmoid => "hardsigmoid",
        }
    }
}

/// A 2-D convolution (dense, grouped, depthwise or pointwise), square kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Conv2d {
    /// Input channels.
    pub c_in: usize,
    /// Output channels.
    pub c_out: usize,
    /// Kernel size k (k×k).
    pub kernel: usize,
    /// Stride.
    pub stride: usize,
    /// Zero padding on each side.
    pub padding: usize,
    /// Groups (1 = dense, c_in = depthwise).
    pub groups: usize,
    /// Whether the reference definition has a bias.
    pub bias: bool,
    /// Whether a following BatchNorm was folded into this conv (inference form: the
    /// executable conv then has a bias even if the reference has none).
    pub folded_bn: bool,
}

impl Conv2d {
    /// A bias-free conv with `groups` groups, padding `k/2` ("same" for odd k, stride 1).
    pub fn new(c_in: usize, c_out: usize, kernel: usize, stride: usize, groups: usize) -> Self {
        Conv2d {
            c_in,
            c_out,
            kernel,
            stride,
            padding: kernel / 2,
            groups,
            bias: false,
            folded_bn: false,
        }
    }

    /// The same conv with explicit padding.
    pub fn padding(mut self, padding: usize) -> Self {
        self.padding = padding;
        self
    }

    /// The same conv with a bias.
    pub fn with_bias(mut self) -> Self {
        self.bias = true;
        self
    }

    /// Whether the executable (inference) conv adds a bias.
    pub fn has_runtime_bias(&self) -> bool {
        self.bias || self.folded_bn
    }

    /// Weight elements: c_out · c_in/groups · k².
    pub fn weight_elements(&self) -> u64 {
        (self.c_out * (self.c_in / self.groups) * self.kernel * self.kernel) as u64
    }
}

/// Partial convolution: a k×k conv (stride 1, pad k/2, no bias) on the first `c_p`
/// channels of a `c`-channel input; the other `c - c_p` channels pass through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PConv {
    /// Total channels c (in = out).
    pub channels: usize,
    /// Convolved channels c_p = floor(c·r).
    pub partial: usize,
    /// Kernel size k.
    pub kernel: usize,
}

/// Pooling kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PoolKind {
    /// Average pooling.
    Avg,
    /// Max pooling.
    Max,
}

/// One layer: a node's operation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Layer {
    /// Convolution of any grouping.
    Conv(Conv2d),
    /// Partial convolution (split, conv, concat).
    PConv(PConv),
    /// Batch normalisation (inference: per-channel scale and shift).
    BatchNorm {
        /// Channels.
        channels: usize,
    },
    /// Elementwise activation.
    Act(Activation),
    /// k×k pooling.
    Pool {
        /// Average or max.
        kind: PoolKind,
        /// Window size.
        kernel: usize,
        /// Stride.
        stride: usize,
        /// Padding on each side.
        padding: usize,
    },
    /// Adaptive average pooling to 1×1 (global average pooling).
    GlobalAvgPool,
    /// Fully connected layer on a flattened vector.
    Linear {
        /// Input features.
        in_features: usize,
        /// Output features.
        out_features: usize,
        /// Whether it has a bias.
        bias: bool,
    },
    /// Residual addition of two equal shapes.
    Add,
    /// Channel-wise scaling of the first input by the second (`c×1×1`), as in
    /// squeeze-excitation.
    Mul,
    /// Channel concatenation of all inputs.
    Concat,
    /// Channels `[start, end)` of the input (a view).
    Slice {
        /// First channel.
        start: usize,
        /// One past the last channel.
        end: usize,
    },
    /// Flatten `c×h×w` to a vector (a view).
    Flatten,
}

fn window_out(input: usize, kernel: usize, stride: usize, padding: usize) -> Option<usize> {
    let padded = input + 2 * padding;
    (kernel <= padded && stride > 0).then(|| (padded - kernel) / stride + 1)
}

fn window_shape(
    name: &str,
    x: Shape,
    c_out: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
) -> Result<Shape> {
    match (
        window_out(x.h, kernel, stride, padding),
        window_out(x.w, kernel, stride, padding),
    ) {
        (Some(h), Some(w)) => Ok(Shape::new(c_out, h, w)),
        _ => Err(Error::shape(
            "--shape",
            format!(
                "layer {name}: kernel {kernel} is larger than its padded input {}x{} (padding {padding})",
                x.h + 2 * padding,
                x.w + 2 * padding
            ),
        )),
    }
}

fn expect(name: &str, ok: bool, message: impl FnOnce() -> String) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(Error::shape(
            "--shape",
            format!("layer {name}: {}", message()),
        ))
    }
}

impl Layer {
    /// Short name of the layer type, as printed per layer.
    pub fn op_name(&self) -> &'static str {
        match self {
            Layer::Conv(c) if c.kernel == 1 && c.groups == 1 => "pwconv",
            Layer::Conv(c) if c.groups == 1 => "conv",
            Layer::Conv(c) if c.groups == c.c_in && c.c_out == c.c_in => "dwconv",
            Layer::Conv(_) => "gconv",
            Layer::PConv(_) => "pconv",
            Layer::BatchNorm { .. } => "batchnorm",
            Layer::Act(a) => a.as_str(),
            Layer::Pool {
                kind: PoolKind::Avg,
                ..
            } => "avgpool",
            Layer::Pool {
                kind: PoolKind::Max,
                ..
            } => "maxpool",
            Layer::GlobalAvgPool => "global_avgpool",
            Layer::Linear { .. } => "linear",
            Layer::Add => "add",
            Layer::Mul => "mul",
            Layer::Concat => "concat",
            Layer::Slice { .. } => "slice",
            Layer::Flatten => "flatten",
        }
    }

    /// Number of inputs the layer takes (`None`: any number ≥ 1).
    pub fn arity(&self) -> Option<usize> {
        match self {
            Layer::Add | Layer::Mul => Some(2),
            Layer::Concat => None,
            _ => Some(1),
        }
    }

    /// The output shape for these input shapes, or why they do not fit.
    pub fn out_shape(&self, name: &str, inputs: &[Shape]) -> Result<Shape> {
        if let Some(n) = self.arity() {
            expect(name, inputs.len() == n, || {
                format!("expects {n} inputs, got {}", inputs.len())
            })?;
        }
        expect(name, !inputs.is_empty(), || "has no input".into())?;
        let x = inputs[0];
        match *self {
            Layer::Conv(c) => {
                expect(name, c.c_in == x.c, || {
                    format!("expects {} input channels, got {}", c.c_in, x.c)
                })?;
                expect(name, c.groups >= 1 && c.c_in % c.groups == 0, || {
                    format!(
                        "groups {} do not divide {} input channels",
                        c.groups, c.c_in
                    )
                })?;
                expect(name, c.c_out % c.groups == 0, || {
                    format!(
                        "groups {} do not divide {} output channels",
                        c.groups, c.c_out
                    )
                })?;
                expect(name, c.kernel >= 1 && c.stride >= 1, || {
                    "kernel and stride must be ≥ 1".into()
                })?;
                window_shape(name, x, c.c_out, c.kernel, c.stride, c.padding)
            }
            Layer::PConv(p) => {
                expect(name, p.channels == x.c, || {
                    format!("expects {} channels, got {}", p.channels, x.c)
                })?;
                expect(name, p.partial >= 1 && p.partial <= p.channels, || {
                    format!("convolves {} of {} channels", p.partial, p.channels)
                })?;
                window_shape(name, x, x.c, p.kernel, 1, p.kernel / 2).and_then(|s| {
                    expect(name, s.h == x.h && s.w == x.w, || {
                        format!("kernel {} must be odd to keep the shape", p.kernel)
                    })?;
                    Ok(s)
                })
            }
            Layer::BatchNorm { channels } => {
                expect(name, channels == x.c, || {
                    format!("expects {channels} channels, got {}", x.c)
                })?;
                Ok(x)
            }
            Layer::Act(_) => Ok(x),
            Layer::Pool {
                kernel,
                stride,
                padding,
                ..
            } => window_shape(name, x, x.c, kernel, stride, padding),
            Layer::GlobalAvgPool => Ok(Shape::new(x.c, 1, 1)),
            Layer::Linear {
                in_features,
                out_features,
                ..
            } => {
                expect(name, x.elements() == in_features as u64, || {
                    format!("expects {in_features} features, got {x}")
                })?;
                Ok(Shape::new(out_features, 1, 1))
            }
            Layer::Add => {
                expect(name, inputs[1] == x, || {
                    format!("adds {x} and {}", inputs[1])
                })?;
                Ok(x)
            }
            Layer::Mul => {
                expect(name, inputs[1] == Shape::new(x.c, 1, 1), || {
                    format!("scales {x} by {}; expected {}x1x1", inputs[1], x.c)
                })?;
                Ok(x)
            }
            Layer::Concat => {
                expect(
                    name,
                    inputs.iter().all(|s| s.h == x.h && s.w == x.w),
                    || "concatenates maps of different sizes".into(),
                )?;
                Ok(Shape::new(inputs.iter().map(|s| s.c).sum(), x.h, x.w))
            }
            Layer::Slice { start, end } => {
                expect(name, start < end && end <= x.c, || {
                    format!("slices channels {start}..{end} of {}", x.c)
                })?;
                Ok(Shape::new(end - start, x.h, x.w))
            }
            Layer::Flatten => Ok(Shape::new(x.c * x.h * x.w, 1, 1)),
        }
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Layer::Conv(c) => write!(
                f,
                "{} {}→{} k{} s{} p{} g{}",
                self.op_name(),
                c.c_in,
                c.c_out,
                c.kernel,
                c.stride,
                c.padding,
                c.groups
            ),
            Layer::PConv(p) => write!(f, "pconv {}/{} k{}", p.partial, p.channels, p.kernel),
            Layer::Linear {
                in_features,
                out_features,
                ..
            } => write!(f, "linear {in_features}→{out_features}"),
            other => f.write_str(other.op_name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conv_shapes() {
        let conv = Layer::Conv(Conv2d::new(3, 64, 7, 2, 1).padding(3));
        assert_eq!(
            conv.out_shape("c", &[Shape::new(3, 224, 224)]).unwrap(),
            Shape::new(64, 112, 112)
        );
        let big = Layer::Conv(Conv2d::new(8, 8, 9, 1, 1).padding(0));
        assert!(big.out_shape("c", &[Shape::new(8, 7, 7)]).is_err());
        let bad_groups = Layer::Conv(Conv2d::new(96, 96, 3, 1, 5));
        assert!(bad_groups.out_shape("c", &[Shape::new(96, 7, 7)]).is_err());
    }

    #[test]
    fn op_names() {
        assert_eq!(Layer::Conv(Conv2d::new(8, 8, 3, 1, 8)).op_name(), "dwconv");
        assert_eq!(Layer::Conv(Conv2d::new(8, 8, 3, 1, 2)).op_name(), "gconv");
        assert_eq!(Layer::Conv(Conv2d::new(8, 16, 1, 1, 1)).op_name(), "pwconv");
        assert_eq!(Layer::Conv(Conv2d::new(8, 16, 3, 1, 1)).op_name(), "conv");
    }
}
