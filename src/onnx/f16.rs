//! The f16 form of a written graph: every float initializer stored as float16 and the
//! graph's input and output declared float16, so every operator reads and writes f16 (the
//! runtime decides how it computes: natively, or through Casts it inserts, which the
//! row's `computed` column counts). Integer initializers (split sizes, slice bounds)
//! stay as they are.

use tract_onnx::pb;
use tract_onnx::pb::tensor_proto::DataType;
use tract_onnx::pb::type_proto;

/// `graph` rewritten to f16 in place.
pub(super) fn convert(graph: &mut pb::GraphProto) {
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
}
