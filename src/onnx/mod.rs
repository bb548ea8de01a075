//! Writes any model of the spec (operator stack or network, with its seeded parameters)
//! as an ONNX model (opset 17) in memory, using tract-onnx's prost-generated protobuf
//! types; tract (and later ONNX Runtime and `export`) consume these bytes. At f16 the
//! same graph is written with float16 weights, input and output.
//!
//! Mapping: Conv → Conv; PConv → Split, Conv, Concat (the authors' split-cat forward);
//! unfused BN → BatchNormalization; ReLU6 → Clip; GELU → x·½·(1 + erf(x/√2)) (Erf, opset
//! 9, runs everywhere); Hardswish → HardSwish; Hardsigmoid → HardSigmoid(1/6, ½); pools
//! → MaxPool/AveragePool (count_include_pad, as PyTorch); global pool →
//! GlobalAveragePool; Linear → Gemm(transB); Slice, Concat, Flatten, Add, Mul as named.

mod f16;
mod graph;
mod int8;

pub use graph::value_name;

use prost::Message;
use tract_onnx::pb;

use crate::model::Model;
use crate::spec::Dtype;

/// The opset written.
pub const OPSET: i64 = 17;

/// The name of the graph input.
pub const INPUT_NAME: &str = "input";
/// The name of the graph output.
pub const OUTPUT_NAME: &str = "output";

/// The model as an ONNX `ModelProto`.
pub fn to_proto(model: &Model) -> pb::ModelProto {
    // The int8 QDQ graph when the model has int8 parameters (a network's: QDQ around
    // each convolution, written node by node with the rest).
    let graph = match &model.int8 {
        Some(int8) => int8::build(model, int8),
        None => graph::build(model),
    };
    wrap(graph)
}

/// The f32 graph of `model` with the values named `extra` among its outputs too, after
/// its own output: what int8 calibration reads.
pub fn to_bytes_exposing(model: &Model, extra: &[String]) -> Vec<u8> {
    let mut graph = graph::build(model);
    graph
        .output
        .extend(extra.iter().map(|name| graph::value_info(name, None)));
    wrap(graph).encode_to_vec()
}

fn wrap(graph: pb::GraphProto) -> pb::ModelProto {
    pb::ModelProto {
        ir_version: 8,
        opset_import: vec![pb::OperatorSetIdProto {
            domain: String::new(),
            version: OPSET,
        }],
        producer_name: "flopsbench".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        graph: Some(graph),
        ..Default::default()
    }
}

/// The model as ONNX bytes.
pub fn to_bytes(model: &Model) -> Vec<u8> {
    to_proto(model).encode_to_vec()
}

/// The model as ONNX bytes at `dtype`: f16 stores its float weights and declares its input
/// and output as float16; f32 and int8 are [`to_bytes`] (int8 when the model carries its
/// quantization). bf16 is not written (ONNX Conv takes it only from opset 22): callers
/// refuse it first.
pub fn to_bytes_as(model: &Model, dtype: Dtype) -> Vec<u8> {
    let mut proto = to_proto(model);
    if dtype == Dtype::F16
        && let Some(graph) = proto.graph.as_mut()
    {
        f16::convert(graph);
    }
    proto.encode_to_vec()
}
