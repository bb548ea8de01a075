//! A net with concrete, seeded parameters and a seeded input: what every backend and the
//! reference compute on. Parameters are drawn for the reference (unfused) definition;
//! folding a BatchNorm into its conv folds the numbers too, so fused and unfused runs of
//! the same seed compute the same function.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::spec::{Layer, Net, Shape};

/// The parameters one node executes with (inference form).
#[derive(Debug, Clone, PartialEq)]
pub enum NodeParams {
    /// No parameters (activations, pooling, add, ...).
    None,
    /// Conv or PConv weights `[c_out, c_in/groups, k, k]` and an optional bias.
    Conv {
        /// Weights, OIHW, row-major.
        weight: Vec<f32>,
        /// Bias per output channel (folded BN shift, or the reference bias).
        bias: Option<Vec<f32>>,
    },
    /// Unfused BatchNorm in inference form: y = x·scale + shift per channel.
    BatchNorm {
        /// γ / sqrt(var + ε).
        scale: Vec<f32>,
        /// β − mean·scale.
        shift: Vec<f32>,
    },
    /// Linear weights `[out, in]` and bias.
    Linear {
        /// Weights, row-major `[out, in]`.
        weight: Vec<f32>,
        /// Bias.
        bias: Option<Vec<f32>>,
    },
}

impl NodeParams {
    /// A BatchNorm's inference form from its γ, β, running mean and variance and ε.
    pub fn batch_norm(gamma: &[f32], beta: &[f32], mean: &[f32], var: &[f32], eps: f32) -> Self {
        let scale: Vec<f32> = gamma
            .iter()
            .zip(var)
            .map(|(g, v)| g / (v + eps).sqrt())
            .collect();
        let shift = beta
            .iter()
            .zip(mean)
            .zip(&scale)
            .map(|((b, m), s)| b - m * s)
            .collect();
        NodeParams::BatchNorm { scale, shift }
    }
}

/// A net, one parameter set per node, the batch and a seeded input.
#[derive(Debug, Clone)]
pub struct Model {
    /// The graph (fused or not).
    pub net: Net,
    /// Parameters, one per node of `net`.
    pub params: Vec<NodeParams>,
    /// Batch size.
    pub batch: usize,
    /// Input, NCHW, `batch × net.input` elements, uniform in [−1, 1).
    pub input: Vec<f32>,
    /// Its int8 quantization (calibrated on `input`), when an operator stack runs at
    /// int8: the ONNX writer then emits a QDQ graph.
    pub int8: Option<Int8Params>,
    /// A network's int8 quantization (calibrated on `input`), when it runs at int8: the
    /// writer then puts QuantizeLinear/DequantizeLinear around each convolution.
    pub int8_net: Option<NetInt8>,
}

/// An activation's int8 quantization: unsigned 8-bit, asymmetric (`x ≈ (q − zero_point)
/// × scale`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ActQuant {
    /// Step between two levels.
    pub scale: f32,
    /// The level that stands for 0.
    pub zero_point: u8,
}

/// A conv layer's int8 parameters: signed 8-bit symmetric weights per output channel
/// (axis 0), an int32 bias at scale input × weight, and its output's quantization.
#[derive(Debug, Clone, PartialEq)]
pub struct ConvQuant {
    /// Quantized weights, the layout of the f32 ones.
    pub weight: Vec<i8>,
    /// One scale per output channel.
    pub weight_scales: Vec<f32>,
    /// Quantized bias (scale: input scale × the channel's weight scale).
    pub bias: Option<Vec<i32>>,
    /// The layer output's quantization.
    pub output: ActQuant,
}

/// A model's int8 parameters: the input's quantization and one [`ConvQuant`] per node.
#[derive(Debug, Clone, PartialEq)]
pub struct Int8Params {
    /// The graph input's quantization.
    pub input: ActQuant,
    /// One per node of the net, in order.
    pub layers: Vec<ConvQuant>,
    /// The largest weight level: 127, or 63 where the CPU multiplies u8 by s8 in 16-bit
    /// pairs that saturate (x86 without VNNI).
    pub weight_levels: i8,
}

/// A network's int8 parameters, as `onnxruntime.quantization.quantize_static` with
/// `op_types_to_quantize=["Conv"]` writes them: every convolution (a PConv's convolved
/// part) reads its input quantized and dequantized, computes on dequantized int8 weights
/// and int32 bias, and quantizes its output, which is dequantized for the nodes after it;
/// every other node computes in f32.
#[derive(Debug, Clone, PartialEq)]
pub struct NetInt8 {
    /// Per node: a convolution's input quantization and parameters; `None` for a node
    /// kept in f32.
    pub convs: Vec<Option<(ActQuant, ConvQuant)>>,
    /// The largest weight level (see [`Int8Params::weight_levels`]).
    pub weight_levels: i8,
}

impl Model {
    /// Whether the model is written as a quantized (QDQ) graph.
    pub fn quantized(&self) -> bool {
        self.int8.is_some() || self.int8_net.is_some()
    }
}

const BN_EPS: f32 = 1e-5;

fn rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    r.set_stream(stream);
    r
}

/// Uniform in [−a, a) with a = sqrt(3 / fan_in): unit variance is preserved through deep
/// stacks, so a 10-layer stack neither explodes nor vanishes.
fn kaiming(r: &mut ChaCha8Rng, n: usize, fan_in: usize) -> Vec<f32> {
    let a = (3.0 / fan_in.max(1) as f32).sqrt();
    (0..n).map(|_| r.random_range(-a..a)).collect()
}

fn uniform(r: &mut ChaCha8Rng, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..n).map(|_| r.random_range(lo..hi)).collect()
}

fn draw(layer: &Layer, r: &mut ChaCha8Rng) -> NodeParams {
    match *layer {
        Layer::Conv(c) => {
            let fan_in = c.c_in / c.groups * c.kernel * c.kernel;
            NodeParams::Conv {
                weight: kaiming(r, c.weight_elements() as usize, fan_in),
                bias: c.bias.then(|| uniform(r, c.c_out, -0.1, 0.1)),
            }
        }
        Layer::PConv(p) => NodeParams::Conv {
            weight: kaiming(
                r,
                p.partial * p.partial * p.kernel * p.kernel,
                p.partial * p.kernel * p.kernel,
            ),
            bias: None,
        },
        Layer::BatchNorm { channels } => {
            let gamma = uniform(r, channels, 0.5, 1.5);
            let beta = uniform(r, channels, -0.1, 0.1);
            let mean = uniform(r, channels, -0.1, 0.1);
            let var = uniform(r, channels, 0.5, 1.5);
            NodeParams::batch_norm(&gamma, &beta, &mean, &var, BN_EPS)
        }
        Layer::Linear {
            in_features,
            out_features,
            bias,
        } => NodeParams::Linear {
            weight: kaiming(r, in_features * out_features, in_features),
            bias: bias.then(|| uniform(r, out_features, -0.1, 0.1)),
        },
        _ => NodeParams::None,
    }
}

/// Folds a BatchNorm (scale, shift) into conv parameters.
fn fold(conv: &NodeParams, bn: &NodeParams) -> NodeParams {
    let (NodeParams::Conv { weight, bias }, NodeParams::BatchNorm { scale, shift }) = (conv, bn)
    else {
        return conv.clone();
    };
    let per_out = weight.len() / scale.len();
    let weight = weight
        .iter()
        .enumerate()
        .map(|(i, w)| w * scale[i / per_out])
        .collect();
    let bias = shift
        .iter()
        .enumerate()
        .map(|(o, s)| s + bias.as_ref().map_or(0.0, |b| b[o] * scale[o]))
        .collect();
    NodeParams::Conv {
        weight,
        bias: Some(bias),
    }
}

/// The seeded values of input `index` (`n` of them, uniform in [−1, 1)): input 0 is a
/// spec network's input, and a model file's first input gets the same values.
pub fn seeded_input(seed: u64, index: u64, n: usize) -> Vec<f32> {
    // Parameters use streams 1, 2, ... (one per node); other inputs count down from the top.
    let stream = if index == 0 { 0 } else { u64::MAX - index };
    uniform(&mut rng(seed, stream), n, -1.0, 1.0)
}

impl Model {
    /// Seeded parameters and input for the unfused `net`; folded into the convs when
    /// `fuse_bn`.
    pub fn new(net: &Net, batch: usize, seed: u64, fuse_bn: bool) -> Model {
        let params: Vec<NodeParams> = net
            .nodes
            .iter()
            .enumerate()
            .map(|(i, node)| draw(&node.layer, &mut rng(seed, i as u64 + 1)))
            .collect();
        Model::with_params(net, params, batch, seed, fuse_bn)
    }

    /// The unfused `net` with its parameters `params` (one per node: a model file's
    /// weights) and a seeded input; folded into the convs when `fuse_bn`.
    pub fn with_params(
        net: &Net,
        params: Vec<NodeParams>,
        batch: usize,
        seed: u64,
        fuse_bn: bool,
    ) -> Model {
        let input = seeded_input(seed, 0, batch * net.input.elements() as usize);
        if !fuse_bn {
            return Model {
                net: net.clone(),
                params,
                batch,
                input,
                int8: None,
                int8_net: None,
            };
        }
        let (fused, origins) = net.fuse_bn_with_origins();
        let params = origins
            .iter()
            .map(|&(old, bn)| match bn {
                Some(b) => fold(&params[old], &params[b]),
                None => params[old].clone(),
            })
            .collect();
        Model {
            net: fused,
            params,
            batch,
            input,
            int8: None,
            int8_net: None,
        }
    }

    /// The NCHW input shape with the batch.
    pub fn input_dims(&self) -> [usize; 4] {
        let s = self.net.input;
        [self.batch, s.c, s.h, s.w]
    }

    /// The output shape of one item.
    pub fn output_shape(&self) -> Shape {
        self.net.output()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zoo;

    #[test]
    fn seeded_and_reproducible() {
        let net = zoo::build("mobilenetv3-small", 64).unwrap();
        let a = Model::new(&net, 1, 7, true);
        let b = Model::new(&net, 1, 7, true);
        let c = Model::new(&net, 1, 8, true);
        assert_eq!(a.params, b.params);
        assert_eq!(a.input, b.input);
        assert_ne!(a.input, c.input);
        assert_eq!(a.params.len(), a.net.nodes.len());
    }

    #[test]
    fn folding_puts_a_bias_on_every_folded_conv() {
        let net = zoo::build("resnet18", 64).unwrap();
        let m = Model::new(&net, 1, 1, true);
        for (node, p) in m.net.nodes.iter().zip(&m.params) {
            if let Layer::Conv(c) = node.layer {
                let NodeParams::Conv { bias, weight } = p else {
                    panic!()
                };
                assert_eq!(bias.is_some(), c.has_runtime_bias(), "{}", node.name);
                assert_eq!(weight.len() as u64, c.weight_elements());
            }
        }
    }
}
