//! A network as plain data: a list of named nodes in execution order, each a [`Layer`]
//! applied to earlier tensors, with every shape inferred and checked while it is built.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::spec::layer::{Activation, Conv2d, Layer};
use crate::spec::shape::Shape;

/// A tensor in a net: 0 is the net's input, `k + 1` is the output of node `k`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Tensor(pub usize);

/// One node: a layer, the tensors it reads, and the shape it produces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// Dotted name, following the reference implementation's module names where one
    /// exists (`stages.2.blocks.3.mlp.0`).
    pub name: String,
    /// The operation.
    pub layer: Layer,
    /// The tensors it reads.
    pub inputs: Vec<Tensor>,
    /// The shape of one item of its output.
    pub out: Shape,
}

/// A network (or operator stack): input shape and nodes in execution order. The output
/// is the last node's tensor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Net {
    /// Name, e.g. `fasternet-t0` or an operator case id.
    pub name: String,
    /// Shape of one input item.
    pub input: Shape,
    /// Nodes in execution order.
    pub nodes: Vec<Node>,
}

impl Net {
    /// Every partial convolution whose name starts with `prefix` replaced by a full k×k
    /// convolution of all its channels (`depthwise` false) or a depthwise one (true), as
    /// in the paper's ablation of FasterNet's spatial mixing; how many were replaced.
    pub fn replace_pconv(&mut self, prefix: &str, depthwise: bool) -> usize {
        let mut replaced = 0;
        for node in &mut self.nodes {
            if let Layer::PConv(p) = &node.layer
                && node.name.starts_with(prefix)
            {
                let groups = if depthwise { p.channels } else { 1 };
                node.layer = Layer::Conv(Conv2d::new(p.channels, p.channels, p.kernel, 1, groups));
                replaced += 1;
            }
        }
        replaced
    }

    /// The shape of a tensor.
    pub fn shape(&self, t: Tensor) -> Shape {
        if t.0 == 0 {
            self.input
        } else {
            self.nodes[t.0 - 1].out
        }
    }

    /// The shapes of a node's inputs.
    pub fn input_shapes(&self, node: &Node) -> Vec<Shape> {
        node.inputs.iter().map(|t| self.shape(*t)).collect()
    }

    /// The net's output shape.
    pub fn output(&self) -> Shape {
        self.nodes.last().map_or(self.input, |n| n.out)
    }

    /// The inference form: every BatchNorm whose input is a conv output read by nothing
    /// else is folded into that conv (`folded_bn = true`) and removed.
    pub fn fuse_bn(&self) -> Net {
        self.fuse_bn_with_origins().0
    }

    /// [`Net::fuse_bn`], also returning for each new node the index of the old node it
    /// came from and, for a conv that absorbed a BatchNorm, the old BN node's index.
    pub fn fuse_bn_with_origins(&self) -> (Net, Vec<(usize, Option<usize>)>) {
        let mut readers = vec![0usize; self.nodes.len() + 1];
        for node in &self.nodes {
            for t in &node.inputs {
                readers[t.0] += 1;
            }
        }
        // remap[old tensor] = new tensor
        let mut remap: Vec<usize> = Vec::with_capacity(self.nodes.len() + 1);
        remap.push(0);
        let mut nodes: Vec<Node> = Vec::with_capacity(self.nodes.len());
        let mut origins: Vec<(usize, Option<usize>)> = Vec::with_capacity(self.nodes.len());
        for (old, node) in self.nodes.iter().enumerate() {
            let src = node.inputs.first().map(|t| t.0).unwrap_or(0);
            let foldable = matches!(node.layer, Layer::BatchNorm { .. })
                && src > 0
                && readers[src] == 1
                && matches!(self.nodes[src - 1].layer, Layer::Conv(c) if !c.folded_bn);
            if foldable {
                let target = remap[src];
                if let Layer::Conv(c) = &mut nodes[target - 1].layer {
                    c.folded_bn = true;
                }
                origins[target - 1].1 = Some(old);
                remap.push(target);
                continue;
            }
            let mut n = node.clone();
            for t in &mut n.inputs {
                t.0 = remap[t.0];
            }
            nodes.push(n);
            origins.push((old, None));
            remap.push(nodes.len());
        }
        let net = Net {
            name: self.name.clone(),
            input: self.input,
            nodes,
        };
        (net, origins)
    }
}

/// Builds a [`Net`] node by node, inferring and checking shapes. Shape errors name
/// `flag` (the command-line flag whose value made the shape).
#[derive(Debug)]
pub struct NetBuilder {
    net: Net,
    flag: &'static str,
}

impl NetBuilder {
    /// A builder for a net named `name` on inputs of `input` shape.
    pub fn new(name: impl Into<String>, input: Shape, flag: &'static str) -> Self {
        NetBuilder {
            net: Net {
                name: name.into(),
                input,
                nodes: Vec::new(),
            },
            flag,
        }
    }

    /// The net's input tensor.
    pub fn input(&self) -> Tensor {
        Tensor(0)
    }

    /// The shape of a tensor built so far.
    pub fn shape(&self, t: Tensor) -> Shape {
        self.net.shape(t)
    }

    /// Appends a node and returns its output tensor.
    pub fn push(
        &mut self,
        name: impl Into<String>,
        layer: Layer,
        inputs: &[Tensor],
    ) -> Result<Tensor> {
        let name = name.into();
        let shapes: Vec<Shape> = inputs.iter().map(|t| self.net.shape(*t)).collect();
        let out = layer.out_shape(&name, &shapes).map_err(|e| match e {
            Error::Shape { message, .. } => Error::shape(self.flag, message),
            other => other,
        })?;
        if out.c == 0 || out.h == 0 || out.w == 0 {
            return Err(Error::shape(
                self.flag,
                format!("layer {name} produces an empty {out} map"),
            ));
        }
        self.net.nodes.push(Node {
            name,
            layer,
            inputs: inputs.to_vec(),
            out,
        });
        Ok(Tensor(self.net.nodes.len()))
    }

    /// A conv.
    pub fn conv(&mut self, name: impl Into<String>, x: Tensor, conv: Conv2d) -> Result<Tensor> {
        self.push(name, Layer::Conv(conv), &[x])
    }

    /// A BatchNorm over `x`'s channels.
    pub fn bn(&mut self, name: impl Into<String>, x: Tensor) -> Result<Tensor> {
        let channels = self.shape(x).c;
        self.push(name, Layer::BatchNorm { channels }, &[x])
    }

    /// An activation.
    pub fn act(&mut self, name: impl Into<String>, x: Tensor, act: Activation) -> Result<Tensor> {
        self.push(name, Layer::Act(act), &[x])
    }

    /// Residual addition.
    pub fn add(&mut self, name: impl Into<String>, a: Tensor, b: Tensor) -> Result<Tensor> {
        self.push(name, Layer::Add, &[a, b])
    }

    /// Conv, BN and optional activation, the torchvision `Conv2dNormActivation`; the
    /// nodes are named `{prefix}.0`, `{prefix}.1`, `{prefix}.2`.
    pub fn conv_bn_act(
        &mut self,
        prefix: &str,
        x: Tensor,
        conv: Conv2d,
        act: Option<Activation>,
    ) -> Result<Tensor> {
        let y = self.conv(format!("{prefix}.0"), x, conv)?;
        let y = self.bn(format!("{prefix}.1"), y)?;
        match act {
            Some(a) => self.act(format!("{prefix}.2"), y, a),
            None => Ok(y),
        }
    }

    /// The finished net.
    pub fn finish(self) -> Net {
        self.net
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv_bn_relu() -> Net {
        let mut b = NetBuilder::new("t", Shape::new(3, 8, 8), "--shape");
        let x = b.input();
        let y = b
            .conv_bn_act(
                "stem",
                x,
                Conv2d::new(3, 4, 3, 1, 1),
                Some(Activation::Relu),
            )
            .unwrap();
        let z = b.conv("c2", y, Conv2d::new(4, 4, 3, 1, 1)).unwrap();
        let z = b.bn("bn2", z).unwrap();
        b.add("add", y, z).unwrap();
        b.finish()
    }

    #[test]
    fn fuse_removes_bn_and_remaps_inputs() {
        let net = conv_bn_relu();
        let fused = net.fuse_bn();
        assert_eq!(net.nodes.len(), 6);
        assert_eq!(fused.nodes.len(), 4);
        let names: Vec<&str> = fused.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["stem.0", "stem.2", "c2", "add"]);
        assert_eq!(fused.nodes[1].inputs, [Tensor(1)]);
        assert_eq!(fused.nodes[3].inputs, [Tensor(2), Tensor(3)]);
        assert!(matches!(fused.nodes[0].layer, Layer::Conv(c) if c.folded_bn));
        assert_eq!(fused.output(), net.output());
    }

    #[test]
    fn bn_after_a_shared_conv_output_is_kept() {
        let mut b = NetBuilder::new("t", Shape::new(4, 8, 8), "--shape");
        let x = b.input();
        let y = b.conv("c", x, Conv2d::new(4, 4, 3, 1, 1)).unwrap();
        let z = b.bn("bn", y).unwrap();
        b.add("add", y, z).unwrap();
        assert_eq!(b.finish().fuse_bn().nodes.len(), 3);
    }
}
