//! tract (tract-onnx, pure Rust): runs the ONNX bytes flopsbench exports, optimised by
//! tract. Its optimiser may rewrite the graph (e.g. merge split/concat pairs of a PConv
//! stack): the same ONNX file can mean different work than ONNX Runtime does, and the
//! row's detail says which graph ran.

use tract_onnx::prelude::*;

use super::{Backend, PconvImpl, Prepared, Settings, ensure_available, probe_host_cpu};
use crate::device::DeviceSpec;
use crate::error::{Error, Result};
use crate::model::Model;

/// The tract-onnx version this build links (checked against Cargo.lock by a test).
pub const VERSION: &str = "0.23.9";

/// The tract backend.
#[derive(Debug, Clone, Copy)]
pub struct Tract;

fn err(e: impl std::fmt::Display) -> Error {
    Error::Backend {
        backend: "tract".into(),
        message: format!("{e:#}"),
    }
}

struct TractPrepared {
    state: TypedSimpleState,
    input: TValue,
    output: Option<TValue>,
    nodes: usize,
    threads: usize,
}

impl Prepared for TractPrepared {
    fn run(&mut self) -> Result<()> {
        let mut out = self.state.run(tvec![self.input.clone()]).map_err(err)?;
        self.output = Some(out.remove(0));
        Ok(())
    }

    fn sync(&mut self) -> Result<()> {
        Ok(())
    }

    fn output(&mut self) -> Result<Vec<f32>> {
        let out = self
            .output
            .as_ref()
            .ok_or_else(|| err("output requested before any run"))?;
        let view = out.to_plain_array_view::<f32>().map_err(err)?;
        Ok(view.iter().copied().collect())
    }

    fn detail(&self) -> String {
        format!(
            "optimised graph: {} nodes; executor: {} thread(s)",
            self.nodes, self.threads
        )
    }

    fn pconv_impl(&self) -> PconvImpl {
        // The ONNX export always writes the authors' split-cat forward.
        PconvImpl::SplitCat
    }
}

impl Backend for Tract {
    fn name(&self) -> &'static str {
        "tract"
    }

    fn version(&self) -> String {
        VERSION.into()
    }

    fn reference_preference(&self) -> Option<u8> {
        // Runs the same ONNX graph as ort, optimised: asked first.
        Some(0)
    }

    fn probe(&self, device: &DeviceSpec) -> std::result::Result<(), String> {
        probe_host_cpu(device, "tract runs on CPUs only")
    }

    fn prepare(
        &self,
        model: &Model,
        device: &DeviceSpec,
        settings: &Settings,
    ) -> Result<Box<dyn Prepared>> {
        ensure_available(self, device)?;
        let bytes = crate::onnx::to_bytes(model);
        let typed = tract_onnx::onnx()
            .model_for_read(&mut bytes.as_slice())
            .and_then(|m| m.into_optimized())
            .map_err(err)?;
        let nodes = typed.nodes().len();
        // One thread: tract's default single-thread executor (multithread(1) would use
        // rayon's global pool). More: a private pool of exactly that many threads.
        let options = RunOptions {
            executor: (settings.threads > 1)
                .then(|| tract_linalg::multithread::Executor::multithread(settings.threads)),
            ..Default::default()
        };
        let plan = typed.into_runnable_with_options(&options).map_err(err)?;
        let state = plan.spawn().map_err(err)?;
        let input = Tensor::from_shape(&model.input_dims(), &model.input).map_err(err)?;
        Ok(Box::new(TractPrepared {
            state,
            input: input.into_tvalue(),
            output: None,
            nodes,
            threads: settings.threads,
        }))
    }
}
