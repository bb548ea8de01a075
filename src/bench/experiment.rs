//! What a measured run measures, apart from where it runs and where its rows go: the
//! target, the backends, the protocol (batch, threads, dtype), the counting options, the
//! PConv forward, the sampler and the seed. It is what a worker's job carries.

use serde::{Deserialize, Serialize};

use crate::backend::{PconvImpl, Selection};
use crate::count::Convention;
use crate::error::{Error, Result};
use crate::import::InputShape;
use crate::measure::SamplerConfig;
use crate::spec::Dtype;
use crate::target::Target;

/// What to measure and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    /// The cases.
    pub target: Target,
    /// Network input resolution.
    pub resolution: usize,
    /// Backends.
    pub backends: Selection,
    /// Batch (default: the device's paper protocol).
    pub batch: Option<usize>,
    /// Threads (default: the device's paper protocol).
    pub threads: Option<usize>,
    /// Element types, swept in order (`--dtype f32,bf16,int8`); the engine runs one at a
    /// time ([`Experiment::at`]).
    pub dtypes: Vec<Dtype>,
    /// Fold BN.
    pub fuse_bn: bool,
    /// FLOPs convention of the rows.
    pub convention: Convention,
    /// PConv forward of candle and tch.
    pub pconv_impl: PconvImpl,
    /// When to stop sampling.
    pub sampler: SamplerConfig,
    /// Seed of weights, inputs and the bootstrap.
    pub seed: u64,
    /// Model files' input shapes (`--input-shape`), for symbolic or unknown dimensions.
    #[serde(default)]
    pub input_shapes: Vec<InputShape>,
    /// Profile every network layer by layer after its timed row (`--per-layer`).
    #[serde(default)]
    pub per_layer: bool,
    /// Roll the layers up by the first N parts of their names (`--depth`).
    #[serde(default)]
    pub depth: Option<usize>,
    /// `peak` rows of an earlier run (`--ceilings`): the devices' roofs for per-layer
    /// bounds.
    #[serde(default)]
    pub ceilings: Vec<crate::record::Record>,
    /// Run each case at its own precision only (f32, or a model file's; `dtypes` lists
    /// them): no `--dtype` was given, so a run of an f32 network and an int8 model file
    /// does not sweep both over both.
    #[serde(default)]
    pub own_dtype: bool,
    /// Every case of the run shares the same interleaved rounds, whatever its kind
    /// (`compare`'s A and B), so their ratio is paired round by round.
    #[serde(default)]
    pub cases_in_rounds: bool,
}

impl Experiment {
    /// `target` with the defaults of the command line: every available backend, the
    /// paper's protocol, f32, BN folded, the built-in sampler, seed 0.
    pub fn new(target: Target) -> Self {
        Experiment {
            target,
            resolution: 224,
            backends: Selection::All,
            batch: None,
            threads: None,
            dtypes: vec![Dtype::F32],
            fuse_bn: true,
            convention: Convention::Paper,
            pconv_impl: PconvImpl::SplitCat,
            sampler: SamplerConfig::default(),
            seed: 0,
            input_shapes: Vec::new(),
            per_layer: false,
            depth: None,
            ceilings: Vec::new(),
            own_dtype: false,
            cases_in_rounds: false,
        }
    }

    /// The batch and thread count `case` runs with on `device`: the case's own (a suite's),
    /// else the flags', else the paper's protocol for the device.
    pub fn protocol(
        &self,
        case: &crate::target::Case,
        device: &crate::device::DeviceSpec,
    ) -> (usize, usize) {
        let (paper_batch, paper_threads) = device.paper_protocol();
        (
            case.batch.or(self.batch).unwrap_or(paper_batch),
            case.threads.or(self.threads).unwrap_or(paper_threads),
        )
    }

    /// The element type of an experiment at one dtype (the first of a sweep).
    pub fn dtype(&self) -> Dtype {
        self.dtypes.first().copied().unwrap_or_default()
    }

    /// This experiment at `dtype` alone.
    pub fn at(&self, dtype: Dtype) -> Experiment {
        Experiment {
            dtypes: vec![dtype],
            ..self.clone()
        }
    }

    /// How a case run with `batch` is counted.
    pub fn count_options(&self, batch: usize) -> crate::count::CountOptions {
        crate::count::CountOptions {
            batch,
            dtype: self.dtype(),
            fuse_bn: self.fuse_bn,
            convention: self.convention,
        }
    }

    /// Every case of the experiment, in run order.
    pub fn cases(&self) -> Result<Vec<crate::target::Case>> {
        self.target
            .cases_with(self.resolution, self.batch, &self.input_shapes)
    }

    /// Checks the options that apply to every case, naming the flag at fault.
    pub fn validate(&self) -> Result<()> {
        self.validate_protocol()?;
        self.validate_sampler()
    }

    /// Checks `--dtype`, `--threads` and `--batch`.
    pub fn validate_protocol(&self) -> Result<()> {
        if self.dtypes.is_empty() {
            return Err(Error::flag(
                "--dtype",
                "names no element type; give f32, f16, bf16 or int8",
            ));
        }
        for (i, d) in self.dtypes.iter().enumerate() {
            if self.dtypes[..i].contains(d) {
                return Err(Error::flag("--dtype", format!("names {d} twice")));
            }
        }
        if let Some(t) = self.threads
            && !(1..=1024).contains(&t)
        {
            return Err(Error::flag("--threads", format!("{t} is outside 1..=1024")));
        }
        if let Some(b) = self.batch
            && !(1..=crate::spec::shape::MAX_BATCH).contains(&b)
        {
            return Err(Error::flag(
                "--batch",
                format!("{b} is outside 1..={}", crate::spec::shape::MAX_BATCH),
            ));
        }
        Ok(())
    }

    /// Checks the sampler's settings.
    pub fn validate_sampler(&self) -> Result<()> {
        let sampler = &self.sampler;
        if let Some(t) = sampler.target_ci
            && !(t > 0.0 && t < 1.0)
        {
            return Err(Error::flag(
                "--target-ci",
                format!("{t} is outside (0, 1); e.g. 0.02 for ±2%"),
            ));
        }
        if sampler.budget == Some(std::time::Duration::ZERO) {
            return Err(Error::flag("--budget", "must be longer than 0 s, e.g. 60s"));
        }
        if sampler.runs == Some(0) {
            return Err(Error::flag("--runs", "must be ≥ 1"));
        }
        if sampler.min_time > sampler.max_time {
            return Err(Error::flag(
                "--min-time",
                format!(
                    "{:?} is longer than --max-time {:?}",
                    sampler.min_time, sampler.max_time
                ),
            ));
        }
        Ok(())
    }
}
