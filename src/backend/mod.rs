//! Backends behind one small trait, checked at run time: `probe` says whether a backend
//! can run on a device here (and how to fix it if not), `prepare` does all untimed work
//! (weights, graph, session), and the prepared handle has `run` and `sync`.

pub mod candle;
#[cfg(feature = "tch")]
pub mod libtorch;
pub mod ort;
pub mod tract;

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::device::DeviceSpec;
use crate::error::{Error, Result};
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
}

impl Settings {
    /// `threads` threads, f32, the authors' split-cat PConv.
    pub fn f32(threads: usize) -> Settings {
        Settings {
            threads,
            pconv_impl: PconvImpl::SplitCat,
            dtype: Dtype::F32,
        }
    }
}

/// A model ready to run: all untimed work done.
pub trait Prepared {
    /// One forward pass (may be asynchronous on accelerators).
    fn run(&mut self) -> Result<()>;
    /// Waits until submitted work has finished (a no-op on synchronous CPU backends).
    fn sync(&mut self) -> Result<()>;
    /// The output of the last `run`, flattened (batch-major).
    fn output(&mut self) -> Result<Vec<f32>>;
    /// What actually ran, for the record (e.g. the optimised graph's size).
    fn detail(&self) -> String;
    /// The PConv forward this backend runs.
    fn pconv_impl(&self) -> PconvImpl;
}

/// An inference backend.
pub trait Backend: Sync {
    /// Short name (`candle`, `tract`).
    fn name(&self) -> &'static str;
    /// Library version, recorded per row.
    fn version(&self) -> String;
    /// Whether it computes in `dtype` (all backends run f32).
    fn supports(&self, dtype: Dtype) -> bool {
        dtype == Dtype::F32
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
}

/// The probe of a backend that runs on this host's CPU only: `why_not_cuda` explains a
/// GPU request.
pub fn probe_host_cpu(device: &DeviceSpec, why_not_cuda: &str) -> std::result::Result<(), String> {
    match device {
        DeviceSpec::Cuda(_) => Err(why_not_cuda.to_string()),
        d if d.is_host_cpu() => Ok(()),
        d => Err(format!(
            "{d} is not this host's CPU; remote devices are not supported yet"
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
pub const NAMES: [&str; 4] = ["candle", "tract", "ort", "tch"];

/// A backend known by name but not part of this build, with how to get it.
#[cfg(not(feature = "tch"))]
struct Missing(&'static str, &'static str);

#[cfg(not(feature = "tch"))]
impl Backend for Missing {
    fn name(&self) -> &'static str {
        self.0
    }
    fn version(&self) -> String {
        String::new()
    }
    fn probe(&self, _: &DeviceSpec) -> std::result::Result<(), String> {
        Err(self.1.to_string())
    }
    fn prepare(&self, _: &Model, device: &DeviceSpec, _: &Settings) -> Result<Box<dyn Prepared>> {
        Err(Error::Backend {
            backend: self.0.into(),
            message: self.probe(device).unwrap_err(),
        })
    }
}

/// The backend called `name`.
pub fn by_name(name: &str) -> Result<&'static dyn Backend> {
    static CANDLE: candle::Candle = candle::Candle;
    static TRACT: tract::Tract = tract::Tract;
    static ORT: ort::Ort = ort::Ort;
    #[cfg(feature = "tch")]
    static TCH: libtorch::Tch = libtorch::Tch;
    #[cfg(not(feature = "tch"))]
    static TCH: Missing = Missing(
        "tch",
        "not compiled into this binary: run scripts/setup-libtorch, then build with \
         `cargo build --release --features tch` and the LIBTORCH it prints",
    );
    match name.trim().to_lowercase().as_str() {
        "candle" => Ok(&CANDLE),
        "tract" => Ok(&TRACT),
        "ort" => Ok(&ORT),
        "tch" => Ok(&TCH),
        other => Err(Error::unknown("backend", other, &NAMES)),
    }
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

impl Selection {
    /// The backends to try, in order.
    pub fn backends(&self) -> Vec<&'static dyn Backend> {
        let names: Vec<&str> = match self {
            Selection::All => NAMES.to_vec(),
            Selection::Named(n) => n.iter().map(String::as_str).collect(),
        };
        names.into_iter().filter_map(|n| by_name(n).ok()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_backends_are_refused_with_a_suggestion() {
        let e = "cnadle".parse::<Selection>().unwrap_err();
        assert!(e.to_string().contains("did you mean 'candle'"), "{e}");
        assert_eq!("all".parse::<Selection>().unwrap().backends().len(), 4);
    }

    #[cfg(not(feature = "tch"))]
    #[test]
    fn missing_backends_say_how_to_get_them() {
        let tch = by_name("tch").unwrap();
        let why = tch.probe(&DeviceSpec::Cpu).unwrap_err();
        assert!(why.contains("scripts/setup-libtorch"), "{why}");
        assert!(why.contains("--features tch"), "{why}");
    }
}
