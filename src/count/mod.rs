//! Analytic counting: per-layer MACs, FLOPs, params and memory traffic, summed to the
//! totals of a network or operator case under a stated convention.
//!
//! Conventions (see docs/counting.md for why counters disagree):
//! - `paper` (default): FLOPs = MACs, as the paper, torchvision and fvcore publish.
//! - `strict`: FLOPs = 2·MACs + every other arithmetic operation ([`layer::cost`]).
//!
//! With BatchNorm folded (default) MACs are conv + linear only; unfolded, each BN adds
//! one multiply-accumulate per element.

pub mod layer;

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::spec::{Dtype, Net, OpCase, Ratio};
use crate::zoo;

pub use layer::Cost;

/// How FLOPs are derived from the counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Convention {
    /// FLOPs = multiply-adds (the paper's usage).
    #[default]
    Paper,
    /// FLOPs = 2 × multiply-adds + other elementwise operations.
    Strict,
}

impl Convention {
    /// Command-line name.
    pub fn as_str(self) -> &'static str {
        match self {
            Convention::Paper => "paper",
            Convention::Strict => "strict",
        }
    }
}

impl fmt::Display for Convention {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Convention {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "paper" => Ok(Convention::Paper),
            "strict" => Ok(Convention::Strict),
            _ => Err(Error::unknown("convention", s, &["paper", "strict"])),
        }
    }
}

/// Options that change counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CountOptions {
    /// Batch size (MACs stay per item; memory traffic is for the whole batch).
    pub batch: usize,
    /// Element type (bytes per element).
    pub dtype: Dtype,
    /// Fold BatchNorm into the preceding conv (inference form).
    pub fuse_bn: bool,
    /// How FLOPs are derived.
    pub convention: Convention,
}

impl Default for CountOptions {
    fn default() -> Self {
        CountOptions {
            batch: 1,
            dtype: Dtype::F32,
            fuse_bn: true,
            convention: Convention::Paper,
        }
    }
}

/// One layer's counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerCount {
    /// Node name.
    pub name: String,
    /// Layer type (`conv`, `pconv`, `batchnorm`, ...; an ONNX operator for a model's node
    /// with no spec layer).
    pub op: String,
    /// Output shape of one item.
    pub output_shape: String,
    /// Reference parameters.
    pub params: u64,
    /// Multiply-accumulates per item.
    pub macs: u64,
    /// FLOPs per item under the chosen convention.
    pub flops: u64,
    /// Memory traffic for the batch, elements.
    pub mem_elements: u64,
    /// Memory traffic for the batch, bytes.
    pub mem_bytes: u64,
}

/// The counts of one case (network or operator stack).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseCount {
    /// Network name or operator case id.
    pub name: String,
    /// `net` or the operator kind.
    pub kind: String,
    /// Input shape of one item.
    pub input_shape: String,
    /// Input resolution (networks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution: Option<usize>,
    /// Stack depth (operator cases).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub depth: Option<usize>,
    /// Partial ratio (pconv).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratio: Option<Ratio>,
    /// Groups (operator cases).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<usize>,
    /// Kernel size (operator cases).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel: Option<usize>,
    /// Stride (operator cases).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stride: Option<usize>,
    /// Reference parameters.
    pub params: u64,
    /// Multiply-accumulates per item.
    pub macs: u64,
    /// FLOPs per item under `convention`.
    pub flops: u64,
    /// FLOPs per item under the strict convention (always present).
    pub flops_strict: u64,
    /// Memory traffic of one forward pass of the batch, elements.
    pub mem_elements: u64,
    /// Memory traffic of one forward pass of the batch, bytes.
    pub mem_bytes: u64,
    /// FLOPs (convention) × batch per byte moved.
    pub intensity_flops_per_byte: f64,
    /// Element type.
    pub dtype: Dtype,
    /// Batch size.
    pub batch: usize,
    /// Convention used for `flops`.
    pub convention: Convention,
    /// Whether BatchNorm was folded.
    pub fused_bn: bool,
    /// The model file counted (model targets only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelSource>,
    /// Nodes no rule counts, by operator with how many (their cost is 0: totals are lower
    /// bounds when this is not empty).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub uncounted: Vec<(String, usize)>,
    /// Per-layer counts (with `--per-layer`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layers: Option<Vec<LayerCount>>,
}

/// Where a counted model came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelSource {
    /// The path as given.
    pub path: String,
    /// SHA-256 of the file, hex.
    pub sha256: String,
}

impl CaseCount {
    /// The uncounted nodes in words (`2 nodes — Einsum ×2`), when there are any.
    pub fn uncounted_text(&self) -> Option<String> {
        if self.uncounted.is_empty() {
            return None;
        }
        let n: usize = self.uncounted.iter().map(|(_, k)| k).sum();
        let ops: Vec<String> = self
            .uncounted
            .iter()
            .map(|(op, k)| format!("{op} ×{k}"))
            .collect();
        Some(format!(
            "{n} node{} — {}",
            if n == 1 { "" } else { "s" },
            ops.join(", ")
        ))
    }
}

fn flops(cost: &Cost, convention: Convention) -> u64 {
    match convention {
        Convention::Paper => cost.macs,
        Convention::Strict => 2 * cost.macs + cost.other_ops,
    }
}

fn mem_elements(cost: &Cost, batch: usize) -> u64 {
    (cost.input_elements + cost.output_elements) * batch as u64 + cost.weight_elements
}

/// How the graph a backend runs implements PConv (the paper's count covers only the
/// convolved channels; the graph moves the untouched ones too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PconvGraph {
    /// Split → conv → concat (the authors' forward; what ONNX backends are given).
    SplitCat,
    /// The input copied, the convolved part written into the copy.
    Slicing,
}

/// Memory traffic, in bytes of one pass of the batch, of the graph handed to the backends:
/// every node's inputs, weights and outputs. It equals the paper's count (`mem_bytes`)
/// except for PConv, where the paper leaves out the untouched channels the graph copies:
/// split-cat reads and writes all `c` channels in the split and again in the concat;
/// slicing copies them once. A runtime may optimise the copies away (tract merges split
/// and concat); then the row sits above the roofline, which is the point.
pub fn graph_mem_bytes(net: &Net, opts: &CountOptions, pconv: PconvGraph) -> u64 {
    let net = if opts.fuse_bn {
        net.fuse_bn()
    } else {
        net.clone()
    };
    let elements: u64 = net
        .nodes
        .iter()
        .map(|node| {
            let mut c = layer::cost(&node.layer, &net.input_shapes(node), node.out);
            if let crate::spec::Layer::PConv(p) = node.layer
                && p.partial < p.channels
            {
                let map = (p.channels * node.out.h * node.out.w) as u64;
                let part = (p.partial * node.out.h * node.out.w) as u64;
                let copies = match pconv {
                    PconvGraph::SplitCat => 2,
                    PconvGraph::Slicing => 1,
                };
                c.input_elements = part + copies * map;
                c.output_elements = part + copies * map;
            }
            mem_elements(&c, opts.batch)
        })
        .sum();
    elements * opts.dtype.size_bytes() + extra_bytes(&net, opts.dtype).iter().sum::<u64>()
}

/// Per node of `net`, the bytes it moves at `dtype` beyond its elements (int8's scales,
/// zero points and int32 biases, see [`layer::int8_extra_bytes`]; zero at other dtypes).
fn extra_bytes(net: &Net, dtype: Dtype) -> Vec<u64> {
    net.nodes
        .iter()
        .map(|node| match dtype {
            Dtype::Int8 => layer::int8_extra_bytes(&node.layer),
            _ => 0,
        })
        .collect()
}

/// Costs of every node of `net` (unfused or fused as given), in order.
pub fn layer_costs(net: &Net) -> Vec<Cost> {
    net.nodes
        .iter()
        .map(|node| layer::cost(&node.layer, &net.input_shapes(node), node.out))
        .collect()
}

/// The sum of costs.
pub fn total(costs: &[Cost]) -> Cost {
    costs.iter().fold(Cost::default(), |a, c| Cost {
        macs: a.macs + c.macs,
        other_ops: a.other_ops + c.other_ops,
        params: a.params + c.params,
        weight_elements: a.weight_elements + c.weight_elements,
        input_elements: a.input_elements + c.input_elements,
        output_elements: a.output_elements + c.output_elements,
    })
}

/// Counts an (unfused) net under `opts`; `per_layer` keeps the layer rows.
pub fn count_net(net: &Net, opts: &CountOptions, per_layer: bool) -> CaseCount {
    let net = if opts.fuse_bn {
        net.fuse_bn()
    } else {
        net.clone()
    };
    let costs = layer_costs(&net);
    let extra = extra_bytes(&net, opts.dtype);
    let layers = net
        .nodes
        .iter()
        .zip(costs)
        .zip(extra)
        .map(|((node, cost), extra_bytes)| NamedCost {
            name: node.name.clone(),
            op: node.layer.op_name().to_string(),
            output_shape: node.out.to_string(),
            cost,
            extra_bytes,
        })
        .collect();
    from_costs(&net.name, &net.input.to_string(), layers, opts, per_layer)
}

/// One layer's cost with what names it in per-layer output.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedCost {
    /// Node name.
    pub name: String,
    /// Layer type.
    pub op: String,
    /// Output shape of one item.
    pub output_shape: String,
    /// Its cost.
    pub cost: Cost,
    /// Bytes it moves beyond its elements at the counted dtype (int8's scales, zero
    /// points and int32 biases of a spec layer; zero for a model file's nodes, whose
    /// quantization parameters are counted as the inputs of their own nodes).
    pub extra_bytes: u64,
}

/// The counts of a network given as its layers' costs, under `opts`.
pub fn from_costs(
    name: &str,
    input_shape: &str,
    layers: Vec<NamedCost>,
    opts: &CountOptions,
    per_layer: bool,
) -> CaseCount {
    let costs: Vec<Cost> = layers.iter().map(|l| l.cost).collect();
    let sum = total(&costs);
    let bytes = opts.dtype.size_bytes();
    let mem = mem_elements(&sum, opts.batch);
    let mem_bytes = mem * bytes + layers.iter().map(|l| l.extra_bytes).sum::<u64>();
    let flops_total = flops(&sum, opts.convention);
    let layers = per_layer.then(|| {
        layers
            .into_iter()
            .map(|l| LayerCount {
                name: l.name,
                op: l.op,
                output_shape: l.output_shape,
                params: l.cost.params,
                macs: l.cost.macs,
                flops: flops(&l.cost, opts.convention),
                mem_elements: mem_elements(&l.cost, opts.batch),
                mem_bytes: mem_elements(&l.cost, opts.batch) * bytes + l.extra_bytes,
            })
            .collect()
    });
    CaseCount {
        name: name.to_string(),
        kind: "net".into(),
        input_shape: input_shape.to_string(),
        resolution: None,
        depth: None,
        ratio: None,
        groups: None,
        kernel: None,
        stride: None,
        params: sum.params,
        macs: sum.macs,
        flops: flops_total,
        flops_strict: flops(&sum, Convention::Strict),
        mem_elements: mem,
        mem_bytes,
        intensity_flops_per_byte: if mem_bytes == 0 {
            0.0
        } else {
            (flops_total * opts.batch as u64) as f64 / mem_bytes as f64
        },
        dtype: opts.dtype,
        batch: opts.batch,
        convention: opts.convention,
        fused_bn: opts.fuse_bn,
        model: None,
        uncounted: Vec::new(),
        layers,
    }
}

/// Counts zoo network `name` at `resolution`.
pub fn count_zoo(
    name: &str,
    resolution: usize,
    opts: &CountOptions,
    per_layer: bool,
) -> Result<CaseCount> {
    let net = zoo::build(name, resolution)?;
    Ok(CaseCount {
        resolution: Some(resolution),
        ..count_net(&net, opts, per_layer)
    })
}

/// Counts an operator case.
pub fn count_op(case: &OpCase, opts: &CountOptions, per_layer: bool) -> Result<CaseCount> {
    let net = case.to_net()?;
    Ok(CaseCount {
        kind: case.kind.to_string(),
        depth: Some(case.layers),
        ratio: case.ratio,
        groups: Some(case.groups),
        kernel: Some(case.kernel),
        stride: Some(case.stride),
        ..count_net(&net, opts, per_layer)
    })
}

/// Validates options that apply to every case.
pub fn validate_options(opts: &CountOptions) -> Result<()> {
    if opts.batch == 0 || opts.batch > crate::spec::shape::MAX_BATCH {
        return Err(Error::flag(
            "--batch",
            format!(
                "{} is outside 1..={}",
                opts.batch,
                crate::spec::shape::MAX_BATCH
            ),
        ));
    }
    Ok(())
}
