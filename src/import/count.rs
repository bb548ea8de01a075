//! A model's counts. A spec network (every node mapped) is counted exactly as a zoo
//! network, BatchNorm folding included; otherwise node by node: the spec's rules for
//! mapped nodes, the generic rules for the rest, and the nodes no rule covers named.
//! Parameters are the elements of the file's floating-point initializers and of the
//! integer weights its quantized nodes read (not their scales and zero points).

use tract_onnx::pb;
use tract_onnx::pb::tensor_proto::DataType;

use super::{ImportedModel, generic, spec_shape};
use crate::count::{CaseCount, CountOptions, ModelSource, NamedCost, count_net, from_costs, layer};
use crate::spec::Layer;

/// The counts of `model` under `opts`; `per_layer` keeps the node rows.
pub fn count(model: &ImportedModel, opts: &CountOptions, per_layer: bool) -> CaseCount {
    let input = &model.inputs[0];
    let mut counted = match &model.net {
        Ok((net, _)) => count_net(net, opts, per_layer),
        Err(_) => {
            let (layers, uncounted) = per_node(model);
            let shape =
                spec_shape(&input.dims).map_or_else(|| dims_text(&input.dims), |s| s.to_string());
            let mut c = from_costs(&model.file.name, &shape, layers, opts, per_layer);
            c.uncounted = uncounted;
            // Node by node, a BatchNorm is counted as its own layer (folding needs the
            // whole graph as spec layers).
            let batch_norm = |n: &super::Imported| {
                n.op_type == "BatchNormalization"
                    || matches!(n.layer, Some(Layer::BatchNorm { .. }))
            };
            if model.nodes.iter().any(batch_norm) {
                c.fused_bn = false;
            }
            c
        }
    };
    counted.params = float_initializer_elements(model.file.graph());
    counted.model = Some(ModelSource {
        path: model.file.path.display().to_string(),
        sha256: model.file.hash.clone(),
    });
    counted
}

fn dims_text(dims: &[usize]) -> String {
    let d: Vec<String> = dims.iter().map(usize::to_string).collect();
    d.join("x")
}

/// Elements of the graph's parameters: its floating-point initializers, less the scales
/// of quantize and dequantize nodes (QuantizeLinear, DequantizeLinear, QLinear*), plus the
/// integer initializers quantized nodes read as weights (a quantized model's weights).
pub fn float_initializer_elements(graph: &pb::GraphProto) -> u64 {
    let float = |t: i32| {
        matches!(
            DataType::try_from(t),
            Ok(DataType::Float | DataType::Float16 | DataType::Bfloat16 | DataType::Double)
        )
    };
    let reads = |name: &str, rule: &dyn Fn(&pb::NodeProto, &str) -> bool| {
        graph.node.iter().any(|n| rule(n, name))
    };
    let scale = |n: &pb::NodeProto, name: &str| {
        let op = n.op_type.as_str();
        let quant = op == "QuantizeLinear" || op == "DequantizeLinear" || op.starts_with("QLinear");
        // Every input of these but the data and the weights is a scale or zero point.
        quant
            && n.input.iter().any(|i| i == name)
            && n.input.first().is_none_or(|i| i != name)
            && !generic::quantized_weight(n, name)
    };
    graph
        .initializer
        .iter()
        .filter(|t| {
            if float(t.data_type) {
                !reads(&t.name, &scale)
            } else {
                reads(&t.name, &|n, c| generic::quantized_weight(n, c))
            }
        })
        .map(|t| t.dims.iter().map(|&d| d.max(0) as u64).product::<u64>())
        .sum()
}

/// Every node's cost (the spec's for mapped nodes, generic for the others) and the
/// operators of the nodes left uncounted, with how many of each.
fn per_node(model: &ImportedModel) -> (Vec<NamedCost>, Vec<(String, usize)>) {
    let graph = model.file.graph();
    let values = &model.values;
    let mut layers = Vec::new();
    let mut uncounted: Vec<(String, usize)> = Vec::new();
    for node in &model.nodes {
        let out_dims = node.outputs.first().and_then(|o| values.shape(o));
        let spec = node.layer.and_then(|l| {
            let ins: Vec<_> = node
                .inputs
                .iter()
                .map(|i| values.shape(i).and_then(spec_shape))
                .collect::<Option<_>>()?;
            let out = spec_shape(out_dims?)?;
            Some((l, layer::cost(&l, &ins, out), out.to_string()))
        });
        let (op, cost, shape) = match spec {
            Some((l, cost, shape)) => (l.op_name().to_string(), Some(cost), shape),
            None => {
                let cost = node.source.and_then(|i| {
                    generic::cost(&graph.node[i], &node.inputs, &node.constants, values)
                });
                (
                    node.op_type.clone(),
                    cost,
                    out_dims.map_or_else(|| "?".into(), dims_text),
                )
            }
        };
        let cost = cost.unwrap_or_else(|| {
            match uncounted.iter_mut().find(|(o, _)| *o == node.op_type) {
                Some((_, k)) => *k += 1,
                None => uncounted.push((node.op_type.clone(), 1)),
            }
            Default::default()
        });
        layers.push(NamedCost {
            name: node.name.clone(),
            op,
            output_shape: shape,
            cost,
            extra_bytes: 0,
        });
    }
    (layers, uncounted)
}
