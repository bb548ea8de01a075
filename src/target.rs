//! What a command measures or counts, and its expansion into cases: operator sweeps,
//! networks, the device's ceilings (`peak`), or cases a suite file expanded. Each case
//! carries its graph and the parameters its id encodes.
//!
//! A network target is a [`NetTarget`]: a zoo name or a model file. A zoo network's case
//! carries its graph; a model file's case carries the file's identity (path, content hash,
//! input shapes), and is imported where it runs.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::import::{self, InputShape, Keep};
use crate::spec::{Activation, CaseKind, Layer, Net, NetBuilder, OpCase, OpKind, OpSweep, Shape};
use crate::zoo;

/// What a measured run measures.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// Operator stacks.
    Ops(OpSweep),
    /// Networks by name (`all` = every zoo network).
    Nets(Vec<String>),
    /// The device's ceilings: dense GEMM on one and on all threads, a streaming pass.
    Peak,
    /// Cases expanded from a suite file.
    Cases(Vec<Case>),
}

/// What `count` and `export` take: networks or an operator sweep.
#[derive(Debug, Clone, PartialEq)]
pub enum CountTarget {
    /// Networks by name (`all` = every zoo network).
    Nets(Vec<String>),
    /// An operator sweep.
    Ops(OpSweep),
}

/// One network a target names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetTarget {
    /// A zoo network.
    Zoo(&'static str),
    /// A model file (a path to an existing `.onnx` file).
    File(PathBuf),
}

impl NetTarget {
    /// The networks `names` name, in order (`all` = every zoo network; a path to an
    /// existing `.onnx` file is a model file); an unknown name is refused with the known
    /// ones.
    pub fn resolve(names: &[String]) -> Result<Vec<NetTarget>> {
        let mut out = Vec::new();
        for name in names {
            if name == "all" {
                out.extend(zoo::NAMES.iter().copied().map(NetTarget::Zoo));
            } else if import::is_model_path(name) {
                out.push(NetTarget::File(PathBuf::from(name)));
            } else {
                out.push(NetTarget::Zoo(zoo::check_name(name)?));
            }
        }
        Ok(out)
    }

    /// The network's name in rows and tables (a model file's stem).
    pub fn name(&self) -> String {
        match self {
            NetTarget::Zoo(n) => n.to_string(),
            NetTarget::File(p) => import::stem(p),
        }
    }

    /// Whether it is a model file.
    pub fn is_file(&self) -> bool {
        matches!(self, NetTarget::File(_))
    }

    /// A zoo network's graph at input resolution `resolution` (a model file has its own).
    pub fn build(&self, resolution: usize) -> Result<Net> {
        match self {
            NetTarget::Zoo(n) => zoo::build(n, resolution),
            NetTarget::File(p) => Err(Error::Usage(format!(
                "{}: a model file has no zoo graph to build",
                p.display()
            ))),
        }
    }

    /// The case of this network with a fixed batch and thread count when given (the id
    /// says so): a zoo network at `resolution`; a model file at its own input shapes
    /// (`input_shapes` for symbolic ones), read and checked now so that a bad file is
    /// refused before anything runs.
    pub fn case(
        &self,
        resolution: usize,
        batch: Option<usize>,
        threads: Option<usize>,
        input_shapes: &[InputShape],
    ) -> Result<Case> {
        let path = match self {
            NetTarget::Zoo(_) => {
                return Ok(Case {
                    id: format!("{}-{resolution}{}", self.name(), suffix(batch, threads)),
                    kind: CaseKind::Net,
                    name: self.name(),
                    graph: Graph::Spec(self.build(resolution)?),
                    op: None,
                    resolution: Some(resolution),
                    threads,
                    batch,
                    per_layer: false,
                });
            }
            NetTarget::File(p) => p,
        };
        let file = ModelCase::open(path, input_shapes)?;
        if let Some(b) = batch {
            file.check_batch(b)?;
        }
        // A file that fixes its batch runs at it, whatever the device's protocol says.
        let run_batch = batch.or(file.fixed_batch);
        // Given input shapes are part of the id (the same file at two shapes is two
        // cases): each input's dimensions after the batch.
        let shapes: String = file
            .input_shapes
            .iter()
            .map(|g| {
                let dims: Vec<String> = g.dims.iter().skip(1).map(usize::to_string).collect();
                format!("-{}", dims.join("x"))
            })
            .collect();
        Ok(Case {
            id: format!(
                "{}-{}{shapes}{}",
                self.name(),
                &file.sha256[..12],
                suffix(batch, threads)
            ),
            kind: CaseKind::Net,
            name: self.name(),
            graph: Graph::File(file),
            op: None,
            resolution: None,
            threads,
            batch: run_batch,
            per_layer: false,
        })
    }
}

/// A model file as a case carries it: enough to import it where it runs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ModelCase {
    /// The path as given (relative paths from the working directory, or from the suite
    /// file's folder resolved).
    pub path: PathBuf,
    /// SHA-256 of the file's contents, hex: the file must still have it when it runs.
    pub sha256: String,
    /// `--input-shape` values for symbolic or unknown input dimensions.
    pub input_shapes: Vec<InputShape>,
    /// The batch its inputs fix (`None`: a symbolic first dimension, set by the run).
    pub fixed_batch: Option<usize>,
    /// The precision it computes in (see [`import::precision`]): its rows' dtype.
    #[serde(default)]
    pub dtype: crate::spec::Dtype,
}

impl ModelCase {
    /// Reads and checks the file at `path` with `input_shapes`: shapes left unknown,
    /// inputs of a type runs cannot draw and unreadable files are refused here (exit 2), naming
    /// the file or flag.
    pub fn open(path: &Path, input_shapes: &[InputShape]) -> Result<ModelCase> {
        let model = import::import(path, input_shapes, 1, Keep::Shapes)?;
        let fixed_batch = import::check_runnable(&model)?;
        if let Some(n) = fixed_batch.filter(|&n| n != 1) {
            return Err(Error::InputFile {
                path: path.to_path_buf(),
                line: None,
                message: format!(
                    "the model's inputs fix the batch at {n}; rows count per item, so a fixed batch must be 1: export it with a dynamic batch axis and set the batch with --batch"
                ),
            });
        }
        Ok(ModelCase {
            path: path.to_path_buf(),
            sha256: model.file.hash.clone(),
            input_shapes: input_shapes.to_vec(),
            fixed_batch,
            dtype: import::precision(&model),
        })
    }

    /// Refuses a run batch the file cannot take (its inputs fix another one).
    pub fn check_batch(&self, batch: usize) -> Result<()> {
        match self.fixed_batch {
            Some(fixed) if fixed != batch => Err(Error::flag(
                "--batch",
                format!(
                    "{}: the model's inputs fix the batch at {fixed}, not {batch}; export it with a dynamic batch axis to run other batches",
                    self.path.display()
                ),
            )),
            _ => Ok(()),
        }
    }
}

/// What a case computes: a spec graph (operator stacks, zoo networks, the ceilings) or a
/// model file.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Graph {
    /// A graph of spec layers.
    Spec(Net),
    /// A model file, imported where it runs.
    File(ModelCase),
}

/// One case: a graph and what identifies it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Case {
    /// Unique id (every parameter but batch, dtype and threads, unless fixed here).
    pub id: String,
    /// Operator kind, `net` or `peak`.
    pub kind: CaseKind,
    /// Network or operator name.
    pub name: String,
    /// What it computes.
    pub graph: Graph,
    /// The operator case, for operator stacks.
    pub op: Option<OpCase>,
    /// Network input resolution.
    pub resolution: Option<usize>,
    /// Threads this case must run with, whatever `--threads` says (peak, suites).
    pub threads: Option<usize>,
    /// Batch this case must run with, whatever `--batch` says (suites).
    pub batch: Option<usize>,
    /// Profile it layer by layer after its timed row (`per_layer = true` in a suite).
    #[serde(default)]
    pub per_layer: bool,
}

impl Case {
    /// The case of operator stack `op`, with a fixed batch and thread count when given.
    pub fn op(op: OpCase, batch: Option<usize>, threads: Option<usize>) -> Result<Case> {
        Ok(Case {
            id: op.id() + &suffix(batch, threads),
            kind: CaseKind::Op(op.kind),
            name: op.kind.to_string(),
            graph: Graph::Spec(op.to_net()?),
            op: Some(op),
            resolution: None,
            threads,
            batch,
            per_layer: false,
        })
    }

    /// The spec graph (`None` for a model file, whose graph is imported where it runs).
    pub fn spec_net(&self) -> Option<&Net> {
        match &self.graph {
            Graph::Spec(net) => Some(net),
            Graph::File(_) => None,
        }
    }

    /// The precision the case runs at when no `--dtype` is given: a model file's own
    /// (see [`import::precision`]), f32 for operator stacks and networks.
    pub fn own_dtype(&self) -> crate::spec::Dtype {
        self.model_file()
            .map_or(crate::spec::Dtype::F32, |m| m.dtype)
    }

    /// The model file (`None` for a spec graph).
    pub fn model_file(&self) -> Option<&ModelCase> {
        match &self.graph {
            Graph::File(m) => Some(m),
            Graph::Spec(_) => None,
        }
    }
}

/// Whether `net` has a PConv layer.
pub fn has_pconv(net: &Net) -> bool {
    net.nodes.iter().any(|n| matches!(n.layer, Layer::PConv(_)))
}

/// `-b4-t2`: the fixed batch and threads of a case, in its id.
fn suffix(batch: Option<usize>, threads: Option<usize>) -> String {
    let mut s = String::new();
    if let Some(b) = batch {
        s += &format!("-b{b}");
    }
    if let Some(t) = threads {
        s += &format!("-t{t}");
    }
    s
}

/// The GEMM of `peak`: a 1×1 convolution, 512 → 512 channels over 32×32 positions, i.e.
/// a (1024 × 512) · (512 × 512) matrix product, 268 M multiply-adds.
pub const PEAK_GEMM: Shape = Shape::new(512, 32, 32);
/// The stream of `peak`: ReLU over 16 M f32 values (64 MiB read, 64 MiB written), far
/// beyond any cache.
pub const PEAK_STREAM: Shape = Shape::new(16, 1024, 1024);

/// This host's logical cores.
pub fn host_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The ceilings' cases; a batch given for them is part of their ids.
fn peak_cases(batch: Option<usize>) -> Result<Vec<Case>> {
    let in_id = batch.map_or(String::new(), |b| format!("-b{b}"));
    let mut gemm = OpCase::paper(OpKind::Pwconv, PEAK_GEMM);
    gemm.layers = 1;
    let mut threads = vec![1];
    if host_cores() > 1 {
        threads.push(host_cores());
    }
    let mut out = Vec::new();
    for t in threads {
        out.push(Case {
            id: format!("peak-gemm-{PEAK_GEMM}{in_id}-t{t}"),
            kind: CaseKind::Peak,
            name: "gemm".into(),
            graph: Graph::Spec(gemm.to_net()?),
            op: Some(gemm),
            resolution: None,
            threads: Some(t),
            batch,
            per_layer: false,
        });
    }
    let mut b = NetBuilder::new("stream", PEAK_STREAM, "peak");
    let x = b.input();
    b.push("relu", Layer::Act(Activation::Relu), &[x])?;
    out.push(Case {
        id: format!("peak-stream-{PEAK_STREAM}{in_id}-t{}", host_cores()),
        kind: CaseKind::Peak,
        name: "stream".into(),
        graph: Graph::Spec(b.finish()),
        op: None,
        resolution: None,
        threads: Some(host_cores()),
        batch,
        per_layer: false,
    });
    Ok(out)
}

impl Target {
    /// Every case, in run order; networks at input resolution `resolution`.
    pub fn cases(&self, resolution: usize) -> Result<Vec<Case>> {
        self.cases_with(resolution, None, &[])
    }

    /// [`Target::cases`], with the ceilings run at `batch` when given (a model file's
    /// symbolic batch checked at it) and model files' `input_shapes`.
    pub fn cases_with(
        &self,
        resolution: usize,
        batch: Option<usize>,
        input_shapes: &[InputShape],
    ) -> Result<Vec<Case>> {
        match self {
            Target::Ops(sweep) => sweep
                .expand()?
                .into_iter()
                .map(|op| Case::op(op, None, None))
                .collect(),
            Target::Nets(names) => NetTarget::resolve(names)?
                .iter()
                .map(|n| {
                    let case = n.case(resolution, None, None, input_shapes)?;
                    if let (Some(b), Some(m)) = (batch, case.model_file()) {
                        m.check_batch(b)?;
                    }
                    Ok(case)
                })
                .collect(),
            Target::Peak => peak_cases(batch),
            Target::Cases(cases) => Ok(cases.clone()),
        }
    }
}
