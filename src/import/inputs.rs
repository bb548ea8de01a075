//! A model's inputs and their shapes: the dimensions the file declares, `--input-shape
//! NAME=1x3x224x224` for symbolic or unknown ones, `--batch` for a symbolic first
//! dimension. A shape left unknown is refused before anything runs.

use std::fmt;
use std::str::FromStr;

use tract_onnx::pb;
use tract_onnx::pb::tensor_proto::DataType;
use tract_onnx::pb::tensor_shape_proto::dimension;

use super::ModelFile;
use crate::error::{Error, Result};

/// The flag that sets input shapes.
pub const FLAG: &str = "--input-shape";

/// The most elements an input may have (2^32: 16 GiB of f32).
const MAX_ELEMENTS: u64 = 1 << 32;

/// One `--input-shape NAME=DIMS` value.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InputShape {
    /// The graph input's name.
    pub name: String,
    /// Its full shape, batch included.
    pub dims: Vec<usize>,
}

impl FromStr for InputShape {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let usage = || {
            Error::flag(
                FLAG,
                format!("'{s}': expected NAME=DIMS, e.g. input=1x3x224x224"),
            )
        };
        let (name, dims) = s.rsplit_once('=').ok_or_else(usage)?;
        let dims: Vec<usize> = dims
            .split(['x', ','])
            .map(|d| d.trim().parse().ok().filter(|&v| v > 0))
            .collect::<Option<_>>()
            .ok_or_else(usage)?;
        if name.trim().is_empty() || dims.is_empty() {
            return Err(usage());
        }
        Ok(InputShape {
            name: name.trim().to_string(),
            dims,
        })
    }
}

impl fmt::Display for InputShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dims: Vec<String> = self.dims.iter().map(usize::to_string).collect();
        write!(f, "{}={}", self.name, dims.join("x"))
    }
}

/// A graph input with its resolved shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedInput {
    /// Its name.
    pub name: String,
    /// Its shape, batch included.
    pub dims: Vec<usize>,
    /// Whether its first dimension is the batch (symbolic in the file, set by `--batch`).
    pub batched: bool,
    /// Its element type (`float32`, `float16`, ...).
    pub dtype: &'static str,
}

/// The element types an input may have (floats, and the 8-bit integers of quantized
/// models).
fn input_type(elem: i32) -> Option<&'static str> {
    match DataType::try_from(elem).ok()? {
        DataType::Float => Some("float32"),
        DataType::Float16 => Some("float16"),
        DataType::Bfloat16 => Some("bfloat16"),
        DataType::Double => Some("float64"),
        DataType::Uint8 => Some("uint8"),
        DataType::Int8 => Some("int8"),
        _ => None,
    }
}

fn type_name(elem: i32) -> String {
    DataType::try_from(elem).map_or_else(
        |_| format!("type {elem}"),
        |t| t.as_str_name().to_lowercase(),
    )
}

/// Declared dimensions: `Some(v)` when fixed, `None` when symbolic or unknown, with the
/// symbol's name (empty when it has none).
type Declared = Vec<(Option<usize>, String)>;

/// The element type and declared dimensions of `input` (`None`: no shape declared).
fn declared(input: &pb::ValueInfoProto) -> (i32, Option<Declared>) {
    let Some(pb::type_proto::Value::TensorType(t)) =
        input.r#type.as_ref().and_then(|t| t.value.as_ref())
    else {
        return (0, None);
    };
    let dims = t.shape.as_ref().map(|s| {
        s.dim
            .iter()
            .map(|d| match &d.value {
                Some(dimension::Value::DimValue(v)) if *v > 0 => (Some(*v as usize), String::new()),
                Some(dimension::Value::DimParam(p)) => (None, p.clone()),
                _ => (None, String::new()),
            })
            .collect()
    });
    (t.elem_type, dims)
}

/// The graph inputs that are not initializers, with their shapes: given ones first,
/// then declared ones, a symbolic first dimension set to `batch`.
pub fn resolve(file: &ModelFile, given: &[InputShape], batch: usize) -> Result<Vec<ResolvedInput>> {
    let graph = file.graph();
    let initialized: std::collections::HashSet<&str> =
        graph.initializer.iter().map(|t| t.name.as_str()).collect();
    let inputs: Vec<&pb::ValueInfoProto> = graph
        .input
        .iter()
        .filter(|i| !initialized.contains(i.name.as_str()))
        .collect();
    let names: Vec<&str> = inputs.iter().map(|i| i.name.as_str()).collect();
    for g in given {
        if !names.contains(&g.name.as_str()) {
            return Err(Error::flag(
                FLAG,
                format!(
                    "{} has no input '{}'; its inputs: {}",
                    file.path.display(),
                    g.name,
                    names.join(", ")
                ),
            ));
        }
    }
    if inputs.is_empty() {
        return Err(file_error(file, "the graph has no inputs".into()));
    }
    inputs
        .iter()
        .map(|i| resolve_one(file, i, given, batch))
        .collect()
}

fn file_error(file: &ModelFile, message: String) -> Error {
    Error::InputFile {
        path: file.path.clone(),
        line: None,
        message,
    }
}

fn resolve_one(
    file: &ModelFile,
    input: &pb::ValueInfoProto,
    given: &[InputShape],
    batch: usize,
) -> Result<ResolvedInput> {
    let (elem, dims) = declared(input);
    if elem == 0 {
        return Err(file_error(
            file,
            format!("input '{}' has no tensor type", input.name),
        ));
    }
    let Some(dtype) = input_type(elem) else {
        return Err(file_error(
            file,
            format!(
                "input '{}' is {}: inputs must be floating-point, uint8 or int8 tensors",
                input.name,
                type_name(elem)
            ),
        ));
    };
    if let Some(g) = given.iter().find(|g| g.name == input.name) {
        let refuse = |why: String| {
            Error::flag(
                FLAG,
                format!(
                    "'{g}': input '{}' of {} {why}",
                    input.name,
                    file.path.display()
                ),
            )
        };
        let mut shape = g.dims.clone();
        let mut batched = false;
        if let Some(d) = &dims {
            if d.len() != g.dims.len() {
                return Err(refuse(format!(
                    "has {} dimensions, not {}",
                    d.len(),
                    g.dims.len()
                )));
            }
            for (i, ((fixed, _), given)) in d.iter().zip(&g.dims).enumerate() {
                if let Some(f) = fixed
                    && f != given
                {
                    return Err(refuse(format!("fixes dimension {i} at {f}")));
                }
            }
            // A symbolic first dimension is the batch, whatever the shape says: --batch
            // (or the device's protocol) sets it.
            if d.len() > 1 && d[0].0.is_none() {
                if g.dims[0] != 1 && g.dims[0] != batch {
                    return Err(refuse(format!(
                        "has a symbolic first dimension, the batch: give 1 there and set the batch with --batch (not {})",
                        g.dims[0]
                    )));
                }
                shape[0] = batch;
                batched = true;
            }
        }
        let elements = shape.iter().try_fold(1u64, |n, &d| n.checked_mul(d as u64));
        if elements.is_none_or(|n| n > MAX_ELEMENTS) {
            return Err(refuse(format!("would have over {MAX_ELEMENTS} elements")));
        }
        return Ok(ResolvedInput {
            name: input.name.clone(),
            dims: shape,
            batched,
            dtype,
        });
    }
    let hint = || format!("set it with {FLAG} {}=DIMS", input.name);
    let Some(dims) = dims else {
        return Err(file_error(
            file,
            format!("input '{}' has no declared shape; {}", input.name, hint()),
        ));
    };
    let mut out = Vec::with_capacity(dims.len());
    let mut batched = false;
    for (i, (value, param)) in dims.iter().enumerate() {
        match value {
            Some(v) => out.push(*v),
            None if i == 0 => {
                out.push(batch);
                batched = true;
            }
            None => {
                let what = if param.is_empty() {
                    "unknown".to_string()
                } else {
                    format!("symbolic ('{param}')")
                };
                return Err(file_error(
                    file,
                    format!(
                        "input '{}': dimension {i} is {what}; {}",
                        input.name,
                        hint()
                    ),
                ));
            }
        }
    }
    Ok(ResolvedInput {
        name: input.name.clone(),
        dims: out,
        batched,
        dtype,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_shapes_parse_and_print() {
        let s: InputShape = "pixel_values=1x3x224x224".parse().unwrap();
        assert_eq!(s.dims, vec![1, 3, 224, 224]);
        assert_eq!(s.to_string(), "pixel_values=1x3x224x224");
        for bad in ["x", "=1x3", "x=1x0", "x=ax3", "x="] {
            let e = bad.parse::<InputShape>().unwrap_err();
            assert!(e.to_string().starts_with("--input-shape"), "{e}");
        }
    }
}
