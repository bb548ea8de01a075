//! Every value's shape, and the content of the constant ones, by tract's shape inference
//! on the file with the resolved input shapes.

use std::collections::HashMap;

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

/// Runs tract's inference over `file` with `inputs` set; values it cannot resolve (after
/// an operator tract does not know) are left without a shape. Large constants keep their
/// content only with `weights` (counting needs their shapes only).
pub fn infer(file: &ModelFile, inputs: &[ResolvedInput], weights: bool) -> Result<Values> {
    let fail = |e: TractError| Error::InputFile {
        path: file.path.clone(),
        line: None,
        message: format!("cannot read the graph: {e:#}"),
    };
    let parsed = tract_onnx::onnx().parse(&file.proto, None).map_err(fail)?;
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
