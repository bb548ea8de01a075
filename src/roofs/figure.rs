//! One measured roof as the ceilings table and `meta.json` list it: what it is (compute at
//! a dtype, or the bandwidth of a level), its value (the best sample's rate) and how it was
//! measured.

use serde::{Deserialize, Serialize};

use crate::record::{Record, Status};
use crate::spec::{CaseKind, Dtype};

use super::cache::{DRAM, bytes_text};

/// A roof `peak` measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    /// The row's case id.
    pub case: String,
    /// The backend (`kernel` for the micro-kernels).
    pub backend: String,
    /// Threads.
    pub threads: usize,
    /// Element type (bandwidths: the dtype it was measured at; bytes are bytes).
    pub dtype: Dtype,
    /// `compute` or `bandwidth`.
    pub figure: String,
    /// `registers` for compute; `L1`, `L2`, `L3` (with its bytes) or `DRAM`.
    pub level: String,
    /// G multiply-adds per second (compute) or G bytes per second (bandwidth).
    pub value: f64,
    /// `G MAC/s` or `GB/s`.
    pub unit: String,
    /// How it was measured.
    pub method: String,
}

/// The memory level a bandwidth row measured: its kernel's (`bw-L2` is `L2`); a backend's
/// stream is DRAM's unless the host said its buffers fit a cache.
pub(super) fn level_of(r: &Record) -> String {
    match r.name.strip_prefix("bw-") {
        Some(l) => l.to_string(),
        None if r.level.is_empty() => DRAM.to_string(),
        None => r.level.clone(),
    }
}

impl Figure {
    /// The roof of an ok `peak` row, its value its fastest sample's (the median's where it
    /// has no minimum); multiply-adds are per item, bytes already the batch's.
    pub fn of(r: &Record) -> Option<Figure> {
        if r.kind != CaseKind::Peak || r.status != Status::Ok {
            return None;
        }
        let ms = r.min_ms.or(r.median_ms).filter(|ms| *ms > 0.0)?;
        let compute = r.macs > 0;
        let work = if compute {
            r.macs as f64 * r.batch as f64
        } else {
            r.mem_bytes as f64
        };
        let level = if compute {
            "registers".to_string()
        } else {
            let name = level_of(r);
            match r.level_bytes.filter(|_| name != DRAM) {
                Some(b) => format!("{name} ({})", bytes_text(b)),
                None => name,
            }
        };
        let method = match r.name.as_str() {
            "gemm" => format!(
                "GEMM on {}: 1×1 conv on {} (batch {})",
                r.backend, r.shape, r.batch
            ),
            "stream" => format!(
                "streaming ReLU on {}: {} f32 values (batch {})",
                r.backend, r.shape, r.batch
            ),
            _ => r.detail.clone(),
        };
        Some(Figure {
            case: r.case.clone(),
            backend: r.backend.clone(),
            threads: r.threads,
            dtype: r.dtype,
            figure: if compute { "compute" } else { "bandwidth" }.into(),
            level,
            value: work / (ms / 1e3) / 1e9,
            unit: if compute { "G MAC/s" } else { "GB/s" }.into(),
            method,
        })
    }
}
