//! The measurement engine: adaptive sampling ([`sampler`]), statistics ([`stats`]) and
//! the peak memory a case adds ([`memory`]).

pub mod memory;
pub mod sampler;
pub mod stats;

pub use sampler::{Measurement, SamplerConfig, SamplerOverrides, calibrate_overhead, measure};
pub use stats::{Summary, summarize};
