//! Model files as network targets: an ONNX file read and checked, its input shapes
//! resolved, its graph mapped onto the spec's layers wherever a node has one (so a model
//! whose every node maps is a spec network: counted, and later run, exactly like a zoo
//! network), every other node counted by generic rules or named as uncounted.

mod count;
mod file;
mod generic;
mod inputs;
mod map;
mod patterns;
mod run;
mod shapes;

use std::collections::HashMap;
use std::path::Path;

pub use count::count;
pub use file::{ModelFile, is_model_path};
pub use inputs::{FLAG as INPUT_SHAPE_FLAG, InputShape, ResolvedInput};
pub use map::Imported;
pub use run::{FileRun, InputType, RunInput, check_runnable, precision, precision_of, stem};
pub use shapes::Values;

use crate::error::Result;
use crate::model::NodeParams;
use crate::spec::{Net, NetBuilder, Shape, Tensor};

/// A model file, read and mapped.
#[derive(Debug)]
pub struct ImportedModel {
    /// The file.
    pub file: ModelFile,
    /// Its inputs with their resolved shapes.
    pub inputs: Vec<ResolvedInput>,
    /// Its nodes, mapped where they have a spec layer.
    pub nodes: Vec<Imported>,
    /// Every value's shape and the constants' contents.
    pub values: Values,
    /// The spec network and its parameters when every node has a spec layer; else why
    /// not (the first node that has none).
    pub net: std::result::Result<(Net, Vec<NodeParams>), String>,
}

/// What an import keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Shapes only: enough to count (the weights' data is dropped as soon as it is read).
    Shapes,
    /// The weights too, as each node's parameters: to run the model.
    Weights,
}

/// Reads, checks and maps the model at `path`; a symbolic first input dimension is set
/// to `batch`.
pub fn import(
    path: &Path,
    given: &[InputShape],
    batch: usize,
    keep: Keep,
) -> Result<ImportedModel> {
    let mut file = ModelFile::open(path)?;
    let inputs = inputs::resolve(&file, given, batch)?;
    let weights = keep == Keep::Weights;
    let values = shapes::infer(&file, &inputs, weights)?;
    if !weights {
        file.drop_weights();
    }
    let nodes = map::map(file.graph(), &values, weights);
    let net = spec_net(&file, &inputs, &nodes);
    Ok(ImportedModel {
        file,
        inputs,
        nodes,
        values,
        net,
    })
}

/// The per-item spec shape of an ONNX value: `[n, c, h, w]` → c×h×w, `[n, f]` → f×1×1.
pub fn spec_shape(dims: &[usize]) -> Option<Shape> {
    match *dims {
        [_, c, h, w] => Some(Shape::new(c, h, w)),
        [_, f] => Some(Shape::new(f, 1, 1)),
        _ => None,
    }
}

/// The spec network of a model whose every node has a spec layer.
fn spec_net(
    file: &ModelFile,
    inputs: &[ResolvedInput],
    nodes: &[Imported],
) -> std::result::Result<(Net, Vec<NodeParams>), String> {
    let [input] = inputs else {
        return Err(format!(
            "it has {} inputs (networks take one)",
            inputs.len()
        ));
    };
    let shape = match input.dims[..] {
        [_, c, h, w] => Shape::new(c, h, w),
        _ => return Err(format!("its input '{}' is not an N×C×H×W map", input.name)),
    };
    let [output] = &file.graph().output[..] else {
        return Err("it has more than one output".into());
    };
    let mut b = NetBuilder::new(file.name.clone(), shape, INPUT_SHAPE_FLAG);
    let mut tensors: HashMap<&str, Tensor> = HashMap::from([(input.name.as_str(), b.input())]);
    let mut params = Vec::with_capacity(nodes.len());
    let mut last = None;
    for node in nodes {
        let ins: Vec<Tensor> = node
            .inputs
            .iter()
            .map(|i| tensors.get(i.as_str()).copied())
            .collect::<Option<_>>()
            .ok_or_else(|| format!("node '{}' reads a value no mapped node writes", node.name))?;
        let t = match node.layer {
            Some(layer) => {
                params.push(node.params.clone());
                b.push(node.name.clone(), layer, &ins)
                    .map_err(|e| format!("node '{}': {e}", node.name))?
            }
            None if matches!(node.op_type.as_str(), "Identity" | "Dropout") && ins.len() == 1 => {
                ins[0]
            }
            None => {
                return Err(format!(
                    "node '{}' ({}) has no spec layer",
                    node.name, node.op_type
                ));
            }
        };
        let [out] = &node.outputs[..] else {
            return Err(format!("node '{}' has several outputs", node.name));
        };
        tensors.insert(out.as_str(), t);
        last = Some(out.as_str());
    }
    if last != Some(output.name.as_str()) {
        return Err("its output is not its last node's".into());
    }
    Ok((b.finish(), params))
}
