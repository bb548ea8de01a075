//! Per-node times from ONNX Runtime's own profiler: a second session of the same model
//! with profiling on (the timed session never profiles), run once to warm up and then
//! `passes` times; its Chrome-trace JSON gives every node's kernel time in whole µs,
//! grouped here by the `model_run` each falls in. The session also saves the model as it
//! optimised it: each node's outputs, followed past the layout reorders it added, are the
//! graph values the node computes, which name the layers it covers.

use std::collections::HashMap;
use std::path::PathBuf;

use prost::Message;
use tract_onnx::pb;

use ort::value::DynTensor;
use serde::Deserialize;

use super::{builder, err};
use crate::backend::{NodeTime, Settings};
use crate::device::DeviceSpec;
use crate::error::Result;

/// What a session was built from.
pub(super) enum ModelBytes {
    /// The exported graph's bytes.
    Memory(Vec<u8>),
    /// A model file, run as given.
    File(PathBuf),
}

/// One event of the trace (only the fields used).
#[derive(Deserialize)]
struct Event {
    #[serde(default)]
    cat: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    ts: u64,
    #[serde(default)]
    dur: u64,
    #[serde(default)]
    args: Args,
}

#[derive(Deserialize, Default)]
struct Args {
    #[serde(default)]
    op_name: String,
}

/// `passes` profiled runs of `model`, node by node.
pub(super) fn profile(
    model: &ModelBytes,
    device: &DeviceSpec,
    settings: &Settings,
    inputs: &[(String, DynTensor)],
    passes: usize,
) -> Result<Vec<Vec<NodeTime>>> {
    let dir = std::env::temp_dir().join(format!(
        "flopsbench-ort-profile-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).map_err(err)?;
    let result = run(model, device, settings, inputs, passes, &dir);
    std::fs::remove_dir_all(&dir).ok();
    result
}

static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn run(
    model: &ModelBytes,
    device: &DeviceSpec,
    settings: &Settings,
    inputs: &[(String, DynTensor)],
    passes: usize,
    dir: &std::path::Path,
) -> Result<Vec<Vec<NodeTime>>> {
    let (builder, _) = builder(device, settings)?;
    let optimised = dir.join("optimised.onnx");
    let mut builder = builder
        .with_profiling(dir.join("trace"))
        .map_err(err)?
        .with_optimized_model_path(&optimised)
        .map_err(err)?;
    let mut session = match model {
        ModelBytes::Memory(bytes) => builder.commit_from_memory(bytes),
        ModelBytes::File(path) => builder.commit_from_file(path),
    }
    .map_err(err)?;
    for _ in 0..=passes {
        let named: Vec<(&str, &DynTensor)> = inputs.iter().map(|(n, t)| (n.as_str(), t)).collect();
        session.run(named).map_err(err)?;
    }
    let trace = session.end_profiling().map_err(err)?;
    let text = std::fs::read_to_string(&trace).map_err(err)?;
    let events: Vec<Event> = serde_json::from_str(&text)
        .map_err(|e| err(format!("ONNX Runtime's profile {trace}: {e}")))?;
    let values = std::fs::read(&optimised)
        .ok()
        .and_then(|b| pb::ModelProto::decode(b.as_slice()).ok())
        .and_then(|m| m.graph)
        .map(|g| values_by_node(&g))
        .unwrap_or_default();
    let mut passes_seen = by_run(&events);
    for t in passes_seen.iter_mut().flatten() {
        if let Some(v) = values.get(&t.node) {
            t.values = v.clone();
        }
    }
    if passes_seen.len() != passes + 1 {
        return Err(err(format!(
            "ONNX Runtime's profile has {} runs, {} were made",
            passes_seen.len(),
            passes + 1
        )));
    }
    // The first run warms the new session up.
    Ok(passes_seen.into_iter().skip(1).collect())
}

/// The values each node of the optimised graph computes: its outputs, each followed
/// through the layout reorders (`ReorderOutput`) that read it to the value they write.
fn values_by_node(graph: &pb::GraphProto) -> HashMap<String, Vec<String>> {
    let reorder: HashMap<&str, &str> = graph
        .node
        .iter()
        .filter(|n| n.op_type == "ReorderOutput" && n.input.len() == 1 && n.output.len() == 1)
        .map(|n| (n.input[0].as_str(), n.output[0].as_str()))
        .collect();
    graph
        .node
        .iter()
        .map(|n| {
            let values = n
                .output
                .iter()
                .map(|o| {
                    let mut v = o.as_str();
                    while let Some(next) = reorder.get(v) {
                        v = next;
                    }
                    v.to_string()
                })
                .collect();
            (n.name.clone(), values)
        })
        .collect()
}

/// The kernel times of each `model_run`, in order.
fn by_run(events: &[Event]) -> Vec<Vec<NodeTime>> {
    let mut runs: Vec<(u64, u64)> = events
        .iter()
        .filter(|e| e.cat == "Session" && e.name == "model_run")
        .map(|e| (e.ts, e.ts + e.dur))
        .collect();
    runs.sort();
    let mut out: Vec<Vec<NodeTime>> = vec![Vec::new(); runs.len()];
    let mut kernels: Vec<&Event> = events
        .iter()
        .filter(|e| e.cat == "Node" && e.name.ends_with("_kernel_time"))
        .collect();
    kernels.sort_by_key(|e| e.ts);
    for k in kernels {
        if let Some(i) = runs.iter().position(|&(a, b)| a <= k.ts && k.ts <= b) {
            out[i].push(NodeTime {
                node: k.name.trim_end_matches("_kernel_time").to_string(),
                op: k.args.op_name.clone(),
                values: Vec::new(),
                ms: k.dur as f64 / 1e3,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_times_are_grouped_by_run() {
        let trace = r#"[
            {"cat":"Session","name":"model_run","ts":100,"dur":50},
            {"cat":"Node","name":"conv_fence_before","ts":101,"dur":0},
            {"cat":"Node","name":"conv_kernel_time","ts":102,"dur":30,"args":{"op_name":"Conv"}},
            {"cat":"Node","name":"relu_kernel_time","ts":133,"dur":7,"args":{"op_name":"Relu"}},
            {"cat":"Session","name":"model_run","ts":200,"dur":40},
            {"cat":"Node","name":"conv_kernel_time","ts":201,"dur":25,"args":{"op_name":"Conv"}}
        ]"#;
        let events: Vec<Event> = serde_json::from_str(trace).unwrap();
        let runs = by_run(&events);
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0].len(), 2);
        assert_eq!(runs[0][0].node, "conv");
        assert_eq!(runs[0][0].op, "Conv");
        assert!((runs[0][0].ms - 0.030).abs() < 1e-12);
        assert_eq!(runs[1][0].node, "conv");
        assert!((runs[1][0].ms - 0.025).abs() < 1e-12);
    }

    #[test]
    fn a_node_computes_the_values_its_reorders_write() {
        let node = |op: &str, name: &str, input: &str, output: &str| pb::NodeProto {
            op_type: op.into(),
            name: name.into(),
            input: vec![input.into()],
            output: vec![output.into()],
            ..Default::default()
        };
        let graph = pb::GraphProto {
            node: vec![
                node("Conv", "t5_nchwc", "x", "reorder_token_1"),
                node("ReorderOutput", "r", "reorder_token_1", "t5"),
                node("Relu", "act", "t5", "t6"),
            ],
            ..Default::default()
        };
        let v = values_by_node(&graph);
        assert_eq!(v["t5_nchwc"], ["t5"]);
        assert_eq!(v["act"], ["t6"]);
    }
}
