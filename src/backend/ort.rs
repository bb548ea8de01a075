//! ONNX Runtime through ort (`load-dynamic`): runs the same ONNX bytes as tract. The
//! library is found at run time — `--ort-lib PATH`, `ORT_DYLIB_PATH`, the onnxruntime
//! package of the Python environment the binary is installed in (Linux), the project's
//! `.deps/` (scripts/setup-ort), then the system — and loaded once per process; when it
//! is missing, `probe` says how to get it instead of letting ort panic. `--device gpu`
//! registers the CUDA execution provider (onnxruntime-gpu: `scripts/setup-ort --gpu`);
//! if that fails the case is an error row with ORT's message, never a CPU fallback.

mod graph;
mod profile;
mod tensors;

use graph::{computed_by, with_optimised};

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use ort::ep::ExecutionProvider;
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::DynTensor;

use super::{Backend, NodeTime, PconvImpl, Prepared, Settings, ensure_available};
use crate::device::DeviceSpec;
use crate::error::{Error, Result};
use crate::import::FileRun;
use crate::model::Model;
use crate::spec::Dtype;

/// The ort crate version (checked against Cargo.lock by a test).
pub const CRATE_VERSION: &str = "2.0.0-rc.15";
/// The ONNX Runtime release scripts/setup-ort installs.
pub const RUNTIME_VERSION: &str = "1.31.1";

const HOW_TO_FIX: &str = "run scripts/setup-ort (installs onnxruntime==1.31.1 from PyPI into .deps/), \
     or `pip install 'flopsbench[ort]'` for a pip-installed flopsbench, \
     or pass --ort-lib PATH / set ORT_DYLIB_PATH to a libonnxruntime.so";

/// The ONNX Runtime backend.
#[derive(Debug, Clone, Copy)]
pub struct Ort;

/// A library path given on the command line (`--ort-lib`), set before first use.
static EXPLICIT: Mutex<Option<PathBuf>> = Mutex::new(None);
/// The loaded library or why it could not be loaded.
static LOADED: OnceLock<std::result::Result<Loaded, String>> = OnceLock::new();

/// ONNX Runtime, loaded: its path, version and the process's one environment.
#[derive(Clone)]
struct Loaded {
    path: PathBuf,
    version: String,
    environment: ort::environment::Environment,
}

/// Uses `path` as the ONNX Runtime library (the `--ort-lib` flag). Has no effect once
/// the library is loaded.
fn set_library(path: PathBuf) {
    if let Ok(mut explicit) = EXPLICIT.lock() {
        *explicit = Some(path);
    }
}

/// The library files matching `pattern`, sorted (the newest version last).
fn matching(pattern: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = glob::glob(pattern)
        .map(|g| g.filter_map(|p| p.ok()).filter(|p| p.is_file()).collect())
        .unwrap_or_default();
    found.sort();
    found
}

/// Whether `path` is built for this binary's architecture (or cannot tell).
fn for_this_arch(path: &Path) -> bool {
    elf_arch(path).is_none_or(|arch| arch == std::env::consts::ARCH)
}

/// Where the library is searched, in the documented order after `--ort-lib` and
/// `ORT_DYLIB_PATH`: the onnxruntime package of the Python environment the binary is
/// installed in (`pip install flopsbench[ort]`: the binary in `<env>/bin`, the package
/// in `<env>/lib/python3.*/site-packages`), `.deps/venv/…/onnxruntime/capi/` in the
/// working directory, the binary's folder or any of their ancestors, then the system
/// library folders.
fn search_patterns() -> Vec<String> {
    let cwd = std::env::current_dir().ok();
    let exe = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf));
    let env = exe.iter().filter_map(|bin| bin.parent()).map(|prefix| {
        prefix
            .join("lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.*")
            .to_string_lossy()
            .into_owned()
    });
    let env: Vec<String> = env.collect();
    let deps = cwd.iter().chain(exe.iter()).flat_map(|d| {
        d.ancestors()
            .map(|a| {
                a.join(".deps/venv/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.*")
                    .to_string_lossy()
                    .into_owned()
            })
            .collect::<Vec<_>>()
    });
    let ld = std::env::var("LD_LIBRARY_PATH").unwrap_or_default();
    let system = ld
        .split(':')
        .filter(|s| !s.is_empty())
        .map(String::from)
        .chain(
            [
                "/usr/local/lib",
                "/usr/lib",
                "/usr/lib/x86_64-linux-gnu",
                "/usr/lib/aarch64-linux-gnu",
            ]
            .map(String::from),
        )
        .map(|d| format!("{d}/libonnxruntime.so*"));
    env.into_iter().chain(deps).chain(system).collect()
}

/// Where the library is, in the documented order, or why none was found. Libraries built
/// for another architecture (an emulated aarch64 worker finds the x86_64 one in `.deps/`)
/// are passed over, and named when nothing else is found.
pub fn find_library() -> std::result::Result<PathBuf, String> {
    let explicit = EXPLICIT.lock().ok().and_then(|e| e.clone());
    if let Some(p) = explicit {
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!("--ort-lib {}: no such file", p.display()))
        };
    }
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH").map(PathBuf::from) {
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!("ORT_DYLIB_PATH={}: no such file", p.display()))
        };
    }
    let found: Vec<Vec<PathBuf>> = search_patterns().iter().map(|p| matching(p)).collect();
    if let Some(p) = found
        .iter()
        .find_map(|libs| libs.iter().rev().find(|p| for_this_arch(p)))
    {
        return Ok(p.clone());
    }
    Err(match found.iter().flatten().next() {
        Some(path) => format!(
            "no ONNX Runtime library for {} was found ({} is built for {}); install ONNX \
             Runtime for {} on this machine and point ORT_DYLIB_PATH at it",
            std::env::consts::ARCH,
            path.display(),
            elf_arch(path).unwrap_or("another architecture"),
            std::env::consts::ARCH
        ),
        None => format!("ONNX Runtime library not found; {HOW_TO_FIX}"),
    })
}

/// The architecture a shared library is built for, from its ELF header (`e_machine`).
fn elf_arch(path: &Path) -> Option<&'static str> {
    use std::io::Read;
    let mut head = [0u8; 20];
    std::fs::File::open(path).ok()?.read_exact(&mut head).ok()?;
    if &head[..4] != b"\x7fELF" {
        return None;
    }
    // Little-endian e_machine at offset 18 (every target flopsbench runs on).
    match u16::from_le_bytes([head[18], head[19]]) {
        0x3e => Some("x86_64"),
        0xb7 => Some("aarch64"),
        0x03 => Some("x86"),
        0x28 => Some("arm"),
        0xf3 => Some("riscv64"),
        _ => None,
    }
}

fn version_of(path: &Path) -> String {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name.strip_prefix("libonnxruntime.so.")
        .unwrap_or("unknown")
        .to_string()
}

fn load() -> std::result::Result<Loaded, String> {
    let path = find_library()?;
    let init = std::panic::catch_unwind(|| {
        ort::init_from(&path)
            .map_err(|e| e.to_string())?
            .with_name("flopsbench")
            .build()
            .map_err(|e| e.to_string())
    });
    match init {
        Ok(Ok(environment)) => Ok(Loaded {
            version: version_of(&path),
            path,
            environment,
        }),
        Ok(Err(e)) => Err(match elf_arch(&path) {
            Some(arch) if arch != std::env::consts::ARCH => format!(
                "{} is built for {arch}, not for this {} binary: give an ONNX Runtime library \
                 for {} with --ort-lib or ORT_DYLIB_PATH (scripts/setup-ort installs one for the \
                 machine it runs on)",
                path.display(),
                std::env::consts::ARCH,
                std::env::consts::ARCH
            ),
            _ => format!("cannot load {}: {e}; {HOW_TO_FIX}", path.display()),
        }),
        Err(_) => Err(format!(
            "loading {} panicked inside ort; {HOW_TO_FIX}",
            path.display()
        )),
    }
}

fn runtime() -> std::result::Result<&'static Loaded, String> {
    LOADED.get_or_init(load).as_ref().map_err(Clone::clone)
}

/// The loaded library's path and version, loading it on first use.
pub fn loaded() -> std::result::Result<(PathBuf, String), String> {
    runtime().map(|l| (l.path.clone(), l.version.clone()))
}

pub(super) fn err(e: impl std::fmt::Display) -> Error {
    Error::Backend {
        backend: "ort".into(),
        message: e.to_string(),
    }
}

struct OrtPrepared {
    session: Session,
    /// What the session was built from, to build a profiling one.
    model: profile::ModelBytes,
    device: DeviceSpec,
    settings: Settings,
    /// The inputs by name, in the graph's order.
    inputs: Vec<(String, DynTensor)>,
    /// Whether they are bound by name (a model file's) rather than by position.
    by_name: bool,
    /// What ran: the exported graph or the model file.
    source: &'static str,
    threads: usize,
    cuda: Option<usize>,
    /// Whether `run` keeps a copy of its output: until the output was read once (the check
    /// before timing), so that timed runs copy nothing.
    keep: bool,
    /// The output of the last run made while `keep` was set.
    last: Option<Vec<f32>>,
    /// What computed (see [`computed_by`]).
    computed: String,
    /// The session's optimised graph (ONNX), where it was saved: int8 graphs and model
    /// files.
    optimised: Option<Vec<u8>>,
}

impl Prepared for OrtPrepared {
    fn run(&mut self) -> Result<()> {
        let outputs = match &self.inputs[..] {
            // The exported graph has one input; a model file's are bound by name (its
            // graph may list initializers among its inputs).
            [(_, one)] if !self.by_name => self.session.run(ort::inputs![one]),
            many => self.session.run(
                many.iter()
                    .map(|(name, t)| (name.as_str(), t))
                    .collect::<Vec<_>>(),
            ),
        }
        .map_err(err)?;
        if self.keep {
            self.last = Some(tensors::to_f32(&outputs[0])?);
        }
        Ok(())
    }

    fn sync(&mut self) -> Result<()> {
        Ok(())
    }

    fn output(&mut self) -> Result<Vec<f32>> {
        if self.last.is_none() {
            // Nothing kept (no run since the output was last read): run once, keeping it.
            self.keep = true;
            self.run()?;
        }
        self.keep = false;
        self.last
            .take()
            .ok_or_else(|| err("the session returned no output"))
    }

    fn detail(&self) -> String {
        let provider = match self.cuda {
            Some(n) => format!(
                "CUDA execution provider (device {n}); each timed run includes host↔device \
                 copies (input to the GPU, output back), which the paper's GPU throughput \
                 does not"
            ),
            None => "CPU execution provider".into(),
        };
        format!(
            "{}; {provider}; graph optimisation: all (level 3); intra-op threads: {}, inter-op: 1",
            self.source, self.threads
        )
    }

    fn pconv_impl(&self) -> PconvImpl {
        PconvImpl::SplitCat
    }

    fn computed(&self) -> String {
        self.computed.clone()
    }

    fn optimised_model(&self) -> Option<&[u8]> {
        self.optimised.as_deref()
    }

    fn profile(&mut self, passes: usize) -> Option<Result<Vec<Vec<NodeTime>>>> {
        Some(profile::profile(
            &self.model,
            &self.device,
            &self.settings,
            &self.inputs,
            passes,
        ))
    }
}

impl Backend for Ort {
    fn name(&self) -> &'static str {
        "ort"
    }

    fn version(&self) -> String {
        match loaded() {
            Ok((_, v)) => format!("onnxruntime {v} (ort {CRATE_VERSION})"),
            Err(_) => format!("ort {CRATE_VERSION}, runtime not loaded"),
        }
    }

    /// f32; f16 graphs (float16 weights, input and output: the x86 CPU provider runs
    /// convolutions it has no f16 kernel for through Casts it inserts, which `computed`
    /// counts); int8 QDQ graphs (fused into QLinearConv by the level-2 optimiser:
    /// `computed` counts the optimised graph's operators). Not bf16: ONNX Conv takes bf16
    /// only from opset 22 and the CPU provider has no bf16 Conv.
    fn supports(&self, dtype: Dtype) -> std::result::Result<(), String> {
        match dtype {
            Dtype::F32 | Dtype::F16 | Dtype::Int8 => Ok(()),
            Dtype::Bf16 => Err("ort: ONNX Runtime's CPU provider has no bf16 Conv (and \
                                ONNX Conv takes bf16 only from opset 22; flopsbench writes \
                                opset 17)"
                .into()),
        }
    }

    fn configure(&self, global: &super::Global) {
        if let Some(path) = &global.ort_library {
            set_library(path.clone());
        }
    }

    fn probe(&self, device: &DeviceSpec) -> std::result::Result<(), String> {
        match device {
            DeviceSpec::Cuda(_) => {
                let (path, _) = loaded()?;
                match ort::ep::CUDA::is_available() {
                    Ok(true) => Ok(()),
                    Ok(false) => Err(format!(
                        "{} has no CUDA execution provider: scripts/setup-ort --gpu installs \
                         onnxruntime-gpu=={RUNTIME_VERSION}",
                        path.display()
                    )),
                    Err(e) => Err(format!("asking ONNX Runtime for its providers failed: {e}")),
                }
            }
            d if d.is_host_cpu() => loaded().map(|_| ()),
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
        let bytes = crate::onnx::to_bytes_as(model, settings.dtype);
        let (builder, cuda) = builder(device, settings)?;
        let quantized = model.quantized();
        let lower = quantized || settings.dtype == Dtype::F16;
        let (session, optimised) =
            with_optimised(builder, lower, |b| b.commit_from_memory(&bytes))?;
        let computed = computed(optimised.as_deref(), quantized, lower);
        let model_bytes = profile::ModelBytes::Memory(bytes);
        let elem = match settings.dtype {
            Dtype::F16 => crate::import::InputType::F16,
            _ => crate::import::InputType::F32,
        };
        let input = tensors::input(&model.input_dims(), &model.input, elem)?;
        Ok(Box::new(OrtPrepared {
            session,
            model: model_bytes,
            device: device.clone(),
            settings: *settings,
            inputs: vec![("input".into(), input)],
            by_name: false,
            source: "exported graph",
            threads: settings.threads,
            cuda,
            keep: true,
            last: None,
            computed,
            optimised,
        }))
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
        let (builder, cuda) = builder(device, settings)?;
        // A quantized or f16 file's optimised graph says what ran; an f32 file's is f32
        // (and may be too large to save).
        let lower = file.quantized || settings.dtype == Dtype::F16;
        let (session, optimised) =
            with_optimised(builder, lower, |b| b.commit_from_file(&file.path))?;
        let computed = computed(optimised.as_deref(), file.quantized, lower);
        let inputs = file
            .inputs
            .iter()
            .map(|i| Ok((i.name.clone(), tensors::input(&i.dims, &i.data, i.elem)?)))
            .collect::<Result<_>>()?;
        Ok(Box::new(OrtPrepared {
            session,
            model: profile::ModelBytes::File(file.path.clone()),
            device: device.clone(),
            settings: *settings,
            inputs,
            by_name: true,
            source: "the model file as given",
            threads: settings.threads,
            cuda,
            keep: true,
            last: None,
            computed,
            optimised,
        }))
    }
}

/// What a session computed: from its optimised graph when one was asked for (`saved`: a
/// quantized graph with a convolution left in floats is labelled `QDQ simulated`: some of
/// its quantized arithmetic ran in floats; a network's f32 Gemm is not quantized and
/// does not count); `f32` for an f32 graph.
fn computed(optimised: Option<&[u8]>, quantized: bool, saved: bool) -> String {
    match (optimised.map(computed_by), quantized) {
        (Some(Ok((c, true))), true) => format!("{c} (QDQ simulated)"),
        (Some(Ok((c, _))), _) => c,
        (Some(Err(e)), _) => format!("unknown ({e})"),
        (None, _) if saved => "unknown (ONNX Runtime saved no optimised graph)".into(),
        (None, _) => "f32".into(),
    }
}

/// A session builder for `device` with `settings`: every graph optimisation, the intra-op
/// threads, one inter-op thread, the CUDA provider on a GPU (its device number returned).
pub(super) fn builder(
    device: &DeviceSpec,
    settings: &Settings,
) -> Result<(ort::session::builder::SessionBuilder, Option<usize>)> {
    let environment = &runtime().map_err(err)?.environment;
    let mut builder = Session::builder(environment).map_err(err)?;
    let cuda = match device {
        DeviceSpec::Cuda(n) => {
            // Registered directly so that a failure is ORT's error, not a fallback.
            ort::ep::CUDA::default()
                .with_device_id(*n as i32)
                .register(&mut builder)
                .map_err(|e| err(format!("registering the CUDA execution provider: {e}")))?;
            Some(*n)
        }
        _ => None,
    };
    let builder = builder
        .with_optimization_level(GraphOptimizationLevel::Level3)
        .map_err(err)?
        .with_intra_threads(settings.threads)
        .map_err(err)?
        .with_inter_threads(1)
        .map_err(err)?
        .with_intra_op_spinning(settings.spin)
        .map_err(err)?
        .with_inter_op_spinning(settings.spin)
        .map_err(err)?;
    Ok((builder, cuda))
}
