//! ONNX model files as `count` targets: zoo networks exported and read back, graphs made
//! by PyTorch's own exporter (stored with their weights stripped, refilled from a seed
//! here; `scripts/export-reference-onnx` regenerates them), and a model with nodes the
//! spec has no layer for.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use flopsbench::app::{CountConfig, CountTarget, counts};
use flopsbench::count::{CountOptions, count_zoo};
use flopsbench::export::{ExportConfig, export};
use flopsbench::import::{self, Keep};
use flopsbench::model::Model;
use flopsbench::output::Format;
use prost::Message;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use tract_onnx::pb;
use tract_onnx::pb::tensor_proto::DataType;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn reference() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("reference_counts.json")).unwrap())
        .unwrap()
}

fn count_file(path: &Path) -> flopsbench::count::CaseCount {
    let config = CountConfig {
        target: CountTarget::Nets(vec![path.to_str().unwrap().to_string()]),
        options: CountOptions::default(),
        resolution: 224,
        format: Format::Json,
        per_layer: false,
        input_shapes: Vec::new(),
    };
    counts(&config).unwrap().remove(0)
}

/// The stripped model at `path` with every emptied float initializer refilled from `seed`.
fn refilled(path: &Path, seed: u64, out: &Path) {
    let mut m = pb::ModelProto::decode(std::fs::read(path).unwrap().as_slice()).unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut refilled = 0;
    for t in &mut m.graph.as_mut().unwrap().initializer {
        let n: i64 = t.dims.iter().product();
        if t.data_type == DataType::Float as i32 && t.raw_data.is_empty() && t.float_data.is_empty()
        {
            t.raw_data = (0..n)
                .flat_map(|_| rng.random_range(-0.1f32..0.1).to_le_bytes())
                .collect();
            refilled += 1;
        }
    }
    assert!(refilled > 10, "{} has its weights", path.display());
    std::fs::write(out, m.encode_to_vec()).unwrap();
}

#[test]
fn every_zoo_network_exported_counts_as_the_zoo() {
    let dir = tempfile::tempdir().unwrap();
    let refs = reference();
    for name in flopsbench::zoo::NAMES {
        let file = dir.path().join(format!("{name}.onnx"));
        export(&ExportConfig {
            target: CountTarget::Nets(vec![name.to_string()]),
            resolution: 224,
            batch: 1,
            seed: 3,
            fuse_bn: true,
            output: file.clone(),
        })
        .unwrap();
        let zoo = count_zoo(name, 224, &CountOptions::default(), false).unwrap();
        let model = count_file(&file);
        let imported = import::import(&file, &[], 1, Keep::Shapes).unwrap();
        assert!(imported.net.is_ok(), "{name}: {:?}", imported.net.err());
        if [
            "resnet18",
            "mobilenetv2",
            "mobilenetv3-small",
            "fasternet-t0",
        ]
        .contains(&name)
        {
            // Read with its weights, the file is the model it was written from.
            let (net, params) = import::import(&file, &[], 1, Keep::Weights)
                .unwrap()
                .net
                .unwrap();
            let zoo_net = flopsbench::zoo::build(name, 224).unwrap();
            let written = Model::new(&zoo_net, 1, 3, true);
            assert_eq!(net.nodes.len(), written.net.nodes.len(), "{name}");
            for ((a, b), (pa, pb)) in net
                .nodes
                .iter()
                .zip(&written.net.nodes)
                .zip(params.iter().zip(&written.params))
            {
                assert_eq!(a.out, b.out, "{name} {}", a.name);
                assert_eq!(pa, pb, "{name} {}: parameters", a.name);
            }
        }
        assert_eq!(model.macs, zoo.macs, "{name} MACs");
        assert_eq!(model.flops_strict, zoo.flops_strict, "{name} strict FLOPs");
        assert_eq!(model.mem_bytes, zoo.mem_bytes, "{name} memory (paper)");
        assert!(model.uncounted.is_empty(), "{name}: {:?}", model.uncounted);
        // params are the file's float initializers; without the scalars (GELU's and
        // ReLU6's constants) they are the weights, where each folded BN is a conv bias (c
        // values) and the reference counts γ and β (2c).
        let proto = pb::ModelProto::decode(std::fs::read(&file).unwrap().as_slice()).unwrap();
        let floats: Vec<u64> = proto
            .graph
            .unwrap()
            .initializer
            .iter()
            .filter(|t| t.data_type == DataType::Float as i32)
            .map(|t| t.dims.iter().product::<i64>() as u64)
            .collect();
        assert_eq!(model.params, floats.iter().sum::<u64>(), "{name} params");
        let r = &refs["nets"][name];
        let weights = r["params"].as_u64().unwrap() - r["bn_params"].as_u64().unwrap() / 2;
        assert_eq!(
            floats.iter().filter(|&&n| n > 1).sum::<u64>(),
            weights,
            "{name}: the file's weights"
        );
        assert_eq!(model.model.as_ref().unwrap().path, file.to_str().unwrap());
        std::fs::remove_file(&file).unwrap();
    }
}

#[test]
fn graphs_from_pytorchs_exporter_count_the_reference_macs() {
    let dir = tempfile::tempdir().unwrap();
    let refs = reference();
    for name in ["resnet18", "mobilenetv3-small", "fasternet-t0"] {
        let file = dir.path().join(format!("{name}.onnx"));
        refilled(&fixture(&format!("onnx/{name}.stripped.onnx")), 1, &file);
        let imported = import::import(&file, &[], 1, Keep::Shapes).unwrap();
        assert!(
            imported.net.is_ok(),
            "{name} maps onto spec layers: {:?}",
            imported.net.err()
        );
        let counted = import::count(&imported, &CountOptions::default(), false);
        let r = &refs["nets"][name];
        assert_eq!(
            counted.macs,
            r["conv_linear_macs"].as_u64().unwrap(),
            "{name}: MACs of PyTorch's graph = the reference conv + linear MACs"
        );
        assert_eq!(imported.inputs[0].dims, [1, 3, 224, 224], "{name}: batch 1");
        assert!(
            imported.inputs[0].batched,
            "{name}: the batch axis is symbolic"
        );
    }
}

#[test]
fn pconv_and_gelu_are_recognised_in_pytorchs_fasternet() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t0.onnx");
    refilled(&fixture("onnx/fasternet-t0.stripped.onnx"), 2, &file);
    let imported = import::import(&file, &[], 1, Keep::Shapes).unwrap();
    let ops: Vec<&str> = imported.nodes.iter().map(|n| n.op_type.as_str()).collect();
    let count = |op: &str| ops.iter().filter(|o| **o == op).count();
    // fasternet_t0: 1 + 2 + 8 + 2 blocks, each one PConv and one GELU.
    assert_eq!(count("Split+Conv+Concat"), 13, "{ops:?}");
    assert_eq!(count("Erf-GELU"), 13 + 1, "blocks and the head: {ops:?}");
}

/// `flopsbench count MODEL ARGS…`'s stdout; the command must succeed.
fn count_cli(model: &Path, args: &[&str]) -> String {
    let out = Command::cargo_bin("flopsbench")
        .unwrap()
        .arg("count")
        .arg(model)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn nodes_without_a_rule_are_named_and_totals_are_lower_bounds() {
    let model = fixture("onnx/uncounted.onnx");
    let run = |args: &[&str]| count_cli(&model, args);
    let table = run(&[]);
    assert!(table.contains("uncounted: 1 node — Einsum ×1"), "{table}");
    assert!(table.contains("≥ "), "{table}");
    let json: Value = serde_json::from_str(&run(&["--format", "json"])).unwrap();
    let c = &json[0];
    // Conv 3→8, 3×3, on 8×8: 8·8·8 · 3·9 multiply-adds; Softmax 5 ops per element.
    assert_eq!(c["macs"], 8 * 8 * 8 * 27);
    assert_eq!(c["flops_strict"], 2 * 8 * 8 * 8 * 27 + 5 * 8 * 8 * 8);
    assert_eq!(c["params"], 8 * 27);
    assert_eq!(c["uncounted"][0][0], "Einsum");
    assert_eq!(c["model"]["sha256"].as_str().unwrap().len(), 64);
    // A symbolic height set with --input-shape: one ReLU over 3×16×8.
    let relu = count_cli(
        &fixture("../bad_inputs/files/symbolic-height.onnx"),
        &["--input-shape", "x=1x3x16x8", "--format", "json"],
    );
    let relu: Value = serde_json::from_str(&relu).unwrap();
    assert_eq!(relu[0]["input_shape"], "3x16x8");
    assert_eq!(relu[0]["flops_strict"], 3 * 16 * 8);
    assert_eq!(relu[0]["mem_bytes"], 2 * 3 * 16 * 8 * 4);
    let csv = run(&["--format", "csv"]);
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .ends_with("model_path,model_sha256,uncounted_nodes")
    );
}
