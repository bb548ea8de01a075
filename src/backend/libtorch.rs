//! libtorch through tch (cargo feature `tch`): PyTorch's own eager kernels, the framework
//! the paper measured. Every node runs as the matching ATen op under `no_grad`; PConv is
//! the authors' forward (split, conv, cat) or their slicing variant. On CUDA, cudnn's
//! benchmark mode is on and `sync` is a device synchronize.

mod cuda_events;
mod int_mm;
pub mod onednn;

use tch::{Device, Kind, Tensor};

use super::{Backend, NodeTime, PconvImpl, Prepared, Settings, ensure_available};
use crate::device::DeviceSpec;
use crate::error::{Error, Result};
use crate::model::{Model, NodeParams};
use crate::spec::{Activation, Dtype, Layer, PoolKind};

/// The tch version this build links (checked against Cargo.lock by a test).
pub const VERSION: &str = "0.26.0";
/// The version of the libtorch this build links, read by build.rs from that libtorch's
/// files (`torch/version.py`); a test checks it is the one scripts/setup-libtorch installs.
pub const LIBTORCH_VERSION: &str = env!("FLOPSBENCH_LIBTORCH_VERSION");

/// The libtorch backend.
#[derive(Debug, Clone, Copy)]
pub struct Tch;

fn err(e: tch::TchError) -> Error {
    Error::Backend {
        backend: "tch".into(),
        message: e.to_string(),
    }
}

fn kind(dtype: Dtype) -> Kind {
    match dtype {
        Dtype::F32 => Kind::Float,
        Dtype::F16 => Kind::Half,
        Dtype::Bf16 => Kind::BFloat16,
        // Only peak's GEMM is prepared at int8, by `int_mm`.
        Dtype::Int8 => Kind::Int8,
    }
}

fn device_of(device: &DeviceSpec) -> Device {
    match device {
        DeviceSpec::Cuda(n) => Device::Cuda(*n),
        _ => Device::Cpu,
    }
}

/// A tensor of `dims` on `device` in `kind`, from f32 data.
fn tensor(data: &[f32], dims: &[usize], device: Device, kind: Kind) -> Result<Tensor> {
    let dims: Vec<i64> = dims.iter().map(|&d| d as i64).collect();
    Tensor::f_from_slice(data)
        .and_then(|t| t.f_view(dims.as_slice()))
        .and_then(|t| t.f_to_device(device))
        .and_then(|t| t.f_to_kind(kind))
        .map_err(err)
}

struct Step {
    /// The layer's name (per-layer profiles).
    name: String,
    layer: Layer,
    inputs: Vec<usize>,
    weight: Option<Tensor>,
    bias: Option<Tensor>,
    frees: Vec<usize>,
}

struct TchPrepared {
    steps: Vec<Step>,
    input: Tensor,
    output: Option<Tensor>,
    pconv_impl: PconvImpl,
    device: Device,
    /// Its first convolution of each kind, to ask oneDNN which kernel runs it.
    probes: Vec<onednn::Probe>,
    /// On a GPU: the CUDA events around each run, or why there are none.
    timer: Option<std::result::Result<cuda_events::Timer, String>>,
    /// On a GPU with `--l2-flush`: the buffer written over its L2 (allocated at the
    /// first flush).
    flush: Option<Tensor>,
}

/// Bytes written over a GPU's L2 by `--l2-flush` (H100 and H200 have 50–60 MiB).
const GPU_FLUSH_BYTES: i64 = 256 << 20;

fn weights(
    layer: &Layer,
    params: &NodeParams,
    device: Device,
    kind: Kind,
) -> Result<(Option<Tensor>, Option<Tensor>)> {
    let t = |data: &[f32], dims: &[usize]| tensor(data, dims, device, kind).map(Some);
    Ok(match (layer, params) {
        (Layer::Conv(c), NodeParams::Conv { weight, bias }) => (
            t(weight, &[c.c_out, c.c_in / c.groups, c.kernel, c.kernel])?,
            match bias {
                Some(b) => t(b, &[c.c_out])?,
                None => None,
            },
        ),
        (Layer::PConv(p), NodeParams::Conv { weight, .. }) => (
            t(weight, &[p.partial, p.partial, p.kernel, p.kernel])?,
            None,
        ),
        (Layer::BatchNorm { channels }, NodeParams::BatchNorm { scale, shift }) => (
            t(scale, &[1, *channels, 1, 1])?,
            t(shift, &[1, *channels, 1, 1])?,
        ),
        (
            Layer::Linear {
                in_features,
                out_features,
                ..
            },
            NodeParams::Linear { weight, bias },
        ) => (
            t(weight, &[*out_features, *in_features])?,
            match bias {
                Some(b) => t(b, &[*out_features])?,
                None => None,
            },
        ),
        _ => (None, None),
    })
}

fn activation(x: &Tensor, act: Activation) -> std::result::Result<Tensor, tch::TchError> {
    match act {
        Activation::Relu => x.f_relu(),
        Activation::Relu6 => x.f_relu6(),
        Activation::Gelu => x.f_gelu("none"),
        Activation::Hardsigmoid => x.f_hardsigmoid(),
        Activation::Hardswish => x.f_hardswish(),
    }
}

fn missing(layer: &Layer) -> tch::TchError {
    tch::TchError::Kind(format!("no parameters prepared for {layer}"))
}

impl TchPrepared {
    fn step(
        &self,
        step: &Step,
        values: &[Option<Tensor>],
    ) -> std::result::Result<Tensor, tch::TchError> {
        let arg = |i: usize| {
            values[step.inputs[i]]
                .as_ref()
                .expect("inputs are live until their last reader")
        };
        let x = arg(0);
        let weight = || step.weight.as_ref().ok_or_else(|| missing(&step.layer));
        match &step.layer {
            Layer::Conv(c) => x.f_conv2d(
                weight()?,
                step.bias.as_ref(),
                [c.stride as i64; 2],
                [c.padding as i64; 2],
                [1i64; 2],
                c.groups as i64,
            ),
            Layer::PConv(p) => {
                let (part, rest) = (p.partial as i64, (p.channels - p.partial) as i64);
                let pad = [(p.kernel / 2) as i64; 2];
                let conv = |x1: &Tensor| {
                    x1.f_conv2d(weight()?, None::<&Tensor>, [1i64; 2], pad, [1i64; 2], 1)
                };
                if rest == 0 {
                    return conv(x);
                }
                match self.pconv_impl {
                    PconvImpl::SplitCat => {
                        let y1 = conv(&x.f_narrow(1, 0, part)?)?;
                        Tensor::f_cat(&[&y1, &x.f_narrow(1, part, rest)?], 1)
                    }
                    PconvImpl::Slicing => {
                        let mut out = x.f_empty_like()?;
                        out.f_copy_(x)?;
                        let y1 = conv(&x.f_narrow(1, 0, part)?)?;
                        out.f_narrow(1, 0, part)?.f_copy_(&y1)?;
                        Ok(out)
                    }
                }
            }
            Layer::BatchNorm { .. } => {
                let shift = step.bias.as_ref().ok_or_else(|| missing(&step.layer))?;
                x.f_mul(weight()?)?.f_add(shift)
            }
            Layer::Act(a) => activation(x, *a),
            Layer::Pool {
                kind,
                kernel,
                stride,
                padding,
            } => {
                let (k, s, p) = (
                    [*kernel as i64; 2],
                    [*stride as i64; 2],
                    [*padding as i64; 2],
                );
                match kind {
                    PoolKind::Max => x.f_max_pool2d(k, s, p, [1i64; 2], false),
                    PoolKind::Avg => x.f_avg_pool2d(k, s, p, false, true, None::<i64>),
                }
            }
            Layer::GlobalAvgPool => x.f_adaptive_avg_pool2d([1i64, 1]),
            Layer::Linear { .. } => x.f_flatten(1, -1)?.f_linear(weight()?, step.bias.as_ref()),
            Layer::Add => x.f_add(arg(1)),
            Layer::Mul => x.f_mul(arg(1)),
            Layer::Concat => {
                let parts: Vec<&Tensor> = (0..step.inputs.len()).map(arg).collect();
                Tensor::f_cat(&parts, 1)
            }
            Layer::Slice { start, end } => x.f_narrow(1, *start as i64, (end - start) as i64),
            Layer::Flatten => x.f_flatten(1, -1),
        }
    }
}

impl TchPrepared {
    /// On a GPU, records the start (or end) event of a run; a failure leaves the row
    /// without GPU times (`detail` says why), never without its host times.
    fn record_event(&mut self, start: bool) {
        if let Some(Ok(timer)) = &mut self.timer {
            let recorded = if start { timer.start() } else { timer.stop() };
            if let Err(why) = recorded {
                self.timer = Some(Err(why));
            }
        }
    }

    /// One forward pass; with `times`, each step synchronised and timed on its own.
    fn forward(&self, mut times: Option<&mut Vec<NodeTime>>) -> Result<Option<Tensor>> {
        let _no_grad = tch::no_grad_guard();
        let mut values: Vec<Option<Tensor>> = Vec::with_capacity(self.steps.len() + 1);
        values.push(Some(self.input.shallow_clone()));
        for step in &self.steps {
            let start = std::time::Instant::now();
            let y = self.step(step, &values).map_err(err)?;
            if let Some(times) = times.as_deref_mut() {
                if let Device::Cuda(n) = self.device {
                    tch::Cuda::synchronize(n as i64);
                }
                let ms = start.elapsed().as_secs_f64() * 1e3;
                times.push(NodeTime {
                    node: step.name.clone(),
                    op: step.layer.op_name().to_string(),
                    values: Vec::new(),
                    ms,
                });
            }
            values.push(Some(y));
            for &t in &step.frees {
                values[t] = None;
            }
        }
        Ok(values.pop().flatten())
    }
}

/// The first convolution of each kind (dense — PConv's partial one included —, grouped,
/// depthwise) of `model`, as it runs with `batch`, `threads` and `dtype`.
fn probes(model: &Model, batch: usize, threads: usize, dtype: Dtype) -> Vec<onednn::Probe> {
    let mut out: Vec<onednn::Probe> = Vec::new();
    for node in &model.net.nodes {
        let input = model.net.input_shapes(node)[0];
        let (conv, input) = match node.layer {
            Layer::Conv(c) => (c, input),
            Layer::PConv(p) => (
                crate::spec::Conv2d::new(p.partial, p.partial, p.kernel, 1, 1),
                crate::spec::Shape::new(p.partial, input.h, input.w),
            ),
            _ => continue,
        };
        let probe = onednn::Probe::of(conv, input, batch, threads, dtype);
        if !out.iter().any(|p| p.kind == probe.kind) {
            out.push(probe);
        }
    }
    out
}

impl Prepared for TchPrepared {
    fn run(&mut self) -> Result<()> {
        self.record_event(true);
        self.output = self.forward(None)?;
        self.record_event(false);
        Ok(())
    }

    fn device_ms(&mut self) -> Option<f64> {
        let Some(Ok(timer)) = &mut self.timer else {
            return None;
        };
        match timer.elapsed_ms()? {
            Ok(ms) => Some(ms),
            Err(why) => {
                // Said in `detail`; the row keeps its host times.
                self.timer = Some(Err(why));
                None
            }
        }
    }

    fn flush_device_cache(&mut self) -> Option<Result<()>> {
        if !matches!(self.device, Device::Cuda(_)) {
            return None;
        }
        let flush = match &mut self.flush {
            Some(buffer) => buffer.f_fill_(1).map(|_| ()),
            None => Tensor::f_ones([GPU_FLUSH_BYTES], (Kind::Int8, self.device)).map(|buffer| {
                self.flush = Some(buffer);
            }),
        };
        Some(flush.map_err(err))
    }

    fn profile(&mut self, passes: usize) -> Option<Result<Vec<Vec<NodeTime>>>> {
        Some(
            (0..passes)
                .map(|_| {
                    let mut times = Vec::with_capacity(self.steps.len());
                    self.forward(Some(&mut times))?;
                    Ok(times)
                })
                .collect(),
        )
    }

    fn sync(&mut self) -> Result<()> {
        if let Device::Cuda(n) = self.device {
            tch::Cuda::synchronize(n as i64);
        }
        Ok(())
    }

    fn output(&mut self) -> Result<Vec<f32>> {
        let out = self.output.as_ref().ok_or_else(|| Error::Backend {
            backend: "tch".into(),
            message: "output requested before any run".into(),
        })?;
        let flat = out
            .f_to_device(Device::Cpu)
            .and_then(|t| t.f_to_kind(Kind::Float))
            .and_then(|t| t.f_flatten(0, -1))
            .map_err(err)?;
        Vec::<f32>::try_from(&flat).map_err(err)
    }

    fn detail(&self) -> String {
        let where_ = match self.device {
            Device::Cuda(_) => {
                ", cudnn.benchmark; input, weights and activations stay on the device (no \
                 host↔device copy in a timed run)"
            }
            _ => "",
        };
        let events = match &self.timer {
            Some(Ok(_)) => "; GPU time from CUDA events around each run".to_string(),
            Some(Err(why)) => format!("; no GPU time: {why}"),
            None => String::new(),
        };
        format!(
            "eager, no_grad, {} ATen ops{where_}{events}",
            self.steps.len()
        )
    }

    fn pconv_impl(&self) -> PconvImpl {
        self.pconv_impl
    }

    fn computed(&self) -> String {
        let kind = match self.output.as_ref().map(Tensor::kind) {
            Some(Kind::Float) => "f32",
            Some(Kind::Half) => "f16",
            Some(Kind::BFloat16) => "bf16",
            Some(_) => "another type",
            None => "not run",
        };
        let on_cpu = !matches!(self.device, Device::Cuda(_));
        let kernels: Vec<String> = self
            .probes
            .iter()
            .filter(|_| on_cpu && self.output.is_some())
            .map(|p| format!("{} {}", p.kind, onednn::kernel(p)))
            .collect();
        if kernels.is_empty() {
            format!("{kind} (ATen ops, every tensor {kind})")
        } else {
            format!(
                "{kind} (ATen ops, every tensor {kind}; oneDNN: {})",
                kernels.join(", ")
            )
        }
    }
}

impl Backend for Tch {
    fn name(&self) -> &'static str {
        "tch"
    }

    fn version(&self) -> String {
        format!("libtorch {LIBTORCH_VERSION} (tch {VERSION})")
    }

    /// f32, f16 and bf16 (oneDNN on the CPU); int8 for peak's GEMM only (see
    /// [`Backend::refuses_case`]).
    fn supports(&self, _dtype: Dtype) -> std::result::Result<(), String> {
        Ok(())
    }

    /// At int8, every case but peak's GEMM on a CPU: tch's API has no quantized
    /// convolution (PyTorch reaches one only through TorchScript files made in Python);
    /// the GEMM runs as `torch._int_mm`.
    fn refuses_case(
        &self,
        case: &crate::target::Case,
        device: &DeviceSpec,
        dtype: Dtype,
    ) -> Option<String> {
        if dtype != Dtype::Int8 {
            return None;
        }
        let gemm = case.kind == crate::spec::CaseKind::Peak && case.name == "gemm";
        if !gemm {
            Some(
                "tch has no quantized convolution in its API (PyTorch reaches one only \
                 through TorchScript files made in Python); at int8 it runs peak's GEMM \
                 only, as torch._int_mm"
                    .into(),
            )
        } else if matches!(device, DeviceSpec::Cuda(_)) {
            Some("tch's int8 GEMM (torch._int_mm) is measured on CPUs only".into())
        } else {
            None
        }
    }

    fn probe(&self, device: &DeviceSpec) -> std::result::Result<(), String> {
        match device {
            DeviceSpec::Cuda(n) => {
                let count = tch::Cuda::device_count();
                if !tch::Cuda::is_available() {
                    Err(
                        "libtorch sees no CUDA device: this build links the CPU libtorch \
                         (scripts/setup-libtorch --cuda installs the CUDA build; rebuild with \
                         its LIBTORCH) or the host has no GPU/driver"
                            .into(),
                    )
                } else if (*n as i64) >= count {
                    Err(format!(
                        "cuda:{n} does not exist: libtorch sees {count} device(s)"
                    ))
                } else {
                    Ok(())
                }
            }
            d if d.is_host_cpu() => Ok(()),
            d => Err(format!(
                "{d} is not this host's CPU; a device of devices.toml runs its own worker"
            )),
        }
    }

    fn prepare(
        &self,
        model: &Model,
        device: &DeviceSpec,
        settings: &Settings,
    ) -> Result<Box<dyn Prepared>> {
        ensure_available(self, device)?;
        tch::set_num_threads(settings.threads as i32);
        if settings.dtype == Dtype::Int8 {
            if matches!(device, DeviceSpec::Cuda(_)) {
                return Err(Error::Backend {
                    backend: "tch".into(),
                    message: "tch's int8 GEMM (torch._int_mm) is measured on CPUs only".into(),
                });
            }
            return Ok(Box::new(int_mm::prepare(model)?));
        }
        let dev = device_of(device);
        if matches!(dev, Device::Cuda(_)) {
            tch::Cuda::cudnn_set_benchmark(true);
        }
        let kind = kind(settings.dtype);
        let n = model.net.nodes.len();
        let mut last_reader = vec![usize::MAX; n + 1];
        for (i, node) in model.net.nodes.iter().enumerate() {
            for t in &node.inputs {
                last_reader[t.0] = i;
            }
        }
        let steps = model
            .net
            .nodes
            .iter()
            .zip(&model.params)
            .enumerate()
            .map(|(i, (node, params))| {
                let (weight, bias) = weights(&node.layer, params, dev, kind)?;
                Ok(Step {
                    name: node.name.clone(),
                    layer: node.layer,
                    inputs: node.inputs.iter().map(|t| t.0).collect(),
                    weight,
                    bias,
                    frees: (1..=n).filter(|t| last_reader[*t] == i).collect(),
                })
            })
            .collect::<Result<Vec<Step>>>()?;
        Ok(Box::new(TchPrepared {
            steps,
            input: tensor(&model.input, &model.input_dims(), dev, kind)?,
            output: None,
            pconv_impl: settings.pconv_impl,
            device: dev,
            probes: probes(model, model.batch, settings.threads, settings.dtype),
            timer: match dev {
                Device::Cuda(n) => Some(cuda_events::Timer::new(n)),
                _ => None,
            },
            flush: None,
        }))
    }
}
