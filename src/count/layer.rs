//! The analytic cost of one layer: a `match` over [`Layer`]. Every number is per input
//! item (batch 1); the caller scales feature maps by the batch.

use serde::Serialize;

use crate::spec::{Activation, Layer, PoolKind, Shape};

/// What one layer costs, in elements and operations, for one input item.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Cost {
    /// Multiply-accumulates (conv, linear; BatchNorm when not folded).
    pub macs: u64,
    /// Other arithmetic operations that are not multiply-accumulates (bias adds,
    /// activations, pooling, residual adds), counted only by the strict convention.
    pub other_ops: u64,
    /// Trainable parameters of the reference definition (BN γ and β included, also
    /// when folded into the preceding conv; running statistics not).
    pub params: u64,
    /// Weight elements read by the executable layer (conv weights and runtime bias;
    /// BN's four per-channel vectors when not folded).
    pub weight_elements: u64,
    /// Feature-map elements read.
    pub input_elements: u64,
    /// Feature-map elements written.
    pub output_elements: u64,
}

/// Non-multiply-accumulate operations per element of each activation.
///
/// relu: max; relu6: max, min; hardsigmoid: add, mul, max, min; hardswish: hardsigmoid
/// and one mul; gelu: 8 (erf by a rational approximation counted as 5 operations, plus
/// scale, add, mul), a stated convention since libraries differ.
pub fn activation_ops(act: Activation) -> u64 {
    match act {
        Activation::Relu => 1,
        Activation::Relu6 => 2,
        Activation::Hardsigmoid => 4,
        Activation::Hardswish => 5,
        Activation::Gelu => 8,
    }
}

/// Bytes an int8 layer moves beyond its elements at one byte each: the scale (f32) and
/// zero point (u8) of its quantized input and output, its per-output-channel f32 weight
/// scales, and its bias at four bytes (int32) where it has one; a PConv requantizes its
/// untouched channels too (their input and output scale and zero point). Zero for the
/// layers flopsbench does not quantize.
pub fn int8_extra_bytes(layer: &Layer) -> u64 {
    const SCALE_AND_ZERO_POINTS: u64 = 2 * (4 + 1);
    match *layer {
        Layer::Conv(c) => {
            let bias = if c.has_runtime_bias() { 3 } else { 0 };
            SCALE_AND_ZERO_POINTS + (4 + bias) * c.c_out as u64
        }
        Layer::PConv(p) => {
            let untouched = if p.partial < p.channels {
                SCALE_AND_ZERO_POINTS
            } else {
                0
            };
            SCALE_AND_ZERO_POINTS + 4 * p.partial as u64 + untouched
        }
        _ => 0,
    }
}

/// The cost of `layer` reading `inputs` and producing `out`.
pub fn cost(layer: &Layer, inputs: &[Shape], out: Shape) -> Cost {
    let x = inputs.first().copied().unwrap_or(out);
    let in_elems: u64 = inputs.iter().map(Shape::elements).sum();
    let out_elems = out.elements();
    let elementwise = |per_element: u64| Cost {
        other_ops: per_element * out_elems,
        input_elements: in_elems,
        output_elements: out_elems,
        ..Cost::default()
    };
    match *layer {
        Layer::Conv(c) => {
            let weights = c.weight_elements();
            let runtime_bias = if c.has_runtime_bias() {
                c.c_out as u64
            } else {
                0
            };
            Cost {
                macs: out_elems * weights / c.c_out as u64,
                other_ops: if c.has_runtime_bias() { out_elems } else { 0 },
                params: weights
                    + if c.bias { c.c_out as u64 } else { 0 }
                    + if c.folded_bn { 2 * c.c_out as u64 } else { 0 },
                weight_elements: weights + runtime_bias,
                input_elements: in_elems,
                output_elements: out_elems,
            }
        }
        Layer::PConv(p) => {
            // The paper's formulas: only the c_p convolved channels are computed and
            // moved; the rest are passed through untouched.
            let weights = (p.partial * p.partial * p.kernel * p.kernel) as u64;
            let partial_map = (p.partial * out.h * out.w) as u64;
            Cost {
                macs: partial_map * (p.partial * p.kernel * p.kernel) as u64,
                other_ops: 0,
                params: weights,
                weight_elements: weights,
                input_elements: partial_map,
                output_elements: partial_map,
            }
        }
        Layer::BatchNorm { channels } => Cost {
            macs: out_elems,
            params: 2 * channels as u64,
            weight_elements: 4 * channels as u64,
            ..elementwise(0)
        },
        Layer::Act(a) => elementwise(activation_ops(a)),
        Layer::Pool { kind, kernel, .. } => {
            let window = (kernel * kernel) as u64;
            elementwise(match kind {
                PoolKind::Avg => window,
                PoolKind::Max => window - 1,
            })
        }
        Layer::GlobalAvgPool => Cost {
            other_ops: x.elements(),
            ..elementwise(0)
        },
        Layer::Linear {
            in_features,
            out_features,
            bias,
        } => {
            let weights = (in_features * out_features) as u64;
            let b = if bias { out_features as u64 } else { 0 };
            Cost {
                macs: weights,
                other_ops: b,
                params: weights + b,
                weight_elements: weights + b,
                input_elements: in_elems,
                output_elements: out_elems,
            }
        }
        Layer::Add | Layer::Mul => elementwise(1),
        Layer::Concat => elementwise(0),
        Layer::Slice { .. } | Layer::Flatten => Cost::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{Conv2d, PConv};

    #[test]
    fn conv_cost_matches_the_paper_formula() {
        let (c, h, k) = (96u64, 56u64, 3u64);
        let conv = Layer::Conv(Conv2d::new(96, 96, 3, 1, 1));
        let s = Shape::new(96, 56, 56);
        let cost = cost(&conv, &[s], s);
        assert_eq!(cost.macs, h * h * k * k * c * c);
        assert_eq!(
            cost.input_elements + cost.output_elements + cost.weight_elements,
            h * h * 2 * c + k * k * c * c
        );
    }

    #[test]
    fn folded_bn_keeps_reference_params() {
        let mut conv = Conv2d::new(8, 16, 3, 1, 1);
        conv.folded_bn = true;
        let s = Shape::new(8, 4, 4);
        let c = cost(&Layer::Conv(conv), &[s], Shape::new(16, 4, 4));
        assert_eq!(c.params, 16 * 8 * 9 + 32);
        assert_eq!(c.weight_elements, 16 * 8 * 9 + 16);
    }

    #[test]
    fn int8_counts_scales_zero_points_and_int32_biases() {
        let mut conv = Conv2d::new(8, 16, 3, 1, 1);
        // Scale and zero point of input and output, 16 f32 weight scales.
        assert_eq!(int8_extra_bytes(&Layer::Conv(conv)), 10 + 16 * 4);
        conv.folded_bn = true;
        // ... and the bias at 4 bytes, not the 1 its elements are counted at.
        assert_eq!(int8_extra_bytes(&Layer::Conv(conv)), 10 + 16 * (4 + 3));
        let p = PConv {
            channels: 16,
            partial: 4,
            kernel: 3,
        };
        // The convolved part's, and the untouched part's requantization.
        assert_eq!(int8_extra_bytes(&Layer::PConv(p)), 10 + 4 * 4 + 10);
        assert_eq!(int8_extra_bytes(&Layer::Act(Activation::Relu)), 0);
    }
}
