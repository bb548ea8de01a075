//! int8 of a network: each convolution quantized on its own (see [`NetInt8`]), the scales
//! of its input and output calibrated on the seeded input (their min and max, 0 included)
//! by one f32 run of the network's ONNX graph in tract with every convolution's input and
//! output exposed as graph outputs. Weights and bias as in an operator stack.

use std::collections::HashMap;

use tract_onnx::prelude::*;

use super::quantize_conv;
use crate::error::{Error, Result};
use crate::model::{ActQuant, ConvQuant, Model, NetInt8};
use crate::onnx::{INPUT_NAME, OUTPUT_NAME, value_name};
use crate::spec::Layer;

/// Per node: the ONNX names of a convolution's input and output (a PConv's convolved
/// part: the split's first output and the conv's), `None` for other nodes.
fn conv_values(model: &Model) -> Vec<Option<(String, String)>> {
    let n = model.net.nodes.len();
    model
        .net
        .nodes
        .iter()
        .enumerate()
        .map(|(i, node)| match node.layer {
            Layer::PConv(p) if p.partial < p.channels => {
                Some((format!("{}.x1", node.name), format!("{}.y1", node.name)))
            }
            Layer::Conv(_) | Layer::PConv(_) => {
                Some((value_name(n, node.inputs[0].0), value_name(n, i + 1)))
            }
            _ => None,
        })
        .collect()
}

fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    values.fold((0.0f64, 0.0f64), |(lo, hi), x| (lo.min(x), hi.max(x)))
}

/// The min and max of every value in `names` on `model`'s input, from one f32 tract run.
fn calibrate(model: &Model, names: &[String]) -> Result<HashMap<String, (f64, f64)>> {
    let fail =
        |e: TractError| Error::Usage(format!("int8 calibration of {}: {e:#}", model.net.name));
    let mut ranges = HashMap::new();
    ranges.insert(
        INPUT_NAME.to_string(),
        range(model.input.iter().map(|v| f64::from(*v))),
    );
    let extra: Vec<String> = names
        .iter()
        .filter(|n| *n != INPUT_NAME && *n != OUTPUT_NAME)
        .cloned()
        .collect();
    let bytes = crate::onnx::to_bytes_exposing(model, &extra);
    let plan = tract_onnx::onnx()
        .model_for_read(&mut bytes.as_slice())
        .and_then(|m| m.into_optimized())
        .and_then(|m| m.into_runnable())
        .map_err(fail)?;
    let input = Tensor::from_shape(&model.input_dims(), &model.input).map_err(fail)?;
    let outputs = plan.run(tvec![input.into_tvalue()]).map_err(fail)?;
    let names = std::iter::once(OUTPUT_NAME.to_string()).chain(extra);
    for (name, value) in names.zip(outputs.iter()) {
        let view = value.to_plain_array_view::<f32>().map_err(fail)?;
        ranges.insert(name, range(view.iter().map(|v| f64::from(*v))));
    }
    Ok(ranges)
}

/// Quantizes the convolutions of `model` (a network), weights at ±`weight_levels`.
pub fn quantize_net(model: &Model, weight_levels: i8) -> Result<NetInt8> {
    super::quantizable(&model.net).map_err(Error::Usage)?;
    let values = conv_values(model);
    let names: Vec<String> = values
        .iter()
        .flatten()
        .flat_map(|(i, o)| [i.clone(), o.clone()])
        .collect();
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    let ranges = calibrate(model, &unique)?;
    let act = |name: &str| {
        let (lo, hi) = ranges.get(name).copied().ok_or_else(|| {
            Error::Usage(format!(
                "int8 calibration of {}: the f32 run gave no value '{name}'",
                model.net.name
            ))
        })?;
        Ok::<_, Error>(ActQuant::from_range(lo, hi))
    };
    let mut convs = Vec::with_capacity(values.len());
    for ((node, params), value) in model.net.nodes.iter().zip(&model.params).zip(&values) {
        let Some((input, output)) = value else {
            convs.push(None);
            continue;
        };
        let c_out = match node.layer {
            Layer::Conv(c) => c.c_out,
            Layer::PConv(p) => p.partial,
            _ => unreachable!("conv_values names convolutions only"),
        };
        let input = act(input)?;
        let (weight, weight_scales, bias) =
            quantize_conv(c_out, params, input.scale, weight_levels)?;
        let conv = ConvQuant {
            weight,
            weight_scales,
            bias,
            output: act(output)?,
        };
        convs.push(Some((input, conv)));
    }
    Ok(NetInt8 {
        convs,
        weight_levels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_convolution_is_quantized_and_the_rest_is_not() {
        let net = crate::zoo::build("fasternet-t0", 32).unwrap();
        let model = Model::new(&net, 1, 3, true);
        let q = quantize_net(&model, 127).unwrap();
        assert_eq!(q.convs.len(), model.net.nodes.len());
        for (node, conv) in model.net.nodes.iter().zip(&q.convs) {
            let is_conv = matches!(node.layer, Layer::Conv(_) | Layer::PConv(_));
            assert_eq!(conv.is_some(), is_conv, "{}", node.name);
            if let Some((input, c)) = conv {
                // Calibrated: a real range, not the fallback of a missing value.
                assert!(input.scale > 0.0 && input.scale != 1.0, "{}", node.name);
                assert!(
                    c.output.scale > 0.0 && c.output.scale != 1.0,
                    "{}",
                    node.name
                );
                assert!(
                    c.weight.iter().any(|w| w.unsigned_abs() == 127),
                    "{}",
                    node.name
                );
            }
        }
    }
}
