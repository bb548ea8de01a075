//! Which layer each timed node of a runtime belongs to. Runtimes name the nodes they run
//! after the graph's (tract suffixes them: `stages.0.blocks.0.conv.matmatmul`; ONNX
//! Runtime keeps a fused node's first name), so a node belongs to the longest layer name
//! that prefixes its own, up to a separator (zoo names contain dots: `mlp.1` does not
//! prefix `mlp.10`). A layer no node belongs to was fused into the layer that produces
//! its input (an activation absorbed by its conv), or removed when no producer ran
//! either; nodes that belong to no layer are the runtime's own (layout reorders,
//! constants) and count in the sum of the layers' time.

use crate::backend::NodeTime;

/// What the profile knows of one layer before timing it.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerSpec {
    /// Its name (as written into the graph the runtime ran).
    pub name: String,
    /// Its type (`conv`, `dwconv`, `pconv`, an ONNX operator, ...).
    pub op: String,
    /// Parameters.
    pub params: u64,
    /// Multiply-adds per item.
    pub macs: u64,
    /// Memory traffic for the batch, bytes.
    pub mem_bytes: u64,
    /// The layers whose outputs it reads, in order.
    pub producers: Vec<usize>,
    /// The name of the value it writes in the graph the runtime ran.
    pub output: String,
    /// Other node names it goes by in that graph (the nodes of an imported pattern:
    /// Split, Conv and Concat of a PConv).
    pub aliases: Vec<String>,
}

/// How a runtime ran a layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RanAs {
    /// Its own node(s) of the runtime.
    Nodes(usize),
    /// Absorbed into another layer's node (the index of that layer).
    FusedInto(usize),
    /// No node ran for it, nor for what produces its input.
    Removed,
}

/// Per-pass times of every layer and of the runtime's own nodes.
#[derive(Debug, Clone, PartialEq)]
pub struct Attributed {
    /// Per layer: how it ran and its time in each pass (ms, empty unless it has nodes).
    pub layers: Vec<(RanAs, Vec<f64>)>,
    /// Nodes no layer claims: name, operator, time in each pass.
    pub runtime: Vec<(String, String, Vec<f64>)>,
}

/// Whether `name` prefixes `node` up to a separator.
fn prefixes(name: &str, node: &str) -> bool {
    node.strip_prefix(name)
        .is_some_and(|rest| rest.is_empty() || !rest.starts_with(|c: char| c.is_alphanumeric()))
}

/// The layer node `t` belongs to: the last layer whose value it computes where the
/// runtime says which (ONNX Runtime's optimised model), or whose value names it, else the
/// longest layer name that prefixes its name.
fn layer_of(layers: &[LayerSpec], t: &NodeTime) -> Option<usize> {
    if let Some(i) = (0..layers.len())
        .rev()
        .find(|&i| !layers[i].output.is_empty() && t.values.contains(&layers[i].output))
    {
        return Some(i);
    }
    let node = t.node.as_str();
    // Inside its blocked layout ONNX Runtime's values are tokens; the node that computes a
    // graph value there is named after it (`t5_nchwc`).
    if let Some(value) = node.strip_suffix("_nchwc")
        && let Some(i) = layers.iter().position(|l| l.output == value)
    {
        return Some(i);
    }
    layers
        .iter()
        .enumerate()
        .filter_map(|(i, l)| {
            std::iter::once(&l.name)
                .chain(&l.aliases)
                .filter(|n| prefixes(n, node))
                .map(String::len)
                .max()
                .map(|len| (i, len))
        })
        .max_by_key(|&(_, len)| len)
        .map(|(i, _)| i)
}

/// Whether a runtime operator multiplies and adds (a matrix product or a convolution).
fn multiplies(op: &str) -> bool {
    op.contains("MatMul") || op.contains("Conv") || op == "Gemm" || op == "Einsum"
}

/// The layer a node of operator `op` that belongs to layer `i` computes: `i`, unless
/// `i` does no multiply-adds and the node does — a runtime that fuses a conv with the
/// activation or residual add after it names the fused node after the last of them
/// (tract: `features.2.conv.0.2.max.prefused`), so the node is the conv's: the latest
/// producer up the chain that multiplies.
fn multiplier_of(layers: &[LayerSpec], i: usize, op: &str) -> usize {
    if layers[i].macs > 0 || !multiplies(op) {
        return i;
    }
    let mut at = i;
    while let Some(p) = layers[at]
        .producers
        .iter()
        .copied()
        .filter(|&p| p < at)
        .max()
    {
        if layers[p].macs > 0 {
            return p;
        }
        at = p;
    }
    i
}

/// Attributes every pass's node times to `layers`.
pub fn attribute(layers: &[LayerSpec], passes: &[Vec<NodeTime>]) -> Attributed {
    let mut nodes_of = vec![0usize; layers.len()];
    let mut times = vec![vec![0.0; passes.len()]; layers.len()];
    let mut runtime: Vec<(String, String, Vec<f64>)> = Vec::new();
    let mut counted: Vec<Vec<String>> = vec![Vec::new(); layers.len()];
    for (p, pass) in passes.iter().enumerate() {
        for t in pass {
            match layer_of(layers, t).map(|i| multiplier_of(layers, i, &t.op)) {
                Some(i) => {
                    times[i][p] += t.ms;
                    if !counted[i].contains(&t.node) {
                        counted[i].push(t.node.clone());
                        nodes_of[i] += 1;
                    }
                }
                None => {
                    let slot = match runtime.iter().position(|(n, _, _)| *n == t.node) {
                        Some(k) => k,
                        None => {
                            runtime.push((t.node.clone(), t.op.clone(), vec![0.0; passes.len()]));
                            runtime.len() - 1
                        }
                    };
                    runtime[slot].2[p] += t.ms;
                }
            }
        }
    }
    let mut ran: Vec<RanAs> = (0..layers.len())
        .map(|i| match nodes_of[i] {
            0 => absorbed_by(layers, &nodes_of, i),
            n => RanAs::Nodes(n),
        })
        .collect();
    regroup(layers, &mut ran, &mut times);
    Attributed {
        layers: ran
            .into_iter()
            .zip(times)
            .map(|(r, t)| match r {
                RanAs::Nodes(_) => (r, t),
                other => (other, Vec::new()),
            })
            .collect(),
        runtime,
    }
}

/// The layer whose node ran layer `i` (which has none of its own). A layer that
/// multiplies (a conv) was run by a node named after what consumes it (runtimes name a
/// fused conv + activation after the activation); one that does not (an activation, a
/// residual add) by the latest of its producers that ran (the conv just before it, not the
/// block's input); else up that chain. `Removed` when nothing ran for it.
fn absorbed_by(layers: &[LayerSpec], nodes_of: &[usize], i: usize) -> RanAs {
    let consumer =
        || (i + 1..layers.len()).find(|&c| nodes_of[c] > 0 && layers[c].producers.contains(&i));
    if layers[i].macs > 0
        && let Some(c) = consumer()
    {
        return RanAs::FusedInto(c);
    }
    let mut at = i;
    loop {
        let before = layers[at].producers.iter().copied().filter(|&p| p < at);
        let latest = before.clone().max();
        match (before.filter(|&p| nodes_of[p] > 0).max(), latest) {
            (Some(p), _) => return RanAs::FusedInto(p),
            (None, Some(p)) => at = p,
            (None, None) => return consumer().map_or(RanAs::Removed, RanAs::FusedInto),
        }
    }
}

/// Each group of layers one node ran is owned by its member with the most multiply-adds
/// (a DWConv + ReLU6 run by a node named after the ReLU6 is the DWConv's row): the
/// owner takes the group's time, the others say `fused into OWNER`.
fn regroup(layers: &[LayerSpec], ran: &mut [RanAs], times: &mut [Vec<f64>]) {
    for owner in 0..ran.len() {
        let RanAs::Nodes(n) = ran[owner] else {
            continue;
        };
        let members: Vec<usize> = (0..ran.len())
            .filter(|&m| m == owner || ran[m] == RanAs::FusedInto(owner))
            .collect();
        let best = members
            .iter()
            .copied()
            .max_by_key(|&m| (layers[m].macs, std::cmp::Reverse(m)))
            .unwrap_or(owner);
        if best == owner || layers[best].macs == layers[owner].macs {
            continue;
        }
        for &m in &members {
            ran[m] = RanAs::FusedInto(best);
        }
        ran[best] = RanAs::Nodes(n);
        times[best] = std::mem::take(&mut times[owner]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, producers: &[usize]) -> LayerSpec {
        LayerSpec {
            name: name.into(),
            op: "conv".into(),
            params: 0,
            macs: 10,
            mem_bytes: 100,
            producers: producers.to_vec(),
            output: format!("{name}.out"),
            aliases: Vec::new(),
        }
    }

    fn t(node: &str, ms: f64) -> NodeTime {
        NodeTime {
            node: node.into(),
            op: "X".into(),
            values: Vec::new(),
            ms,
        }
    }

    #[test]
    fn nodes_go_to_the_longest_layer_name_up_to_a_separator() {
        let layers = [
            spec("mlp.1", &[]),
            spec("mlp.10", &[0]),
            spec("mlp.10.act", &[1]),
            spec("head", &[2]),
        ];
        let passes = vec![
            vec![
                t("mlp.1.matmatmul", 1.0),
                t("mlp.1", 0.5),
                t("mlp.10", 2.0),
                t("reorder_0", 0.25),
            ],
            vec![t("mlp.1", 1.5), t("mlp.10.conv", 3.0), t("reorder_0", 0.5)],
        ];
        let a = attribute(&layers, &passes);
        assert_eq!(a.layers[0], (RanAs::Nodes(2), vec![1.5, 1.5]));
        assert_eq!(a.layers[1], (RanAs::Nodes(2), vec![2.0, 3.0]));
        // No node of its own: folded into the layer that produces its input.
        assert_eq!(a.layers[2], (RanAs::FusedInto(1), vec![]));
        // Its producer did not run either, nor anything before: up the chain to mlp.10.
        assert_eq!(a.layers[3], (RanAs::FusedInto(1), vec![]));
        assert_eq!(
            a.runtime,
            vec![("reorder_0".into(), "X".into(), vec![0.25, 0.5])]
        );
    }

    #[test]
    fn nodes_go_to_the_value_they_compute_and_adds_to_the_latest_producer() {
        let mut layers = vec![spec("conv", &[]), spec("mlp.3", &[0]), spec("add", &[0, 1])];
        layers[1].output = "t5".into();
        let mut relaid = t("fused_0", 2.0);
        relaid.values = vec!["t5".into()];
        let a = attribute(&layers, &[vec![t("conv", 1.0), relaid]]);
        assert_eq!(a.layers[1], (RanAs::Nodes(1), vec![2.0]));
        // A node inside the blocked layout, named after the value it computes.
        let a = attribute(&layers, &[vec![t("conv", 1.0), t("t5_nchwc", 2.0)]]);
        assert_eq!(a.layers[1], (RanAs::Nodes(1), vec![2.0]));
        assert_eq!(a.layers[2].0, RanAs::FusedInto(1));
        assert!(a.runtime.is_empty());
    }

    #[test]
    fn a_conv_run_by_a_node_named_after_its_activation_owns_the_group() {
        let mut layers = vec![spec("dw", &[]), spec("act", &[0]), spec("pw", &[1])];
        layers[1].macs = 0;
        let a = attribute(&layers, &[vec![t("act", 3.0), t("pw", 1.0)]]);
        assert_eq!(a.layers[0], (RanAs::Nodes(1), vec![3.0]));
        assert_eq!(a.layers[1], (RanAs::FusedInto(0), vec![]));
        assert_eq!(a.layers[2], (RanAs::Nodes(1), vec![1.0]));
    }

    #[test]
    fn a_matrix_product_named_after_an_activation_is_the_convs() {
        let mut layers = vec![spec("pw", &[]), spec("pw.act", &[0]), spec("add", &[0, 1])];
        layers[1].macs = 0;
        layers[2].macs = 0;
        let mm = |node: &str, ms| NodeTime {
            node: node.into(),
            op: "OptMatMul".into(),
            values: Vec::new(),
            ms,
        };
        let passes = vec![vec![
            t("pw.pack", 0.5),
            mm("pw.act.max.prefused", 2.0),
            t("pw.act.max", 0.25),
        ]];
        let a = attribute(&layers, &passes);
        assert_eq!(a.layers[0], (RanAs::Nodes(2), vec![2.5]));
        assert_eq!(a.layers[1], (RanAs::Nodes(1), vec![0.25]));
        assert_eq!(a.layers[2].0, RanAs::FusedInto(1));
    }

    #[test]
    fn a_layer_whose_chain_never_ran_is_removed() {
        let layers = [spec("a", &[]), spec("b", &[0])];
        let a = attribute(&layers, &[vec![t("other", 1.0)]]);
        assert_eq!(a.layers[0].0, RanAs::Removed);
        assert_eq!(a.layers[1].0, RanAs::Removed);
    }
}
