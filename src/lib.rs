//! flopsbench: do fewer FLOPs make a network faster here?
//!
//! A library and command-line tool that reproduces and extends "Run, Don't Walk: Chasing
//! Higher FLOPS for Faster Neural Networks" (Chen et al., CVPR 2023). This version counts
//! exactly: MACs, FLOPs, parameters and memory traffic of the paper's operators (Conv,
//! GConv, DWConv, PConv, PWConv) and of a network zoo whose counts equal the reference
//! PyTorch models (timm `fasternet_*`, torchvision) to the integer.
//!
//! Data flow, one way (no import cycle between the top-level modules; `scripts/modgraph`
//! checks it in the test command):
//!
//! ```text
//! main → cli (clap → a plain app::Command)
//!      → app ─┬─ count / export / list          (spec, zoo, import, count, model)
//!             ├─ study (paper) ─┐
//!             └─ run ───────────┴→ run: place devices (fleet::place)
//!                   ├─ this host → bench (the engine: Experiment × Plan → prepare, check,
//!                   │              time) → Sink (results: the run folder) + Reporter
//!                   │              (output::progress)
//!                   └─ named devices → fleet (ssh / emulator → `flopsbench worker` →
//!                                      the same engine, rows as JSON lines)
//!      report: load → select → tables / charts → markdown / html (output: one CSV writer)
//!      compare: report::load (both sides) → compare (match → change → layers) → render;
//!               or two models → run (same rounds) → the same
//! ```
//!
//! Below them: `target` (what is measured, expanded into cases), `backend` (the registry),
//! `measure` (sampler, statistics), `record` (the row schema), `import` (ONNX model files),
//! `spec`, `zoo`, `count`, `model`, `onnx`, `reference`, `device`, `meta`, `heap` (the C
//! heap's settings), `spin` (libtorch's OpenMP spinning in rounds), `paper`, `error`.
//!
//! ```
//! use flopsbench::count::{CountOptions, count_zoo};
//!
//! let t0 = count_zoo("fasternet-t0", 224, &CountOptions::default(), false).unwrap();
//! assert_eq!(t0.params, 3_905_500); // timm fasternet_t0
//! assert_eq!(t0.macs, 335_422_720); // conv + linear multiply-adds, BN folded
//! ```

/// Serialises a type as its `Display` text and deserialises it through `FromStr`: the
/// names written to files and sent to workers (`cpu`, `pconv`, `candle,tract`).
macro_rules! serde_as_text {
    ($t:ty) => {
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(
                &self,
                s: S,
            ) -> std::result::Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(
                d: D,
            ) -> std::result::Result<Self, D::Error> {
                <String as serde::Deserialize>::deserialize(d)?
                    .parse()
                    .map_err(serde::de::Error::custom)
            }
        }
    };
}

pub mod app;
pub mod backend;
pub mod bench;
pub mod cli;
pub mod compare;
pub mod count;
pub mod device;
pub mod error;
pub mod export;
pub mod fleet;
pub mod heap;
pub mod import;
pub mod list;
pub mod measure;
pub mod meta;
pub mod model;
pub mod nvidia_smi;
pub mod onnx;
pub mod output;
pub mod paper;
pub mod predict;
pub mod profile;
pub mod quant;
pub mod record;
pub mod reference;
pub mod report;
pub mod results;
pub mod roofs;
pub mod run;
pub mod spec;
pub mod spin;
pub mod study;
pub mod suite;
pub mod target;
pub mod zoo;

pub use app::{Command, run};
pub use error::{Error, Result};
