//! What an ONNX Runtime session computed: its optimised graph (saved by ONNX Runtime into
//! a temporary folder, read back) and the words for its operators, for the `computed`
//! column.

use ort::session::Session;
use ort::session::builder::SessionBuilder;

use super::err;
use crate::error::Result;

/// Commits a session through `commit`, first asking ONNX Runtime to save its optimised
/// graph when `keep` (into a temporary folder, read back, deleted): the session and the
/// graph's bytes.
pub(super) fn with_optimised(
    builder: SessionBuilder,
    keep: bool,
    commit: impl FnOnce(&mut SessionBuilder) -> std::result::Result<Session, ort::Error>,
) -> Result<(Session, Option<Vec<u8>>)> {
    let mut builder = builder;
    if !keep {
        return Ok((commit(&mut builder).map_err(err)?, None));
    }
    let dir = tempfile::tempdir().map_err(err)?;
    let path = dir.path().join("optimised.onnx");
    let mut builder = builder.with_optimized_model_path(&path).map_err(err)?;
    let session = commit(&mut builder).map_err(err)?;
    // No graph (ONNX Runtime could not write it) only leaves `computed` unknown.
    Ok((session, std::fs::read(&path).ok()))
}

/// What an optimised graph computes in, from its operators and the element types they
/// read: `int8 (QLinearConv ×10; QuantizeLinear ×1, DequantizeLinear ×1)` where integer
/// convolutions or products ran, `f16 (Conv ×10)` where float ones read f16, `f32 via 12
/// casts (Conv ×10; Cast ×12)` where an f16 graph's convolutions ran in f32 between
/// Casts the runtime inserted; and whether a convolution computed in floats.
pub fn computed_by(graph: &[u8]) -> Result<(String, bool)> {
    use prost::Message;
    let model = tract_onnx::pb::ModelProto::decode(graph).map_err(|e| {
        err(format!(
            "ONNX Runtime's optimised graph does not decode: {e}"
        ))
    })?;
    let Some(graph) = model.graph else {
        return Ok((summarise_ops(&[], &[]), false));
    };
    let types = element_types(&graph);
    let mut ops: Vec<(String, usize)> = Vec::new();
    let mut float_types: Vec<&'static str> = Vec::new();
    let mut float_conv = false;
    for node in &graph.node {
        let name = match node.domain.as_str() {
            "" | "ai.onnx" => node.op_type.clone(),
            d => format!("{d}.{}", node.op_type),
        };
        if heavy(&name) && !integer(&name) {
            let ty = node.input.first().and_then(|i| types.get(i)).copied();
            let word = match ty.and_then(|t| DataType::try_from(t).ok()) {
                Some(DataType::Float16) => "f16",
                Some(DataType::Bfloat16) => "bf16",
                Some(DataType::Double) => "f64",
                _ => "f32",
            };
            if !float_types.contains(&word) {
                float_types.push(word);
            }
            float_conv |= short(&name).contains("Conv");
        }
        match ops.iter_mut().find(|(o, _)| *o == name) {
            Some(entry) => entry.1 += 1,
            None => ops.push((name, 1)),
        }
    }
    Ok((summarise_ops(&ops, &float_types), float_conv))
}

use tract_onnx::pb::tensor_proto::DataType;

/// The element type (ONNX `DataType`) of every value of `graph` that can be told: inputs
/// and initializers as declared, then each node's outputs in order (a Cast's `to`, a
/// QuantizeLinear's zero point's, a DequantizeLinear's scale's, shape operators' int64,
/// any other the type of its first typed input).
fn element_types(graph: &tract_onnx::pb::GraphProto) -> std::collections::HashMap<String, i32> {
    use tract_onnx::pb::type_proto;
    let mut types = std::collections::HashMap::new();
    for v in graph.input.iter().chain(&graph.value_info) {
        if let Some(type_proto::Value::TensorType(t)) =
            v.r#type.as_ref().and_then(|t| t.value.as_ref())
        {
            types.insert(v.name.clone(), t.elem_type);
        }
    }
    for t in &graph.initializer {
        types.insert(t.name.clone(), t.data_type);
    }
    for node in &graph.node {
        let input = |i: usize| node.input.get(i).and_then(|n| types.get(n)).copied();
        let ty = match node.op_type.as_str() {
            "Cast" => node
                .attribute
                .iter()
                .find(|a| a.name == "to")
                .map(|a| a.i as i32),
            "QuantizeLinear" | "DynamicQuantizeLinear" => input(2).or(Some(DataType::Uint8 as i32)),
            "DequantizeLinear" => input(1),
            "Shape" | "Size" => Some(DataType::Int64 as i32),
            op if op.starts_with("QLinear") || op.ends_with("Integer") => input(0),
            _ => node.input.iter().find_map(|n| types.get(n).copied()),
        };
        if let Some(ty) = ty {
            for out in &node.output {
                types.insert(out.clone(), ty);
            }
        }
    }
    types
}

fn short(o: &str) -> &str {
    o.rsplit('.').next().unwrap_or(o)
}

fn integer(o: &str) -> bool {
    let s = short(o);
    s.starts_with("QLinear") || s.ends_with("Integer") || s == "QGemm"
}

fn heavy(o: &str) -> bool {
    let s = short(o);
    s.contains("Conv") || s.contains("MatMul") || s.contains("Gemm")
}

/// [`computed_by`]'s words for operator counts and the float types the float convolutions
/// and products read.
fn summarise_ops(ops: &[(String, usize)], float_types: &[&str]) -> String {
    let glue = |o: &str| {
        matches!(
            short(o),
            "QuantizeLinear" | "DequantizeLinear" | "Cast" | "DynamicQuantizeLinear"
        )
    };
    let list = |f: &dyn Fn(&str) -> bool| -> Vec<String> {
        ops.iter()
            .filter(|(o, _)| f(o))
            .map(|(o, n)| format!("{o} ×{n}"))
            .collect()
    };
    let ints = ops.iter().any(|(o, _)| integer(o));
    let floats = if float_types.is_empty() {
        "f32".to_string()
    } else {
        float_types.join("+")
    };
    let casts: usize = ops
        .iter()
        .filter(|(o, _)| short(o) == "Cast")
        .map(|(_, n)| n)
        .sum();
    let kind = match (ints, float_types.is_empty()) {
        (true, true) => "int8".to_string(),
        (true, false) => format!("int8+{floats}"),
        (false, _) if casts > 0 && floats == "f32" => format!("f32 via {casts} casts"),
        (false, _) => floats,
    };
    let mut parts = vec![list(&|o: &str| heavy(o) || integer(o)).join(", ")];
    parts.push(list(&glue).join(", "));
    parts.retain(|p| !p.is_empty());
    if parts.is_empty() {
        kind
    } else {
        format!("{kind} ({})", parts.join("; "))
    }
}

#[cfg(test)]
mod computed_tests {
    use super::summarise_ops;
    use tract_onnx::pb::tensor_proto::DataType;

    fn ops(list: &[(&str, usize)]) -> Vec<(String, usize)> {
        list.iter().map(|(o, n)| (o.to_string(), *n)).collect()
    }

    #[test]
    fn integer_convolutions_are_named_and_float_ones_are_not_hidden() {
        assert_eq!(
            summarise_ops(
                &ops(&[
                    ("QuantizeLinear", 1),
                    ("QLinearConv", 10),
                    ("DequantizeLinear", 1)
                ]),
                &[]
            ),
            "int8 (QLinearConv ×10; QuantizeLinear ×1, DequantizeLinear ×1)"
        );
        assert_eq!(
            summarise_ops(
                &ops(&[("QLinearConv", 9), ("com.microsoft.nchwc.Conv", 1)]),
                &["f32"]
            ),
            "int8+f32 (QLinearConv ×9, com.microsoft.nchwc.Conv ×1)"
        );
        assert_eq!(
            summarise_ops(&ops(&[("Cast", 5), ("Conv", 10), ("Relu", 3)]), &["f32"]),
            "f32 via 5 casts (Conv ×10; Cast ×5)"
        );
        assert_eq!(
            summarise_ops(&ops(&[("Conv", 10), ("Relu", 3)]), &["f16"]),
            "f16 (Conv ×10)"
        );
    }

    /// A graph of `nodes` (op, inputs, outputs, Cast's `to`) on an input of `elem`.
    fn graph(elem: DataType, nodes: &[(&str, &[&str], &str, i64)]) -> Vec<u8> {
        use prost::Message;
        use tract_onnx::pb;
        let node = nodes
            .iter()
            .map(|(op, inputs, output, to)| pb::NodeProto {
                op_type: op.to_string(),
                input: inputs.iter().map(|i| i.to_string()).collect(),
                output: vec![output.to_string()],
                attribute: (*op == "Cast")
                    .then(|| pb::AttributeProto {
                        name: "to".into(),
                        i: *to,
                        ..Default::default()
                    })
                    .into_iter()
                    .collect(),
                ..Default::default()
            })
            .collect();
        let input = pb::ValueInfoProto {
            name: "x".into(),
            r#type: Some(pb::TypeProto {
                value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                    elem_type: elem as i32,
                    shape: None,
                })),
                ..Default::default()
            }),
            ..Default::default()
        };
        pb::ModelProto {
            graph: Some(pb::GraphProto {
                node,
                input: vec![input],
                ..Default::default()
            }),
            ..Default::default()
        }
        .encode_to_vec()
    }

    #[test]
    fn element_types_flow_through_casts_to_the_convolutions() {
        let f32 = DataType::Float as i64;
        let f16 = DataType::Float16 as i64;
        // The x86 provider's f16 graph: Cast to f32, Conv, Cast back.
        let cast = graph(
            DataType::Float16,
            &[
                ("Cast", &["x"], "a", f32),
                ("Conv", &["a", "w"], "b", 0),
                ("Relu", &["b"], "c", 0),
                ("Cast", &["c"], "y", f16),
            ],
        );
        assert_eq!(
            super::computed_by(&cast).unwrap(),
            ("f32 via 2 casts (Conv ×1; Cast ×2)".to_string(), true)
        );
        // A native f16 kernel reads f16.
        let native = graph(DataType::Float16, &[("Conv", &["x", "w"], "y", 0)]);
        assert_eq!(
            super::computed_by(&native).unwrap(),
            ("f16 (Conv ×1)".to_string(), true)
        );
        // Integer convolutions between Q and DQ: no float convolution.
        let int = graph(
            DataType::Float,
            &[
                ("QuantizeLinear", &["x", "s", "z"], "q", 0),
                ("QLinearConv", &["q"], "r", 0),
                ("DequantizeLinear", &["r", "s"], "y", 0),
            ],
        );
        let (words, float_conv) = super::computed_by(&int).unwrap();
        assert!(words.starts_with("int8 (QLinearConv ×1"), "{words}");
        assert!(!float_conv);
    }
}
