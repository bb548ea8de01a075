//! The cases a measured run expands to: operator stacks, zoo networks, or a device's
//! ceilings (`peak`): one list, each case with its graph and the parameters its id
//! encodes.

use crate::bench::{BenchConfig, BenchTarget};
use crate::error::Result;
use crate::spec::{Activation, Layer, Net, NetBuilder, OpCase, OpKind, Shape};
use crate::zoo;

/// One case: a graph and what identifies it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Case {
    pub id: String,
    pub kind: String,
    pub name: String,
    pub net: Net,
    pub op: Option<OpCase>,
    pub resolution: Option<usize>,
    /// Threads this case must run with, whatever `--threads` says (peak, suites).
    pub threads: Option<usize>,
    /// Batch this case must run with, whatever `--batch` says (suites).
    pub batch: Option<usize>,
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

fn peak_cases() -> Result<Vec<Case>> {
    let mut gemm = OpCase::paper(OpKind::Pwconv, PEAK_GEMM);
    gemm.layers = 1;
    let mut threads = vec![1];
    if host_cores() > 1 {
        threads.push(host_cores());
    }
    let mut out = Vec::new();
    for t in threads {
        out.push(Case {
            id: format!("peak-gemm-{PEAK_GEMM}-t{t}"),
            kind: "peak".into(),
            name: "gemm".into(),
            net: gemm.to_net()?,
            op: Some(gemm),
            resolution: None,
            threads: Some(t),
            batch: None,
        });
    }
    let mut b = NetBuilder::new("stream", PEAK_STREAM, "peak");
    let x = b.input();
    b.push("relu", Layer::Act(Activation::Relu), &[x])?;
    out.push(Case {
        id: format!("peak-stream-{PEAK_STREAM}-t{}", host_cores()),
        kind: "peak".into(),
        name: "stream".into(),
        net: b.finish(),
        op: None,
        resolution: None,
        threads: Some(host_cores()),
        batch: None,
    });
    Ok(out)
}

/// Every case of `config`, in run order.
pub fn cases(config: &BenchConfig) -> Result<Vec<Case>> {
    match &config.target {
        BenchTarget::Ops(sweep) => sweep
            .expand()?
            .into_iter()
            .map(|op| {
                Ok(Case {
                    id: op.id(),
                    kind: op.kind.to_string(),
                    name: op.kind.to_string(),
                    net: op.to_net()?,
                    op: Some(op),
                    resolution: None,
                    threads: None,
                    batch: None,
                })
            })
            .collect(),
        BenchTarget::Nets(names) => {
            let mut out = Vec::new();
            for n in names {
                let list: Vec<&str> = if n == "all" {
                    zoo::NAMES.to_vec()
                } else {
                    vec![zoo::check_name(n)?]
                };
                for name in list {
                    out.push(Case {
                        id: format!("{name}-{}", config.resolution),
                        kind: "net".into(),
                        name: name.into(),
                        net: zoo::build(name, config.resolution)?,
                        op: None,
                        resolution: Some(config.resolution),
                        threads: None,
                        batch: None,
                    });
                }
            }
            Ok(out)
        }
        BenchTarget::Peak => peak_cases(),
        BenchTarget::Cases(cases) => Ok(cases.clone()),
    }
}
