//! Model files travel to a remote device beside the worker binary, by content hash: each
//! file a job's cases read is copied once to `REMOTE_DIR/models/SHA256.onnx` (kept for
//! later runs), and the job sent to the worker names those copies. Rows coming back name
//! the file as the orchestrator has it.

use sha2::{Digest, Sha256};

use crate::fleet::devices::SshTarget;
use crate::fleet::protocol::Job;
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
        ssh::upload(target, &bytes, &remote, "644", "copying the model file")?;
    }
    let remote_cases = cases
        .iter()
        .map(|c| match &c.graph {
            Graph::File(m) => Case {
                graph: Graph::File(ModelCase {
                    path: remote_model(target, &m.sha256).into(),
                    ..m.clone()
                }),
                ..c.clone()
            },
            Graph::Spec(_) => c.clone(),
        })
        .collect();
    let mut sent = job.clone();
    sent.experiment.target = Target::Cases(remote_cases);
    Ok(sent)
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
