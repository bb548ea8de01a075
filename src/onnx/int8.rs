//! The int8 QDQ graph of an operator stack (see `quant` for the scheme): the f32
//! input is quantized once (QuantizeLinear), every layer reads u8 values through
//! DequantizeLinear, convolves with DequantizeLinear'd int8 weights (per output channel,
//! axis 0) and int32 bias, and quantizes its output (QuantizeLinear); the last layer's
//! values are dequantized into the f32 output. A runtime that fuses DequantizeLinear →
//! Conv → QuantizeLinear (ONNX Runtime's level-2 optimiser) runs QLinearConv on integers;
//! one that does not runs the graph in f32 on quantized values.
//!
//! A network's convolutions are quantized each on its own (`qdq_conv`): QuantizeLinear →
//! the same quantized conv → DequantizeLinear, every other node in f32.
//!
//! PConv: Split of the u8 input; the first part through the quantized conv, the rest
//! requantized to the layer's output scale (DequantizeLinear → QuantizeLinear); Concat.

use tract_onnx::pb;
use tract_onnx::pb::tensor_proto::DataType;

use super::graph::{Graph, attr_int, attr_ints};
use super::{INPUT_NAME, OUTPUT_NAME};
use crate::model::{ActQuant, ConvQuant, Int8Params, Model};
use crate::spec::{Layer, Shape};

impl Graph {
    /// A scale (f32 scalar) and zero point (u8 scalar) pair of an activation.
    fn act(&mut self, name: &str, q: ActQuant) -> [String; 2] {
        [
            self.floats(&format!("{name}.c_scale"), &[], &[q.scale]),
            self.tensor(
                &format!("{name}.c_zero"),
                &[],
                DataType::Uint8,
                vec![q.zero_point],
            ),
        ]
    }

    /// `x` (u8 at `q`) dequantized into `out`.
    fn dequantize(&mut self, name: &str, x: &str, q: ActQuant, out: &str) {
        let [s, z] = self.act(name, q);
        self.node(
            "DequantizeLinear",
            &format!("{name}.op_dq"),
            &[x.into(), s, z],
            &[out.into()],
            vec![],
        );
    }

    /// `x` (f32) quantized at `q` into `out` (u8).
    fn quantize(&mut self, name: &str, x: &str, q: ActQuant, out: &str) {
        let [s, z] = self.act(name, q);
        self.node(
            "QuantizeLinear",
            &format!("{name}.op_q"),
            &[x.into(), s, z],
            &[out.into()],
            vec![],
        );
    }

    /// One quantized conv: `x` (u8 at `input`) → DequantizeLinear → Conv (dequantized
    /// int8 weights and int32 bias) → QuantizeLinear → `out` (u8 at the layer's output).
    fn qconv(
        &mut self,
        name: &str,
        x: &str,
        input: ActQuant,
        (dims, stride, padding, groups): ([usize; 4], usize, usize, usize),
        layer: &ConvQuant,
        out: &str,
    ) {
        let t = |s: &str| format!("{name}.{s}");
        self.dequantize(&t("in"), x, input, &t("x"));
        let o = dims[0];
        let w_q = self.tensor(
            &t("c_weight_q"),
            &dims,
            DataType::Int8,
            layer.weight.iter().map(|v| *v as u8).collect(),
        );
        let w_s = self.floats(&t("c_weight_scale"), &[o], &layer.weight_scales);
        let w_z = self.tensor(&t("c_weight_zero"), &[o], DataType::Int8, vec![0; o]);
        self.node(
            "DequantizeLinear",
            &t("op_dq_weight"),
            &[w_q, w_s, w_z],
            &[t("weight")],
            vec![attr_int("axis", 0)],
        );
        let mut inputs = vec![t("x"), t("weight")];
        if let Some(bias) = &layer.bias {
            let b_q = self.tensor(
                &t("c_bias_q"),
                &[o],
                DataType::Int32,
                bias.iter().flat_map(|v| v.to_le_bytes()).collect(),
            );
            let scales: Vec<f32> = layer
                .weight_scales
                .iter()
                .map(|s| input.scale * s)
                .collect();
            let b_s = self.floats(&t("c_bias_scale"), &[o], &scales);
            let b_z = self.tensor(&t("c_bias_zero"), &[o], DataType::Int32, vec![0; 4 * o]);
            self.node(
                "DequantizeLinear",
                &t("op_dq_bias"),
                &[b_q, b_s, b_z],
                &[t("bias")],
                vec![attr_int("axis", 0)],
            );
            inputs.push(t("bias"));
        }
        let (k, s, p) = (dims[2] as i64, stride as i64, padding as i64);
        let attrs = vec![
            attr_ints("kernel_shape", &[k, k]),
            attr_ints("strides", &[s, s]),
            attr_ints("pads", &[p, p, p, p]),
            attr_ints("dilations", &[1, 1]),
            attr_int("group", groups as i64),
        ];
        self.node("Conv", name, &inputs, &[t("y")], attrs);
        self.quantize(&t("out"), &t("y"), layer.output, out);
    }
}

impl Graph {
    /// A network's quantized convolution: `x` (f32) quantized at the conv's input scale,
    /// the quantized conv (see `qconv`), its output dequantized into `out` (f32).
    pub(super) fn qdq_conv(
        &mut self,
        name: &str,
        x: &str,
        out: &str,
        conv: ([usize; 4], usize, usize, usize),
        (input, layer): &(ActQuant, ConvQuant),
    ) {
        let t = |s: &str| format!("{name}.{s}");
        self.quantize(&t("in_q"), x, *input, &t("xq"));
        self.qconv(name, &t("xq"), *input, conv, layer, &t("yq"));
        self.dequantize(&t("out_dq"), &t("yq"), layer.output, out);
    }
}

/// The u8 value written by node `i` of `nodes` (`t1`, `t2`, …; the last is dequantized
/// into the output).
fn value(i: usize) -> String {
    format!("t{}", i + 1)
}

/// The QDQ graph of `model` with its int8 parameters `int8`.
pub(super) fn build(model: &Model, int8: &Int8Params) -> pb::GraphProto {
    let mut g = Graph::default();
    let quantized_input = "input_q".to_string();
    g.quantize("input", INPUT_NAME, int8.input, &quantized_input);
    let mut x = quantized_input;
    let mut act = int8.input;
    let mut shape: Shape = model.net.input;
    for (i, (node, layer)) in model.net.nodes.iter().zip(&int8.layers).enumerate() {
        let name = node.name.as_str();
        let out = value(i);
        match node.layer {
            Layer::Conv(c) => {
                let dims = [c.c_out, c.c_in / c.groups, c.kernel, c.kernel];
                g.qconv(
                    name,
                    &x,
                    act,
                    (dims, c.stride, c.padding, c.groups),
                    layer,
                    &out,
                );
            }
            Layer::PConv(p) => {
                let dims = [p.partial, p.partial, p.kernel, p.kernel];
                let conv = (dims, 1, p.kernel / 2, 1);
                if p.partial == p.channels {
                    g.qconv(name, &x, act, conv, layer, &out);
                } else {
                    let t = |s: &str| format!("{name}.{s}");
                    g.split_channels(name, &x, [p.partial, shape.c - p.partial]);
                    g.qconv(&t("conv"), &t("x1"), act, conv, layer, &t("y1"));
                    g.dequantize(&t("rest"), &t("x2"), act, &t("x2_f"));
                    g.quantize(&t("rest_out"), &t("x2_f"), layer.output, &t("y2"));
                    g.node(
                        "Concat",
                        &t("op_concat"),
                        &[t("y1"), t("y2")],
                        std::slice::from_ref(&out),
                        vec![attr_int("axis", 1)],
                    );
                }
            }
            _ => unreachable!("int8 parameters exist for quantizable stacks only"),
        }
        x = out;
        act = layer.output;
        shape = node.out;
    }
    g.dequantize("output", &x, act, OUTPUT_NAME);
    g.into_proto(model)
}
