//! tch at int8: peak's GEMM (one 1×1 convolution, stride 1, one group, no padding) as
//! `torch._int_mm` (`Tensor::internal_int_mm`: s8 × s8 → s32 accumulators, oneDNN's
//! VNNI/AMX kernels on x86) on the input and weights flopsbench's quantization gives.
//! tch's API has no quantized convolution, so a timed run is the integer GEMM alone: the
//! u8 input is shifted to s8 once when prepared, and the accumulators are requantized to
//! the layer's u8 output on the host, in f64, only to check them against the quantized
//! arithmetic (`(acc + (128 − z_in)·Σ_k w + bias)·s_in·s_w`, rounded half to even).

use tch::{Kind, Tensor};

use super::err;
use crate::backend::{PconvImpl, Prepared};
use crate::error::{Error, Result};
use crate::model::{ActQuant, Model};
use crate::spec::Layer;

/// The GEMM of a quantized 1×1 convolution, ready to run.
pub(super) struct IntMm {
    /// The input, positions × channels (NHWC), u8 shifted to s8.
    a: Tensor,
    /// The weights, input × output channels, s8.
    b: Tensor,
    acc: Option<Tensor>,
    /// (batch, positions per item, output channels).
    dims: (usize, usize, usize),
    /// Per output channel: `(128 − z_in)·Σ_k w + bias`, added to each accumulator.
    offset: Vec<f64>,
    /// Per output channel: `s_in·s_w`.
    scale: Vec<f64>,
    output: ActQuant,
}

fn refuse(why: &str) -> Error {
    Error::Backend {
        backend: "tch".into(),
        message: format!("tch at int8 runs peak's GEMM only (torch._int_mm): {why}"),
    }
}

/// The GEMM of `model`, a quantized single 1×1 convolution.
pub(super) fn prepare(model: &Model) -> Result<IntMm> {
    let params = model
        .int8
        .as_ref()
        .ok_or_else(|| refuse("the model is not quantized"))?;
    let (c, layer) = match (&model.net.nodes[..], &params.layers[..]) {
        ([node], [layer]) => match node.layer {
            Layer::Conv(c) if c.kernel == 1 && c.stride == 1 && c.groups == 1 && c.padding == 0 => {
                (c, layer)
            }
            _ => return Err(refuse("its one layer is not a 1×1 convolution")),
        },
        _ => return Err(refuse("the model has more than one layer")),
    };
    let [n, k, h, w] = model.input_dims();
    let (hw, m) = (h * w, n * h * w);
    let o = c.c_out;
    let input = params.input;
    let mut a = vec![0i8; m * k];
    for b in 0..n {
        for ch in 0..k {
            for p in 0..hw {
                let q = input.quantize(f64::from(model.input[(b * k + ch) * hw + p]));
                a[(b * hw + p) * k + ch] = (i16::from(q) - 128) as i8;
            }
        }
    }
    let mut bt = vec![0i8; k * o];
    for (i, wq) in layer.weight.iter().enumerate() {
        bt[(i % k) * o + i / k] = *wq;
    }
    let shift = 128.0 - f64::from(input.zero_point);
    let offset = (0..o)
        .map(|j| {
            let sum: i64 = layer.weight[j * k..(j + 1) * k]
                .iter()
                .map(|v| i64::from(*v))
                .sum();
            let bias = layer.bias.as_ref().map_or(0, |b| i64::from(b[j]));
            shift * sum as f64 + bias as f64
        })
        .collect();
    let scale = layer
        .weight_scales
        .iter()
        .map(|s| f64::from(input.scale) * f64::from(*s))
        .collect();
    let tensor = |data: &[i8], rows: usize, cols: usize| {
        Tensor::f_from_slice(data)
            .and_then(|t| t.f_view([rows as i64, cols as i64]))
            .map_err(err)
    };
    Ok(IntMm {
        a: tensor(&a, m, k)?,
        b: tensor(&bt, k, o)?,
        acc: None,
        dims: (n, hw, o),
        offset,
        scale,
        output: layer.output,
    })
}

impl Prepared for IntMm {
    fn run(&mut self) -> Result<()> {
        self.acc = Some(self.a.f_internal_int_mm(&self.b).map_err(err)?);
        Ok(())
    }

    fn sync(&mut self) -> Result<()> {
        Ok(())
    }

    fn output(&mut self) -> Result<Vec<f32>> {
        let acc = self.acc.as_ref().ok_or_else(|| Error::Backend {
            backend: "tch".into(),
            message: "output requested before any run".into(),
        })?;
        if acc.kind() != Kind::Int {
            return Err(refuse(&format!(
                "_int_mm returned {:?}, not int32",
                acc.kind()
            )));
        }
        let acc = Vec::<i32>::try_from(&acc.f_flatten(0, -1).map_err(err)?).map_err(err)?;
        let (n, hw, o) = self.dims;
        let mut out = vec![0f32; n * o * hw];
        for (i, v) in acc.iter().enumerate() {
            let (row, j) = (i / o, i % o);
            let (b, p) = (row / hw, row % hw);
            let y = (f64::from(*v) + self.offset[j]) * self.scale[j];
            let q = self.output.quantize(y);
            out[(b * o + j) * hw + p] = self.output.dequantize(q) as f32;
        }
        Ok(out)
    }

    fn detail(&self) -> String {
        "torch._int_mm (s8 × s8 → s32) of the quantized input and weights; tch's API has no \
         quantized convolution: the u8 input is shifted to s8 when prepared and the \
         accumulators are requantized on the host only to check them (not timed)"
            .into()
    }

    fn pconv_impl(&self) -> PconvImpl {
        PconvImpl::SplitCat
    }

    fn computed(&self) -> String {
        let (n, hw, o) = self.dims;
        let k = self.a.size().get(1).copied().unwrap_or(0);
        format!(
            "int8 (torch._int_mm {}×{k}×{o}, s32 accumulators; requantization not timed)",
            n * hw
        )
    }
}
