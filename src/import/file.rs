//! An ONNX model file read from disk: its bytes decoded, its external data loaded, its
//! name and content hash; every problem is an error naming the file (exit 2).

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use prost::Message;
use sha2::{Digest, Sha256};
use tract_onnx::pb;

use crate::error::{Error, Result};

/// A decoded ONNX model and where it came from.
#[derive(Debug, Clone)]
pub struct ModelFile {
    /// The path as given.
    pub path: PathBuf,
    /// The file stem: the model's name in rows and tables.
    pub name: String,
    /// SHA-256 of the file's bytes, hex (external data files not included).
    pub hash: String,
    /// The model, external data loaded into the initializers.
    pub proto: pb::ModelProto,
    /// Whether some initializers were read from external data files.
    pub has_external_data: bool,
}

/// Whether a network target names a model file rather than a zoo network: it is not a zoo
/// name (or `all`), and it ends in `.onnx`, has a path separator, or names something
/// that exists.
pub fn is_model_path(target: &str) -> bool {
    if target == "all" || crate::zoo::NAMES.contains(&target) {
        return false;
    }
    target.to_ascii_lowercase().ends_with(".onnx")
        || target.contains(std::path::MAIN_SEPARATOR)
        || target.contains('/')
        || Path::new(target).exists()
}

fn bad(path: &Path, message: impl Into<String>) -> Error {
    Error::InputFile {
        path: path.to_path_buf(),
        line: None,
        message: message.into(),
    }
}

impl ModelFile {
    /// Reads and checks the model at `path`.
    pub fn open(path: &Path) -> Result<ModelFile> {
        if path.is_dir() {
            return Err(bad(path, "is a directory, not an ONNX model file"));
        }
        let bytes = std::fs::read(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => bad(
                path,
                "no such file (a network is a zoo name or an existing .onnx file; `flopsbench list` shows the zoo)",
            ),
            _ => bad(path, format!("cannot read: {e}")),
        })?;
        let hash = format!("{:x}", Sha256::digest(&bytes));
        let decoded = pb::ModelProto::decode(bytes.as_slice());
        drop(bytes);
        let mut proto = decoded.map_err(|e| {
            bad(
                path,
                format!(
                    "not an ONNX model (the protobuf does not decode: {e}); is the file complete?"
                ),
            )
        })?;
        let graph = proto
            .graph
            .as_mut()
            .ok_or_else(|| bad(path, "not an ONNX model: it has no graph"))?;
        if graph.node.is_empty() {
            return Err(bad(path, "the model's graph has no nodes"));
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        let mut external = HashMap::new();
        for tensor in &mut graph.initializer {
            load_external(path, dir, tensor, &mut external)?;
        }
        Ok(ModelFile {
            path: path.to_path_buf(),
            name: super::stem(path),
            hash,
            proto,
            has_external_data: !external.is_empty(),
        })
    }

    /// The graph (present: [`ModelFile::open`] checked it).
    pub fn graph(&self) -> &pb::GraphProto {
        self.proto
            .graph
            .as_ref()
            .expect("ModelFile::open checks the graph")
    }

    /// Drops the initializers' data (their names, types and dimensions stay): what counting
    /// needs, in a third of the memory.
    pub fn drop_weights(&mut self) {
        if let Some(g) = self.proto.graph.as_mut() {
            for t in &mut g.initializer {
                t.raw_data = Vec::new();
                t.float_data = Vec::new();
            }
        }
    }
}

/// Reads an initializer's external data (ONNX `data_location = EXTERNAL`) into `raw_data`;
/// each external file is read once (`files`, by location).
fn load_external(
    path: &Path,
    dir: &Path,
    tensor: &mut pb::TensorProto,
    files: &mut HashMap<String, Vec<u8>>,
) -> Result<()> {
    if tensor.data_location != Some(pb::tensor_proto::DataLocation::External as i32) {
        return Ok(());
    }
    let entry = |key: &str| {
        tensor
            .external_data
            .iter()
            .find(|e| e.key == key)
            .map(|e| e.value.clone())
    };
    let location = entry("location").ok_or_else(|| {
        bad(
            path,
            format!(
                "initializer '{}' has external data without a location",
                tensor.name
            ),
        )
    })?;
    let number = |key: &str| -> Result<Option<usize>> {
        entry(key)
            .map(|v| {
                v.parse().map_err(|_| {
                    bad(
                        path,
                        format!("initializer '{}': bad {key} '{v}'", tensor.name),
                    )
                })
            })
            .transpose()
    };
    let (offset, length) = (number("offset")?.unwrap_or(0), number("length")?);
    let inside = Path::new(&location)
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    if !inside {
        return Err(bad(
            path,
            format!(
                "initializer '{}': external data location '{location}' must be a relative path inside the model's folder",
                tensor.name
            ),
        ));
    }
    let file = dir.join(&location);
    if !files.contains_key(&location) {
        let data = std::fs::read(&file).map_err(|e| {
            bad(
                path,
                format!(
                    "initializer '{}': its external data file {} cannot be read: {e}",
                    tensor.name,
                    file.display()
                ),
            )
        })?;
        files.insert(location.clone(), data);
    }
    let data = &files[&location];
    let end = match length {
        Some(l) => offset.saturating_add(l),
        None => data.len(),
    };
    if offset > data.len() || end > data.len() {
        return Err(bad(
            path,
            format!(
                "initializer '{}': {} has {} bytes, the model reads {offset}..{end}",
                tensor.name,
                file.display(),
                data.len()
            ),
        ));
    }
    tensor.raw_data = data[offset..end].to_vec();
    tensor.data_location = None;
    tensor.external_data.clear();
    Ok(())
}
