//! Patterns of several ONNX nodes that make one spec layer: the authors' PConv forward
//! (Split → Conv → Concat) and GELU's erf form as PyTorch exports it.

use tract_onnx::pb;

use super::map::{Attrs, Ctx, Imported, NONE, node_name};
use crate::spec::{Activation, Layer, PConv};

impl Ctx<'_> {
    /// Split (2 parts, channel axis) → Conv on the first (c_p → c_p, stride 1, "same",
    /// no bias) → Concat(conv, second part): the authors' PConv forward.
    pub(super) fn pconv(&self, i: usize) -> Option<(Imported, Vec<usize>)> {
        let split = &self.nodes[i];
        if split.op_type != "Split" || split.output.len() != 2 {
            return None;
        }
        let sizes = self.split_sizes(split)?;
        let ci = self.sole_reader(&split.output[0])?;
        let conv_node = &self.nodes[ci];
        if conv_node.op_type != "Conv" || conv_node.input[0] != split.output[0] {
            return None;
        }
        let (conv, params) = self.conv(conv_node)?;
        let cat = self.sole_reader(conv_node.output.first()?)?;
        let cat_node = &self.nodes[cat];
        let second = self.sole_reader(&split.output[1])?;
        let fits = cat == second
            && cat_node.op_type == "Concat"
            && cat_node.input == [conv_node.output[0].clone(), split.output[1].clone()]
            && self.channel_axis(cat_node, Attrs(cat_node).int("axis", 0))
            && conv.c_in == sizes[0]
            && conv.c_out == sizes[0]
            && conv.groups == 1
            && conv.stride == 1
            && conv.kernel % 2 == 1
            && conv.padding == conv.kernel / 2
            && !conv.bias;
        if !fits {
            return None;
        }
        let layer = Layer::PConv(PConv {
            channels: sizes[0] + sizes[1],
            partial: sizes[0],
            kernel: conv.kernel,
        });
        let imported = Imported {
            name: node_name(conv_node),
            op_type: "Split+Conv+Concat".into(),
            layer: Some(layer),
            inputs: vec![split.input.first()?.clone()],
            constants: conv_node.input[1..].to_vec(),
            outputs: cat_node.output.clone(),
            params,
            source: None,
            members: Vec::new(),
        };
        Some((imported, vec![i, ci, cat]))
    }

    /// x·½·(1 + erf(x/√2)) as exported: Div(x, √2) or Mul(x, 1/√2) → Erf → Add 1 →
    /// Mul by x → Mul by ½ (the last three with their operands in either order).
    pub(super) fn gelu(&self, i: usize) -> Option<(Imported, Vec<usize>)> {
        let first = &self.nodes[i];
        let x = first.input.first()?;
        let c = self.values.scalar(first.input.get(1)?)?;
        let scaled = match first.op_type.as_str() {
            "Div" => (c - std::f32::consts::SQRT_2).abs() < 1e-4,
            "Mul" => (c - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-4,
            _ => false,
        };
        if !scaled || self.is_const(x) {
            return None;
        }
        let next = |node: &pb::NodeProto, op: &str| {
            let j = self.sole_reader(node.output.first()?)?;
            (self.nodes[j].op_type == op).then_some(j)
        };
        let erf = next(first, "Erf")?;
        let add = next(&self.nodes[erf], "Add")?;
        let other =
            |n: &pb::NodeProto, known: &str| n.input.iter().find(|v| v.as_str() != known).cloned();
        let one = other(&self.nodes[add], &self.nodes[erf].output[0])?;
        let mul_x = next(&self.nodes[add], "Mul")?;
        let half = next(&self.nodes[mul_x], "Mul")?;
        let half_value = other(&self.nodes[half], &self.nodes[mul_x].output[0])?;
        let fits = self.values.scalar(&one) == Some(1.0)
            && other(&self.nodes[mul_x], &self.nodes[add].output[0]).as_deref() == Some(x)
            && self.values.scalar(&half_value) == Some(0.5);
        if !fits {
            return None;
        }
        let imported = Imported {
            name: node_name(first),
            op_type: "Erf-GELU".into(),
            layer: Some(Layer::Act(Activation::Gelu)),
            inputs: vec![x.clone()],
            constants: Vec::new(),
            outputs: self.nodes[half].output.clone(),
            params: NONE,
            source: None,
            members: Vec::new(),
        };
        Some((imported, vec![i, erf, add, mul_x, half]))
    }
}
