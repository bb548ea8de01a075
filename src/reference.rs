//! The plain f64 reference for operator stacks: a direct convolution (every tap of every
//! input channel added in f64, no im2col, no GEMM, no Winograd), used to check every
//! backend's output before it is timed. Output planes are independent, so they are split
//! across the host's cores.

use crate::error::{Error, Result};
use crate::model::{Model, NodeParams};
use crate::spec::{Conv2d, Layer, Shape};

/// A batch of NCHW feature maps in f64.
struct Maps {
    shape: Shape,
    data: Vec<f64>,
}

/// One output plane `(n, o)` of a direct convolution: bias, then for every input channel
/// and kernel tap, the tap's weight times the shifted input rows.
#[allow(clippy::too_many_arguments)]
fn conv_plane(
    y: &mut [f64],
    xn: &[f64],
    (h, w): (usize, usize),
    c: &Conv2d,
    o: usize,
    weight: &[f32],
    bias: Option<&[f32]>,
    out: Shape,
) {
    let (cin_g, cout_g, k, s) = (c.c_in / c.groups, c.c_out / c.groups, c.kernel, c.stride);
    let p = c.padding as isize;
    let g = o / cout_g;
    y.fill(bias.map_or(0.0, |b| b[o] as f64));
    for i in 0..cin_g {
        let xc = &xn[(g * cin_g + i) * h * w..][..h * w];
        for ky in 0..k {
            for kx in 0..k {
                let wv = weight[((o * cin_g + i) * k + ky) * k + kx] as f64;
                // Output columns whose input column ox·s + kx − p lies inside the map.
                let first = (p - kx as isize).max(0) as usize;
                let lo = first.div_ceil(s);
                let last = w as isize - 1 + p - kx as isize;
                if last < 0 {
                    continue;
                }
                let hi = (last as usize / s + 1).min(out.w);
                for oy in 0..out.h {
                    let iy = (oy * s + ky) as isize - p;
                    if iy < 0 || iy >= h as isize {
                        continue;
                    }
                    let row = &xc[iy as usize * w..][..w];
                    let yrow = &mut y[oy * out.w..][..out.w];
                    for ox in lo..hi {
                        yrow[ox] += wv * row[ox * s + kx - c.padding];
                    }
                }
            }
        }
    }
}

/// A direct convolution in f64, output planes split across the host's cores.
fn conv(
    x: &Maps,
    batch: usize,
    c: &Conv2d,
    weight: &[f32],
    bias: Option<&[f32]>,
    out: Shape,
) -> Vec<f64> {
    let plane = out.h * out.w;
    let mut y = vec![0.0f64; batch * out.elements() as usize];
    let per_item = x.shape.elements() as usize;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let planes_per_thread = (batch * c.c_out).div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        for (t, chunk) in y.chunks_mut(planes_per_thread * plane).enumerate() {
            scope.spawn(move || {
                for (j, yp) in chunk.chunks_mut(plane).enumerate() {
                    let idx = t * planes_per_thread + j;
                    let (n, o) = (idx / c.c_out, idx % c.c_out);
                    let xn = &x.data[n * per_item..][..per_item];
                    conv_plane(yp, xn, (x.shape.h, x.shape.w), c, o, weight, bias, out);
                }
            });
        }
    });
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
