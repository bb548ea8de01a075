//! Which rows belong to the paper's tables: the 16 Table-1 cases and the Table-3
//! networks, and which row stands for each (column, case); shared by the tables and the
//! charts so that both show the same rows, whatever order the inputs came in.

use std::collections::BTreeMap;

use super::Column;
use crate::record::Record;
use crate::spec::{CaseKind, OpKind, PAPER_SHAPES};

/// The Table-1 operator kinds, with the paper's row labels.
pub const TABLE1_KINDS: [(OpKind, &str); 4] = [
    (OpKind::Conv, "Conv 3×3"),
    (OpKind::Gconv, "GConv 3×3 (g=16)"),
    (OpKind::Dwconv, "DWConv 3×3"),
    (OpKind::Pconv, "PConv 3×3 (r=1/4)"),
];

/// The paper's name of a zoo network (Table 3), if it is there.
pub fn paper_network(name: &str) -> Option<&'static str> {
    Some(match name {
        "fasternet-t0" => "FasterNet-T0",
        "fasternet-t1" => "FasterNet-T1",
        "fasternet-t2" => "FasterNet-T2",
        "fasternet-s" => "FasterNet-S",
        "fasternet-m" => "FasterNet-M",
        "fasternet-l" => "FasterNet-L",
        "resnet50" => "ResNet50",
        "mobilenetv2" => "MobileNetV2",
        _ => return None,
    })
}

/// Whether a row is a zoo network (a model file's row never stands for one, whatever its
/// name).
pub fn is_zoo_net(r: &Record) -> bool {
    r.kind == CaseKind::Net && r.model_path.is_empty()
}

/// Whether a row is a model file's.
pub fn is_model_file(r: &Record) -> bool {
    !r.model_path.is_empty()
}

/// Whether a row is one of the paper's 16 Table-1 cases.
pub fn is_table1(r: &Record) -> bool {
    let kind_ok = TABLE1_KINDS.iter().any(|(k, _)| r.kind == *k);
    let shape_ok = PAPER_SHAPES.iter().any(|s| s.to_string() == r.shape);
    let params_ok = match r.kind {
        CaseKind::Op(OpKind::Gconv) => r.groups == Some(16),
        CaseKind::Op(OpKind::Pconv) => r.ratio.is_some_and(|x| (x - 0.25).abs() < 1e-9),
        _ => true,
    };
    kind_ok
        && shape_ok
        && params_ok
        && r.layers == Some(10)
        && r.kernel == Some(3)
        && r.stride == Some(1)
}

/// The row that stands for each (column, case): the most recent one (by its timestamp,
/// then run id), so the choice does not depend on the order of the inputs.
pub fn pick<'a>(rows: &[&'a Record]) -> BTreeMap<(Column, String), &'a Record> {
    let mut out: BTreeMap<(Column, String), &'a Record> = BTreeMap::new();
    for r in rows {
        let key = (Column::of(r), r.case.clone());
        match out.get(&key) {
            Some(kept) if (&kept.timestamp, &kept.run_id) >= (&r.timestamp, &r.run_id) => {}
            _ => {
                out.insert(key, r);
            }
        }
    }
    out
}

/// The rows of `rows` that [`pick`] did not choose: earlier measurements of the same
/// configuration.
pub fn superseded<'a>(rows: &[&'a Record]) -> Vec<&'a Record> {
    let picked = pick(rows);
    let mut out: Vec<&Record> = rows
        .iter()
        .copied()
        .filter(|r| {
            picked
                .get(&(Column::of(r), r.case.clone()))
                .is_some_and(|p| !std::ptr::eq(*p, *r))
        })
        .collect();
    out.sort_by(|a, b| (&a.case, &a.timestamp, &a.run_id).cmp(&(&b.case, &b.timestamp, &b.run_id)));
    out
}
