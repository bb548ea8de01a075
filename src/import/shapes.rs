//! Every value's shape, and the content of the constant ones, by tract's shape inference
//! on the file with the resolved input shapes.

use std::collections::HashMap;

use tract_onnx::pb;
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::Factoid;

use super::{ModelFile, ResolvedInput};
use crate::error::{Error, Result};

/// Constants up to this many elements are always kept (split sizes, clip bounds, GELU's
/// scalars, shapes); larger ones (weights) only when the weights are wanted.
const SMALL: usize = 4096;

/// What inference knows of the model's values, by ONNX value name.
#[derive(Debug, Default)]
pub struct Values {
    shapes: HashMap<String, Vec<usize>>,
    /// Every constant value, and whether it is floating-point.
    constants: HashMap<String, bool>,
    consts: HashMap<String, Arc<Tensor>>,
}

impl Values {
    /// The concrete shape of `name`, when inference found one.
    pub fn shape(&self, name: &str) -> Option<&[usize]> {
        self.shapes.get(name).map(Vec::as_slice)
    }

    /// Whether `name` is a constant (an initializer, a Constant node, or computed from
    /// them).
    pub fn is_constant(&self, name: &str) -> bool {
        self.constants.contains_key(name)
    }

    /// Whether `name` is a floating-point constant.
    pub fn is_float_constant(&self, name: &str) -> bool {
        self.constants.get(name) == Some(&true)
    }

    /// The content of constant `name`, when it is kept (see [`infer`]).
    pub fn constant(&self, name: &str) -> Option<&Tensor> {
        self.consts.get(name).map(|t| &**t)
    }

    /// The integers of constant `name` (any integer or float type).
    pub fn ints(&self, name: &str) -> Option<Vec<i64>> {
        let t = self.constant(name)?;
        let t = t.cast_to::<i64>().ok()?;
        Some(
            t.to_plain_array_view::<i64>()
                .ok()?
                .iter()
                .copied()
                .collect(),
        )
    }

    /// The single float of constant `name`.
    pub fn scalar(&self, name: &str) -> Option<f32> {
        let t = self.constant(name)?;
        if t.len() != 1 {
            return None;
        }
        let t = t.cast_to::<f32>().ok()?;
        t.to_plain_array_view::<f32>().ok()?.iter().next().copied()
    }

    /// The floats of constant `name`, with its shape.
    pub fn floats(&self, name: &str) -> Option<(Vec<usize>, Vec<f32>)> {
        let t = self.constant(name)?;
        if !t.datum_type().is_float() {
            return None;
        }
        let c = t.cast_to::<f32>().ok()?;
        let data = c
            .to_plain_array_view::<f32>()
            .ok()?
            .iter()
            .copied()
            .collect();
        Some((t.shape().to_vec(), data))
    }
}

/// `proto` as inference reads it: every QuantizeLinear and DequantizeLinear as a Cast to
/// float of its input (the same shapes, and values tract's inference can follow: it stops
/// at per-channel DequantizeLinear weights), and without the intermediate shape
/// annotations that name a dimension symbolically (a quantizer's `batch`, which then
/// cannot unify with the batch the run sets). Only shapes and constants are read from the
/// result; counting rules still see the file's own nodes.
fn for_inference(proto: &pb::ModelProto) -> std::borrow::Cow<'_, pb::ModelProto> {
    let quantized = |n: &pb::NodeProto| {
        n.domain.is_empty() && matches!(n.op_type.as_str(), "QuantizeLinear" | "DequantizeLinear")
    };
    let symbolic = |v: &pb::ValueInfoProto| {
        let Some(pb::type_proto::Value::TensorType(t)) =
            v.r#type.as_ref().and_then(|t| t.value.as_ref())
        else {
            return false;
        };
        t.shape.iter().flat_map(|s| &s.dim).any(|d| {
            matches!(
                d.value,
                Some(pb::tensor_shape_proto::dimension::Value::DimParam(_))
            )
        })
    };
    let Some(graph) = &proto.graph else {
        return std::borrow::Cow::Borrowed(proto);
    };
    if !graph.node.iter().any(quantized) && !graph.value_info.iter().any(symbolic) {
        return std::borrow::Cow::Borrowed(proto);
    }
    let mut copy = proto.clone();
    for graph in copy.graph.iter_mut() {
        graph.value_info.retain(|v| !symbolic(v));
        for node in graph.node.iter_mut().filter(|n| quantized(n)) {
            node.op_type = "Cast".into();
            node.input.truncate(1);
            node.attribute = vec![pb::AttributeProto {
                name: "to".into(),
                r#type: pb::attribute_proto::AttributeType::Int as i32,
                i: pb::tensor_proto::DataType::Float as i64,
                ..Default::default()
            }];
        }
    }
    std::borrow::Cow::Owned(copy)
}

/// Runs tract's inference over `file` with `inputs` set; values it cannot resolve (after
/// an operator tract does not know) are left without a shape. Large constants keep their
/// content only with `weights` (counting needs their shapes only).
pub fn infer(file: &ModelFile, inputs: &[ResolvedInput], weights: bool) -> Result<Values> {
    let fail = |e: TractError| Error::InputFile {
        path: file.path.clone(),
        line: None,
        message: format!("cannot read the graph: {e:#}"),
    };
    let proto = for_inference(&file.proto);
    let parsed = tract_onnx::onnx().parse(&proto, None).map_err(fail)?;
    let mut model = parsed.model;
    for input in inputs {
        let outlet = *parsed
            .outlets_by_name
            .get(&input.name)
            .ok_or_else(|| Error::InputFile {
                path: file.path.clone(),
                line: None,
                message: format!("input '{}' is not in the graph", input.name),
            })?;
        let fact = model
            .outlet_fact(outlet)
            .map_err(fail)?
            .clone()
            .with_shape(input.dims.clone());
        model.set_outlet_fact(outlet, fact).map_err(fail)?;
    }
    // Obstinate: keep going past nodes that fail, so the rest still gets shapes.
    let _ = model.analyse(true);
    let mut values = Values::default();
    for (name, outlet) in &parsed.outlets_by_name {
        let Ok(fact) = model.outlet_fact(*outlet) else {
            continue;
        };
        if let Ok(Some(shape)) = fact.shape.as_concrete_finite() {
            values.shapes.insert(name.clone(), shape.to_vec());
        }
        if let Some(value) = fact.value.concretize() {
            values
                .constants
                .insert(name.clone(), value.datum_type().is_float());
            if weights || value.len() <= SMALL {
                values.consts.insert(name.clone(), value);
            }
        }
    }
    Ok(values)
}
