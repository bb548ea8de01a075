//! What one case runs on a device, built once (untimed) for every backend of the case:
//! the spec model (an operator stack, a zoo network, or a model file whose every node maps
//! to a spec layer, with the file's weights), the model file itself for the runtimes that
//! run ONNX as given, and the counts of the case's rows.

use crate::backend::{Backend, Prepared, Settings};
use crate::count::{CaseCount, CountOptions, PconvGraph, count_net, graph_mem_bytes};
use crate::device::DeviceSpec;
use crate::error::{Error, Result};
use crate::import::{self, FileRun, ImportedModel, Keep};
use crate::model::Model;
use crate::profile::LayerSpec;
use crate::target::{Case, Graph, ModelCase, has_pconv};

use super::layers::specs_of_net;

/// A case ready for its backends.
pub(crate) struct Work {
    /// The spec model, or why the case has none (the node that kept it out).
    pub(crate) model: std::result::Result<Model, String>,
    /// The model file, for backends that run files as given.
    pub(crate) file: Option<FileRun>,
    /// The case's counts at the run's batch.
    pub(crate) counts: CaseCount,
    /// Memory traffic of the split-cat and slicing graphs (spec models only).
    pub(crate) graph_bytes: Option<(u64, u64)>,
    /// Whether the spec model has a PConv layer.
    pub(crate) has_pconv: bool,
    /// Its layers as the backends run them, for per-layer profiles.
    pub(crate) layers: Vec<LayerSpec>,
    /// At int8: the dequantized output of the quantized arithmetic in f64 (the model's
    /// `int8` parameters hold the quantization).
    pub(crate) int8_reference: Option<Vec<f64>>,
}

impl Work {
    /// Builds `case` at `batch` with seeded inputs (and seeded weights for spec graphs).
    pub(crate) fn new(case: &Case, opts: &CountOptions, seed: u64) -> Result<Work> {
        match &case.graph {
            Graph::Spec(net) => {
                let mut model = Model::new(net, opts.batch, seed, opts.fuse_bn);
                let mut int8_reference = None;
                if opts.dtype == crate::spec::Dtype::Int8 {
                    let levels = crate::quant::weight_levels_here();
                    if crate::quant::is_stack(net) {
                        let quantized = crate::quant::quantize(&model, levels)?;
                        model.int8 = Some(quantized.params);
                        int8_reference = Some(quantized.reference);
                    } else {
                        // A network: checked against another runtime's run of its graph.
                        model.int8_net = Some(crate::quant::quantize_net(&model, levels)?);
                    }
                }
                Ok(Work {
                    int8_reference,
                    layers: specs_of_net(&model.net, opts),
                    model: Ok(model),
                    file: None,
                    counts: count_net(net, opts, false),
                    graph_bytes: Some((
                        graph_mem_bytes(net, opts, PconvGraph::SplitCat),
                        graph_mem_bytes(net, opts, PconvGraph::Slicing),
                    )),
                    has_pconv: has_pconv(net),
                })
            }
            Graph::File(file) => Work::of_file(file, opts, seed),
        }
    }

    fn of_file(file: &ModelCase, opts: &CountOptions, seed: u64) -> Result<Work> {
        file.check_batch(opts.batch)?;
        let open = |batch, keep| {
            let model = import::import(&file.path, &file.input_shapes, batch, keep)?;
            if model.file.hash != file.sha256 {
                return Err(Error::InputFile {
                    path: file.path.clone(),
                    line: None,
                    message: "the file changed since the run started (its SHA-256 differs)".into(),
                });
            }
            Ok(model)
        };
        let run = open(opts.batch, Keep::Weights)?;
        // Counts are per item: a symbolic batch counted at 1.
        let per_item = if opts.batch == 1 || file.fixed_batch.is_some() {
            None
        } else {
            Some(open(1, Keep::Shapes)?)
        };
        let counted = import::count(per_item.as_ref().unwrap_or(&run), opts, true);
        let (model, graph_bytes, pconv) = spec_model(&run, opts, seed);
        let layers = match &model {
            // The file's own value names: tract and ort run the file.
            Ok(m) => specs_of_net(&m.net, opts)
                .into_iter()
                .map(|mut l| {
                    if let Some(n) = run.nodes.iter().find(|n| n.name == l.name) {
                        l.output = n.outputs.first().cloned().unwrap_or_default();
                        l.aliases = n.members.clone();
                    }
                    l
                })
                .collect(),
            Err(_) => specs_of_nodes(&run, &counted),
        };
        Ok(Work {
            int8_reference: None,
            file: Some(FileRun::new(&run, seed)),
            model,
            counts: CaseCount {
                layers: None,
                ..counted
            },
            graph_bytes,
            has_pconv: pconv,
            layers,
        })
    }

    /// The bytes its largest layer touches at once (input + output + weights).
    pub(crate) fn working_set(&self) -> Option<u64> {
        self.layers.iter().map(|l| l.mem_bytes).max()
    }

    /// Prepares this work on `backend`: the file as given where the backend runs files,
    /// else the spec model; an error names the node that keeps the backend out.
    pub(crate) fn prepare(
        &self,
        backend: &dyn Backend,
        device: &DeviceSpec,
        settings: &Settings,
    ) -> Result<Box<dyn Prepared>> {
        if let Some(file) = &self.file
            && backend.runs_files()
        {
            return backend.prepare_file(file, device, settings);
        }
        match &self.model {
            Ok(model) => backend.prepare(model, device, settings),
            Err(why) => Err(Error::Backend {
                backend: backend.name().into(),
                message: format!(
                    "runs networks of spec layers only, and {why} (tract and ort run the file as given)"
                ),
            }),
        }
    }
}

/// The layers of a model no spec network maps to: its nodes, counted node by node.
fn specs_of_nodes(run: &ImportedModel, counted: &CaseCount) -> Vec<LayerSpec> {
    let writer = |value: &str| {
        run.nodes
            .iter()
            .position(|n| n.outputs.iter().any(|o| o == value))
    };
    run.nodes
        .iter()
        .zip(counted.layers.iter().flatten())
        .map(|(node, c)| LayerSpec {
            name: c.name.clone(),
            op: c.op.clone(),
            params: c.params,
            macs: c.macs,
            mem_bytes: c.mem_bytes,
            producers: node.inputs.iter().filter_map(|i| writer(i)).collect(),
            output: node.outputs.first().cloned().unwrap_or_default(),
            aliases: node.members.clone(),
        })
        .collect()
}

/// The spec model of an imported file (its weights as parameters), the memory traffic of
/// its split-cat and slicing graphs and whether it has a PConv; or why it has none.
type SpecModel = (std::result::Result<Model, String>, Option<(u64, u64)>, bool);

fn spec_model(run: &ImportedModel, opts: &CountOptions, seed: u64) -> SpecModel {
    match &run.net {
        Ok((net, params)) => {
            let model = Model::with_params(net, params.clone(), opts.batch, seed, opts.fuse_bn);
            let bytes = (
                graph_mem_bytes(net, opts, PconvGraph::SplitCat),
                graph_mem_bytes(net, opts, PconvGraph::Slicing),
            );
            (Ok(model), Some(bytes), has_pconv(net))
        }
        Err(why) => (Err(why.clone()), None, false),
    }
}
