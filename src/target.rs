//! What a command measures or counts, and its expansion into cases: operator sweeps,
//! networks, the device's ceilings (`peak`), or cases a suite file expanded. Each case
//! carries its graph and the parameters its id encodes.
//!
//! A network target is a [`NetTarget`]: today a zoo name; a model file is the other kind
//! a network target can be (the seam for model files as targets).

use crate::error::Result;
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetTarget {
    /// A zoo network.
    Zoo(&'static str),
}

impl NetTarget {
    /// The networks `names` name, in order (`all` = every zoo network); an unknown name is
    /// refused with the known ones.
    pub fn resolve(names: &[String]) -> Result<Vec<NetTarget>> {
        let mut out = Vec::new();
        for name in names {
            if name == "all" {
                out.extend(zoo::NAMES.iter().copied().map(NetTarget::Zoo));
            } else if crate::import::is_model_path(name) {
                return Err(crate::error::Error::Usage(format!(
                    "{name}: model files are counted (`flopsbench count {name}`); timing them is not built yet"
                )));
            } else {
                out.push(NetTarget::Zoo(zoo::check_name(name)?));
            }
        }
        Ok(out)
    }

    /// The network's name in rows and tables.
    pub fn name(&self) -> &str {
        match self {
            NetTarget::Zoo(n) => n,
        }
    }

    /// Its graph at input resolution `resolution`.
    pub fn build(&self, resolution: usize) -> Result<Net> {
        match self {
            NetTarget::Zoo(n) => zoo::build(n, resolution),
        }
    }

    /// The case of this network at `resolution`, with a fixed batch and thread count when
    /// given (the id says so).
    pub fn case(
        &self,
        resolution: usize,
        batch: Option<usize>,
        threads: Option<usize>,
    ) -> Result<Case> {
        Ok(Case {
            id: format!("{}-{resolution}{}", self.name(), suffix(batch, threads)),
            kind: CaseKind::Net,
            name: self.name().into(),
            net: self.build(resolution)?,
            op: None,
            resolution: Some(resolution),
            threads,
            batch,
        })
    }
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
    /// The graph.
    pub net: Net,
    /// The operator case, for operator stacks.
    pub op: Option<OpCase>,
    /// Network input resolution.
    pub resolution: Option<usize>,
    /// Threads this case must run with, whatever `--threads` says (peak, suites).
    pub threads: Option<usize>,
    /// Batch this case must run with, whatever `--batch` says (suites).
    pub batch: Option<usize>,
}

impl Case {
    /// The case of operator stack `op`, with a fixed batch and thread count when given.
    pub fn op(op: OpCase, batch: Option<usize>, threads: Option<usize>) -> Result<Case> {
        Ok(Case {
            id: op.id() + &suffix(batch, threads),
            kind: CaseKind::Op(op.kind),
            name: op.kind.to_string(),
            net: op.to_net()?,
            op: Some(op),
            resolution: None,
            threads,
            batch,
        })
    }

    /// Whether the graph has a PConv layer.
    pub fn has_pconv(&self) -> bool {
        self.net
            .nodes
            .iter()
            .any(|n| matches!(n.layer, Layer::PConv(_)))
    }
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
            net: gemm.to_net()?,
            op: Some(gemm),
            resolution: None,
            threads: Some(t),
            batch,
        });
    }
    let mut b = NetBuilder::new("stream", PEAK_STREAM, "peak");
    let x = b.input();
    b.push("relu", Layer::Act(Activation::Relu), &[x])?;
    out.push(Case {
        id: format!("peak-stream-{PEAK_STREAM}{in_id}-t{}", host_cores()),
        kind: CaseKind::Peak,
        name: "stream".into(),
        net: b.finish(),
        op: None,
        resolution: None,
        threads: Some(host_cores()),
        batch,
    });
    Ok(out)
}

impl Target {
    /// Every case, in run order; networks at input resolution `resolution`.
    pub fn cases(&self, resolution: usize) -> Result<Vec<Case>> {
        self.cases_with(resolution, None)
    }

    /// [`Target::cases`], with the ceilings run at `peak_batch` when given.
    pub fn cases_with(&self, resolution: usize, peak_batch: Option<usize>) -> Result<Vec<Case>> {
        match self {
            Target::Ops(sweep) => sweep
                .expand()?
                .into_iter()
                .map(|op| Case::op(op, None, None))
                .collect(),
            Target::Nets(names) => NetTarget::resolve(names)?
                .iter()
                .map(|n| n.case(resolution, None, None))
                .collect(),
            Target::Peak => peak_cases(peak_batch),
            Target::Cases(cases) => Ok(cases.clone()),
        }
    }
}
