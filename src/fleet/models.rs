//! Model files travel to a remote device beside the worker binary, by content hash: over
//! SSH each file a job's cases read is copied once to `REMOTE_DIR/models/SHA256.onnx`
//! (kept for later runs), and the job sent to the worker names those copies; to a Slurm
//! node they travel inside the job (base64) and the worker writes them to its temporary
//! folder for the job's duration. Rows coming back name the file as the orchestrator has
//! it.

use base64::Engine;
use sha2::{Digest, Sha256};

use crate::fleet::devices::SshTarget;
use crate::fleet::protocol::{CarriedModel, Job};
use crate::fleet::ssh;
use crate::import::ModelFile;
use crate::record::Record;
use crate::target::{Case, Graph, ModelCase, Target};

/// Where the model with content hash `sha256` lives on the host.
fn remote_model(target: &SshTarget, sha256: &str) -> String {
    format!(
        "{}/models/{sha256}.onnx",
        target.remote_dir.trim_end_matches('/')
    )
}

/// The model files `cases` read, each once.
fn files(cases: &[Case]) -> Vec<&ModelCase> {
    let mut out: Vec<&ModelCase> = Vec::new();
    for m in cases.iter().filter_map(Case::model_file) {
        if !out.iter().any(|o| o.sha256 == m.sha256) {
            out.push(m);
        }
    }
    out
}

/// The bytes of model file `m`, checked against its hash and refused when its weights are
/// in external files.
fn read_checked(m: &ModelCase) -> Result<Vec<u8>, String> {
    let bytes = std::fs::read(&m.path)
        .map_err(|e| format!("cannot read the model file {}: {e}", m.path.display()))?;
    // The bytes sent are the bytes hashed: the copy's name is their hash.
    if format!("{:x}", Sha256::digest(&bytes)) != m.sha256 {
        return Err(format!(
            "{} changed since the run started (its SHA-256 differs)",
            m.path.display()
        ));
    }
    let file = ModelFile::open(&m.path).map_err(|e| e.to_string())?;
    if file.has_external_data {
        return Err(format!(
            "{} keeps its weights in external data files; sending those to a remote device is not supported yet (export the model as one file)",
            m.path.display()
        ));
    }
    Ok(bytes)
}

/// `job` with its cases' model files named `path_of(sha256)`.
fn renamed(job: &Job, cases: &[Case], path_of: impl Fn(&str) -> String) -> Job {
    let cases = cases
        .iter()
        .map(|c| match &c.graph {
            Graph::File(m) => Case {
                graph: Graph::File(ModelCase {
                    path: path_of(&m.sha256).into(),
                    ..m.clone()
                }),
                ..c.clone()
            },
            Graph::Spec(_) => c.clone(),
        })
        .collect();
    let mut sent = job.clone();
    sent.experiment.target = Target::Cases(cases);
    sent
}

/// `job` for a Slurm node: with model files among `cases` and no shared file system
/// (`carry`), the files carried in the job and its cases naming them by hash (the worker
/// writes them out, see [`write_carried`]); otherwise the job as it is.
pub fn embed(job: &Job, cases: &[Case], carry: bool) -> Result<Job, String> {
    let files = files(cases);
    if files.is_empty() || !carry {
        return Ok(job.clone());
    }
    let mut sent = renamed(job, cases, |sha| format!("{sha}.onnx"));
    for m in files {
        sent.models.push(CarriedModel {
            sha256: m.sha256.clone(),
            base64: base64::engine::general_purpose::STANDARD.encode(read_checked(m)?),
        });
    }
    Ok(sent)
}

/// Writes the models carried in `job` to a new temporary folder, and names those files in
/// its cases; the folder (removed when dropped), or `None` when the job carries none.
pub fn write_carried(job: &mut Job) -> Result<Option<tempfile::TempDir>, String> {
    if job.models.is_empty() {
        return Ok(None);
    }
    let dir = tempfile::Builder::new()
        .prefix("flopsbench-models-")
        .tempdir()
        .map_err(|e| format!("cannot make a folder for the job's model files: {e}"))?;
    for m in &job.models {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&m.base64)
            .map_err(|e| format!("the job's model {} is not base64: {e}", m.sha256))?;
        if format!("{:x}", Sha256::digest(&bytes)) != m.sha256 {
            return Err(format!("the job's model {} arrived damaged", m.sha256));
        }
        let path = dir.path().join(format!("{}.onnx", m.sha256));
        std::fs::write(&path, bytes)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    if let Target::Cases(cases) = &job.experiment.target {
        let cases = cases.clone();
        let root = dir.path().to_path_buf();
        *job = renamed(job, &cases, |sha| {
            root.join(format!("{sha}.onnx")).display().to_string()
        });
    }
    job.models.clear();
    Ok(Some(dir))
}

/// `job` as the worker on `target` must get it: with model files among `cases`, every
/// file copied to the host (unless there already) and the job's cases naming the copies.
pub fn send(target: &SshTarget, job: &Job, cases: &[Case]) -> Result<Job, String> {
    let files = files(cases);
    if files.is_empty() {
        return Ok(job.clone());
    }
    for m in &files {
        let remote = remote_model(target, &m.sha256);
        if ssh::has_file(target, &remote)? {
            continue;
        }
        let bytes = read_checked(m)?;
        ssh::upload(target, &bytes, &remote, "644", "copying the model file")?;
    }
    Ok(renamed(job, cases, |sha| remote_model(target, sha)))
}

/// `record` naming its model file as the orchestrator has it (found by content hash
/// among `cases`).
pub fn local_path(mut record: Record, cases: &[Case]) -> Record {
    if let Some(m) = files(cases)
        .into_iter()
        .find(|m| !record.model_sha256.is_empty() && m.sha256 == record.model_sha256)
    {
        record.model_path = m.path.display().to_string();
    }
    record
}
