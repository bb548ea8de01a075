//! ONNX nodes onto the spec's layers: one [`Imported`] node per spec layer (a pattern of
//! several ONNX nodes may make one: Split → Conv → Concat is PConv, the erf form of GELU
//! is GELU), or per ONNX node that has no spec layer.

use std::collections::HashMap;

use tract_onnx::pb;

use super::shapes::Values;
use crate::model::NodeParams;
use crate::spec::{Activation, Conv2d, Layer, PoolKind};

/// One node of an imported model.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The ONNX node's name (its first output's when it has none).
    pub name: String,
    /// The ONNX operator(s) it came from (`Conv`, `Split+Conv+Concat`).
    pub op_type: String,
    /// The spec layer, when the node has one.
    pub layer: Option<Layer>,
    /// The values it reads that are not constants, in the spec layer's order.
    pub inputs: Vec<String>,
    /// The constants it reads (weights), by value name.
    pub constants: Vec<String>,
    /// The values it writes.
    pub outputs: Vec<String>,
    /// Its parameters (for a spec layer).
    pub params: NodeParams,
    /// The index of the ONNX node it is (`None` for a pattern of several).
    pub source: Option<usize>,
    /// The names of the ONNX nodes it stands for (several for a pattern).
    pub members: Vec<String>,
}

/// Attribute lookup on an ONNX node.
pub struct Attrs<'a>(pub &'a pb::NodeProto);

impl Attrs<'_> {
    fn get(&self, name: &str) -> Option<&pb::AttributeProto> {
        self.0.attribute.iter().find(|a| a.name == name)
    }

    /// An integer attribute.
    pub fn int(&self, name: &str, default: i64) -> i64 {
        self.get(name).map_or(default, |a| a.i)
    }

    /// An integer-list attribute.
    pub fn ints(&self, name: &str) -> Option<Vec<i64>> {
        self.get(name).map(|a| a.ints.clone())
    }

    /// A float attribute.
    pub fn float(&self, name: &str, default: f32) -> f32 {
        self.get(name).map_or(default, |a| a.f)
    }

    /// The stride and padding of a 2-D window (conv, pool) the spec can express: equal
    /// strides, the same padding on every side, no dilation, no automatic padding but
    /// VALID with none.
    pub fn square_window(&self) -> Option<(usize, usize)> {
        let strides = self.ints("strides").unwrap_or(vec![1, 1]);
        let pads = self.ints("pads").unwrap_or(vec![0; 4]);
        let auto = self.string("auto_pad");
        let fits = strides.len() == 2
            && strides[0] == strides[1]
            && strides[0] > 0
            && pads.len() == 4
            && pads.iter().all(|&p| p == pads[0])
            && pads[0] >= 0
            && self
                .ints("dilations")
                .is_none_or(|d| d.iter().all(|&v| v == 1))
            && (auto.is_empty() || auto == "NOTSET" || (auto == "VALID" && pads[0] == 0));
        fits.then_some((strides[0] as usize, pads[0] as usize))
    }

    /// A string attribute.
    pub fn string(&self, name: &str) -> String {
        self.get(name)
            .map(|a| String::from_utf8_lossy(&a.s).into_owned())
            .unwrap_or_default()
    }
}

/// The node's name in rows: its own, else its first output's.
pub fn node_name(node: &pb::NodeProto) -> String {
    if node.name.is_empty() {
        node.output.first().cloned().unwrap_or_default()
    } else {
        node.name.clone()
    }
}

/// The graph's nodes mapped onto spec layers where they have one, with their parameters
/// when `weights`.
pub fn map(graph: &pb::GraphProto, values: &Values, weights: bool) -> Vec<Imported> {
    let mut readers: HashMap<&str, usize> = HashMap::new();
    for node in &graph.node {
        for i in node.input.iter().filter(|i| !i.is_empty()) {
            *readers.entry(i.as_str()).or_default() += 1;
        }
    }
    for o in &graph.output {
        *readers.entry(o.name.as_str()).or_default() += 1;
    }
    let ctx = Ctx {
        nodes: &graph.node,
        values,
        readers,
        weights,
    };
    let mut used = vec![false; graph.node.len()];
    let mut out = Vec::new();
    for i in 0..graph.node.len() {
        if used[i] {
            continue;
        }
        // A node computing constants (Constant, Identity of a weight) is part of the
        // weights, not of the forward pass.
        let node = &graph.node[i];
        if node
            .output
            .iter()
            .all(|o| o.is_empty() || values.is_constant(o))
        {
            used[i] = true;
            continue;
        }
        if let Some((mut imported, consumed)) = ctx.pconv(i).or_else(|| ctx.gelu(i)) {
            imported.members = consumed
                .iter()
                .map(|&c| node_name(&graph.node[c]))
                .collect();
            for c in consumed {
                used[c] = true;
            }
            out.push(imported);
            continue;
        }
        used[i] = true;
        if node.input.first().is_none_or(String::is_empty) || node.output.is_empty() {
            out.push(Imported {
                source: Some(i),
                ..plain(node, None, node.input.clone())
            });
            continue;
        }
        out.extend(ctx.single(i));
    }
    out
}

/// One bound of a Clip.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Bound {
    /// Not given.
    Absent,
    /// Given, a known constant.
    Known(f32),
    /// Given, not a constant.
    Unknown,
}

/// The graph being mapped: its nodes, what inference knows, who reads each value.
pub(super) struct Ctx<'a> {
    pub(super) nodes: &'a [pb::NodeProto],
    pub(super) values: &'a Values,
    readers: HashMap<&'a str, usize>,
    /// Whether to build the nodes' parameters (to run the model, not to count it).
    weights: bool,
}

pub(super) const NONE: NodeParams = NodeParams::None;

fn plain(node: &pb::NodeProto, layer: Option<Layer>, inputs: Vec<String>) -> Imported {
    Imported {
        source: None,
        members: vec![node_name(node)],
        name: node_name(node),
        op_type: node.op_type.clone(),
        layer,
        inputs,
        constants: Vec::new(),
        outputs: node
            .output
            .iter()
            .filter(|o| !o.is_empty())
            .cloned()
            .collect(),
        params: NONE,
    }
}

impl Ctx<'_> {
    pub(super) fn is_const(&self, name: &str) -> bool {
        self.values.is_constant(name)
    }

    /// The floats of constant `name`: `Some(empty)` when weights are not wanted.
    fn data(&self, name: &str) -> Option<Vec<f32>> {
        if self.weights {
            self.values.floats(name).map(|f| f.1)
        } else {
            Some(Vec::new())
        }
    }

    fn shape(&self, name: &str) -> Option<&[usize]> {
        self.values.shape(name)
    }

    /// The only node reading `value`, if exactly one does (and it is not a graph output).
    pub(super) fn sole_reader(&self, value: &str) -> Option<usize> {
        if self.readers.get(value) != Some(&1) {
            return None;
        }
        self.nodes
            .iter()
            .position(|n| n.input.iter().any(|i| i == value))
    }

    /// The spec form of an ONNX node on its own, with everything it reads.
    fn single(&self, index: usize) -> Vec<Imported> {
        let node = &self.nodes[index];
        let (activations, constants): (Vec<String>, Vec<String>) = node
            .input
            .iter()
            .filter(|i| !i.is_empty())
            .cloned()
            .partition(|i| !self.is_const(i));
        if node.op_type == "Split"
            && let Some(mut slices) = self.split(node)
        {
            for s in &mut slices {
                s.source = Some(index);
            }
            return slices;
        }
        let (layer, params, inputs) = match self.layer_of(node, &activations) {
            Some((layer, params, inputs)) => (Some(layer), params, inputs),
            None => (None, NONE, activations),
        };
        vec![Imported {
            constants,
            params,
            source: Some(index),
            ..plain(node, layer, inputs)
        }]
    }

    fn layer_of(
        &self,
        node: &pb::NodeProto,
        activations: &[String],
    ) -> Option<(Layer, NodeParams, Vec<String>)> {
        let a = Attrs(node);
        let x = node.input.first()?.clone();
        let one = |layer| Some((layer, NONE, vec![x.clone()]));
        match node.op_type.as_str() {
            "Conv" => self.conv(node).map(|(c, p)| (Layer::Conv(c), p, vec![x])),
            "BatchNormalization" => self.batch_norm(node),
            "Relu" => one(Layer::Act(Activation::Relu)),
            "Clip" => match self.clip_bounds(node) {
                (Bound::Known(lo), Bound::Known(hi)) if lo == 0.0 && hi == 6.0 => {
                    one(Layer::Act(Activation::Relu6))
                }
                (Bound::Known(0.0), Bound::Absent) => one(Layer::Act(Activation::Relu)),
                _ => None,
            },
            "HardSwish" => one(Layer::Act(Activation::Hardswish)),
            "HardSigmoid" => {
                let (alpha, beta) = (a.float("alpha", 0.2), a.float("beta", 0.5));
                ((alpha - 1.0 / 6.0).abs() < 1e-6 && beta == 0.5)
                    .then_some(())
                    .and_then(|_| one(Layer::Act(Activation::Hardsigmoid)))
            }
            "Gelu" if a.string("approximate") != "tanh" => one(Layer::Act(Activation::Gelu)),
            "MaxPool" | "AveragePool" => self.pool(node).and_then(one),
            "GlobalAveragePool" => one(Layer::GlobalAvgPool),
            "ReduceMean" => self
                .reduces_spatial(node)
                .then_some(())
                .and_then(|_| one(Layer::GlobalAvgPool)),
            "Gemm" | "MatMul" => self.linear(node),
            "Add"
                if activations.len() == 2
                    && self.shape(&activations[0]).is_some()
                    && self.shape(&activations[0]) == self.shape(&activations[1]) =>
            {
                Some((Layer::Add, NONE, activations.to_vec()))
            }
            "Mul" if activations.len() == 2 => self.channel_scale(activations),
            "Concat" if self.channel_axis(node, a.int("axis", 0)) => {
                Some((Layer::Concat, NONE, activations.to_vec()))
            }
            "Slice" => self.slice(node).and_then(one),
            "Flatten" if a.int("axis", 1) == 1 => one(Layer::Flatten),
            "Reshape" if self.is_flatten(node) => one(Layer::Flatten),
            _ => None,
        }
    }

    /// A 2-D convolution with a square kernel, equal strides, equal padding on every side
    /// and no dilation, weights (and bias) constant.
    pub(super) fn conv(&self, node: &pb::NodeProto) -> Option<(Conv2d, NodeParams)> {
        let a = Attrs(node);
        let w = node.input.get(1)?;
        if !self.values.is_float_constant(w) {
            return None;
        }
        let [c_out, per_group, kh, kw] = *self.shape(w)? else {
            return None;
        };
        let x = self.shape(&node.input[0])?;
        let (stride, padding) = a.square_window()?;
        let groups = usize::try_from(a.int("group", 1))
            .ok()
            .filter(|&g| g >= 1)?;
        let fits = x.len() == 4 && kh == kw && Some(x[1]) == per_group.checked_mul(groups);
        if !fits {
            return None;
        }
        let bias = match node.input.get(2).filter(|b| !b.is_empty()) {
            Some(b) if self.values.is_float_constant(b) => Some(self.data(b)?),
            Some(_) => return None,
            None => None,
        };
        let weight = self.data(w)?;
        let conv = Conv2d {
            c_in: x[1],
            c_out,
            kernel: kh,
            stride,
            padding,
            groups,
            bias: bias.is_some(),
            folded_bn: false,
        };
        let params = if self.weights {
            NodeParams::Conv { weight, bias }
        } else {
            NONE
        };
        Some((conv, params))
    }

    fn batch_norm(&self, node: &pb::NodeProto) -> Option<(Layer, NodeParams, Vec<String>)> {
        let eps = Attrs(node).float("epsilon", 1e-5);
        let get = |i: usize| {
            let name = node.input.get(i)?;
            self.values.is_float_constant(name).then_some(())?;
            self.data(name)
        };
        let (gamma, beta, mean, var) = (get(1)?, get(2)?, get(3)?, get(4)?);
        let x = self.shape(&node.input[0])?;
        if x.len() != 4 || node.output.iter().filter(|o| !o.is_empty()).count() != 1 {
            return None;
        }
        let layer = Layer::BatchNorm { channels: x[1] };
        let input = vec![node.input[0].clone()];
        if !self.weights {
            return Some((layer, NONE, input));
        }
        let params = NodeParams::batch_norm(&gamma, &beta, &mean, &var, eps);
        Some((layer, params, input))
    }

    /// Clip's bounds: inputs from opset 11, attributes before.
    fn clip_bounds(&self, node: &pb::NodeProto) -> (Bound, Bound) {
        let a = Attrs(node);
        let input = |i: usize| match node.input.get(i).filter(|n| !n.is_empty()) {
            None => Bound::Absent,
            Some(n) => self.values.scalar(n).map_or(Bound::Unknown, Bound::Known),
        };
        if node.input.len() > 1 {
            (input(1), input(2))
        } else {
            let attr = |n: &str| a.get(n).map_or(Bound::Absent, |v| Bound::Known(v.f));
            (attr("min"), attr("max"))
        }
    }

    fn pool(&self, node: &pb::NodeProto) -> Option<Layer> {
        let a = Attrs(node);
        let k = a.ints("kernel_shape")?;
        let (stride, padding) = a.square_window()?;
        let avg = node.op_type == "AveragePool";
        let fits = k.len() == 2
            && k[0] == k[1]
            && k[0] > 0
            && a.int("ceil_mode", 0) == 0
            && node.output.iter().filter(|o| !o.is_empty()).count() == 1
            && (!avg || padding == 0 || a.int("count_include_pad", 0) == 1);
        fits.then(|| Layer::Pool {
            kind: if avg { PoolKind::Avg } else { PoolKind::Max },
            kernel: k[0] as usize,
            stride,
            padding,
        })
    }

    /// ReduceMean over the two spatial axes of a 4-D map.
    fn reduces_spatial(&self, node: &pb::NodeProto) -> bool {
        let axes = Attrs(node)
            .ints("axes")
            .or_else(|| node.input.get(1).and_then(|a| self.values.ints(a)));
        let rank = self.shape(&node.input[0]).map_or(0, <[usize]>::len);
        let mut axes: Vec<i64> = axes
            .unwrap_or_default()
            .iter()
            .map(|&a| if a < 0 { a + rank as i64 } else { a })
            .collect();
        axes.sort_unstable();
        rank == 4 && axes == [2, 3]
    }

    /// Gemm (A not transposed, α = β = 1) or MatMul of a `[n, in]` input by constant
    /// weights, as a linear layer.
    fn linear(&self, node: &pb::NodeProto) -> Option<(Layer, NodeParams, Vec<String>)> {
        let a = Attrs(node);
        let x = self.shape(&node.input[0])?;
        let w_name = node.input.get(1)?;
        let wshape = self.shape(w_name)?;
        let gemm = node.op_type == "Gemm";
        if x.len() != 2
            || wshape.len() != 2
            || self.is_const(&node.input[0])
            || !self.values.is_float_constant(w_name)
        {
            return None;
        }
        if gemm
            && (a.int("transA", 0) != 0
                || a.float("alpha", 1.0) != 1.0
                || a.float("beta", 1.0) != 1.0)
        {
            return None;
        }
        let trans_b = gemm && a.int("transB", 0) == 1;
        let (out_f, in_f) = if trans_b {
            (wshape[0], wshape[1])
        } else {
            (wshape[1], wshape[0])
        };
        if in_f != x[1] {
            return None;
        }
        let w = self.data(w_name)?;
        let weight = if trans_b || !self.weights {
            w
        } else {
            (0..out_f * in_f)
                .map(|i| w[(i % in_f) * out_f + i / in_f])
                .collect()
        };
        let bias = match node.input.get(2).filter(|b| gemm && !b.is_empty()) {
            Some(b) => {
                let elements = self.shape(b)?.iter().product::<usize>();
                if !self.values.is_float_constant(b) || elements != out_f {
                    return None;
                }
                Some(self.data(b)?)
            }
            None => None,
        };
        let layer = Layer::Linear {
            in_features: in_f,
            out_features: out_f,
            bias: bias.is_some(),
        };
        let params = if self.weights {
            NodeParams::Linear { weight, bias }
        } else {
            NONE
        };
        Some((layer, params, vec![node.input[0].clone()]))
    }

    /// `map × scale`, `scale` being `[n, c, 1, 1]` (squeeze-excitation), either order.
    fn channel_scale(&self, inputs: &[String]) -> Option<(Layer, NodeParams, Vec<String>)> {
        let (a, b) = (self.shape(&inputs[0])?, self.shape(&inputs[1])?);
        let scales = |m: &[usize], s: &[usize]| m.len() == 4 && s == [m[0], m[1], 1, 1];
        if scales(a, b) {
            Some((Layer::Mul, NONE, inputs.to_vec()))
        } else if scales(b, a) {
            Some((Layer::Mul, NONE, vec![inputs[1].clone(), inputs[0].clone()]))
        } else {
            None
        }
    }

    pub(super) fn channel_axis(&self, node: &pb::NodeProto, axis: i64) -> bool {
        let rank = node
            .input
            .first()
            .and_then(|i| self.shape(i))
            .map_or(0, <[usize]>::len) as i64;
        (rank == 4 || rank == 2) && (axis == 1 || axis + rank == 1)
    }

    /// Slice of the channel axis, step 1, bounds constant.
    fn slice(&self, node: &pb::NodeProto) -> Option<Layer> {
        let x = self.shape(&node.input[0])?;
        let get = |i: usize| {
            node.input
                .get(i)
                .filter(|n| !n.is_empty())
                .and_then(|n| self.values.ints(n))
        };
        let (starts, ends) = (get(1)?, get(2)?);
        let axes = get(3).unwrap_or(vec![0]);
        let steps = get(4).unwrap_or(vec![1]);
        let rank = x.len() as i64;
        let one_axis = starts.len() == 1 && ends.len() == 1 && axes.len() == 1;
        if !one_axis || steps != [1] || !(rank == 4 || rank == 2) {
            return None;
        }
        if axes[0] != 1 && axes[0] + rank != 1 {
            return None;
        }
        let c = x[1] as i64;
        let clamp = |v: i64| if v < 0 { (v + c).max(0) } else { v.min(c) } as usize;
        let (start, end) = (clamp(starts[0]), clamp(ends[0]));
        (start < end).then_some(Layer::Slice { start, end })
    }

    /// Reshape of a `[n, c, h, w]` map to `[n, c·h·w]`.
    fn is_flatten(&self, node: &pb::NodeProto) -> bool {
        let (Some(x), Some(y)) = (node.input.first(), node.output.first()) else {
            return false;
        };
        match (self.shape(x), self.shape(y)) {
            (Some(x), Some(y)) => {
                x.len() >= 2
                    && y.len() == 2
                    && y[0] == x[0]
                    && y[1] == x[1..].iter().product::<usize>()
            }
            _ => false,
        }
    }

    /// Split of the channel axis into slices, one spec node per output.
    fn split(&self, node: &pb::NodeProto) -> Option<Vec<Imported>> {
        let sizes = self.split_sizes(node)?;
        let x = node.input.first()?;
        let mut start = 0;
        let mut out = Vec::new();
        for (i, (output, size)) in node.output.iter().zip(sizes).enumerate() {
            let layer = Layer::Slice {
                start,
                end: start + size,
            };
            start += size;
            out.push(Imported {
                name: format!("{}:{i}", node_name(node)),
                outputs: vec![output.clone()],
                ..plain(node, Some(layer), vec![x.clone()])
            });
        }
        Some(out)
    }

    /// The channel sizes of a Split on the channel axis.
    pub(super) fn split_sizes(&self, node: &pb::NodeProto) -> Option<Vec<usize>> {
        let x = self.shape(node.input.first()?)?;
        if !self.channel_axis(node, Attrs(node).int("axis", 0)) {
            return None;
        }
        let sizes: Vec<usize> = node
            .output
            .iter()
            .map(|o| self.shape(o).map(|s| s[1]))
            .collect::<Option<_>>()?;
        (sizes.iter().sum::<usize>() == x[1]).then_some(sizes)
    }
}
