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
        dtypes: Vec::new(),
    };
    counts(&config).unwrap().remove(0)
}

/// The stripped model at `path` with every emptied initializer refilled from `seed`:
/// floats, and a quantized model's int8 weights and int32 biases.
fn refilled(path: &Path, seed: u64, out: &Path) {
    let mut m = pb::ModelProto::decode(std::fs::read(path).unwrap().as_slice()).unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut refilled = 0;
    for t in &mut m.graph.as_mut().unwrap().initializer {
        let n: i64 = t.dims.iter().product();
        if !t.raw_data.is_empty() || !t.float_data.is_empty() || !t.int32_data.is_empty() {
            continue;
        }
        t.raw_data = match DataType::try_from(t.data_type) {
            Ok(DataType::Float) => (0..n)
                .flat_map(|_| rng.random_range(-0.1f32..0.1).to_le_bytes())
                .collect(),
            Ok(DataType::Int8 | DataType::Uint8) => (0..n).map(|_| rng.random::<u8>()).collect(),
            Ok(DataType::Int32) => (0..n)
                .flat_map(|_| rng.random_range(-999i32..999).to_le_bytes())
                .collect(),
            _ => continue,
        };
        refilled += 1;
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
            dtype: flopsbench::spec::Dtype::F32,
            pconv_as: None,
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

// ---- Timing model files: `net FILE` and suites ----

/// `flopsbench ARGS… --out DIR` (quick sampling); its exit code and the rows of its
/// results.csv as JSON objects by column name.
fn measure_cli(args: &[&str], out: &Path) -> (i32, Vec<Value>) {
    let run = Command::cargo_bin("flopsbench")
        .unwrap()
        .args(args)
        .args(["--runs", "2", "--warmup", "0", "--min-time", "0", "-q"])
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    let code = run.status.code().unwrap_or(-1);
    assert!(
        code == 0 || code == 1,
        "{args:?}: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let mut reader = csv::Reader::from_path(out.join("results.csv")).unwrap();
    let header = reader.headers().unwrap().clone();
    let rows = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            Value::Object(
                header
                    .iter()
                    .zip(r.iter())
                    .map(|(h, v)| (h.to_string(), Value::String(v.to_string())))
                    .collect(),
            )
        })
        .collect();
    (code, rows)
}

/// The backends that run on this CPU; in CI every registered one must.
fn backends_here() -> Vec<&'static str> {
    let here: Vec<&str> = flopsbench::backend::registry()
        .iter()
        .filter(|b| b.probe(&flopsbench::device::DeviceSpec::Cpu).is_ok())
        .map(|b| b.name())
        .collect();
    if std::env::var_os("CI").is_some() {
        assert_eq!(
            here.len(),
            flopsbench::backend::registry().len(),
            "CI runs every backend: {here:?}"
        );
    }
    here
}

fn sha256(path: &Path) -> String {
    use sha2::Digest;
    format!("{:x}", sha2::Sha256::digest(std::fs::read(path).unwrap()))
}

#[test]
fn net_times_pytorchs_graphs_checked_on_every_backend() {
    let dir = tempfile::tempdir().unwrap();
    let refs = reference();
    let names = ["resnet18", "mobilenetv3-small", "fasternet-t0"];
    let files: Vec<PathBuf> = names
        .iter()
        .map(|name| {
            let file = dir.path().join(format!("{name}.onnx"));
            refilled(&fixture(&format!("onnx/{name}.stripped.onnx")), 4, &file);
            file
        })
        .collect();
    let list: Vec<&str> = files.iter().map(|f| f.to_str().unwrap()).collect();
    let (code, rows) = measure_cli(&["net", &list.join(",")], &dir.path().join("run"));
    let here = backends_here();
    assert_eq!(code, 0, "{rows:#?}");
    assert_eq!(rows.len(), names.len() * here.len());
    for (name, file) in names.iter().zip(&files) {
        let mine: Vec<&Value> = rows.iter().filter(|r| r["name"] == *name).collect();
        assert_eq!(mine.len(), here.len(), "{name}: one row per backend");
        for r in mine {
            let backend = r["backend"].as_str().unwrap();
            assert_eq!(r["status"], "ok", "{name} on {backend}: {}", r["error"]);
            assert_eq!(r["kind"], "net");
            assert_eq!(r["model_path"], file.to_str().unwrap());
            assert_eq!(r["model_sha256"], sha256(file).as_str());
            assert_eq!(r["uncounted_nodes"], "");
            assert_eq!(r["shape"], "3x224x224");
            assert_eq!(
                r["macs"],
                refs["nets"][name]["conv_linear_macs"].to_string().as_str(),
                "{name}: the reference MACs"
            );
            // Checked against another backend before timing: tract checks the others on
            // the file as given, candle checks tract on the spec network.
            let reference = if backend == "tract" {
                "candle"
            } else {
                "tract"
            };
            assert_eq!(r["reference"], reference, "{name} on {backend}");
            let err: f64 = r["max_abs_err"].as_str().unwrap().parse().unwrap();
            assert!(err.is_finite());
            let detail = r["detail"].as_str().unwrap();
            if backend == "tract" || backend == "ort" {
                assert!(detail.contains("the model file as given"), "{detail}");
            }
            assert!(!r["median_ms"].as_str().unwrap().is_empty());
        }
    }
}

#[test]
fn models_no_spec_network_maps_to_run_on_the_onnx_runtimes_only() {
    let dir = tempfile::tempdir().unwrap();
    let unsupported = fixture("onnx/unsupported.onnx");
    let uncounted = fixture("onnx/uncounted.onnx");
    let (code, rows) = measure_cli(
        &[
            "net",
            &format!("{},{}", unsupported.display(), uncounted.display()),
            // The symbolic batch axis set from the command line.
            "--batch",
            "3",
        ],
        &dir.path().join("run"),
    );
    assert_eq!(code, 1, "some cases failed: exit 1");
    let here = backends_here();
    assert_eq!(
        rows.len(),
        2 * here.len(),
        "the run went on after the errors"
    );
    for r in &rows {
        let backend = r["backend"].as_str().unwrap();
        let error = r["error"].as_str().unwrap();
        match (r["name"].as_str().unwrap(), backend) {
            // An operator no backend has: error rows everywhere.
            ("unsupported", "candle" | "tch") => {
                assert!(error.contains("node 'mystery' (Mystery)"), "{error}")
            }
            ("unsupported", _) => {
                assert_eq!(r["status"], "error", "{backend}");
                assert!(error.contains("Mystery"), "{error}");
            }
            // Softmax and Einsum have no spec layer: candle and tch name the first.
            ("uncounted", "candle" | "tch") => {
                assert_eq!(r["status"], "error");
                assert!(error.contains("node 'softmax' (Softmax)"), "{error}");
            }
            ("uncounted", _) => {
                assert_eq!(r["status"], "ok", "{backend}: {error}");
                let other = if backend == "tract" { "ort" } else { "tract" };
                assert_eq!(r["reference"], other, "tract and ort check each other");
                assert_eq!(r["uncounted_nodes"], "1 node — Einsum ×1");
                assert_eq!(r["batch"], "3");
                // Per item: Conv 3→8 on 8×8 (27 multiply-adds per output).
                assert_eq!(r["macs"], (8 * 8 * 8 * 27).to_string().as_str());
                // For the batch: activations (conv in 192 + out 512, softmax 512 + 512,
                // the uncounted Einsum nothing) × 3, plus the 216 weights, in f32.
                let elements = (192 + 512 + 512 + 512) * 3 + 216;
                assert_eq!(r["mem_bytes"], (4 * elements).to_string().as_str());
            }
            other => panic!("unexpected row {other:?}"),
        }
    }
}

#[test]
fn suites_take_model_files_beside_them_and_reports_keep_them_apart() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("models")).unwrap();
    // A model file called resnet50.onnx that is not ResNet50.
    let impostor = dir.path().join("models/resnet50.onnx");
    refilled(
        &fixture("onnx/mobilenetv3-small.stripped.onnx"),
        5,
        &impostor,
    );
    let suite = dir.path().join("mine.toml");
    std::fs::write(
        &suite,
        "name = \"mine\"\n\n[[nets]]\nname = [\"resnet50\", \"models/resnet50.onnx\"]\n\
         resolution = 64\ninput_shape = \"input=1x3x224x224\"\n",
    )
    .unwrap();
    let run = dir.path().join("run");
    let (code, rows) = measure_cli(
        &["suite", suite.to_str().unwrap(), "--backend", "tract"],
        &run,
    );
    assert_eq!(code, 0, "{rows:#?}");
    assert_eq!(rows.len(), 2);
    let model = rows.iter().find(|r| r["model_path"] != "").unwrap();
    assert_eq!(model["name"], "resnet50");
    assert_eq!(model["status"], "ok");
    assert_eq!(model["model_sha256"], sha256(&impostor).as_str());
    assert!(model["case"].as_str().unwrap().starts_with("resnet50-"));
    let zoo = rows.iter().find(|r| r["model_path"] == "").unwrap();
    assert_eq!(zoo["case"], "resnet50-64");
    let report = dir.path().join("report");
    let out = Command::cargo_bin("flopsbench")
        .unwrap()
        .args(["report", run.to_str().unwrap(), "--out"])
        .arg(&report)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let md = std::fs::read_to_string(report.join("report.md")).unwrap();
    let section = |title: &str| {
        let start = md.find(title).unwrap_or_else(|| panic!("{title} in {md}"));
        let end = md[start + 3..]
            .find("\n## ")
            .map_or(md.len(), |e| start + 3 + e);
        md[start..end].to_string()
    };
    let table3 = section("## Table 3");
    assert!(table3.contains("| resnet50-64 |"), "{table3}");
    assert_eq!(table3.matches("| resnet50").count(), 1, "{table3}");
    let models = section("## Model files");
    assert!(models.contains("| resnet50 |"), "{models}");
    assert!(models.contains("models/resnet50.onnx"), "{models}");
    // On the networks chart the file is labelled by its file name, not as the zoo network.
    let svg = std::fs::read_to_string(report.join("nets-cpu.svg")).unwrap();
    let label = |text: &str| svg.lines().any(|l| l.trim() == text);
    assert!(label("resnet50.onnx"), "the model's label");
    assert!(label("resnet50"), "the zoo network's label");
}

#[test]
fn input_shapes_set_symbolic_dimensions_and_batch_sets_the_batch() {
    let dir = tempfile::tempdir().unwrap();
    let model = fixture("../bad_inputs/files/symbolic-height.onnx");
    // The file's batch and height are symbolic: the shape gives the height (its batch 1
    // is the batch's place), --batch the batch.
    let (code, rows) = measure_cli(
        &[
            "net",
            model.to_str().unwrap(),
            "--input-shape",
            "x=1x3x16x8",
            "--batch",
            "2",
            "--backend",
            "tract",
        ],
        &dir.path().join("run"),
    );
    assert_eq!(code, 0, "{rows:#?}");
    let r = &rows[0];
    assert_eq!(r["status"], "ok", "{}", r["error"]);
    assert_eq!(r["batch"], "2");
    assert_eq!(r["shape"], "3x16x8");
    // The given shape is part of the case id: the same file at another shape is another case.
    let id = r["case"].as_str().unwrap();
    assert!(
        id.starts_with("symbolic-height-") && id.ends_with("-3x16x8"),
        "{id}"
    );
    // One ReLU over 3×16×8 per item: in and out for a batch of 2, in f32.
    assert_eq!(
        r["mem_bytes"],
        (2 * 2 * 3 * 16 * 8 * 4).to_string().as_str()
    );
}

#[test]
fn a_model_file_is_profiled_layer_by_layer_with_its_patterns() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fasternet-t0.onnx");
    refilled(&fixture("onnx/fasternet-t0.stripped.onnx"), 6, &file);
    let backends: Vec<&str> = backends_here()
        .into_iter()
        .filter(|b| *b == "tract" || *b == "ort")
        .collect();
    let out = dir.path().join("run");
    let (code, _) = measure_cli(
        &[
            "net",
            file.to_str().unwrap(),
            "--per-layer",
            "--backend",
            &backends.join(","),
        ],
        &out,
    );
    assert_eq!(code, 0);
    let rows: Vec<flopsbench::profile::LayerRow> = csv::Reader::from_path(out.join("layers.csv"))
        .unwrap()
        .deserialize()
        .map(|r| r.unwrap())
        .collect();
    for backend in backends {
        let mine: Vec<_> = rows.iter().filter(|r| r.backend == backend).collect();
        assert!(mine.iter().all(|r| r.status == "ok"), "{backend}");
        // The PConv and GELU patterns' member nodes (Split, Concat, Erf, …) belong to
        // their layers, not to the runtime.
        let stray: Vec<&str> = mine
            .iter()
            .filter(|r| r.ran_as == "runtime node")
            .filter(|r| ["Split", "Concat", "Erf", "Div"].contains(&r.op.as_str()))
            .map(|r| r.layer.as_str())
            .collect();
        assert!(stray.is_empty(), "{backend}: {stray:?}");
        let pconv = mine.iter().filter(|r| r.op == "pconv").count();
        assert_eq!(pconv, 13, "{backend}");
        let share: f64 = mine.iter().filter_map(|r| r.share_of_time).sum();
        assert!((share - 1.0).abs() < 1e-9);
    }
}

#[test]
fn a_qdq_model_from_onnx_runtimes_quantizer_counts_as_its_f32_export() {
    // scripts/export-reference-onnx: resnet18 exported by PyTorch, quantized by
    // onnxruntime.quantization.quantize_static (QDQ, u8 activations, s8 per-channel
    // weights), stripped of its weights' data.
    let dir = tempfile::tempdir().unwrap();
    let (f32_file, qdq_file) = (dir.path().join("f32.onnx"), dir.path().join("qdq.onnx"));
    refilled(&fixture("onnx/resnet18.stripped.onnx"), 7, &f32_file);
    refilled(&fixture("onnx/resnet18-qdq.stripped.onnx"), 7, &qdq_file);
    let (f32_model, qdq) = (count_file(&f32_file), count_file(&qdq_file));
    assert_eq!(qdq.macs, f32_model.macs);
    // Its int8 weights are parameters; the quantizer's scales and zero points are not.
    assert_eq!(qdq.params, f32_model.params);
    // Every node is counted: QuantizeLinear and DequantizeLinear have their rules.
    assert!(qdq.uncounted.is_empty(), "{:?}", qdq.uncounted);
    assert!(
        qdq.mem_elements > f32_model.mem_elements,
        "Q/DQ nodes move their values too"
    );
    // Counted at its own precision (without --dtype): int8, a byte an element.
    assert_eq!(qdq.dtype, flopsbench::spec::Dtype::Int8);
    assert_eq!(f32_model.dtype, flopsbench::spec::Dtype::F32);
    assert_eq!(qdq.mem_bytes, qdq.mem_elements);
}
