//! Builds the ONNX graph node by node.

use tract_onnx::pb;
use tract_onnx::pb::attribute_proto::AttributeType;
use tract_onnx::pb::tensor_proto::DataType;
use tract_onnx::pb::tensor_shape_proto::{Dimension, dimension};
use tract_onnx::pb::type_proto;

use super::{INPUT_NAME, OUTPUT_NAME};
use crate::model::{ActQuant, ConvQuant, Model, NodeParams};
use crate::spec::{Activation, Layer, PConv, PoolKind};

/// Nodes and initializers written so far.
#[derive(Default)]
pub(super) struct Graph {
    pub(super) nodes: Vec<pb::NodeProto>,
    pub(super) initializers: Vec<pb::TensorProto>,
}

pub(super) fn attr_int(name: &str, i: i64) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: AttributeType::Int as i32,
        i,
        ..Default::default()
    }
}

pub(super) fn attr_ints(name: &str, ints: &[i64]) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: AttributeType::Ints as i32,
        ints: ints.to_vec(),
        ..Default::default()
    }
}

fn attr_float(name: &str, f: f32) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: AttributeType::Float as i32,
        f,
        ..Default::default()
    }
}

pub(super) fn value_info(name: &str, dims: Option<&[usize]>) -> pb::ValueInfoProto {
    let shape = dims.map(|d| pb::TensorShapeProto {
        dim: d
            .iter()
            .map(|v| Dimension {
                value: Some(dimension::Value::DimValue(*v as i64)),
                ..Default::default()
            })
            .collect(),
    });
    pb::ValueInfoProto {
        name: name.into(),
        r#type: Some(pb::TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: DataType::Float as i32,
                shape,
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

impl Graph {
    /// An initializer of element type `data_type` with little-endian `raw` data.
    pub(super) fn tensor(
        &mut self,
        name: &str,
        dims: &[usize],
        data_type: DataType,
        raw: Vec<u8>,
    ) -> String {
        self.initializers.push(pb::TensorProto {
            name: name.into(),
            dims: dims.iter().map(|d| *d as i64).collect(),
            data_type: data_type as i32,
            raw_data: raw,
            ..Default::default()
        });
        name.into()
    }

    pub(super) fn floats(&mut self, name: &str, dims: &[usize], data: &[f32]) -> String {
        self.initializers.push(pb::TensorProto {
            name: name.into(),
            dims: dims.iter().map(|d| *d as i64).collect(),
            data_type: DataType::Float as i32,
            raw_data: data.iter().flat_map(|v| v.to_le_bytes()).collect(),
            ..Default::default()
        });
        name.into()
    }

    /// The graph of `model` made of the nodes and initializers written: its one f32 input
    /// and output.
    pub(super) fn into_proto(self, model: &Model) -> pb::GraphProto {
        pb::GraphProto {
            name: model.net.name.clone(),
            node: self.nodes,
            initializer: self.initializers,
            input: vec![value_info(INPUT_NAME, Some(&model.input_dims()))],
            output: vec![value_info(OUTPUT_NAME, None)],
            ..Default::default()
        }
    }

    /// Splits `x` on the channel axis into `{name}.x1` (the first `sizes[0]` channels)
    /// and `{name}.x2` (the other `sizes[1]`).
    pub(super) fn split_channels(&mut self, name: &str, x: &str, sizes: [usize; 2]) {
        let t = |s: &str| format!("{name}.{s}");
        let split = self.ints(&t("split_sizes"), &sizes.map(|v| v as i64));
        self.node(
            "Split",
            &t("split"),
            &[x.into(), split],
            &[t("x1"), t("x2")],
            vec![attr_int("axis", 1)],
        );
    }

    pub(super) fn ints(&mut self, name: &str, data: &[i64]) -> String {
        self.initializers.push(pb::TensorProto {
            name: name.into(),
            dims: vec![data.len() as i64],
            data_type: DataType::Int64 as i32,
            raw_data: data.iter().flat_map(|v| v.to_le_bytes()).collect(),
            ..Default::default()
        });
        name.into()
    }

    fn scalar(&mut self, name: &str, v: f32) -> String {
        self.floats(name, &[], &[v])
    }

    pub(super) fn node(
        &mut self,
        op: &str,
        name: &str,
        inputs: &[String],
        outputs: &[String],
        attrs: Vec<pb::AttributeProto>,
    ) {
        self.nodes.push(pb::NodeProto {
            op_type: op.into(),
            name: name.into(),
            input: inputs.to_vec(),
            output: outputs.to_vec(),
            attribute: attrs,
            ..Default::default()
        });
    }

    /// A convolution: in f32, or quantized (QDQ around it) where `quant` is given.
    fn conv(
        &mut self,
        name: &str,
        x: &str,
        out: &str,
        conv: ConvAttrs,
        (params, quant): (&NodeParams, Option<&(ActQuant, ConvQuant)>),
    ) {
        if let Some(q) = quant {
            let attrs = (conv.dims, conv.stride, conv.padding, conv.groups);
            self.qdq_conv(name, x, out, attrs, q);
            return;
        }
        let NodeParams::Conv { weight, bias } = params else {
            unreachable!("conv nodes carry conv parameters (Model::new)");
        };
        let mut inputs = vec![
            x.to_string(),
            self.floats(&format!("{name}.weight"), &conv.dims, weight),
        ];
        if let Some(b) = bias {
            inputs.push(self.floats(&format!("{name}.bias"), &[conv.dims[0]], b));
        }
        let (k, s, p) = (conv.dims[2] as i64, conv.stride as i64, conv.padding as i64);
        let attrs = vec![
            attr_ints("kernel_shape", &[k, k]),
            attr_ints("strides", &[s, s]),
            attr_ints("pads", &[p, p, p, p]),
            attr_ints("dilations", &[1, 1]),
            attr_int("group", conv.groups as i64),
        ];
        self.node("Conv", name, &inputs, &[out.to_string()], attrs);
    }

    fn activation(&mut self, name: &str, x: &str, out: &str, act: Activation) {
        let x = x.to_string();
        let o = [out.to_string()];
        match act {
            Activation::Relu => self.node("Relu", name, &[x], &o, vec![]),
            Activation::Relu6 => {
                let lo = self.scalar(&format!("{name}.min"), 0.0);
                let hi = self.scalar(&format!("{name}.max"), 6.0);
                self.node("Clip", name, &[x, lo, hi], &o, vec![]);
            }
            Activation::Hardswish => self.node("HardSwish", name, &[x], &o, vec![]),
            Activation::Hardsigmoid => self.node(
                "HardSigmoid",
                name,
                &[x],
                &o,
                vec![attr_float("alpha", 1.0 / 6.0), attr_float("beta", 0.5)],
            ),
            Activation::Gelu => {
                let t = |s: &str| format!("{name}.{s}");
                // Constants are named `*.c_*`, nodes `*.op_*`: tract names a graph node
                // after each initializer, so the two must never collide.
                let inv_sqrt2 = self.scalar(&t("c_inv_sqrt2"), std::f32::consts::FRAC_1_SQRT_2);
                let one = self.scalar(&t("c_one"), 1.0);
                let half = self.scalar(&t("c_half"), 0.5);
                self.node(
                    "Mul",
                    &t("op_scale"),
                    &[x.clone(), inv_sqrt2],
                    &[t("scaled")],
                    vec![],
                );
                self.node("Erf", &t("op_erf"), &[t("scaled")], &[t("erf")], vec![]);
                self.node("Add", &t("op_add"), &[t("erf"), one], &[t("cdf2")], vec![]);
                self.node("Mul", &t("op_mul"), &[x, t("cdf2")], &[t("x_cdf2")], vec![]);
                self.node("Mul", &t("op_half"), &[t("x_cdf2"), half], &o, vec![]);
            }
        }
    }
}

impl Graph {
    /// PConv: a plain conv when it covers every channel, else split → conv → concat (the
    /// conv quantized where `params.1` is given).
    fn pconv(
        &mut self,
        name: &str,
        x: &str,
        out: String,
        p: PConv,
        params: (&NodeParams, Option<&(ActQuant, ConvQuant)>),
    ) {
        let g = self;
        let dims = [p.partial, p.partial, p.kernel, p.kernel];
        let attrs = ConvAttrs {
            dims,
            stride: 1,
            padding: p.kernel / 2,
            groups: 1,
        };
        if p.partial == p.channels {
            g.conv(name, x, &out, attrs, params);
        } else {
            let t = |s: &str| format!("{name}.{s}");
            g.split_channels(name, x, [p.partial, p.channels - p.partial]);
            g.conv(&t("conv"), &t("x1"), &t("y1"), attrs, params);
            g.node(
                "Concat",
                &t("concat"),
                &[t("y1"), t("x2")],
                &[out],
                vec![attr_int("axis", 1)],
            );
        }
    }

    /// BatchNorm in inference form.
    fn batch_norm(
        &mut self,
        name: &str,
        x: &str,
        out: String,
        channels: usize,
        params: &NodeParams,
    ) {
        let g = self;
        let NodeParams::BatchNorm { scale, shift } = params else {
            unreachable!("BN nodes carry BN parameters (Model::new)");
        };
        // Inference form: mean 0 and var 1 − ε make (x − mean)/sqrt(var + ε) = x.
        let eps = 1e-5f32;
        let inputs = vec![
            x.to_string(),
            g.floats(&format!("{name}.scale"), &[channels], scale),
            g.floats(&format!("{name}.shift"), &[channels], shift),
            g.floats(&format!("{name}.mean"), &[channels], &vec![0.0; channels]),
            g.floats(
                &format!("{name}.var"),
                &[channels],
                &vec![1.0 - eps; channels],
            ),
        ];
        g.node(
            "BatchNormalization",
            name,
            &inputs,
            &[out],
            vec![attr_float("epsilon", eps)],
        );
    }

    /// A linear layer as Gemm (weights `[out, in]`, transposed).
    fn linear(
        &mut self,
        name: &str,
        x: &str,
        out: String,
        [in_features, out_features]: [usize; 2],
        params: &NodeParams,
    ) {
        let g = self;
        let NodeParams::Linear { weight, bias } = params else {
            unreachable!("linear nodes carry linear parameters (Model::new)");
        };
        let mut inputs = vec![
            x.to_string(),
            g.floats(
                &format!("{name}.weight"),
                &[out_features, in_features],
                weight,
            ),
        ];
        if let Some(b) = bias {
            inputs.push(g.floats(&format!("{name}.bias"), &[out_features], b));
        }
        g.node("Gemm", name, &inputs, &[out], vec![attr_int("transB", 1)]);
    }
}

struct ConvAttrs {
    dims: [usize; 4],
    stride: usize,
    padding: usize,
    groups: usize,
}

fn tensor_name(model: &Model, t: usize) -> String {
    value_name(model.net.nodes.len(), t)
}

/// The ONNX name of tensor `t` of a net of `nodes` nodes, as the export writes it: the
/// input, `t1`, `t2`, …, the output.
pub fn value_name(nodes: usize, t: usize) -> String {
    if t == 0 {
        INPUT_NAME.into()
    } else if t == nodes {
        OUTPUT_NAME.into()
    } else {
        format!("t{t}")
    }
}

/// The graph of `model`: f32, or with its convolutions quantized where it carries a
/// network's int8 parameters.
pub fn build(model: &Model) -> pb::GraphProto {
    let mut g = Graph::default();
    for (i, (node, params)) in model.net.nodes.iter().zip(&model.params).enumerate() {
        let quant = model
            .int8_net
            .as_ref()
            .and_then(|q| q.convs.get(i))
            .and_then(Option::as_ref);
        let ins: Vec<String> = node
            .inputs
            .iter()
            .map(|t| tensor_name(model, t.0))
            .collect();
        let out = tensor_name(model, i + 1);
        let name = node.name.as_str();
        let x = ins[0].as_str();
        match node.layer {
            Layer::Conv(c) => {
                let dims = [c.c_out, c.c_in / c.groups, c.kernel, c.kernel];
                let attrs = ConvAttrs {
                    dims,
                    stride: c.stride,
                    padding: c.padding,
                    groups: c.groups,
                };
                g.conv(name, x, &out, attrs, (params, quant));
            }
            Layer::PConv(p) => g.pconv(name, x, out, p, (params, quant)),
            Layer::BatchNorm { channels } => g.batch_norm(name, x, out, channels, params),
            Layer::Act(a) => g.activation(name, x, &out, a),
            Layer::Pool {
                kind,
                kernel,
                stride,
                padding,
            } => {
                let (k, s, p) = (kernel as i64, stride as i64, padding as i64);
                let mut attrs = vec![
                    attr_ints("kernel_shape", &[k, k]),
                    attr_ints("strides", &[s, s]),
                    attr_ints("pads", &[p, p, p, p]),
                ];
                let op = match kind {
                    PoolKind::Max => "MaxPool",
                    PoolKind::Avg => {
                        attrs.push(attr_int("count_include_pad", 1));
                        "AveragePool"
                    }
                };
                g.node(op, name, &ins, &[out], attrs);
            }
            Layer::GlobalAvgPool => g.node("GlobalAveragePool", name, &ins, &[out], vec![]),
            Layer::Linear {
                in_features,
                out_features,
                ..
            } => g.linear(name, x, out, [in_features, out_features], params),
            Layer::Add => g.node("Add", name, &ins, &[out], vec![]),
            Layer::Mul => g.node("Mul", name, &ins, &[out], vec![]),
            Layer::Concat => g.node("Concat", name, &ins, &[out], vec![attr_int("axis", 1)]),
            Layer::Slice { start, end } => {
                let t = |s: &str| format!("{name}.{s}");
                let inputs = vec![
                    x.to_string(),
                    g.ints(&t("starts"), &[start as i64]),
                    g.ints(&t("ends"), &[end as i64]),
                    g.ints(&t("axes"), &[1]),
                ];
                g.node("Slice", name, &inputs, &[out], vec![]);
            }
            Layer::Flatten => g.node("Flatten", name, &ins, &[out], vec![attr_int("axis", 1)]),
        }
    }
    g.into_proto(model)
}
