//! Operator sweeps: comma lists of kinds, shapes, ratios, groups, kernels and strides
//! expanded to their cross product (like hyperfine's `-L`), each case validated.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::spec::op::{OpCase, OpKind};
use crate::spec::ratio::Ratio;
use crate::spec::shape::Shape;

/// The paper's four stage shapes (Table 1).
pub const PAPER_SHAPES: [Shape; 4] = [
    Shape::new(96, 56, 56),
    Shape::new(192, 28, 28),
    Shape::new(384, 14, 14),
    Shape::new(768, 7, 7),
];

/// Lists of operator parameters. Empty lists take the paper's defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OpSweep {
    /// Operator kinds (required).
    pub kinds: Vec<OpKind>,
    /// Input shapes (default: the paper's four stages).
    pub shapes: Vec<Shape>,
    /// Partial ratios for pconv (default 1/4).
    pub ratios: Vec<Ratio>,
    /// Groups for gconv (default 16).
    pub groups: Vec<usize>,
    /// Kernel sizes (default 3; pwconv is always 1).
    pub kernels: Vec<usize>,
    /// Strides (default 1).
    pub strides: Vec<usize>,
    /// Padding (default kernel/2).
    pub padding: Option<usize>,
    /// Output channels (default: same as input).
    pub out_channels: Option<usize>,
    /// Stack depth (default 10).
    pub layers: Option<usize>,
}

fn or_default<T: Clone>(list: &[T], default: T) -> Vec<T> {
    if list.is_empty() {
        vec![default]
    } else {
        list.to_vec()
    }
}

impl OpSweep {
    /// Every case of the cross product, validated, in a stable order (kind, shape,
    /// kernel, stride, then ratio or groups), without duplicates.
    pub fn expand(&self) -> Result<Vec<OpCase>> {
        if self.kinds.is_empty() {
            return Err(Error::Usage(
                "--kind: give at least one operator kind (conv, gconv, dwconv, pconv, pwconv)"
                    .into(),
            ));
        }
        let uses = |k: OpKind| self.kinds.contains(&k);
        if !self.ratios.is_empty() && !uses(OpKind::Pconv) {
            return Err(Error::flag("--ratio", "applies only to --kind pconv"));
        }
        if !self.groups.is_empty() && !uses(OpKind::Gconv) {
            return Err(Error::flag("--groups", "applies only to --kind gconv"));
        }
        let shapes = if self.shapes.is_empty() {
            PAPER_SHAPES.to_vec()
        } else {
            self.shapes.clone()
        };
        let mut cases: Vec<OpCase> = Vec::new();
        for &kind in &self.kinds {
            for &shape in &shapes {
                let kernels = if kind == OpKind::Pwconv {
                    vec![1]
                } else {
                    or_default(&self.kernels, 3)
                };
                for &kernel in &kernels {
                    for &stride in &or_default(&self.strides, 1) {
                        let ratios: Vec<Option<Ratio>> = match kind {
                            OpKind::Pconv => or_default(&self.ratios, Ratio::QUARTER)
                                .into_iter()
                                .map(Some)
                                .collect(),
                            _ => vec![None],
                        };
                        let groups = match kind {
                            OpKind::Gconv => or_default(&self.groups, 16),
                            OpKind::Dwconv => vec![shape.c],
                            _ => vec![1],
                        };
                        for &ratio in &ratios {
                            for &g in &groups {
                                let case = OpCase {
                                    kind,
                                    shape,
                                    c_out: self.out_channels.unwrap_or(shape.c),
                                    kernel,
                                    stride,
                                    padding: if kind == OpKind::Pwconv {
                                        0
                                    } else {
                                        self.padding.unwrap_or(kernel / 2)
                                    },
                                    groups: g,
                                    ratio,
                                    layers: self.layers.unwrap_or(10),
                                };
                                case.validate()?;
                                if !cases.contains(&case) {
                                    cases.push(case);
                                }
                            }
                        }
                    }
                }
            }
        }
        Ok(cases)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_sweep_is_the_paper_table() {
        let sweep = OpSweep {
            kinds: vec![OpKind::Conv, OpKind::Gconv, OpKind::Dwconv, OpKind::Pconv],
            ..Default::default()
        };
        let cases = sweep.expand().unwrap();
        assert_eq!(cases.len(), 16);
        assert_eq!(cases[4], OpCase::paper(OpKind::Gconv, PAPER_SHAPES[0]));
        assert_eq!(cases[15], OpCase::paper(OpKind::Pconv, PAPER_SHAPES[3]));
    }

    #[test]
    fn ratios_multiply_pconv_only() {
        let sweep = OpSweep {
            kinds: vec![OpKind::Conv, OpKind::Pconv],
            shapes: vec![Shape::new(64, 8, 8)],
            ratios: vec![Ratio::QUARTER, Ratio::ONE, Ratio::QUARTER],
            ..Default::default()
        };
        let ids: Vec<String> = sweep.expand().unwrap().iter().map(|c| c.id()).collect();
        assert_eq!(
            ids,
            [
                "conv-64x8x8-k3-l10",
                "pconv-64x8x8-k3-r1_4-l10",
                "pconv-64x8x8-k3-r1-l10"
            ]
        );
    }

    #[test]
    fn inapplicable_flags_are_refused() {
        let sweep = OpSweep {
            kinds: vec![OpKind::Conv],
            ratios: vec![Ratio::QUARTER],
            ..Default::default()
        };
        assert!(
            sweep
                .expand()
                .unwrap_err()
                .to_string()
                .starts_with("--ratio")
        );
    }
}
