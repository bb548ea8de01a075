//! The paper's own numbers (Tables 1, 3 and 5 of Chen et al., CVPR 2023), embedded from
//! `data/paper/` (see its README for the source and protocol).

use serde::Deserialize;

/// Table 1 as CSV.
pub const TABLE1_CSV: &str = include_str!("../data/paper/table1.csv");
/// Table 3 as CSV.
pub const TABLE3_CSV: &str = include_str!("../data/paper/table3.csv");
/// Table 5 as CSV.
pub const TABLE5_CSV: &str = include_str!("../data/paper/table5.csv");

/// One row of Table 1: an operator on one stage shape, 10 layers.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Table1Row {
    /// Operator as printed in the paper.
    pub operator: String,
    /// flopsbench's kind name.
    pub kind: String,
    /// Channels c.
    pub channels: usize,
    /// Height h.
    pub height: usize,
    /// Width w.
    pub width: usize,
    /// Stacked layers.
    pub layers: usize,
    /// Multiply-adds over the stack, millions (as printed, rounded).
    pub mflops_x10: f64,
    /// GPU throughput, images/s at batch 32.
    pub gpu_fps: f64,
    /// GPU achieved G multiply-adds/s.
    pub gpu_gflops_per_s: f64,
    /// CPU latency, ms.
    pub cpu_ms: f64,
    /// CPU achieved G multiply-adds/s.
    pub cpu_gflops_per_s: f64,
    /// ARM latency, ms.
    pub arm_ms: f64,
    /// ARM achieved G multiply-adds/s.
    pub arm_gflops_per_s: f64,
}

/// One row of Table 3: a network.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Table3Row {
    /// Network as printed in the paper.
    pub network: String,
    /// Parameters, millions.
    pub params_m: f64,
    /// Multiply-adds, billions.
    pub gflops: f64,
    /// GPU throughput, images/s at batch 32.
    pub gpu_fps: f64,
    /// CPU latency, ms.
    pub cpu_ms: f64,
    /// ARM latency, ms (`None`: out of memory).
    #[serde(deserialize_with = "oom_as_none")]
    pub arm_ms: Option<f64>,
    /// ImageNet-1k top-1, %.
    pub top1: f64,
}

fn oom_as_none<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let s = String::deserialize(d)?;
    if s == "OOM" {
        return Ok(None);
    }
    s.parse().map(Some).map_err(serde::de::Error::custom)
}

fn parse<T: for<'de> Deserialize<'de>>(text: &str) -> Vec<T> {
    csv::Reader::from_reader(text.as_bytes())
        .deserialize()
        .collect::<Result<Vec<T>, _>>()
        .expect("embedded paper tables are valid CSV (checked by tests)")
}

/// Table 1's rows.
pub fn table1() -> Vec<Table1Row> {
    parse(TABLE1_CSV)
}

/// Table 3's rows.
pub fn table3() -> Vec<Table3Row> {
    parse(TABLE3_CSV)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_parse() {
        assert_eq!(table1().len(), 16);
        let t3 = table3();
        assert_eq!(t3.len(), 35);
        let l = t3.iter().find(|r| r.network == "FasterNet-L").unwrap();
        assert_eq!(l.arm_ms, None);
    }
}
