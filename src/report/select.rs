//! Which rows belong to the paper's tables: the 16 Table-1 cases and the Table-3
//! networks, shared by the tables and the charts so that both pick the same rows.

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
