//! What a profile says in a few lines: the honesty line (the layers' sum beside the whole
//! network's median), the slowest layers, a summary by op type, and a roll-up by module
//! (DeepSpeed-style: layers grouped by the first N parts of their dotted names).

use super::{LayerRow, LayerSamples};

/// One group of rows (an op type or a module).
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// The op type or module path.
    pub name: String,
    /// Rows in it.
    pub count: usize,
    /// Parameters.
    pub params: u64,
    /// Multiply-adds per item.
    pub macs: u64,
    /// Sum of the rows' medians, ms.
    pub ms: f64,
    /// Share of the profile's time.
    pub share_of_time: f64,
    /// Share of its multiply-adds.
    pub share_of_macs: f64,
    /// Achieved G multiply-adds per second (the batch's).
    pub gmacs_per_s: Option<f64>,
}

/// "layers account for 94% of 12.31 ms": the sum of the rows' medians beside the whole
/// network's timed median (no rescaling).
pub fn honesty(rows: &[LayerSamples], network_ms: f64) -> String {
    let sum = super::total_ms(rows);
    format!(
        "layers account for {:.0}% of {network_ms:.3} ms (sum of per-layer medians {sum:.3} ms)",
        sum / network_ms * 100.0
    )
}

/// The `n` slowest rows, slowest first.
pub fn slowest(rows: &[LayerSamples], n: usize) -> Vec<&LayerRow> {
    let mut timed: Vec<&LayerRow> = rows
        .iter()
        .map(|r| &r.row)
        .filter(|r| r.median_ms.is_some())
        .collect();
    timed.sort_by(|a, b| {
        b.median_ms
            .partial_cmp(&a.median_ms)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    timed.truncate(n);
    timed
}

/// Rows grouped by `key` (rows it maps to `None` are left out), in order of first
/// appearance.
fn group_by(rows: &[LayerSamples], key: impl Fn(&LayerRow) -> Option<String>) -> Vec<Group> {
    let time = super::total_ms(rows);
    let macs: u64 = rows.iter().map(|r| r.row.macs).sum();
    let mut out: Vec<Group> = Vec::new();
    for r in rows.iter().map(|r| &r.row) {
        let Some(name) = key(r) else { continue };
        let at = match out.iter().position(|g| g.name == name) {
            Some(i) => i,
            None => {
                out.push(Group {
                    name,
                    count: 0,
                    params: 0,
                    macs: 0,
                    ms: 0.0,
                    share_of_time: 0.0,
                    share_of_macs: 0.0,
                    gmacs_per_s: None,
                });
                out.len() - 1
            }
        };
        let g = &mut out[at];
        g.count += 1;
        g.params += r.params;
        g.macs += r.macs;
        g.ms += r.median_ms.unwrap_or(0.0);
    }
    let batch = rows.first().map_or(1, |r| r.row.batch) as f64;
    for g in &mut out {
        g.share_of_time = if time > 0.0 { g.ms / time } else { 0.0 };
        g.share_of_macs = if macs > 0 {
            g.macs as f64 / macs as f64
        } else {
            0.0
        };
        g.gmacs_per_s =
            (g.ms > 0.0 && g.macs > 0).then(|| g.macs as f64 * batch / (g.ms / 1e3) / 1e9);
    }
    out
}

/// The rows by op type (the runtime's own nodes as `runtime: OP`), slowest first.
pub fn by_op(rows: &[LayerSamples]) -> Vec<Group> {
    let mut out = group_by(rows, |r| {
        Some(if r.ran_as == "runtime node" {
            format!("runtime: {}", r.op)
        } else {
            r.op.clone()
        })
    });
    out.sort_by(|a, b| b.ms.partial_cmp(&a.ms).unwrap_or(std::cmp::Ordering::Equal));
    out
}

/// A layer's module path as dotted parts: zoo names as they are
/// (`stages.1.blocks.0.mlp.0`); PyTorch's exported names (`/stages/stages.1/blocks/
/// blocks.0/mlp/mlp.0/Conv`) without the operator and without the container parts that
/// the next part repeats.
pub fn module_path(name: &str) -> Vec<String> {
    if !name.contains('/') {
        return name.split('.').map(String::from).collect();
    }
    let parts: Vec<&str> = name.split('/').filter(|p| !p.is_empty()).collect();
    let scopes = &parts[..parts.len().saturating_sub(1)];
    let mut out: Vec<String> = Vec::new();
    for (i, p) in scopes.iter().enumerate() {
        if scopes
            .get(i + 1)
            .is_some_and(|next| next.starts_with(&format!("{p}.")))
        {
            continue;
        }
        out.extend(p.split('.').map(String::from));
    }
    out
}

/// The layers rolled up by the first `depth` parts of their module paths (the runtime's
/// own nodes left out), in network order.
pub fn modules(rows: &[LayerSamples], depth: usize) -> Vec<Group> {
    group_by(rows, |r| {
        (r.ran_as != "runtime node").then(|| {
            let path = module_path(&r.layer);
            path[..depth.min(path.len())].join(".")
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_paths_of_zoo_and_pytorch_names() {
        assert_eq!(
            module_path("stages.1.blocks.0.mlp.0"),
            ["stages", "1", "blocks", "0", "mlp", "0"]
        );
        assert_eq!(
            module_path("/stages/stages.1/blocks/blocks.0/mlp/mlp.0/Conv"),
            ["stages", "1", "blocks", "0", "mlp", "0"]
        );
        assert_eq!(module_path("/head/fc/Gemm"), ["head", "fc"]);
    }
}
