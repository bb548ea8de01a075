//! Counting rules for ONNX nodes with no spec layer: multiply-adds for the matmul family
//! (Conv, ConvTranspose, MatMul, Gemm), operations per element for elementwise ones,
//! reductions and pools; memory traffic = inputs + float constants + outputs, except for
//! views (Reshape, Flatten, Squeeze, …), which move nothing. A node with no rule, or whose
//! shapes are unknown, is not counted: the caller names it.

use tract_onnx::pb;

use super::map::Attrs;
use super::shapes::Values;
use crate::count::Cost;

/// Operators that only re-label memory.
const VIEWS: [&str; 11] = [
    "Reshape",
    "Flatten",
    "Squeeze",
    "Unsqueeze",
    "Identity",
    "Dropout",
    "Shape",
    "Size",
    "Constant",
    "ConstantOfShape",
    "Range",
];

/// Operators that copy data without arithmetic.
const COPIES: [&str; 14] = [
    "Transpose",
    "Concat",
    "Split",
    "Slice",
    "Gather",
    "GatherElements",
    "GatherND",
    "Pad",
    "Expand",
    "Tile",
    "Cast",
    "DepthToSpace",
    "SpaceToDepth",
    "ScatterND",
];

/// Non-multiply-add operations per output element of an elementwise operator (the same
/// conventions as the spec's activations: erf is 5, GELU 8, hardswish 5).
pub fn per_element_ops(op: &str) -> Option<u64> {
    Some(match op {
        "Add" | "Sub" | "Mul" | "Div" | "Max" | "Min" | "Sum" | "Mean" | "Neg" | "Abs" | "Relu"
        | "Sqrt" | "Reciprocal" | "Exp" | "Log" | "Floor" | "Ceil" | "Round" | "Sign" | "Equal"
        | "Greater" | "Less" | "GreaterOrEqual" | "LessOrEqual" | "Not" | "And" | "Or" | "Xor"
        | "Where" | "PRelu" | "Sin" | "Cos" | "Pow" | "Mod" => 1,
        "Clip" | "LeakyRelu" | "ThresholdedRelu" => 2,
        "Sigmoid" | "Tanh" | "Softplus" | "Elu" | "Selu" | "Celu" | "Softsign" => 3,
        "HardSigmoid" => 4,
        "HardSwish" | "Erf" => 5,
        "Softmax" | "LogSoftmax" => 5,
        "Gelu" | "Mish" => 8,
        _ => return None,
    })
}

/// The cost of a quantized node (`Some`), or `None` for any other: quantized convolutions
/// and products count their multiply-adds as the float ones do, QuantizeLinear three
/// operations per element (divide, round, add the zero point; saturation is free) and
/// DequantizeLinear two (subtract the zero point, multiply).
fn quantized_cost(
    node: &pb::NodeProto,
    out_elems: u64,
    moved: Cost,
    values: &Values,
) -> Option<Option<Cost>> {
    let input = |i: usize| node.input.get(i).and_then(|n| values.shape(n));
    let op = node.op_type.as_str();
    Some(match op {
        // The weight is input 3 (QLinearConv) or 1 (ConvInteger).
        "QLinearConv" | "ConvInteger" => (|| {
            let w = input(if op == "QLinearConv" { 3 } else { 1 })?;
            let bias = op == "QLinearConv" && node.input.get(8).is_some_and(|b| !b.is_empty());
            Some(Cost {
                macs: out_elems * elements(w.get(1..)?),
                other_ops: if bias { out_elems } else { 0 },
                ..moved
            })
        })(),
        "MatMulInteger" | "QLinearMatMul" => {
            input(0).and_then(|a| a.last().copied()).map(|k| Cost {
                macs: out_elems * k as u64,
                ..moved
            })
        }
        "QuantizeLinear" | "DynamicQuantizeLinear" => Some(Cost {
            other_ops: 3 * out_elems,
            ..moved
        }),
        "DequantizeLinear" => Some(Cost {
            other_ops: 2 * out_elems,
            ..moved
        }),
        _ => return None,
    })
}

/// Whether `constant` is the integer weight (or bias) a quantized node reads: the value
/// DequantizeLinear dequantizes, QLinearConv's and QLinearMatMul's weight and bias,
/// ConvInteger's and MatMulInteger's weight.
pub fn quantized_weight(node: &pb::NodeProto, constant: &str) -> bool {
    let at = |i: usize| node.input.get(i).is_some_and(|n| n == constant);
    match node.op_type.as_str() {
        "DequantizeLinear" => at(0),
        "QLinearConv" => at(3) || at(8),
        "QLinearMatMul" => at(3),
        "ConvInteger" | "MatMulInteger" => at(1),
        _ => false,
    }
}

fn elements(shape: &[usize]) -> u64 {
    shape.iter().map(|&d| d as u64).product()
}

/// The cost of `node` reading `activations` and the float `constants`, or `None` when no
/// rule covers it or a shape it needs is unknown.
pub fn cost(
    node: &pb::NodeProto,
    activations: &[String],
    constants: &[String],
    values: &Values,
) -> Option<Cost> {
    let op = node.op_type.as_str();
    if VIEWS.contains(&op) {
        return Some(Cost::default());
    }
    let shape = |n: &str| values.shape(n);
    let outs: Vec<&[usize]> = node
        .output
        .iter()
        .filter(|o| !o.is_empty())
        .map(|o| shape(o))
        .collect::<Option<_>>()?;
    let out_elems: u64 = outs.iter().map(|s| elements(s)).sum();
    let in_elems: u64 = activations
        .iter()
        .map(|a| shape(a).map(elements))
        .sum::<Option<u64>>()?;
    // Float constants, and the integer weights a quantized node reads (counted at the
    // row's element size, as every element is).
    let weights: u64 = constants
        .iter()
        .filter(|c| values.is_float_constant(c) || quantized_weight(node, c))
        .map(|c| shape(c).map_or(0, elements))
        .sum();
    let moved = Cost {
        params: weights,
        input_elements: in_elems,
        output_elements: out_elems,
        weight_elements: weights,
        ..Cost::default()
    };
    let first_in = || activations.first().and_then(|a| shape(a));
    let input = |i: usize| node.input.get(i).and_then(|n| shape(n));
    if let Some(quantized) = quantized_cost(node, out_elems, moved, values) {
        return quantized;
    }
    Some(match op {
        _ if COPIES.contains(&op) => moved,
        "Conv" => {
            let w = input(1)?;
            let bias = node.input.get(2).is_some_and(|b| !b.is_empty());
            Cost {
                macs: out_elems * elements(w.get(1..)?),
                other_ops: if bias { out_elems } else { 0 },
                ..moved
            }
        }
        "ConvTranspose" => {
            let w = input(1)?;
            Cost {
                macs: elements(input(0)?) * elements(w.get(1..)?),
                ..moved
            }
        }
        "MatMul" | "Gemm" => {
            let a = input(0)?;
            let trans_a = op == "Gemm" && Attrs(node).int("transA", 0) == 1;
            let k = if trans_a { *a.first()? } else { *a.last()? } as u64;
            let bias = op == "Gemm" && node.input.get(2).is_some_and(|b| !b.is_empty());
            Cost {
                macs: out_elems * k,
                other_ops: if bias { out_elems } else { 0 },
                ..moved
            }
        }
        // Variadic: k inputs take k − 1 operations per element.
        "Max" | "Min" | "Sum" | "Mean" => Cost {
            other_ops: (activations.len().max(2) as u64 - 1) * out_elems,
            ..moved
        },
        "BatchNormalization" => Cost {
            macs: out_elems,
            ..moved
        },
        "LayerNormalization" | "InstanceNormalization" | "GroupNormalization" => Cost {
            macs: out_elems,
            other_ops: 5 * out_elems,
            ..moved
        },
        "ReduceMean" | "ReduceSum" | "ReduceMax" | "ReduceMin" | "ReduceProd" | "ReduceL2"
        | "ReduceL1" | "ReduceSumSquare" | "GlobalAveragePool" | "GlobalMaxPool" | "ArgMax"
        | "ArgMin" => Cost {
            other_ops: elements(first_in()?),
            ..moved
        },
        "MaxPool" | "AveragePool" | "LpPool" => {
            let window = Attrs(node).ints("kernel_shape")?.iter().product::<i64>() as u64;
            Cost {
                other_ops: outs.first().map_or(0, |s| elements(s)) * window,
                ..moved
            }
        }
        "Resize" | "Upsample" => {
            let per = match Attrs(node).string("mode").as_str() {
                "" | "nearest" => 0,
                "linear" => 7,
                _ => 31,
            };
            Cost {
                other_ops: per * out_elems,
                ..moved
            }
        }
        _ => Cost {
            other_ops: per_element_ops(op)? * out_elems,
            ..moved
        },
    })
}
