//! A model file as the runtimes that run ONNX as given (tract, ONNX Runtime) take it: its
//! path, one seeded input per graph input, and what a run may be given.

use std::path::{Path, PathBuf};

use super::ImportedModel;
use crate::error::{Error, Result};
use crate::model;

/// One graph input with its seeded values.
#[derive(Debug, Clone, PartialEq)]
pub struct RunInput {
    /// The input's name.
    pub name: String,
    /// Its shape, batch included.
    pub dims: Vec<usize>,
    /// Its values, uniform in [−1, 1).
    pub data: Vec<f32>,
}

/// A model file with its inputs, ready for a runtime.
#[derive(Debug, Clone, PartialEq)]
pub struct FileRun {
    /// The model's name (the file stem).
    pub name: String,
    /// Where the file is (its external data beside it).
    pub path: PathBuf,
    /// Every graph input, in the graph's order. The first one's values are the seeded
    /// input of the spec network the file maps to, so the two runs can be compared.
    pub inputs: Vec<RunInput>,
    /// How many outputs the graph has (the first one is checked).
    pub outputs: usize,
    /// Whether the graph is quantized (QuantizeLinear, DequantizeLinear, QLinear*,
    /// ConvInteger or MatMulInteger nodes): runtimes may compute it in integers or
    /// simulate it in floats, and their outputs differ by rounding steps, not f32 noise.
    pub quantized: bool,
}

impl FileRun {
    /// `model`'s inputs seeded with `seed`.
    pub fn new(model: &ImportedModel, seed: u64) -> FileRun {
        let inputs = model
            .inputs
            .iter()
            .enumerate()
            .map(|(i, input)| {
                let n = input.dims.iter().product();
                RunInput {
                    name: input.name.clone(),
                    dims: input.dims.clone(),
                    data: model::seeded_input(seed, i as u64, n),
                }
            })
            .collect();
        FileRun {
            name: model.file.name.clone(),
            path: model.file.path.clone(),
            inputs,
            outputs: model.file.graph().output.len(),
            quantized: model
                .file
                .graph()
                .node
                .iter()
                .any(|n| is_quantized_op(&n.op_type)),
        }
    }
}

/// Whether `op` is one of ONNX's quantization operators.
pub fn is_quantized_op(op: &str) -> bool {
    matches!(
        op,
        "QuantizeLinear"
            | "DequantizeLinear"
            | "DynamicQuantizeLinear"
            | "ConvInteger"
            | "MatMulInteger"
    ) || op.starts_with("QLinear")
}

/// The model's name in rows and tables: its file stem.
pub fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into())
}

/// Checks that `model` can be run (its inputs are float32: the seeded inputs are drawn in
/// it) and returns the batch its inputs fix, `None` when the first input's batch is
/// symbolic (the run sets it).
pub fn check_runnable(model: &ImportedModel) -> Result<Option<usize>> {
    for input in &model.inputs {
        if input.dtype != "float32" {
            return Err(Error::InputFile {
                path: model.file.path.clone(),
                line: None,
                message: format!(
                    "input '{}' is {}: timing draws float32 inputs only; {} inputs are not supported yet",
                    input.name, input.dtype, input.dtype
                ),
            });
        }
    }
    let first = &model.inputs[0];
    Ok(match first.dims[..] {
        _ if first.batched => None,
        [n, _, ..] => Some(n),
        _ => Some(1),
    })
}
