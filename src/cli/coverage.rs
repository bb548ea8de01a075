//! `flopsbench coverage` (hidden): the self-check of the confidence intervals.

use std::time::Duration;

use clap::Args;

use super::measure::{KindArg, parse_duration};
use crate::app::CoverageConfig;
use crate::bench::Experiment;
use crate::measure::SamplerConfig;
use crate::spec::{OpSweep, Shape};
use crate::target::Target;

#[derive(Debug, Args)]
pub(super) struct CoverageCommand {
    /// The operator
    #[arg(long, value_enum, default_value = "pconv")]
    kind: KindArg,

    /// Its input shape CxHxW
    #[arg(long, default_value = "96x56x56", value_parser = super::parse_shape)]
    shape: Shape,

    /// Stacked layers
    #[arg(long, default_value_t = 10)]
    layers: usize,

    /// The backend (on this host's CPU, 1 thread)
    #[arg(long, default_value = "tract")]
    backend: String,

    /// Runs in a row, then as many in rounds
    #[arg(long, default_value_t = 10)]
    runs: usize,

    /// Each run's warm-up
    #[arg(long, default_value = "0.2s", value_parser = parse_duration)]
    warmup: Duration,

    /// Each run's sampling time (at least 10 samples)
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    min_time: Duration,
}

impl CoverageCommand {
    pub(super) fn config(self) -> CoverageConfig {
        let sweep = OpSweep {
            kinds: vec![self.kind.into()],
            shapes: vec![self.shape],
            layers: Some(self.layers),
            ..OpSweep::default()
        };
        CoverageConfig {
            experiment: Experiment {
                sampler: SamplerConfig {
                    warmup: self.warmup,
                    min_time: self.min_time,
                    // Each run stops at --min-time once it has its 10 samples.
                    max_time: Duration::from_secs(24 * 3600),
                    ..SamplerConfig::default()
                },
                ..Experiment::new(Target::Ops(sweep))
            },
            backend: self.backend,
            runs: self.runs,
        }
    }
}
