//! The report's table of model files: each file's rows beside its counts, never in the
//! paper's tables (a file called resnet50.onnx is not the zoo's ResNet50).

use super::columns;
use super::select::{is_model_file, pick};
use super::tables::{Table, f, speed, speed_unit};
use crate::record::Record;

/// One row per model file (by case: its path, content hash and protocol), one column per
/// device and backend; `None` when no model file was measured.
pub fn table(rows: &[&Record]) -> Option<Table> {
    let models: Vec<&Record> = rows.iter().copied().filter(|r| is_model_file(r)).collect();
    if models.is_empty() {
        return None;
    }
    let cols = columns(&models);
    let by = pick(&models);
    let mut header = ["Model", "File", "SHA-256", "Params (M)", "FLOPs (G)"]
        .map(String::from)
        .to_vec();
    for c in &cols {
        header.push(format!("{c} {}", speed_unit(c)));
    }
    let mut cases: Vec<&Record> = Vec::new();
    for r in &models {
        if !cases.iter().any(|c| c.case == r.case) {
            cases.push(r);
        }
    }
    cases.sort_by(|a, b| (&a.name, &a.case).cmp(&(&b.name, &b.case)));
    let out_rows = cases
        .iter()
        .map(|any| {
            // Counts with uncounted nodes are lower bounds.
            let bound = if any.uncounted_nodes.is_empty() {
                ""
            } else {
                "≥ "
            };
            let mut row = vec![
                any.name.clone(),
                any.model_path.clone(),
                any.model_sha256.chars().take(12).collect(),
                f(any.params as f64 / 1e6, 2),
                format!("{bound}{}", f(any.macs as f64 / 1e9, 3)),
            ];
            for c in &cols {
                row.push(
                    by.get(&(c.clone(), any.case.clone()))
                        .map_or("–".into(), |r| speed(c, r)),
                );
            }
            row
        })
        .collect();
    let uncounted: Vec<String> = cases
        .iter()
        .filter(|r| !r.uncounted_nodes.is_empty())
        .map(|r| format!("{}: {}", r.name, r.uncounted_nodes))
        .collect();
    let mut intro = "Model files measured as given (tract, ort) or as the spec network they \
                     map to (candle, tch), each checked against another backend before it \
                     was timed; latency per item on CPU/ARM, throughput on GPU; FLOPs as \
                     multiply-adds per item."
        .to_string();
    if !uncounted.is_empty() {
        intro += &format!(
            " ≥: nodes no rule counts are counted as 0 ({}).",
            uncounted.join("; ")
        );
    }
    Some(Table {
        title: "Model files".into(),
        intro,
        header,
        rows: out_rows,
    })
}
