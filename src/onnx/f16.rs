//! The f16 form of a written graph: every float initializer stored as float16 and the
//! graph's input and output declared float16, so every operator reads and writes f16 (the
//! runtime decides how it computes: natively, or through Casts it inserts, which the
//! row's `computed` column counts). Integer initializers (split sizes, slice bounds)
//! stay as they are. A linear layer is written as MatMul (weights transposed) + Add
//! rather than Gemm: tract 0.23 types an f16 Gemm's output f32 and refuses the graph.

use tract_onnx::pb;
use tract_onnx::pb::tensor_proto::DataType;
use tract_onnx::pb::type_proto;

/// `graph` rewritten to f16 in place.
pub(super) fn convert(graph: &mut pb::GraphProto) {
    gemm_as_matmul(graph);
    for t in &mut graph.initializer {
        if t.data_type == DataType::Float as i32 {
            t.raw_data = t
                .raw_data
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .flat_map(|v| half::f16::from_f32(v).to_le_bytes())
                .collect();
            t.data_type = DataType::Float16 as i32;
        }
    }
    let values = graph
        .input
        .iter_mut()
        .chain(&mut graph.output)
        .chain(&mut graph.value_info);
    for v in values {
        if let Some(type_proto::Value::TensorType(t)) =
            v.r#type.as_mut().and_then(|t| t.value.as_mut())
            && t.elem_type == DataType::Float as i32
        {
            t.elem_type = DataType::Float16 as i32;
        }
    }
}

/// Every `Gemm(x, W, b)` with `transB = 1` and an initializer `W` rewritten as
/// `MatMul(x, Wᵀ)` (+ `Add(·, b)`), the same function.
fn gemm_as_matmul(graph: &mut pb::GraphProto) {
    let mut nodes = Vec::with_capacity(graph.node.len());
    let mut replaced: Vec<String> = Vec::new();
    for node in std::mem::take(&mut graph.node) {
        let trans_b = node
            .attribute
            .iter()
            .any(|a| a.name == "transB" && a.i == 1);
        let others = node.attribute.iter().any(|a| {
            a.name != "transB" && !(matches!(a.name.as_str(), "alpha" | "beta") && a.f == 1.0)
        });
        let weight = node
            .input
            .get(1)
            .and_then(|w| graph.initializer.iter().position(|t| &t.name == w));
        let (Some(w), true, false) = (weight, trans_b, others) else {
            nodes.push(node);
            continue;
        };
        if node.op_type != "Gemm" || graph.initializer[w].dims.len() != 2 {
            nodes.push(node);
            continue;
        }
        let t = &graph.initializer[w];
        let (rows, cols) = (t.dims[0] as usize, t.dims[1] as usize);
        let size = t.raw_data.len() / (rows * cols).max(1);
        let mut raw = vec![0u8; t.raw_data.len()];
        for r in 0..rows {
            for c in 0..cols {
                let from = (r * cols + c) * size;
                let to = (c * rows + r) * size;
                raw[to..to + size].copy_from_slice(&t.raw_data[from..from + size]);
            }
        }
        let transposed = pb::TensorProto {
            name: format!("{}.t", t.name),
            dims: vec![cols as i64, rows as i64],
            data_type: t.data_type,
            raw_data: raw,
            ..Default::default()
        };
        let product = match node.input.get(2) {
            Some(_) => format!("{}.matmul", node.name),
            None => node.output[0].clone(),
        };
        nodes.push(pb::NodeProto {
            op_type: "MatMul".into(),
            name: format!("{}.op_matmul", node.name),
            input: vec![node.input[0].clone(), transposed.name.clone()],
            output: vec![product.clone()],
            ..Default::default()
        });
        if let Some(bias) = node.input.get(2) {
            nodes.push(pb::NodeProto {
                op_type: "Add".into(),
                name: node.name.clone(),
                input: vec![product, bias.clone()],
                output: node.output.clone(),
                ..Default::default()
            });
        }
        replaced.push(t.name.clone());
        graph.initializer.push(transposed);
    }
    graph.node = nodes;
    // The transposed weights replace the originals, once nothing reads those any more.
    let used: std::collections::HashSet<&String> =
        graph.node.iter().flat_map(|n| &n.input).collect();
    let kept: Vec<pb::TensorProto> = std::mem::take(&mut graph.initializer)
        .into_iter()
        .filter(|t| !replaced.contains(&t.name) || used.contains(&t.name))
        .collect();
    graph.initializer = kept;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_initializers_and_io_become_f16_and_integers_stay() {
        let mut g = pb::GraphProto {
            initializer: vec![
                pb::TensorProto {
                    data_type: DataType::Float as i32,
                    raw_data: [1.5f32, -0.1]
                        .iter()
                        .flat_map(|v| v.to_le_bytes())
                        .collect(),
                    ..Default::default()
                },
                pb::TensorProto {
                    data_type: DataType::Int64 as i32,
                    raw_data: 7i64.to_le_bytes().to_vec(),
                    ..Default::default()
                },
            ],
            input: vec![super::super::graph::value_info("input", Some(&[1, 2]))],
            ..Default::default()
        };
        convert(&mut g);
        let f = &g.initializer[0];
        assert_eq!(f.data_type, DataType::Float16 as i32);
        let back: Vec<f32> = f
            .raw_data
            .chunks_exact(2)
            .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect();
        assert_eq!(back, vec![1.5, half::f16::from_f32(-0.1).to_f32()]);
        assert_eq!(g.initializer[1].data_type, DataType::Int64 as i32);
        assert_eq!(g.initializer[1].raw_data, 7i64.to_le_bytes().to_vec());
        let Some(type_proto::Value::TensorType(t)) =
            g.input[0].r#type.as_ref().and_then(|t| t.value.as_ref())
        else {
            panic!("input has no tensor type")
        };
        assert_eq!(t.elem_type, DataType::Float16 as i32);
    }

    #[test]
    fn a_gemm_becomes_matmul_on_the_transposed_weights_plus_add() {
        let w: Vec<u8> = (0u16..6).flat_map(|v| v.to_le_bytes()).collect();
        let mut g = pb::GraphProto {
            initializer: vec![pb::TensorProto {
                name: "fc.weight".into(),
                dims: vec![2, 3],
                data_type: DataType::Float16 as i32,
                raw_data: w,
                ..Default::default()
            }],
            node: vec![pb::NodeProto {
                op_type: "Gemm".into(),
                name: "fc".into(),
                input: vec!["x".into(), "fc.weight".into(), "fc.bias".into()],
                output: vec!["y".into()],
                attribute: vec![super::super::graph::attr_int("transB", 1)],
                ..Default::default()
            }],
            ..Default::default()
        };
        gemm_as_matmul(&mut g);
        let ops: Vec<&str> = g.node.iter().map(|n| n.op_type.as_str()).collect();
        assert_eq!(ops, ["MatMul", "Add"]);
        assert_eq!(g.node[0].input, ["x", "fc.weight.t"]);
        assert_eq!(g.node[1].output, ["y"]);
        let t = g
            .initializer
            .iter()
            .find(|t| t.name == "fc.weight.t")
            .unwrap();
        assert_eq!(t.dims, [3, 2]);
        let values: Vec<u16> = t
            .raw_data
            .chunks_exact(2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
            .collect();
        assert_eq!(values, [0, 3, 1, 4, 2, 5]);
    }
}
