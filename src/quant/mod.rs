//! Static int8 quantization of operator stacks, done by flopsbench itself, and the f64
//! reference of the quantized arithmetic that checks every int8 row.
//!
//! The scheme (what `onnxruntime.quantization.quantize_static` writes with
//! `activation_type=QUInt8, weight_type=QInt8, per_channel=True`): unsigned 8-bit
//! asymmetric activations, each tensor's scale and zero point calibrated on the seeded
//! input (its min and max, 0 included); signed 8-bit symmetric weights, one scale per
//! output channel (axis 0, levels −127…127); an int32 bias at scale input × weight. On an
//! x86 CPU without VNNI, weights take levels −63…63 (ONNX Runtime's `reduce_range`): its
//! u8 × s8 kernels there add products in pairs into 16 bits, which 255·127·2 overflows. A layer computes `q_out = sat_u8(round_half_even(Σ x·w + b) / s_out) + z_out)`
//! on the dequantized `x = (q_in − z_in)·s_in` and `w = q_w·s_w`; a PConv's untouched
//! channels are requantized to its output's scale (QDQ's Split → Concat with per-tensor
//! scales). Calibration and the reference are one pass: each layer's f64 output gives its
//! scale, is quantized with it, and feeds the next layer.

mod net;

pub use net::quantize_net;

use crate::error::{Error, Result};
use crate::model::{ActQuant, ConvQuant, Int8Params, Model, NodeParams};
use crate::reference::{Maps, conv, first_channels, put_first_channels};
use crate::spec::{Conv2d, Layer, Net};

/// The scheme of `params` in words, for rows' detail and `export`.
pub fn scheme(params: &Int8Params) -> String {
    scheme_words(params.weight_levels, "")
}

fn scheme_words(weight_levels: i8, what: &str) -> String {
    let range = if weight_levels < 127 {
        " at 7 bits (x86 without VNNI)"
    } else {
        ""
    };
    format!(
        "static int8 QDQ{what}: u8 asymmetric activations calibrated on the seeded input, s8 \
         symmetric per-channel weights (axis 0){range}, int32 bias"
    )
}

/// The scheme of a quantized model (an operator stack's or a network's) in words; `None`
/// for a float one.
pub fn scheme_of(model: &Model) -> Option<String> {
    match (&model.int8, &model.int8_net) {
        (Some(p), _) => Some(scheme(p)),
        (None, Some(n)) => Some(scheme_words(
            n.weight_levels,
            " of every convolution (other nodes in f32)",
        )),
        (None, None) => None,
    }
}

/// The largest weight level on this CPU: 63 on x86 without VNNI (its u8 × s8 products are
/// added in pairs into 16 bits, which full-range weights overflow), else 127.
pub fn weight_levels_here() -> i8 {
    let vnni = crate::meta::precision_features()
        .iter()
        .any(|f| f == "avx512_vnni" || f == "avx_vnni");
    if cfg!(target_arch = "x86_64") && !vnni {
        63
    } else {
        127
    }
}

/// Whether `net` is an operator stack (conv and PConv layers only), quantized layer by
/// layer in u8 throughout ([`quantize`]); a network's convolutions are quantized each on
/// its own ([`quantize_net`]).
pub fn is_stack(net: &Net) -> bool {
    net.nodes
        .iter()
        .all(|n| matches!(n.layer, Layer::Conv(_) | Layer::PConv(_)))
}

/// Whether flopsbench can quantize `net`: it must have a convolution.
pub fn quantizable(net: &Net) -> std::result::Result<(), String> {
    if net
        .nodes
        .iter()
        .any(|n| matches!(n.layer, Layer::Conv(_) | Layer::PConv(_)))
    {
        Ok(())
    } else {
        Err(format!(
            "int8: flopsbench quantizes convolutions, and {} has none",
            net.name
        ))
    }
}

impl ActQuant {
    /// The quantization of values in `[lo, hi]` (0 always representable).
    pub fn from_range(lo: f64, hi: f64) -> ActQuant {
        let (lo, hi) = (lo.min(0.0), hi.max(0.0));
        let scale = ((hi - lo) / 255.0) as f32;
        let scale = if scale > 0.0 && scale.is_finite() {
            scale
        } else {
            1.0
        };
        let zero_point = (-lo / f64::from(scale)).round_ties_even().clamp(0.0, 255.0) as u8;
        ActQuant { scale, zero_point }
    }

    /// `v` quantized: rounded half to even, saturated to 0…255.
    pub fn quantize(self, v: f64) -> u8 {
        ((v / f64::from(self.scale)).round_ties_even() + f64::from(self.zero_point))
            .clamp(0.0, 255.0) as u8
    }

    /// The value level `q` stands for.
    pub fn dequantize(self, q: u8) -> f64 {
        (f64::from(q) - f64::from(self.zero_point)) * f64::from(self.scale)
    }
}

/// A model's quantization and the f64 output of its quantized arithmetic.
pub struct Quantized {
    /// The parameters the ONNX writer emits.
    pub params: Int8Params,
    /// The dequantized output of the quantized arithmetic, in f64: the int8 reference.
    pub reference: Vec<f64>,
}

/// Weights quantized per output channel (`per_o` values each), symmetric, −levels…levels.
fn quantize_weights(weight: &[f32], per_o: usize, levels: i8) -> (Vec<i8>, Vec<f32>) {
    let l = f32::from(levels);
    let mut q = Vec::with_capacity(weight.len());
    let mut scales = Vec::new();
    for w in weight.chunks(per_o) {
        let max = w.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let s = if max > 0.0 { max / l } else { 1.0 };
        scales.push(s);
        q.extend(w.iter().map(|v| {
            (f64::from(*v) / f64::from(s))
                .round_ties_even()
                .clamp(-f64::from(l), f64::from(l)) as i8
        }));
    }
    (q, scales)
}

/// A conv layer's quantized weights, their per-channel scales and its quantized bias.
type QuantWeights = (Vec<i8>, Vec<f32>, Option<Vec<i32>>);

/// A conv layer's weights quantized per output channel at ±`levels`, and its bias at
/// scale `s_in` × the channel's weight scale.
fn quantize_conv(c_out: usize, params: &NodeParams, s_in: f32, levels: i8) -> Result<QuantWeights> {
    let NodeParams::Conv { weight, bias } = params else {
        return Err(Error::Usage(
            "int8: a conv layer without conv weights".into(),
        ));
    };
    let per_o = weight.len() / c_out;
    let (wq, ws) = quantize_weights(weight, per_o, levels);
    let bq: Option<Vec<i32>> = bias.as_ref().map(|b| {
        b.iter()
            .zip(&ws)
            .map(|(b, s)| {
                (f64::from(*b) / (f64::from(s_in) * f64::from(*s)))
                    .round_ties_even()
                    .clamp(f64::from(i32::MIN), f64::from(i32::MAX)) as i32
            })
            .collect()
    });
    Ok((wq, ws, bq))
}

/// The f64 output of one quantized conv on the dequantized input `x` (scale `s_in`),
/// and the layer's quantized weights and bias.
fn conv_layer(
    x: &Maps,
    batch: usize,
    c: &Conv2d,
    params: &NodeParams,
    (s_in, levels): (f32, i8),
    out: crate::spec::Shape,
) -> Result<(Vec<f64>, QuantWeights)> {
    let (wq, ws, bq) = quantize_conv(c.c_out, params, s_in, levels)?;
    let per_o = wq.len() / c.c_out;
    let w: Vec<f64> = wq
        .iter()
        .enumerate()
        .map(|(i, q)| f64::from(*q) * f64::from(ws[i / per_o]))
        .collect();
    let b: Option<Vec<f64>> = bq.as_ref().map(|bq| {
        bq.iter()
            .zip(&ws)
            .map(|(q, s)| f64::from(*q) * f64::from(s_in) * f64::from(*s))
            .collect()
    });
    let y = conv(x, batch, c, &w, b.as_deref(), out);
    Ok((y, (wq, ws, bq)))
}

/// Quantizes `model` (an operator stack) on its own seeded input, weights at
/// ±`weight_levels` ([`weight_levels_here`]), and runs the quantized arithmetic in f64 (see
/// the module's doc).
pub fn quantize(model: &Model, weight_levels: i8) -> Result<Quantized> {
    if !is_stack(&model.net) {
        return Err(Error::Usage(format!(
            "int8: {} is not an operator stack (see quantize_net)",
            model.net.name
        )));
    }
    let batch = model.batch;
    let range = |v: &[f64]| {
        v.iter()
            .fold((0.0f64, 0.0f64), |(lo, hi), x| (lo.min(*x), hi.max(*x)))
    };
    let input: Vec<f64> = model.input.iter().map(|v| f64::from(*v)).collect();
    let (lo, hi) = range(&input);
    let input_q = ActQuant::from_range(lo, hi);
    let mut q: Vec<u8> = input.iter().map(|v| input_q.quantize(*v)).collect();
    let mut act = input_q;
    let mut shape = model.net.input;
    let mut layers = Vec::new();
    for (node, params) in model.net.nodes.iter().zip(&model.params) {
        let x = Maps {
            shape,
            data: q.iter().map(|v| act.dequantize(*v)).collect(),
        };
        let (y, (weight, weight_scales, bias)) = match node.layer {
            Layer::Conv(c) => {
                conv_layer(&x, batch, &c, params, (act.scale, weight_levels), node.out)?
            }
            Layer::PConv(p) => {
                let c = Conv2d::new(p.partial, p.partial, p.kernel, 1, 1);
                let part = first_channels(&x, batch, p.partial);
                let scales = (act.scale, weight_levels);
                let (y1, weights) = conv_layer(&part, batch, &c, params, scales, part.shape)?;
                let mut y = x.data.clone();
                put_first_channels(&mut y, &y1, batch, shape, p.partial);
                (y, weights)
            }
            _ => unreachable!("quantizable() admits conv and PConv layers only"),
        };
        let (lo, hi) = range(&y);
        let output = ActQuant::from_range(lo, hi);
        q = y.iter().map(|v| output.quantize(*v)).collect();
        layers.push(ConvQuant {
            weight,
            weight_scales,
            bias,
            output,
        });
        act = output;
        shape = node.out;
    }
    Ok(Quantized {
        params: Int8Params {
            input: input_q,
            layers,
            weight_levels,
        },
        reference: q.iter().map(|v| act.dequantize(*v)).collect(),
    })
}

/// The largest difference an int8 row's output may have from the reference, in steps of
/// the output's scale. A backend's requantization multiplies in f32 (ONNX Runtime's
/// QLinearConv) or accumulates the dequantized values in f32 (a QDQ graph simulated in
/// floats), so a value on a rounding boundary may land one level off in each layer; a
/// level off in a layer's input moves the layer's value by at most max(1, s_in/s_out)
/// levels (PConv's untouched channels carry it at that ratio; a convolution's weights
/// shrink it below that), so the bound is t = 1 + t_prev·max(1, s_in/s_out) per layer.
pub fn tolerance_steps(params: &Int8Params) -> f64 {
    let mut steps = 0.0;
    let mut scale = params.input.scale;
    for layer in &params.layers {
        let out = layer.output.scale;
        steps = 1.0 + steps * f64::from((scale / out).max(1.0));
        scale = out;
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{OpCase, OpKind, Shape};

    fn model(kind: OpKind, shape: Shape, layers: usize) -> Model {
        let mut op = OpCase::paper(kind, shape);
        op.layers = layers;
        Model::new(&op.to_net().unwrap(), 1, 3, true)
    }

    #[test]
    fn activations_round_half_to_even_and_saturate() {
        let a = ActQuant::from_range(-1.0, 1.0);
        // 1 / (2/255) = 127.5 in exact arithmetic; the f32 scale is a hair above 2/255.
        assert_eq!(a.zero_point, 127);
        assert_eq!((a.quantize(0.0), a.dequantize(a.zero_point)), (127, 0.0));
        assert_eq!(a.quantize(10.0), 255);
        assert_eq!(a.quantize(-10.0), 0);
        let unit = ActQuant {
            scale: 1.0,
            zero_point: 0,
        };
        assert_eq!(unit.quantize(2.5), 2);
        assert_eq!(unit.quantize(3.5), 4);
        // Only positive values: the zero point is 0 and 0 is exact.
        let relu = ActQuant::from_range(0.5, 2.0);
        assert_eq!((relu.zero_point, relu.dequantize(0)), (0, 0.0));
    }

    #[test]
    fn weights_are_symmetric_per_channel() {
        let (q, s) = quantize_weights(&[0.5, -1.0, 0.25, 2.0, 0.0, -2.0], 3, 127);
        assert_eq!(q, [64, -127, 32, 127, 0, -127]);
        assert_eq!(s, [1.0 / 127.0, 2.0 / 127.0]);
        // Reduced range (x86 without VNNI): levels −63…63.
        let (q, _) = quantize_weights(&[0.25, -1.0, -0.75], 3, 63);
        assert_eq!(q, [16, -63, -47]);
    }

    #[test]
    fn the_reference_is_close_to_the_f32_model_and_on_its_grid() {
        for kind in [OpKind::Conv, OpKind::Dwconv, OpKind::Pconv] {
            let m = model(kind, Shape::new(16, 10, 10), 3);
            let quant = quantize(&m, 127).unwrap();
            let f32_out = crate::reference::run_op_stack(&m).unwrap();
            let (abs, rel) = crate::reference::compare(
                &quant
                    .reference
                    .iter()
                    .map(|v| *v as f32)
                    .collect::<Vec<_>>(),
                &f32_out,
            )
            .unwrap();
            // A few percent: three layers of 8-bit rounding.
            assert!(rel < 0.05, "{kind:?}: {abs} abs, {rel} rel");
            assert!(rel > 0.0, "{kind:?}: quantization changed nothing");
            let out = quant.params.layers.last().unwrap().output;
            for v in &quant.reference {
                let level = v / f64::from(out.scale) + f64::from(out.zero_point);
                assert!((level - level.round()).abs() < 1e-6, "{v} is off the grid");
            }
            assert_eq!(quant.params.layers.len(), 3);
        }
    }

    #[test]
    fn networks_are_not_stacks_and_a_graph_without_convolutions_is_refused() {
        let net = crate::zoo::build("fasternet-t0", 64).unwrap();
        assert!(quantizable(&net).is_ok() && !is_stack(&net));
        assert!(quantize(&Model::new(&net, 1, 0, true), 127).is_err());
        let mut op = OpCase::paper(OpKind::Dwconv, Shape::new(8, 4, 4));
        op.layers = 2;
        assert!(is_stack(&op.to_net().unwrap()));
        let mut b = crate::spec::NetBuilder::new("relu", Shape::new(4, 4, 4), "t");
        let x = b.input();
        b.act("relu", x, crate::spec::Activation::Relu).unwrap();
        let why = quantizable(&b.finish()).unwrap_err();
        assert!(why.contains("has none"), "{why}");
    }
}
