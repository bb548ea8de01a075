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

/// What an optimised graph computes in, from its operators: `int8 (QLinearConv ×10;
/// QuantizeLinear ×1, DequantizeLinear ×1)` where integer convolutions or products ran,
/// `f32 (Conv ×10; Cast ×5)` where none did.
pub fn computed_by(graph: &[u8]) -> Result<String> {
    use prost::Message;
    let model = tract_onnx::pb::ModelProto::decode(graph).map_err(|e| {
        err(format!(
            "ONNX Runtime's optimised graph does not decode: {e}"
        ))
    })?;
    let mut ops: Vec<(String, usize)> = Vec::new();
    for node in model.graph.iter().flat_map(|g| &g.node) {
        let name = match node.domain.as_str() {
            "" | "ai.onnx" => node.op_type.clone(),
            d => format!("{d}.{}", node.op_type),
        };
        match ops.iter_mut().find(|(o, _)| *o == name) {
            Some(entry) => entry.1 += 1,
            None => ops.push((name, 1)),
        }
    }
    Ok(summarise_ops(&ops))
}

/// [`computed_by`]'s words for operator counts.
fn summarise_ops(ops: &[(String, usize)]) -> String {
    let short = |o: &str| o.rsplit('.').next().unwrap_or(o).to_string();
    let integer = |o: &str| {
        let s = short(o);
        s.starts_with("QLinear") || s.ends_with("Integer") || s == "QGemm"
    };
    let heavy = |o: &str| {
        let s = short(o);
        s.contains("Conv") || s.contains("MatMul") || s.contains("Gemm")
    };
    let glue = |o: &str| {
        matches!(
            short(o).as_str(),
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
    let floats = ops.iter().any(|(o, _)| heavy(o) && !integer(o));
    let kind = match (ints, floats) {
        (true, false) => "int8",
        (true, true) => "int8+f32",
        _ => "f32",
    };
    let mut parts = vec![list(&|o: &str| heavy(o) || integer(o)).join(", ")];
    parts.push(list(&glue).join(", "));
    parts.retain(|p| !p.is_empty());
    if parts.is_empty() {
        kind.to_string()
    } else {
        format!("{kind} ({})", parts.join("; "))
    }
}

#[cfg(test)]
mod computed_tests {
    use super::summarise_ops;

    fn ops(list: &[(&str, usize)]) -> Vec<(String, usize)> {
        list.iter().map(|(o, n)| (o.to_string(), *n)).collect()
    }

    #[test]
    fn integer_convolutions_are_named_and_float_ones_are_not_hidden() {
        assert_eq!(
            summarise_ops(&ops(&[
                ("QuantizeLinear", 1),
                ("QLinearConv", 10),
                ("DequantizeLinear", 1)
            ])),
            "int8 (QLinearConv ×10; QuantizeLinear ×1, DequantizeLinear ×1)"
        );
        assert_eq!(
            summarise_ops(&ops(&[("QLinearConv", 9), ("com.microsoft.nchwc.Conv", 1)])),
            "int8+f32 (QLinearConv ×9, com.microsoft.nchwc.Conv ×1)"
        );
        assert_eq!(
            summarise_ops(&ops(&[("Cast", 5), ("Conv", 10), ("Relu", 3)])),
            "f32 (Conv ×10; Cast ×5)"
        );
    }
}
