//! The measurement engine: adaptive sampling ([`sampler`]), statistics ([`stats`]),
//! ratios of rows measured in interleaved rounds ([`paired`]), ratios of groups' average
//! rates ([`rates`]) and the peak memory a case adds ([`memory`]).

pub mod memory;
pub mod paired;
pub mod rates;
pub mod sampler;
pub mod stats;

pub use sampler::{
    CallTime, Measurement, SamplerConfig, SamplerOverrides, Sampling, calibrate_overhead, measure,
    measure_calls,
};
pub use stats::{Summary, summarize};
