//! tract (tract-onnx, pure Rust): runs the ONNX bytes flopsbench exports, or a model file
//! as given, optimised by tract. Its optimiser may rewrite the graph (e.g. merge
//! split/concat pairs of a PConv stack): the same ONNX file can mean different work than
//! ONNX Runtime does, and the row's detail says which graph ran.

use tract_onnx::prelude::*;

use super::{Backend, NodeTime, PconvImpl, Prepared, Settings, ensure_available, probe_host_cpu};
use crate::device::DeviceSpec;
use crate::error::{Error, Result};
use crate::import::{FileRun, InputType};
use crate::model::Model;
use crate::spec::Dtype;

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
    inputs: TVec<TValue>,
    output: Option<TValue>,
    /// What ran: the exported graph or the model file, and how tract optimised it.
    source: String,
    threads: usize,
    /// What computed (see [`arithmetic`]).
    computed: String,
}

impl Prepared for TractPrepared {
    fn run(&mut self) -> Result<()> {
        let mut out = self.state.run(self.inputs.clone()).map_err(err)?;
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
        let out = out.cast_to::<f32>().map_err(err)?;
        let view = out.to_plain_array_view::<f32>().map_err(err)?;
        Ok(view.iter().copied().collect())
    }

    fn detail(&self) -> String {
        format!("{}; executor: {} thread(s)", self.source, self.threads)
    }

    fn pconv_impl(&self) -> PconvImpl {
        // The ONNX export always writes the authors' split-cat forward.
        PconvImpl::SplitCat
    }

    fn computed(&self) -> String {
        self.computed.clone()
    }

    fn profile(&mut self, passes: usize) -> Option<Result<Vec<Vec<NodeTime>>>> {
        let mut out = Vec::with_capacity(passes);
        for _ in 0..passes {
            let mut times = Vec::new();
            // tract's own per-node hook: the plan's evaluation of each node, timed.
            let run =
                self.state
                    .run_plan_with_eval(self.inputs.clone(), |ctx, state, node, inputs| {
                        let start = std::time::Instant::now();
                        let outputs = tract_onnx::tract_core::plan::eval(ctx, state, node, inputs);
                        let ms = start.elapsed().as_secs_f64() * 1e3;
                        times.push(NodeTime {
                            node: node.name.clone(),
                            op: node.op().name().to_string(),
                            values: Vec::new(),
                            ms,
                        });
                        outputs
                    });
            if let Err(e) = run {
                return Some(Err(err(e)));
            }
            out.push(times);
        }
        Some(Ok(out))
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

    /// f32, f16 (tract computes f16 graphs in f16, with f16 accumulation in some of its
    /// kernels), and int8's QDQ graphs — which tract runs in f32 on quantized values (its
    /// DequantizeLinear folding does not reach Conv): the row's `computed` says so. No
    /// bf16: tract has no bf16 type.
    fn supports(&self, dtype: Dtype) -> std::result::Result<(), String> {
        match dtype {
            Dtype::F32 | Dtype::F16 | Dtype::Int8 => Ok(()),
            Dtype::Bf16 => Err("tract has no bf16 type".into()),
        }
    }

    fn prepare(
        &self,
        model: &Model,
        device: &DeviceSpec,
        settings: &Settings,
    ) -> Result<Box<dyn Prepared>> {
        ensure_available(self, device)?;
        let bytes = crate::onnx::to_bytes_as(model, settings.dtype);
        let typed = tract_onnx::onnx()
            .model_for_read(&mut bytes.as_slice())
            .and_then(|m| m.into_optimized())
            .map_err(err)?;
        let source = format!("optimised graph: {} nodes", typed.nodes().len());
        let elem = match settings.dtype {
            Dtype::F16 => InputType::F16,
            _ => InputType::F32,
        };
        let input = tensor(&model.input_dims(), &model.input, elem)?;
        let mut computed = arithmetic(&typed);
        // tract names integer types u8, i8, qu8(…): a float type means simulated.
        if model.quantized() && computed.starts_with('f') {
            computed = format!("{computed} (QDQ simulated)");
        }
        runnable(
            typed,
            tvec![input.into_tvalue()],
            source,
            computed,
            settings,
        )
    }

    fn runs_files(&self) -> bool {
        true
    }

    fn prepare_file(
        &self,
        file: &FileRun,
        device: &DeviceSpec,
        settings: &Settings,
    ) -> Result<Box<dyn Prepared>> {
        ensure_available(self, device)?;
        // The file's intermediate shape annotations are not read: a quantizer's may name
        // the batch symbolically, which then cannot unify with the batch the run sets;
        // tract infers every shape itself.
        let mut inference = tract_onnx::onnx()
            .with_ignore_value_info(true)
            .model_for_path(&file.path)
            .map_err(err)?;
        let given = inference.nodes().len();
        let outlets = inference.input_outlets().map_err(err)?.to_vec();
        let mut inputs = TVec::new();
        for (i, outlet) in outlets.iter().enumerate() {
            let name = &inference.node(outlet.node).name;
            let input = file
                .inputs
                .iter()
                .find(|x| &x.name == name)
                .ok_or_else(|| {
                    err(format!(
                        "tract reads an input '{name}' the file does not declare"
                    ))
                })?;
            let value = tensor(&input.dims, &input.data, input.elem)?;
            inference
                .set_input_fact(i, InferenceFact::dt_shape(value.datum_type(), &input.dims))
                .map_err(err)?;
            inputs.push(value.into_tvalue());
        }
        let typed = inference.into_optimized().map_err(err)?;
        let source = format!(
            "the model file as given ({given} nodes as tract reads it), optimised: {} nodes",
            typed.nodes().len()
        );
        let mut computed = arithmetic(&typed);
        if file.quantized && computed.starts_with('f') {
            computed = format!("{computed} (QDQ simulated)");
        }
        runnable(typed, inputs, source, computed, settings)
    }
}

/// A tensor of shape `dims` holding `data` as `elem`.
fn tensor(dims: &[usize], data: &[f32], elem: InputType) -> Result<Tensor> {
    let t = Tensor::from_shape(dims, data).map_err(err)?;
    let to = match elem {
        InputType::F32 => return Ok(t),
        InputType::F16 => f16::datum_type(),
        InputType::U8 => u8::datum_type(),
        InputType::I8 => i8::datum_type(),
    };
    // Integer inputs hold integral values already: the cast is exact.
    t.cast_to_dt(to).map(|c| c.into_owned()).map_err(err)
}

/// What tract's optimised graph computes in: the element types its convolution and
/// matrix-product nodes read (`f32 (OptMatMul ×10)`; `i8/u8` where it runs integers).
fn arithmetic(typed: &TypedModel) -> String {
    let mut seen: Vec<(String, String, usize)> = Vec::new();
    for node in typed.nodes() {
        let op = node.op().name().to_string();
        let lower = op.to_lowercase();
        if !["conv", "matmul", "mmm", "depthwise"]
            .iter()
            .any(|k| lower.contains(k))
        {
            continue;
        }
        let datum = node
            .inputs
            .first()
            .and_then(|i| typed.outlet_fact(*i).ok())
            .map_or("?".to_string(), |f| {
                format!("{:?}", f.datum_type).to_lowercase()
            });
        match seen.iter_mut().find(|(d, o, _)| *d == datum && *o == op) {
            Some(entry) => entry.2 += 1,
            None => seen.push((datum, op, 1)),
        }
    }
    if seen.is_empty() {
        return "f32".into();
    }
    let mut types: Vec<&str> = seen.iter().map(|(d, _, _)| d.as_str()).collect();
    types.dedup();
    let ops: Vec<String> = seen.iter().map(|(_, o, n)| format!("{o} ×{n}")).collect();
    format!("{} ({})", types.join("+"), ops.join(", "))
}

/// The optimised `typed` model, ready to run on `inputs` with `settings.threads` threads.
fn runnable(
    typed: TypedModel,
    inputs: TVec<TValue>,
    source: String,
    computed: String,
    settings: &Settings,
) -> Result<Box<dyn Prepared>> {
    // One thread: tract's default single-thread executor (multithread(1) would use
    // rayon's global pool). More: a private pool of exactly that many threads.
    let options = RunOptions {
        executor: (settings.threads > 1)
            .then(|| tract_linalg::multithread::Executor::multithread(settings.threads)),
        ..Default::default()
    };
    let plan = typed.into_runnable_with_options(&options).map_err(err)?;
    let state = plan.spawn().map_err(err)?;
    Ok(Box::new(TractPrepared {
        state,
        inputs,
        output: None,
        source,
        threads: settings.threads,
        computed,
    }))
}
