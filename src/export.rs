//! `flopsbench export`: the ONNX model of one operator case or network, with the same
//! seeded weights every backend runs, written atomically.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::model::Model;
use crate::spec::Net;
use crate::target::{CountTarget, NetTarget};

/// What to export.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportConfig {
    /// One network or one operator case.
    pub target: CountTarget,
    /// Network input resolution.
    pub resolution: usize,
    /// Batch size fixed in the graph's input shape.
    pub batch: usize,
    /// Seed of the weights.
    pub seed: u64,
    /// Fold BN into the convs.
    pub fuse_bn: bool,
    /// The file to write.
    pub output: PathBuf,
    /// Element type: f32; f16 (float16 weights, input and output); int8 (the QDQ graph
    /// flopsbench measures, calibrated on the seeded input: an operator stack quantized
    /// throughout, a network's convolutions each on its own). bf16 is refused with the
    /// reason.
    pub dtype: crate::spec::Dtype,
    /// `--pconv-as`: the partial convolutions under a layer-name prefix written as full
    /// convolutions (`false`) or depthwise ones (`true`).
    pub pconv_as: Option<(bool, String)>,
}

fn one_net(target: &CountTarget, resolution: usize) -> Result<Net> {
    match target {
        CountTarget::Nets(names) => match names.as_slice() {
            [name] if name != "all" => {
                NetTarget::resolve(std::slice::from_ref(name))?[0].build(resolution)
            }
            _ => Err(Error::Usage(
                "export writes one model: give one network name (not a list or `all`)".into(),
            )),
        },
        CountTarget::Ops(sweep) => {
            let cases = sweep.expand()?;
            match cases.as_slice() {
                [case] => case.to_net(),
                _ => Err(Error::Usage(format!(
                    "export writes one model, but these flags give {} cases; give one --kind, one --shape (default: four), one --ratio",
                    cases.len()
                ))),
            }
        }
    }
}

fn check_output_path(path: &Path) -> Result<()> {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !parent.is_dir() {
        return Err(Error::flag(
            "-o",
            format!("folder {} does not exist", parent.display()),
        ));
    }
    if path.is_dir() {
        return Err(Error::flag(
            "-o",
            format!(
                "{} is a folder; give a file name such as model.onnx",
                path.display()
            ),
        ));
    }
    Ok(())
}

/// Writes the model and returns a one-line description of what was written.
pub fn export(config: &ExportConfig) -> Result<String> {
    if config.batch == 0 || config.batch > crate::spec::shape::MAX_BATCH {
        return Err(Error::flag(
            "--batch",
            format!(
                "{} is outside 1..={}",
                config.batch,
                crate::spec::shape::MAX_BATCH
            ),
        ));
    }
    let dtype = config.dtype;
    match dtype {
        crate::spec::Dtype::F32 | crate::spec::Dtype::F16 | crate::spec::Dtype::Int8 => {}
        crate::spec::Dtype::Bf16 => {
            return Err(Error::flag(
                "--dtype",
                format!(
                    "bf16: ONNX Conv takes bf16 only from opset 22, and flopsbench writes opset {}",
                    crate::onnx::OPSET
                ),
            ));
        }
    }
    let mut net = one_net(&config.target, config.resolution)?;
    if let Some((depthwise, prefix)) = &config.pconv_as
        && net.replace_pconv(prefix, *depthwise) == 0
    {
        return Err(Error::flag(
            "--pconv-as",
            format!(
                "{} has no PConv layer named {prefix}… (see `flopsbench count {} --per-layer`)",
                net.name, net.name
            ),
        ));
    }
    if dtype == crate::spec::Dtype::Int8 {
        crate::quant::quantizable(&net).map_err(|why| Error::flag("--dtype", why))?;
    }
    check_output_path(&config.output)?;
    let mut model = Model::new(&net, config.batch, config.seed, config.fuse_bn);
    if dtype == crate::spec::Dtype::Int8 {
        let levels = crate::quant::weight_levels_here();
        if crate::quant::is_stack(&net) {
            model.int8 = Some(crate::quant::quantize(&model, levels)?.params);
        } else {
            model.int8_net = Some(crate::quant::quantize_net(&model, levels)?);
        }
    }
    let bytes = crate::onnx::to_bytes_as(&model, dtype);
    let tmp = config.output.with_extension("onnx.tmp");
    let io = |source| Error::Io {
        path: config.output.clone(),
        source,
    };
    std::fs::write(&tmp, &bytes).map_err(io)?;
    std::fs::rename(&tmp, &config.output).map_err(|e| {
        std::fs::remove_file(&tmp).ok();
        io(e)
    })?;
    let [n, c, h, w] = model.input_dims();
    Ok(format!(
        "wrote {} ({} bytes): {}{}{}, ONNX opset {}, input '{}' {n}x{c}x{h}x{w} {}, output '{}', seed {}, BN {}\n",
        config.output.display(),
        bytes.len(),
        net.name,
        match &config.pconv_as {
            Some((depthwise, prefix)) => format!(
                " with its PConv layers{} as {}",
                if prefix.is_empty() {
                    String::new()
                } else {
                    format!(" under {prefix}")
                },
                if *depthwise { "dwconv" } else { "conv" }
            ),
            None => String::new(),
        },
        match crate::quant::scheme_of(&model) {
            Some(scheme) => format!(" as int8 ({scheme})"),
            None if dtype == crate::spec::Dtype::F16 => " as f16 (float16 weights)".into(),
            None => String::new(),
        },
        crate::onnx::OPSET,
        crate::onnx::INPUT_NAME,
        if dtype == crate::spec::Dtype::F16 {
            "f16"
        } else {
            "f32"
        },
        crate::onnx::OUTPUT_NAME,
        config.seed,
        if config.fuse_bn { "folded" } else { "kept" }
    ))
}
