//! CSV rendering with raw integers: one row per case, or one row per layer with the
//! case's name in the first column.

use std::io::Write;

use crate::count::CaseCount;
use crate::error::{Error, Result};
use crate::output::{Exporter, Row};

const CASE_COLUMNS: [&str; 23] = [
    "name",
    "kind",
    "input_shape",
    "resolution",
    "depth",
    "ratio",
    "groups",
    "kernel",
    "stride",
    "batch",
    "dtype",
    "convention",
    "fused_bn",
    "params",
    "macs",
    "flops",
    "flops_strict",
    "mem_elements",
    "mem_bytes",
    "intensity_flops_per_byte",
    "model_path",
    "model_sha256",
    "uncounted_nodes",
];

const LAYER_COLUMNS: [&str; 9] = [
    "case",
    "layer",
    "op",
    "output_shape",
    "params",
    "macs",
    "flops",
    "mem_elements",
    "mem_bytes",
];

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

fn case_row(c: &CaseCount) -> Vec<String> {
    vec![
        c.name.clone(),
        c.kind.clone(),
        c.input_shape.clone(),
        opt(c.resolution),
        opt(c.depth),
        opt(c.ratio.map(|r| r.as_f64())),
        opt(c.groups),
        opt(c.kernel),
        opt(c.stride),
        c.batch.to_string(),
        c.dtype.to_string(),
        c.convention.to_string(),
        c.fused_bn.to_string(),
        c.params.to_string(),
        c.macs.to_string(),
        c.flops.to_string(),
        c.flops_strict.to_string(),
        c.mem_elements.to_string(),
        c.mem_bytes.to_string(),
        format!("{:.4}", c.intensity_flops_per_byte),
        opt(c.model.as_ref().map(|m| &m.path)),
        opt(c.model.as_ref().map(|m| &m.sha256)),
        opt(c.uncounted_text()),
    ]
}

/// Counts as CSV.
pub fn counts(counts: &[CaseCount], per_layer: bool) -> Result<String> {
    let err = |e: csv::Error| Error::Serialise {
        what: "counts as CSV",
        message: e.to_string(),
    };
    let mut w = csv::Writer::from_writer(Vec::new());
    if per_layer {
        w.write_record(LAYER_COLUMNS).map_err(err)?;
        for c in counts {
            for l in c.layers.iter().flatten() {
                w.write_record([
                    c.name.clone(),
                    l.name.clone(),
                    l.op.to_string(),
                    l.output_shape.clone(),
                    l.params.to_string(),
                    l.macs.to_string(),
                    l.flops.to_string(),
                    l.mem_elements.to_string(),
                    l.mem_bytes.to_string(),
                ])
                .map_err(err)?;
            }
        }
    } else {
        w.write_record(CASE_COLUMNS).map_err(err)?;
        for c in counts {
            w.write_record(case_row(c)).map_err(err)?;
        }
    }
    let bytes = w.into_inner().map_err(|e| Error::Serialise {
        what: "counts as CSV",
        message: e.to_string(),
    })?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Measured rows as CSV with every column of results.csv: the one place rows become CSV.
pub struct CsvExporter;

impl Exporter for CsvExporter {
    fn write(&self, rows: &[Row<'_>], header: bool, out: &mut dyn Write) -> Result<()> {
        let err = |e: csv::Error| Error::Serialise {
            what: "rows as CSV",
            message: e.to_string(),
        };
        let mut w = csv::WriterBuilder::new()
            .has_headers(header)
            .from_writer(out);
        for r in rows {
            w.serialize(r.record).map_err(err)?;
        }
        w.flush().map_err(|e| Error::Serialise {
            what: "rows as CSV",
            message: e.to_string(),
        })
    }
}
