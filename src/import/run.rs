//! A model file as the runtimes that run ONNX as given (tract, ONNX Runtime) take it: its
//! path, one seeded input per graph input, and what a run may be given.

use std::path::{Path, PathBuf};

use super::ImportedModel;
use crate::error::{Error, Result};
use crate::model;
use crate::spec::Dtype;

/// The element type a graph input is fed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputType {
    /// float32.
    F32,
    /// float16 (the f32 values rounded to nearest).
    F16,
    /// uint8 (the values mapped from [−1, 1) onto 0…255).
    U8,
    /// int8 (the values mapped from [−1, 1) onto −127…127).
    I8,
}

impl InputType {
    /// The type of an input whose ONNX element type is named `name` (`float32`, ...):
    /// `None` for one a run cannot feed.
    pub fn of(name: &str) -> Option<InputType> {
        match name {
            "float32" => Some(InputType::F32),
            "float16" => Some(InputType::F16),
            "uint8" => Some(InputType::U8),
            "int8" => Some(InputType::I8),
            _ => None,
        }
    }
}

/// One graph input with its seeded values.
#[derive(Debug, Clone, PartialEq)]
pub struct RunInput {
    /// The input's name.
    pub name: String,
    /// Its shape, batch included.
    pub dims: Vec<usize>,
    /// Its element type.
    pub elem: InputType,
    /// Its values: uniform in [−1, 1) for float inputs; for integer ones those values
    /// mapped onto the type's range (`round((x + 1)·127.5)` for uint8, `round(127x)` for
    /// int8), held as f32.
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
                let elem = InputType::of(input.dtype).unwrap_or(InputType::F32);
                let mut data = model::seeded_input(seed, i as u64, n);
                match elem {
                    InputType::U8 => data
                        .iter_mut()
                        .for_each(|x| *x = ((*x + 1.0) * 127.5).round()),
                    InputType::I8 => data.iter_mut().for_each(|x| *x = (*x * 127.0).round()),
                    InputType::F32 | InputType::F16 => {}
                }
                RunInput {
                    name: input.name.clone(),
                    dims: input.dims.clone(),
                    elem,
                    data,
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

/// Checks that `model` can be run (its inputs are float32, float16, uint8 or int8: the
/// types a seeded input is drawn in) and returns the batch its inputs fix, `None` when the first input's batch is
/// symbolic (the run sets it).
pub fn check_runnable(model: &ImportedModel) -> Result<Option<usize>> {
    for input in &model.inputs {
        if InputType::of(input.dtype).is_none() {
            return Err(Error::InputFile {
                path: model.file.path.clone(),
                line: None,
                message: format!(
                    "input '{}' is {}: runs draw float32, float16, uint8 or int8 inputs only",
                    input.name, input.dtype
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

/// The precision `model` computes in, which its rows are keyed by (see [`precision_of`]).
pub fn precision(model: &ImportedModel) -> Dtype {
    precision_of(model.file.graph())
}

/// The precision a model's `graph` computes in: int8 when it has quantization operators,
/// f16 when it takes a float16 input or most of its float weights are float16, else f32.
/// A file runs as given, in this precision only.
pub fn precision_of(graph: &tract_onnx::pb::GraphProto) -> Dtype {
    use tract_onnx::pb::tensor_proto::DataType;
    use tract_onnx::pb::type_proto;
    if graph.node.iter().any(|n| is_quantized_op(&n.op_type)) {
        return Dtype::Int8;
    }
    let elements = |t: &tract_onnx::pb::TensorProto| t.dims.iter().product::<i64>().max(1);
    let weights = |ty: DataType| -> i64 {
        graph
            .initializer
            .iter()
            .filter(|t| t.data_type == ty as i32)
            .map(elements)
            .sum()
    };
    let f16_input = graph.input.iter().any(|i| {
        matches!(
            i.r#type.as_ref().and_then(|t| t.value.as_ref()),
            Some(type_proto::Value::TensorType(t)) if t.elem_type == DataType::Float16 as i32
        )
    });
    if f16_input || weights(DataType::Float16) > weights(DataType::Float) {
        Dtype::F16
    } else {
        Dtype::F32
    }
}
