//! The measurement engine: adaptive sampling ([`sampler`]) and statistics ([`stats`]).

pub mod sampler;
pub mod stats;

pub use sampler::{Measurement, SamplerConfig, SamplerOverrides, calibrate_overhead, measure};
pub use stats::{Summary, summarize};
