//! candle (candle-core, pure Rust): runs any model node by node with candle's own ops.
//! Grouped and depthwise convs are candle's implementation (it loops over the groups);
//! that is measured as it is, a finding rather than something to hide.

use std::sync::{Arc, Mutex};

use candle_core::{DType, Device, Tensor};

use super::{Backend, NodeTime, PconvImpl, Prepared, Settings, ensure_available, probe_host_cpu};
use crate::device::DeviceSpec;
use crate::error::{Error, Result};
use crate::model::{Model, NodeParams};
use crate::spec::{Activation, Dtype, Layer, PoolKind};

/// The candle-core version this build links (checked against Cargo.lock by a test).
pub const VERSION: &str = "0.11.1";

/// A rayon pool of exactly `threads` threads, shared by every model prepared with that
/// count: candle's kernels (and gemm's) run inside it, so a 1-thread case never borrows
/// the threads of a larger global pool.
fn pool(threads: usize) -> Result<Arc<rayon::ThreadPool>> {
    static POOLS: Mutex<Vec<(usize, Arc<rayon::ThreadPool>)>> = Mutex::new(Vec::new());
    let mut pools = POOLS.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, p)) = pools.iter().find(|(n, _)| *n == threads) {
        return Ok(p.clone());
    }
    let p = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("flopsbench-candle-{i}"))
            .build()
            .map_err(|e| Error::Backend {
                backend: "candle".into(),
                message: format!("cannot start {threads} threads: {e}"),
            })?,
    );
    pools.push((threads, p.clone()));
    Ok(p)
}

/// Sets the thread count candle's gemm splits its work into: candle reads
/// `RAYON_NUM_THREADS` on every call. The CLI sets it before any backend runs, and
/// `prepare` changes it where the CLI set it and a case asks for another count (`peak`,
/// suites); the work itself runs in a rayon pool of exactly that many threads. Library
/// users (and tests) who never call it get candle's default.
fn set_threads(threads: usize) {
    if std::env::var("RAYON_NUM_THREADS").ok() != Some(threads.to_string()) {
        // SAFETY: flopsbench prepares and runs backends from one thread, one case at a
        // time; between cases no backend thread is working or reading the environment. In
        // a fleet run, the threads that talk to remote devices use only std (process
        // spawning, pipes), which reads the environment under the same lock set_var takes.
        unsafe { std::env::set_var("RAYON_NUM_THREADS", threads.to_string()) };
    }
}

/// The candle backend.
#[derive(Debug, Clone, Copy)]
pub struct Candle;

fn err(e: candle_core::Error) -> Error {
    Error::Backend {
        backend: "candle".into(),
        message: e.to_string(),
    }
}

/// The candle element type of `dtype` (f32 and f16; `supports` refuses the others).
fn candle_dtype(dtype: Dtype) -> DType {
    match dtype {
        Dtype::F16 => DType::F16,
        _ => DType::F32,
    }
}

impl Weights {
    /// These weights as `dtype` tensors.
    fn into_dtype(self, dtype: DType) -> Result<Weights> {
        let to = |t: Tensor| t.to_dtype(dtype).map_err(err);
        let opt = |t: Option<Tensor>| t.map(to).transpose();
        Ok(match self {
            Weights::None => Weights::None,
            Weights::Conv { weight, bias } => Weights::Conv {
                weight: to(weight)?,
                bias: opt(bias)?,
            },
            Weights::Affine { scale, shift } => Weights::Affine {
                scale: to(scale)?,
                shift: to(shift)?,
            },
            Weights::Linear { weight_t, bias } => Weights::Linear {
                weight_t: to(weight_t)?,
                bias: opt(bias)?,
            },
        })
    }
}

/// A node's parameters as candle tensors.
enum Weights {
    None,
    Conv {
        weight: Tensor,
        bias: Option<Tensor>,
    },
    Affine {
        scale: Tensor,
        shift: Tensor,
    },
    Linear {
        weight_t: Tensor,
        bias: Option<Tensor>,
    },
}

struct Step {
    /// The layer's name (per-layer profiles).
    name: String,
    layer: Layer,
    inputs: Vec<usize>,
    weights: Weights,
    /// Tensors (by id) whose last reader is this step, freed after it.
    frees: Vec<usize>,
}

struct CandlePrepared {
    steps: Vec<Step>,
    input: Tensor,
    output: Option<Tensor>,
    pconv_impl: PconvImpl,
    device: Device,
    pool: Arc<rayon::ThreadPool>,
}

fn tensor(data: &[f32], dims: &[usize], device: &Device) -> Result<Tensor> {
    Tensor::from_slice(data, dims, device).map_err(err)
}

fn weights(layer: &Layer, params: &NodeParams, device: &Device) -> Result<Weights> {
    Ok(match (layer, params) {
        (Layer::Conv(c), NodeParams::Conv { weight, bias }) => Weights::Conv {
            weight: tensor(
                weight,
                &[c.c_out, c.c_in / c.groups, c.kernel, c.kernel],
                device,
            )?,
            bias: bias
                .as_ref()
                .map(|b| tensor(b, &[1, c.c_out, 1, 1], device))
                .transpose()?,
        },
        (Layer::PConv(p), NodeParams::Conv { weight, .. }) => Weights::Conv {
            weight: tensor(weight, &[p.partial, p.partial, p.kernel, p.kernel], device)?,
            bias: None,
        },
        (Layer::BatchNorm { channels }, NodeParams::BatchNorm { scale, shift }) => {
            Weights::Affine {
                scale: tensor(scale, &[1, *channels, 1, 1], device)?,
                shift: tensor(shift, &[1, *channels, 1, 1], device)?,
            }
        }
        (
            Layer::Linear {
                in_features,
                out_features,
                ..
            },
            NodeParams::Linear { weight, bias },
        ) => Weights::Linear {
            weight_t: tensor(weight, &[*out_features, *in_features], device)?
                .t()
                .and_then(|t| t.contiguous())
                .map_err(err)?,
            bias: bias
                .as_ref()
                .map(|b| tensor(b, &[1, *out_features], device))
                .transpose()?,
        },
        _ => Weights::None,
    })
}

/// Pads dims 2 and 3 of an NCHW tensor by `p` on each side with `value`.
fn pad_spatial(x: &Tensor, p: usize, value: f32) -> candle_core::Result<Tensor> {
    if p == 0 {
        return Ok(x.clone());
    }
    let (n, c, h, w) = x.dims4()?;
    let side = Tensor::full(value, (n, c, h, p), x.device())?.to_dtype(x.dtype())?;
    let x = Tensor::cat(&[&side, x, &side], 3)?;
    let top = Tensor::full(value, (n, c, p, w + 2 * p), x.device())?.to_dtype(x.dtype())?;
    Tensor::cat(&[&top, &x, &top], 2)
}

fn activation(x: &Tensor, act: Activation) -> candle_core::Result<Tensor> {
    match act {
        Activation::Relu => x.relu(),
        Activation::Relu6 => x.clamp(0f32, 6f32),
        Activation::Gelu => x.gelu_erf(),
        Activation::Hardsigmoid => x.affine(1.0 / 6.0, 0.5)?.clamp(0f32, 1f32),
        Activation::Hardswish => x.affine(1.0 / 6.0, 0.5)?.clamp(0f32, 1f32)?.mul(x),
    }
}

impl CandlePrepared {
    fn step(&self, step: &Step, values: &[Option<Tensor>]) -> candle_core::Result<Tensor> {
        let arg = |i: usize| {
            values[step.inputs[i]]
                .as_ref()
                .expect("inputs are live until their last reader")
        };
        let x = arg(0);
        match (&step.layer, &step.weights) {
            (Layer::Conv(c), Weights::Conv { weight, bias }) => {
                let y = x.conv2d(weight, c.padding, c.stride, 1, c.groups)?;
                match bias {
                    Some(b) => y.broadcast_add(b),
                    None => Ok(y),
                }
            }
            (Layer::PConv(p), Weights::Conv { weight, .. }) => {
                let x1 = x.narrow(1, 0, p.partial)?;
                let y1 = x1.conv2d(weight, p.kernel / 2, 1, 1, 1)?;
                if p.partial == p.channels {
                    return Ok(y1);
                }
                match self.pconv_impl {
                    PconvImpl::SplitCat => {
                        let x2 = x.narrow(1, p.partial, p.channels - p.partial)?;
                        Tensor::cat(&[&y1, &x2], 1)
                    }
                    PconvImpl::Slicing => {
                        let (n, _, h, w) = x.dims4()?;
                        x.slice_assign(&[0..n, 0..p.partial, 0..h, 0..w], &y1)
                    }
                }
            }
            (Layer::BatchNorm { .. }, Weights::Affine { scale, shift }) => {
                x.broadcast_mul(scale)?.broadcast_add(shift)
            }
            (Layer::Act(a), _) => activation(x, *a),
            (
                Layer::Pool {
                    kind,
                    kernel,
                    stride,
                    padding,
                },
                _,
            ) => match kind {
                PoolKind::Max => pad_spatial(x, *padding, f32::NEG_INFINITY)?
                    .max_pool2d_with_stride((*kernel, *kernel), (*stride, *stride)),
                PoolKind::Avg => pad_spatial(x, *padding, 0.0)?
                    .avg_pool2d_with_stride((*kernel, *kernel), (*stride, *stride)),
            },
            (Layer::GlobalAvgPool, _) => x.mean_keepdim(3)?.mean_keepdim(2),
            (Layer::Linear { .. }, Weights::Linear { weight_t, bias }) => {
                let y = x.flatten_from(1)?.matmul(weight_t)?;
                match bias {
                    Some(b) => y.broadcast_add(b),
                    None => Ok(y),
                }
            }
            (Layer::Add, _) => x.add(arg(1)),
            (Layer::Mul, _) => x.broadcast_mul(arg(1)),
            (Layer::Concat, _) => {
                let parts: Vec<&Tensor> = (0..step.inputs.len()).map(arg).collect();
                Tensor::cat(&parts, 1)
            }
            (Layer::Slice { start, end }, _) => x.narrow(1, *start, end - start),
            (Layer::Flatten, _) => x.flatten_from(1),
            (layer, _) => candle_core::bail!("no parameters prepared for {layer}"),
        }
    }
}

impl CandlePrepared {
    /// One forward pass; with `times`, each step synchronised and timed on its own.
    fn forward(&self, mut times: Option<&mut Vec<NodeTime>>) -> Result<Option<Tensor>> {
        let mut values: Vec<Option<Tensor>> = Vec::with_capacity(self.steps.len() + 1);
        values.push(Some(self.input.clone()));
        for step in &self.steps {
            let start = std::time::Instant::now();
            let y = self.step(step, &values).map_err(err)?;
            if let Some(times) = times.as_deref_mut() {
                self.device.synchronize().map_err(err)?;
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

impl Prepared for CandlePrepared {
    fn run(&mut self) -> Result<()> {
        let pool = self.pool.clone();
        // Inside its own pool the calling thread is a worker: one thread really is one
        // (no hand-off to a global pool per op).
        let output = pool.install(|| self.forward(None))?;
        self.output = output;
        Ok(())
    }

    fn profile(&mut self, passes: usize) -> Option<Result<Vec<Vec<NodeTime>>>> {
        let pool = self.pool.clone();
        Some(pool.install(|| {
            (0..passes)
                .map(|_| {
                    let mut times = Vec::with_capacity(self.steps.len());
                    self.forward(Some(&mut times))?;
                    Ok(times)
                })
                .collect()
        }))
    }

    fn sync(&mut self) -> Result<()> {
        self.device.synchronize().map_err(err)
    }

    fn output(&mut self) -> Result<Vec<f32>> {
        let out = self.output.as_ref().ok_or_else(|| Error::Backend {
            backend: "candle".into(),
            message: "output requested before any run".into(),
        })?;
        out.to_dtype(DType::F32)
            .and_then(|t| t.flatten_all())
            .and_then(|t| t.to_vec1::<f32>())
            .map_err(err)
    }

    fn detail(&self) -> String {
        format!("eager, {} nodes", self.steps.len())
    }

    fn pconv_impl(&self) -> PconvImpl {
        self.pconv_impl
    }

    fn computed(&self) -> String {
        match self.input.dtype() {
            // gemm-f16 widens to f32 for its multiply-adds on x86 (no AVX512-FP16 path).
            DType::F16 if cfg!(target_arch = "x86_64") => {
                "f16 (f16 tensors; gemm-f16 multiplies in f32 on x86)".into()
            }
            DType::F16 => "f16 (f16 tensors, gemm-f16)".into(),
            _ => "f32".into(),
        }
    }
}

impl Backend for Candle {
    fn name(&self) -> &'static str {
        "candle"
    }

    fn version(&self) -> String {
        VERSION.into()
    }

    fn configure(&self, global: &super::Global) {
        set_threads(global.threads);
    }

    fn reference_preference(&self) -> Option<u8> {
        Some(1)
    }

    /// f32 and f16 (f16 tensors; gemm-f16 widens to f32 on x86); not bf16: candle 0.11's
    /// CPU conv2d takes no bf16 (its matmul path has none).
    fn supports(&self, dtype: Dtype) -> std::result::Result<(), String> {
        match dtype {
            Dtype::F32 | Dtype::F16 => Ok(()),
            Dtype::Bf16 => {
                Err("candle 0.11's CPU conv2d takes no bf16 (its matmul path has none)".into())
            }
            Dtype::Int8 => Err("candle has no int8 convolution".into()),
        }
    }

    fn probe(&self, device: &DeviceSpec) -> std::result::Result<(), String> {
        probe_host_cpu(
            device,
            "this build of candle has no CUDA support (candle's `cuda` feature, which needs nvcc and the CUDA toolkit, is not enabled in flopsbench); use --backend ort or tch on a GPU",
        )
    }

    fn prepare(
        &self,
        model: &Model,
        device: &DeviceSpec,
        settings: &Settings,
    ) -> Result<Box<dyn Prepared>> {
        ensure_available(self, device)?;
        if std::env::var_os("RAYON_NUM_THREADS").is_some() {
            set_threads(settings.threads);
        }
        let dev = Device::Cpu;
        let dt = candle_dtype(settings.dtype);
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
                Ok(Step {
                    name: node.name.clone(),
                    layer: node.layer,
                    inputs: node.inputs.iter().map(|t| t.0).collect(),
                    weights: weights(&node.layer, params, &dev)?.into_dtype(dt)?,
                    frees: (0..=n)
                        .filter(|t| last_reader[*t] == i && *t != 0)
                        .collect(),
                })
            })
            .collect::<Result<Vec<Step>>>()?;
        Ok(Box::new(CandlePrepared {
            steps,
            input: tensor(&model.input, &model.input_dims(), &dev)?
                .to_dtype(dt)
                .map_err(err)?,
            output: None,
            pconv_impl: settings.pconv_impl,
            device: dev,
            pool: pool(settings.threads)?,
        }))
    }
}
