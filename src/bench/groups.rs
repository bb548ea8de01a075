//! Which cases share interleaved rounds: the operator stacks of one feature map (same
//! shape, output channels, kernel, stride, padding, layers, batch and threads) that differ
//! only in kind, groups or partial ratio — Table 1's Conv, GConv, DWConv and PConv of one
//! stage — so their ratios (PConv against DWConv) are paired round by round, as a case's
//! backends are. Networks, model files and peak cases stay on their own.

use crate::target::Case;

/// What the cases of one group share.
type Key = (crate::spec::Shape, usize, usize, usize, usize, usize);

fn key(case: &Case) -> Option<(Key, Option<usize>, Option<usize>)> {
    let op = case.op.as_ref()?;
    Some((
        (
            op.shape, op.c_out, op.kernel, op.stride, op.padding, op.layers,
        ),
        case.batch,
        case.threads,
    ))
}

/// `cases` in groups, each in the order of its first case; every case alone when
/// `together` is false; all in one group when `all` is also true (compare's A and B).
pub(super) fn round_groups(cases: &[Case], together: bool, all: bool) -> Vec<Vec<&Case>> {
    if together && all && !cases.is_empty() {
        return vec![cases.iter().collect()];
    }
    let mut groups: Vec<Vec<&Case>> = Vec::new();
    for case in cases {
        let k = key(case).filter(|_| together);
        match groups.iter_mut().find(|g| k.is_some() && key(g[0]) == k) {
            Some(group) => group.push(case),
            None => groups.push(vec![case]),
        }
    }
    groups
}

/// The progress line's name for a group: the case's id, or (several operator stacks of
/// one feature map) the feature map and the cases' ids.
pub(super) fn label(cases: &[&Case]) -> String {
    let ids: Vec<&str> = cases.iter().map(|c| c.id.as_str()).collect();
    match (cases, cases.first().and_then(|c| c.op.as_ref())) {
        ([_, _, ..], Some(op)) => {
            format!("{} cases on {}: {}", ids.len(), op.shape, ids.join(", "))
        }
        _ => ids.join(", "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{OpCase, OpKind, Shape};

    fn case(kind: OpKind, shape: &str, threads: Option<usize>) -> Case {
        let shape: Shape = shape.parse().unwrap();
        Case::op(OpCase::paper(kind, shape), None, threads).unwrap()
    }

    #[test]
    fn the_kinds_of_one_feature_map_share_rounds_in_the_order_of_their_first_case() {
        // The sweep's order: kind outer, shape inner.
        let mut cases = Vec::new();
        for kind in [OpKind::Conv, OpKind::Dwconv, OpKind::Pconv] {
            for shape in ["96x56x56", "192x28x28"] {
                cases.push(case(kind, shape, None));
            }
        }
        cases.push(case(OpKind::Pconv, "96x56x56", Some(2)));
        let ids = |g: &Vec<&Case>| g.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
        let groups = round_groups(&cases, true, false);
        assert_eq!(groups.len(), 3, "{groups:?}");
        assert_eq!(ids(&groups[0]), ["conv", "dwconv", "pconv"]);
        assert!(groups[0].iter().all(|c| c.id.contains("96x56x56")));
        assert!(groups[1].iter().all(|c| c.id.contains("192x28x28")));
        // Another thread count is another protocol: on its own.
        assert_eq!(groups[2].len(), 1);
        assert_eq!(groups[2][0].threads, Some(2));
        assert!(label(&groups[0]).starts_with("3 cases on 96x56x56: conv-96x56x56"));
        // Without rounds every case is alone, in the given order.
        let alone = round_groups(&cases, false, false);
        assert_eq!(round_groups(&cases, true, true).len(), 1);
        assert_eq!(round_groups(&cases, false, true).len(), cases.len());
        assert_eq!(alone.len(), cases.len());
        assert!(alone.iter().zip(&cases).all(|(g, c)| g[0].id == c.id));
        assert_eq!(label(&alone[0]), cases[0].id);
    }
}
