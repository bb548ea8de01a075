//! The measurement engine: adaptive sampling ([`sampler`]), statistics ([`stats`]),
//! ratios of rows measured in interleaved rounds ([`paired`]) and the peak memory a case
//! adds ([`memory`]).

pub mod memory;
pub mod paired;
pub mod sampler;
pub mod stats;
pub mod unpaired;

pub use sampler::{
    Measurement, SamplerConfig, SamplerOverrides, Sampling, calibrate_overhead, measure,
};
pub use stats::{Summary, summarize};
