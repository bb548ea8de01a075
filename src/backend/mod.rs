//! Backends behind one small trait, checked at run time: `probe` says whether a backend
//! can run on a device here (and how to fix it if not), `prepare` does all untimed work
//! (weights, graph, session), and the prepared handle has `run` and `sync`.
//!
//! A backend is one file implementing [`Backend`] plus one line in [`registry`]; the
//! `--backend` help, `list`, `all` and the choice of the reference that checks network
//! outputs all derive from the registry.

pub mod candle;
#[cfg(feature = "tch")]
pub mod libtorch;
#[cfg(not(feature = "tch"))]
mod missing;
pub mod ort;
pub mod tract;

use std::path::PathBuf;

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::device::DeviceSpec;
use crate::error::{Error, Result};
use crate::import::FileRun;
use crate::model::Model;
use crate::spec::Dtype;

/// How the candle backend runs PConv (ONNX-based backends always get split-cat).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PconvImpl {
    /// Split the channels, convolve the first part, concatenate (the authors' forward).
    #[default]
    SplitCat,
    /// Write the convolved part into a copy of the input (inference only).
    Slicing,
}

impl fmt::Display for PconvImpl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PconvImpl::SplitCat => "split-cat",
            PconvImpl::Slicing => "slicing",
        })
    }
}

/// Settings a backend prepares a model with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Threads the backend may use.
    pub threads: usize,
    /// PConv forward (where the backend has a choice).
    pub pconv_impl: PconvImpl,
    /// Element type of weights, activations and input.
    pub dtype: Dtype,
    /// Whether idle runtime threads may spin-wait for work (ONNX Runtime's
    /// `allow_spinning`): off when several rows (a case's backends, the operator kinds of
    /// one feature map) are measured in interleaved rounds, so one runtime's spinning
    /// threads do not slow the next.
    pub spin: bool,
}

impl Settings {
    /// `threads` threads, f32, the authors' split-cat PConv.
    pub fn f32(threads: usize) -> Settings {
        Settings {
            threads,
            pconv_impl: PconvImpl::SplitCat,
            dtype: Dtype::F32,
            spin: true,
        }
    }
}

/// A model ready to run: all untimed work done.
pub trait Prepared {
    /// One forward pass (may be asynchronous on accelerators).
    fn run(&mut self) -> Result<()>;
    /// Waits until submitted work has finished (a no-op on synchronous CPU backends).
    fn sync(&mut self) -> Result<()>;
    /// The output of a run, flattened (batch-major): the last `run`'s; a backend that
    /// would have to copy its output in every timed run (ort) keeps only the first run's
    /// after `prepare` (the one the check reads) and runs again when none is kept.
    fn output(&mut self) -> Result<Vec<f32>>;
    /// What actually ran, for the record (e.g. the optimised graph's size).
    fn detail(&self) -> String;
    /// The PConv forward this backend runs.
    fn pconv_impl(&self) -> PconvImpl;
    /// What actually computed, for the `computed` column: the element type of the
    /// arithmetic and, where the runtime says, which operators ran it (`int8 (QLinearConv
    /// ×10)`, `f32 (QDQ simulated)`).
    fn computed(&self) -> String;
    /// The runtime's optimised graph, where it writes one (ONNX Runtime for f16 and int8
    /// sessions), to be kept in the run folder beside the results.
    fn optimised_model(&self) -> Option<&[u8]> {
        None
    }
    /// `passes` more passes, each timed node by node through the runtime's own per-node
    /// hook (candle and tch: each node run and synchronised on its own), in execution
    /// order; `None` where the backend has no such hook. Never part of a timed
    /// measurement.
    fn profile(&mut self, _passes: usize) -> Option<Result<Vec<Vec<NodeTime>>>> {
        None
    }
    /// The device's own time of the last `run`, ms, read after `sync` (CUDA events
    /// recorded around its work); `None` where the device keeps no clock of its own.
    fn device_ms(&mut self) -> Option<f64> {
        None
    }
    /// Writes the device's cache out (`--l2-flush` on a GPU: a buffer larger than its L2),
    /// not synchronised; `None` where the model runs on the host CPU, whose caches the
    /// harness flushes itself.
    fn flush_device_cache(&mut self) -> Option<Result<()>> {
        None
    }
}

/// Process-wide settings of the backends, applied once through [`configure`] before any
/// model is prepared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Global {
    /// Threads of a backend's process-wide pool, where it has one (candle's GEMM reads
    /// it from the environment); each case still prepares with its own count.
    pub threads: usize,
    /// The ONNX Runtime library to load (`--ort-lib`), when not the default search.
    pub ort_library: Option<PathBuf>,
}

impl Default for Global {
    fn default() -> Self {
        Global {
            threads: 1,
            ort_library: None,
        }
    }
}

/// The time one node of a prepared model took in one profiled pass.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeTime {
    /// The node's name as the runtime reports it.
    pub node: String,
    /// The runtime's operator for it (`Conv`, `FusedConv`, tract's op name, a layer type).
    pub op: String,
    /// The graph values it writes, where the runtime says (ONNX Runtime's optimised model;
    /// past its layout reorders): they name the layers it computes.
    pub values: Vec<String>,
    /// Milliseconds.
    pub ms: f64,
}

/// An inference backend.
pub trait Backend: Sync {
    /// Short name (`candle`, `tract`).
    fn name(&self) -> &'static str;
    /// Library version, recorded per row.
    fn version(&self) -> String;
    /// Applies process-wide settings (thread pools, library paths); called once, before
    /// anything is prepared.
    fn configure(&self, _global: &Global) {}
    /// `Some(p)` when this backend can check other backends' network outputs: compiled
    /// from crates (no outside library), always available on the host CPU, f32. The
    /// lowest `p` other than the checked backend is the reference.
    fn reference_preference(&self) -> Option<u8> {
        None
    }
    /// Whether it computes in `dtype` natively; `Err` says why not, and the (backend,
    /// dtype) pair is a skipped row. Every backend runs f32.
    fn supports(&self, dtype: Dtype) -> std::result::Result<(), String> {
        match dtype {
            Dtype::F32 => Ok(()),
            d => Err(format!("{} computes in f32 only, not {d}", self.name())),
        }
    }
    /// Why it cannot run `case` on `device` at `dtype` though it computes in `dtype` (tch
    /// runs only peak's GEMM at int8, on a CPU), if it cannot: the pair is a skipped row.
    fn refuses_case(
        &self,
        _case: &crate::target::Case,
        _device: &DeviceSpec,
        _dtype: Dtype,
    ) -> Option<String> {
        None
    }
    /// Whether it can run on `device` here; `Err` holds why not and how to fix it.
    fn probe(&self, device: &DeviceSpec) -> std::result::Result<(), String>;
    /// Builds everything needed to run `model` (untimed).
    fn prepare(
        &self,
        model: &Model,
        device: &DeviceSpec,
        settings: &Settings,
    ) -> Result<Box<dyn Prepared>>;
    /// Whether it runs a model file as given (an ONNX runtime), rather than the spec
    /// network the file maps to.
    fn runs_files(&self) -> bool {
        false
    }
    /// Builds everything needed to run the model file `file` as given (untimed); only
    /// where [`Backend::runs_files`].
    fn prepare_file(
        &self,
        file: &FileRun,
        _device: &DeviceSpec,
        _settings: &Settings,
    ) -> Result<Box<dyn Prepared>> {
        Err(Error::Backend {
            backend: self.name().into(),
            message: format!(
                "{} runs spec networks, not model files as given ({})",
                self.name(),
                file.path.display()
            ),
        })
    }
}

/// The probe of a backend that runs on this host's CPU only: `why_not_cuda` explains a
/// GPU request.
pub fn probe_host_cpu(device: &DeviceSpec, why_not_cuda: &str) -> std::result::Result<(), String> {
    match device {
        DeviceSpec::Cuda(_) => Err(why_not_cuda.to_string()),
        d if d.is_host_cpu() => Ok(()),
        d => Err(format!(
            "{d} is not this host's CPU; a device of devices.toml runs its own worker"
        )),
    }
}

/// Runs `probe` and turns its refusal into an [`Error::Backend`] (for `prepare`).
pub fn ensure_available(backend: &dyn Backend, device: &DeviceSpec) -> Result<()> {
    backend.probe(device).map_err(|message| Error::Backend {
        backend: backend.name().into(),
        message,
    })
}

/// Every backend flopsbench knows, compiled in or not, in the order `all` runs them.
pub fn registry() -> &'static [&'static dyn Backend] {
    static REGISTRY: &[&dyn Backend] = &[
        &candle::Candle,
        &tract::Tract,
        &ort::Ort,
        #[cfg(feature = "tch")]
        &libtorch::Tch,
        #[cfg(not(feature = "tch"))]
        &missing::TCH,
    ];
    REGISTRY
}

/// Each backend of [`registry`] on `device`: its version, or why it cannot run there.
pub fn availability(device: &DeviceSpec) -> Vec<(String, std::result::Result<String, String>)> {
    registry()
        .iter()
        .map(|b| (b.name().to_string(), b.probe(device).map(|()| b.version())))
        .collect()
}

/// The names of [`registry`], in order.
pub fn names() -> Vec<&'static str> {
    registry().iter().map(|b| b.name()).collect()
}

/// The help text of `--backend`: every registered name.
pub fn help() -> String {
    format!(
        "Backends: {}, comma lists, or `all` (every one available)",
        names().join(", ")
    )
}

/// Pins the process's C heap ([`crate::heap::pin`]) and applies `global` to every
/// backend (see [`Backend::configure`]).
pub fn configure(global: &Global) {
    crate::heap::pin();
    for b in registry() {
        b.configure(global);
    }
}

/// The backend called `name`.
pub fn by_name(name: &str) -> Result<&'static dyn Backend> {
    let wanted = name.trim().to_lowercase();
    registry()
        .iter()
        .copied()
        .find(|b| b.name() == wanted)
        .ok_or_else(|| Error::unknown("backend", &wanted, &names()))
}

/// A `--backend` selection: `all` or a list of names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Every backend available on the device.
    All,
    /// These, by name (validated).
    Named(Vec<String>),
}

impl FromStr for Selection {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        if s.trim() == "all" {
            return Ok(Selection::All);
        }
        let names: Vec<String> = s.split(',').map(|n| n.trim().to_lowercase()).collect();
        for n in &names {
            by_name(n)?;
        }
        Ok(Selection::Named(names))
    }
}

impl fmt::Display for Selection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selection::All => f.write_str("all"),
            Selection::Named(names) => f.write_str(&names.join(",")),
        }
    }
}

serde_as_text!(Selection);

impl Selection {
    /// The backends to try, in order.
    pub fn backends(&self) -> Vec<&'static dyn Backend> {
        match self {
            Selection::All => registry().to_vec(),
            Selection::Named(n) => n.iter().filter_map(|n| by_name(n).ok()).collect(),
        }
    }

    /// The names selected (`all` for every one).
    pub fn names(&self) -> Vec<String> {
        match self {
            Selection::All => vec!["all".into()],
            Selection::Named(n) => n.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_backends_are_refused_with_a_suggestion() {
        let e = "cnadle".parse::<Selection>().unwrap_err();
        assert!(e.to_string().contains("did you mean 'candle'"), "{e}");
        assert_eq!(
            "all".parse::<Selection>().unwrap().backends().len(),
            registry().len()
        );
    }

    #[test]
    fn names_are_unique_and_every_one_parses() {
        let names = names();
        for (i, n) in names.iter().enumerate() {
            assert!(!names[..i].contains(n), "{n} registered twice");
            assert_eq!(by_name(n).unwrap().name(), *n);
        }
        assert!(help().contains(&names.join(", ")));
    }

    #[test]
    fn a_selection_survives_the_wire() {
        for s in ["all", "candle,tract", "ort"] {
            let sel: Selection = s.parse().unwrap();
            let json = serde_json::to_string(&sel).unwrap();
            assert_eq!(serde_json::from_str::<Selection>(&json).unwrap(), sel);
        }
    }

    #[cfg(not(feature = "tch"))]
    #[test]
    fn missing_backends_say_how_to_get_them() {
        let tch = by_name("tch").unwrap();
        let why = tch.probe(&DeviceSpec::Cpu).unwrap_err();
        assert!(why.contains("scripts/setup-libtorch"), "{why}");
        assert!(why.contains("--features tch"), "{why}");
        if env!("FLOPSBENCH_CROSS_BUILT") == "1" {
            // The worker cross-built for a device says it is that build.
            assert!(why.contains(std::env::consts::ARCH), "{why}");
        }
    }
}
