//! The plain f64 reference for operator stacks: a direct (seven-loop) convolution, no
//! tricks, used to check every backend's output before it is timed.

use crate::error::{Error, Result};
use crate::model::{Model, NodeParams};
use crate::spec::{Conv2d, Layer, Shape};

/// A batch of NCHW feature maps in f64.
struct Maps {
    shape: Shape,
    data: Vec<f64>,
}

fn conv(
    x: &Maps,
    batch: usize,
    c: &Conv2d,
    weight: &[f32],
    bias: Option<&[f32]>,
    out: Shape,
) -> Vec<f64> {
    let (cin_g, cout_g) = (c.c_in / c.groups, c.c_out / c.groups);
    let (h, w, k) = (x.shape.h as isize, x.shape.w as isize, c.kernel);
    let mut y = vec![0.0f64; batch * out.elements() as usize];
    for n in 0..batch {
        let xn = &x.data[n * x.shape.elements() as usize..];
        for o in 0..c.c_out {
            let g = o / cout_g;
            let b = bias.map_or(0.0, |b| b[o] as f64);
            for oy in 0..out.h {
                for ox in 0..out.w {
                    let mut acc = b;
                    for i in 0..cin_g {
                        let ci = g * cin_g + i;
                        for ky in 0..k {
                            let iy = (oy * c.stride + ky) as isize - c.padding as isize;
                            if iy < 0 || iy >= h {
                                continue;
                            }
                            for kx in 0..k {
                                let ix = (ox * c.stride + kx) as isize - c.padding as isize;
                                if ix < 0 || ix >= w {
                                    continue;
                                }
                                let xv =
                                    xn[(ci * h as usize + iy as usize) * w as usize + ix as usize];
                                let wv = weight[((o * cin_g + i) * k + ky) * k + kx] as f64;
                                acc += xv * wv;
                            }
                        }
                    }
                    y[((n * c.c_out + o) * out.h + oy) * out.w + ox] = acc;
                }
            }
        }
    }
    y
}

/// Runs an operator-stack model (conv-family and PConv layers) in f64.
pub fn run_op_stack(model: &Model) -> Result<Vec<f64>> {
    let batch = model.batch;
    let mut x = Maps {
        shape: model.net.input,
        data: model.input.iter().map(|v| *v as f64).collect(),
    };
    for (node, params) in model.net.nodes.iter().zip(&model.params) {
        let NodeParams::Conv { weight, bias } = params else {
            return Err(Error::Usage(format!(
                "the f64 reference runs conv layers only, not {}",
                node.name
            )));
        };
        let data = match node.layer {
            Layer::Conv(c) => conv(&x, batch, &c, weight, bias.as_deref(), node.out),
            Layer::PConv(p) => {
                // The first c_p channels convolved, the rest passed through.
                let per_item = x.shape.elements() as usize;
                let plane = x.shape.h * x.shape.w;
                let part_shape = Shape::new(p.partial, x.shape.h, x.shape.w);
                let part = Maps {
                    shape: part_shape,
                    data: (0..batch)
                        .flat_map(|n| {
                            x.data[n * per_item..n * per_item + p.partial * plane]
                                .iter()
                                .copied()
                        })
                        .collect(),
                };
                let c = Conv2d::new(p.partial, p.partial, p.kernel, 1, 1);
                let y = conv(&part, batch, &c, weight, None, part_shape);
                let mut out = x.data.clone();
                for n in 0..batch {
                    let len = p.partial * plane;
                    out[n * per_item..n * per_item + len]
                        .copy_from_slice(&y[n * len..(n + 1) * len]);
                }
                out
            }
            _ => {
                return Err(Error::Usage(format!(
                    "the f64 reference cannot run {}",
                    node.name
                )));
            }
        };
        x = Maps {
            shape: node.out,
            data,
        };
    }
    Ok(x.data)
}

/// How far `got` is from `reference`: the largest absolute difference, and that divided
/// by the largest absolute reference value.
pub fn compare(got: &[f32], reference: &[f64]) -> Option<(f64, f64)> {
    if got.len() != reference.len() {
        return None;
    }
    let max_abs_err = got
        .iter()
        .zip(reference)
        .map(|(g, r)| (*g as f64 - r).abs())
        .fold(
            0.0f64,
            |a, b| if b.is_nan() { f64::INFINITY } else { a.max(b) },
        );
    let scale = reference
        .iter()
        .fold(0.0f64, |a, r| a.max(r.abs()))
        .max(f64::MIN_POSITIVE);
    Some((max_abs_err, max_abs_err / scale))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{OpCase, OpKind, Ratio};

    #[test]
    fn pconv_with_r_one_equals_conv() {
        let mut p = OpCase::paper(OpKind::Pconv, Shape::new(4, 5, 5));
        p.ratio = Some(Ratio::ONE);
        p.layers = 2;
        let mut c = OpCase::paper(OpKind::Conv, Shape::new(4, 5, 5));
        c.layers = 2;
        let a = run_op_stack(&Model::new(&p.to_net().unwrap(), 2, 3, true)).unwrap();
        let b = run_op_stack(&Model::new(&c.to_net().unwrap(), 2, 3, true)).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn identity_kernel_is_identity() {
        let c = Conv2d::new(1, 1, 3, 1, 1);
        let x = Maps {
            shape: Shape::new(1, 3, 3),
            data: (0..9).map(f64::from).collect(),
        };
        let mut w = vec![0.0f32; 9];
        w[4] = 1.0;
        assert_eq!(conv(&x, 1, &c, &w, None, Shape::new(1, 3, 3)), x.data);
        let s2 = Conv2d::new(1, 1, 3, 2, 1);
        assert_eq!(
            conv(&x, 1, &s2, &w, None, Shape::new(1, 2, 2)),
            [0.0, 2.0, 6.0, 8.0]
        );
    }
}
