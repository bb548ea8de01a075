//! The plain f64 reference for operator stacks: a direct convolution (every tap of every
//! input channel added in f64, in order, no im2col, no GEMM, no Winograd), used to check
//! every backend's output before it is timed. A row's output positions are summed a tile
//! at a time, the tile's sums held in registers until done; output planes are independent,
//! so they are split across the host's cores.

use crate::error::{Error, Result};
use crate::model::{Model, NodeParams};
use crate::spec::{Conv2d, Layer, Shape};

/// A batch of NCHW feature maps in f64.
pub(crate) struct Maps {
    /// One item's shape.
    pub(crate) shape: Shape,
    /// `batch × shape` values.
    pub(crate) data: Vec<f64>,
}

/// Output columns summed together: a tile of accumulators that stays in registers across
/// the whole sum of an output position (every input channel and tap) and is written once.
const TILE: usize = 8;

/// One item's input channels, zero-padded so that every tap of every tile reads inside
/// its channel: `padding` zero rows and columns before the map, and as many after it as
/// the last tile's columns and the last output row need.
struct Padded {
    data: Vec<f64>,
    rows: usize,
    cols: usize,
}

impl Padded {
    fn new(xn: &[f64], channels: usize, (h, w): (usize, usize), c: &Conv2d, out: Shape) -> Padded {
        let (k, s, p) = (c.kernel, c.stride, c.padding);
        let tiled_w = out.w.div_ceil(TILE) * TILE;
        let rows = (h + 2 * p).max(out.h.saturating_sub(1) * s + k);
        let cols = (w + 2 * p).max(tiled_w.saturating_sub(1) * s + k);
        let mut data = vec![0.0f64; channels * rows * cols];
        for ch in 0..channels {
            for y in 0..h {
                let from = &xn[(ch * h + y) * w..][..w];
                data[(ch * rows + y + p) * cols + p..][..w].copy_from_slice(from);
            }
        }
        Padded { data, rows, cols }
    }

    fn channel(&self, ch: usize) -> &[f64] {
        &self.data[ch * self.rows * self.cols..][..self.rows * self.cols]
    }
}

/// One output plane `(n, o)` of a direct convolution: each output position is the bias
/// plus, in order, every input channel's every tap times its input (zeros in the
/// padding), summed in f64, TILE positions of a row at a time. `S` is the stride when it
/// is known at compile time (1), else 0 and `stride` is used.
#[inline(always)]
fn conv_plane_strided<const S: usize>(
    y: &mut [f64],
    x: &Padded,
    c: &Conv2d,
    o: usize,
    weights: &[f64],
    bias: f64,
    out: Shape,
) {
    let s = if S == 0 { c.stride } else { S };
    let (cin_g, k) = (c.c_in / c.groups, c.kernel);
    let g = o / (c.c_out / c.groups);
    for oy in 0..out.h {
        for ox0 in (0..out.w).step_by(TILE) {
            let mut acc = [bias; TILE];
            for i in 0..cin_g {
                let channel = x.channel(g * cin_g + i);
                for ky in 0..k {
                    let row = &channel[(oy * s + ky) * x.cols..][..x.cols];
                    for kx in 0..k {
                        let wv = weights[(i * k + ky) * k + kx];
                        let taps = &row[ox0 * s + kx..][..(TILE - 1) * s + 1];
                        for (l, a) in acc.iter_mut().enumerate() {
                            *a += wv * taps[l * s];
                        }
                    }
                }
            }
            let n = TILE.min(out.w - ox0);
            y[oy * out.w + ox0..][..n].copy_from_slice(&acc[..n]);
        }
    }
}

/// A direct convolution in f64, output planes split across the host's cores.
pub(crate) fn conv(
    x: &Maps,
    batch: usize,
    c: &Conv2d,
    weights: &[f64],
    bias: Option<&[f64]>,
    out: Shape,
) -> Vec<f64> {
    let plane = out.h * out.w;
    let mut y = vec![0.0f64; batch * out.elements() as usize];
    let per_item = x.shape.elements() as usize;
    let padded: Vec<Padded> = (0..batch)
        .map(|n| {
            let xn = &x.data[n * per_item..][..per_item];
            Padded::new(xn, c.c_in, (x.shape.h, x.shape.w), c, out)
        })
        .collect();
    let per_o = (c.c_in / c.groups) * c.kernel * c.kernel;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let planes_per_thread = (batch * c.c_out).div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        for (t, chunk) in y.chunks_mut(planes_per_thread * plane).enumerate() {
            let (padded, weights) = (&padded, &weights);
            scope.spawn(move || {
                for (j, yp) in chunk.chunks_mut(plane).enumerate() {
                    let idx = t * planes_per_thread + j;
                    let (n, o) = (idx / c.c_out, idx % c.c_out);
                    let w = &weights[o * per_o..][..per_o];
                    let b = bias.map_or(0.0, |b| b[o]);
                    if c.stride == 1 {
                        conv_plane_strided::<1>(yp, &padded[n], c, o, w, b, out);
                    } else {
                        conv_plane_strided::<0>(yp, &padded[n], c, o, w, b, out);
                    }
                }
            });
        }
    });
    y
}

/// The first `channels` channels of every item of `x`.
pub(crate) fn first_channels(x: &Maps, batch: usize, channels: usize) -> Maps {
    let per_item = x.shape.elements() as usize;
    let len = channels * x.shape.h * x.shape.w;
    Maps {
        shape: Shape::new(channels, x.shape.h, x.shape.w),
        data: (0..batch)
            .flat_map(|n| x.data[n * per_item..][..len].iter().copied())
            .collect(),
    }
}

/// Writes `part` (the first `channels` channels of every item) into `out`, maps of
/// `shape`.
pub(crate) fn put_first_channels(
    out: &mut [f64],
    part: &[f64],
    batch: usize,
    shape: Shape,
    channels: usize,
) {
    let per_item = shape.elements() as usize;
    let len = channels * shape.h * shape.w;
    for n in 0..batch {
        out[n * per_item..][..len].copy_from_slice(&part[n * len..][..len]);
    }
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
        let weight: Vec<f64> = weight.iter().map(|v| f64::from(*v)).collect();
        let bias: Option<Vec<f64>> = bias
            .as_ref()
            .map(|b| b.iter().map(|v| f64::from(*v)).collect());
        let data = match node.layer {
            Layer::Conv(c) => conv(&x, batch, &c, &weight, bias.as_deref(), node.out),
            Layer::PConv(p) => {
                // The first c_p channels convolved, the rest passed through.
                let c = Conv2d::new(p.partial, p.partial, p.kernel, 1, 1);
                let part = first_channels(&x, batch, p.partial);
                let y = conv(&part, batch, &c, &weight, None, part.shape);
                let mut out = x.data.clone();
                put_first_channels(&mut out, &y, batch, x.shape, p.partial);
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

    /// The convolution's definition, one output value at a time, taps outside the map
    /// skipped: what the tiled version must equal in value (same terms, same order; its
    /// padding taps add zeros).
    fn by_definition(x: &Maps, c: &Conv2d, w: &[f32], bias: &[f32], out: Shape) -> Vec<f64> {
        let (cin_g, cout_g, k) = (c.c_in / c.groups, c.c_out / c.groups, c.kernel);
        let (h, wd) = (x.shape.h as isize, x.shape.w as isize);
        let mut y = Vec::new();
        for o in 0..c.c_out {
            for oy in 0..out.h {
                for ox in 0..out.w {
                    let mut acc = f64::from(bias[o]);
                    for i in 0..cin_g {
                        let ch = o / cout_g * cin_g + i;
                        for ky in 0..k {
                            for kx in 0..k {
                                let iy = (oy * c.stride + ky) as isize - c.padding as isize;
                                let ix = (ox * c.stride + kx) as isize - c.padding as isize;
                                if iy < 0 || ix < 0 || iy >= h || ix >= wd {
                                    continue;
                                }
                                let v = x.data
                                    [(ch * h as usize + iy as usize) * wd as usize + ix as usize];
                                acc += f64::from(w[((o * cin_g + i) * k + ky) * k + kx]) * v;
                            }
                        }
                    }
                    y.push(acc);
                }
            }
        }
        y
    }

    #[test]
    fn tiled_convolution_equals_the_definition_exactly() {
        // Widths below, at and across tiles; strides 1 to 3; padding 0 to 2; kernels 1, 3,
        // 5, one larger than the map; dense, grouped (2 input channels a group) and
        // depthwise; two items in the batch.
        let cases = [
            (Conv2d::new(4, 4, 3, 1, 1), Shape::new(4, 7, 7)),
            (Conv2d::new(4, 6, 3, 2, 1), Shape::new(4, 9, 17)),
            (Conv2d::new(6, 6, 5, 1, 2), Shape::new(6, 5, 9)),
            (Conv2d::new(4, 8, 1, 1, 0), Shape::new(4, 3, 16)),
            (Conv2d::new(6, 6, 3, 3, 0), Shape::new(6, 11, 10)),
            (Conv2d::new(2, 2, 5, 1, 2), Shape::new(2, 1, 3)),
        ];
        let batch = 2;
        for (mut c, shape) in cases {
            for groups in [1, c.c_in / 2, c.c_in] {
                if c.c_out % groups != 0 {
                    continue;
                }
                c.groups = groups;
                let out = Shape::new(
                    c.c_out,
                    (shape.h + 2 * c.padding - c.kernel) / c.stride + 1,
                    (shape.w + 2 * c.padding - c.kernel) / c.stride + 1,
                );
                let per_item = shape.elements();
                let x = Maps {
                    shape,
                    data: (0..batch as u64 * per_item)
                        .map(|i| ((i * 7919 % 211) as f64 - 105.0) / 37.0)
                        .collect(),
                };
                let n_w = c.c_out * c.c_in / groups * c.kernel * c.kernel;
                let w: Vec<f32> = (0..n_w)
                    .map(|i| ((i * 104_729 % 97) as f32 - 48.0) / 29.0)
                    .collect();
                let bias: Vec<f32> = (0..c.c_out).map(|o| o as f32 / 3.0 - 1.0).collect();
                let want: Vec<f64> = x
                    .data
                    .chunks(per_item as usize)
                    .flat_map(|item| {
                        let one = Maps {
                            shape,
                            data: item.to_vec(),
                        };
                        by_definition(&one, &c, &w, &bias, out)
                    })
                    .collect();
                let (w64, b64) = (widen(&w), widen(&bias));
                assert_eq!(
                    conv(&x, batch, &c, &w64, Some(&b64), out),
                    want,
                    "{c:?} on {shape:?}"
                );
            }
        }
    }

    fn widen(v: &[f32]) -> Vec<f64> {
        v.iter().map(|x| f64::from(*x)).collect()
    }

    #[test]
    fn identity_kernel_is_identity() {
        let c = Conv2d::new(1, 1, 3, 1, 1);
        let x = Maps {
            shape: Shape::new(1, 3, 3),
            data: (0..9).map(f64::from).collect(),
        };
        let mut w = vec![0.0f64; 9];
        w[4] = 1.0;
        assert_eq!(conv(&x, 1, &c, &w, None, Shape::new(1, 3, 3)), x.data);
        let s2 = Conv2d::new(1, 1, 3, 2, 1);
        assert_eq!(
            conv(&x, 1, &s2, &w, None, Shape::new(1, 2, 2)),
            [0.0, 2.0, 6.0, 8.0]
        );
    }
}
