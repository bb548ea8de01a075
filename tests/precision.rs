//! The precision axis (`--dtype`) through the real binary: int8 operator stacks quantized
//! by flopsbench and run as QDQ graphs (ONNX Runtime fuses them into QLinearConv, tract
//! simulates them in f32), checked against the f64 quantized arithmetic; skipped rows for
//! (backend, dtype) pairs that cannot run; what computed, in its own column; the CPU's
//! precision features in meta.json; bad dtype input refused with exit 2.

mod common;

use std::path::Path;

use flopsbench::device::DeviceSpec;
use flopsbench::record::{Record, Status};

fn ort_ready() -> bool {
    match flopsbench::backend::by_name("ort")
        .unwrap()
        .probe(&DeviceSpec::Cpu)
    {
        Ok(()) => true,
        Err(why) => {
            common::skip(&format!("ort is not available here: {why}"));
            false
        }
    }
}

fn rows(dir: &Path) -> Vec<Record> {
    common::csv_rows(&dir.join("results.csv"))
}

/// `flopsbench ARGS` measured briefly (2 samples, no warm-up) into `out`: its rows.
fn measured(args: &[&str], out: &Path) -> Vec<Record> {
    let mut all = args.to_vec();
    all.extend([
        "--runs",
        "2",
        "--min-time",
        "0",
        "--warmup",
        "0",
        "-q",
        "--out",
    ]);
    all.push(out.to_str().unwrap());
    common::flopsbench_ok(&all, None);
    rows(out)
}

#[test]
fn int8_stacks_run_checked_on_ort_and_tract_and_skip_where_they_cannot() {
    if !ort_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let rows = measured(
        &[
            "op",
            "--kind",
            "conv,dwconv,pconv",
            "--shape",
            "16x10x10",
            "--layers",
            "3",
            "--dtype",
            "f32,int8",
            "--backend",
            "candle,tract,ort",
        ],
        &out,
    );
    // 3 kinds × 3 backends × 2 dtypes, each row once.
    assert_eq!(rows.len(), 18, "{rows:#?}");
    for r in &rows {
        match (r.dtype.as_str(), r.backend.as_str()) {
            ("f32", _) => {
                assert_eq!(r.status, Status::Ok, "{r:?}");
                assert!(r.computed.starts_with("f32"), "{}", r.computed);
                assert_eq!(r.reference, "f64 direct convolution");
            }
            ("int8", "candle") => {
                assert_eq!(r.status, Status::Skipped, "{r:?}");
                assert!(r.error.contains("candle has no int8"), "{}", r.error);
                assert!(r.median_ms.is_none());
            }
            ("int8", backend) => {
                assert_eq!(r.status, Status::Ok, "{r:?}");
                assert_eq!(r.reference, "f64 int8 arithmetic");
                assert!(
                    r.detail.contains("s8 symmetric per-channel"),
                    "{}",
                    r.detail
                );
                // The quantization's cost against the f32 model: real, and small.
                let err = r.rel_err_vs_f32.unwrap();
                assert!(err > 0.0 && err < 0.1, "{backend}: {err}");
                if backend == "ort" {
                    assert!(
                        r.computed.starts_with("int8 (") && r.computed.contains("QLinearConv ×3"),
                        "{}",
                        r.computed
                    );
                    assert!(
                        r.detail.contains("optimised graph: graphs/"),
                        "{}",
                        r.detail
                    );
                } else {
                    assert!(r.computed.contains("QDQ simulated"), "{}", r.computed);
                }
            }
            other => panic!("unexpected row {other:?}"),
        }
        // Traffic at the element size: int8 rows move a quarter of f32's bytes, plus the
        // layers' scales, zero points and int32 biases (a little).
        if r.dtype.as_str() == "int8" {
            let f32_row = rows
                .iter()
                .find(|f| f.case == r.case && f.dtype.as_str() == "f32")
                .unwrap();
            let extra = r.mem_bytes - f32_row.mem_bytes / 4;
            assert!(
                extra > 0 && extra < f32_row.mem_bytes / 50,
                "{}: {} bytes at int8, {} at f32",
                r.case,
                r.mem_bytes,
                f32_row.mem_bytes
            );
            assert_eq!(r.macs, f32_row.macs);
        }
    }
    // ONNX Runtime's optimised graphs are kept beside the results, one per int8 row.
    let graphs: Vec<_> = std::fs::read_dir(out.join("graphs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(graphs.len(), 3, "{graphs:?}");
    assert!(
        graphs.iter().all(|g| g.contains(".ort.cpu.int8.")),
        "{graphs:?}"
    );
    // meta.json says which precision features the CPU has (read, never assumed).
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("meta.json")).unwrap()).unwrap();
    let features = meta["precision_features"].as_array().unwrap();
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    assert_eq!(
        features.len(),
        flopsbench::meta::features_in(&cpuinfo).len(),
        "{features:?}"
    );
    eprintln!("this CPU's precision features: {features:?}");
}

#[test]
fn a_dtype_no_selected_backend_runs_is_refused_and_a_partly_runnable_one_is_skipped_rows() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("none");
    let refused = assert_cmd::Command::cargo_bin("flopsbench")
        .unwrap()
        .args([
            "op",
            "--kind",
            "dwconv",
            "--shape",
            "8x6x6",
            "--layers",
            "1",
            "--dtype",
            "bf16",
            "--backend",
            "candle,tract",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("--dtype"), "{stderr}");
    assert!(
        stderr.contains("candle 0.11's CPU conv2d takes no bf16"),
        "{stderr}"
    );
    assert!(!out.exists(), "nothing half-written");
    // A network at int8: quantized convolutions on the ONNX runtimes, checked against
    // each other (the same QDQ graph); candle has no int8 and its row is skipped.
    if !ort_ready() {
        return;
    }
    let out = dir.path().join("nets");
    let rows = measured(
        &[
            "net",
            "fasternet-t0",
            "--resolution",
            "32",
            "--dtype",
            "int8",
            "--backend",
            "ort,tract,candle",
        ],
        &out,
    );
    assert_eq!(rows.len(), 3);
    for r in &rows {
        if r.backend == "candle" {
            assert_eq!(r.status, Status::Skipped);
            assert!(r.error.contains("no int8"), "{}", r.error);
            continue;
        }
        assert_eq!(r.status, Status::Ok, "{}: {}", r.backend, r.error);
        assert!(r.detail.contains("of every convolution"), "{}", r.detail);
        // What the quantization costs against the f32 network: a few percent, not zero.
        let vs_f32 = r
            .rel_err_vs_f32
            .expect("int8 rows report their error vs f32");
        assert!(vs_f32 > 0.0 && vs_f32 < 0.2, "{}: {vs_f32}", r.backend);
        if r.backend == "ort" {
            assert!(r.computed.contains("QLinearConv"), "{}", r.computed);
        }
    }
}

/// The operator of every node of the ONNX file at `path`, in order.
fn op_types(path: &Path) -> Vec<String> {
    let bytes = std::fs::read(path).unwrap();
    let model = <tract_onnx::pb::ModelProto as prost::Message>::decode(bytes.as_slice()).unwrap();
    model
        .graph
        .unwrap()
        .node
        .into_iter()
        .map(|n| n.op_type)
        .collect()
}

#[test]
fn export_writes_the_int8_graph_and_refuses_what_it_cannot_write() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dw.onnx");
    let out = common::flopsbench_ok(
        &[
            "export", "--kind", "pconv", "--shape", "16x8x8", "--layers", "2", "--dtype", "int8",
            "-o",
        ]
        .iter()
        .copied()
        .chain([file.to_str().unwrap()])
        .collect::<Vec<_>>(),
        None,
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("as int8"), "{said}");
    let ops = op_types(&file);
    assert_eq!(ops.iter().filter(|o| **o == "Conv").count(), 2);
    assert!(
        ops.iter().any(|o| o == "QuantizeLinear") && ops.iter().any(|o| o == "DequantizeLinear")
    );
    let bad = dir.path().join("bf16.onnx");
    let o = assert_cmd::Command::cargo_bin("flopsbench")
        .unwrap()
        .args(["export", "--kind", "conv", "--dtype", "bf16", "-o"])
        .arg(&bad)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--dtype") && stderr.contains("opset 22"),
        "{stderr}"
    );
    assert!(!bad.exists());
    // A network at int8: QDQ around each of its convolutions, the rest in f32.
    let net_file = dir.path().join("r.onnx");
    common::flopsbench_ok(
        &[
            "export",
            "resnet18",
            "--resolution",
            "32",
            "--dtype",
            "int8",
            "-o",
            net_file.to_str().unwrap(),
        ],
        None,
    );
    let ops = op_types(&net_file);
    let convs = ops.iter().filter(|o| **o == "Conv").count();
    assert_eq!(convs, 20, "resnet18's convolutions");
    let count = |op: &str| ops.iter().filter(|o| **o == op).count();
    // Per conv: its input quantized, and its input, weights, bias and output dequantized.
    assert_eq!(count("QuantizeLinear"), 2 * convs);
    assert_eq!(count("DequantizeLinear"), 4 * convs);
    assert_eq!(count("Gemm"), 1, "the classifier stays f32");
}

/// The element type of `value` (`name`) in a decoded graph's inputs and outputs.
fn io_type(graph: &tract_onnx::pb::GraphProto, name: &str) -> i32 {
    let v = graph
        .input
        .iter()
        .chain(&graph.output)
        .find(|v| v.name == name)
        .unwrap();
    match v.r#type.as_ref().and_then(|t| t.value.as_ref()) {
        Some(tract_onnx::pb::type_proto::Value::TensorType(t)) => t.elem_type,
        other => panic!("{name} has no tensor type: {other:?}"),
    }
}

#[test]
fn f16_graphs_are_written_run_checked_and_keyed_by_the_file_s_own_precision() {
    if !ort_ready() {
        return;
    }
    use tract_onnx::pb::tensor_proto::DataType;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dw-f16.onnx");
    let file_arg = file.to_str().unwrap();
    let said = common::flopsbench_ok(
        &[
            "export", "--kind", "dwconv", "--shape", "16x10x10", "--layers", "3", "--dtype", "f16",
            "-o", file_arg,
        ],
        None,
    );
    let said = String::from_utf8_lossy(&said.stdout);
    assert!(
        said.contains("as f16") && said.contains("16x10x10 f16"),
        "{said}"
    );
    let bytes = std::fs::read(&file).unwrap();
    let model = <tract_onnx::pb::ModelProto as prost::Message>::decode(bytes.as_slice()).unwrap();
    let graph = model.graph.unwrap();
    assert_eq!(io_type(&graph, "input"), DataType::Float16 as i32);
    assert_eq!(io_type(&graph, "output"), DataType::Float16 as i32);
    assert!(
        graph
            .initializer
            .iter()
            .all(|t| t.data_type == DataType::Float16 as i32),
        "every weight of a depthwise stack is float16"
    );
    // The operator stack at f16 on both ONNX runtimes: checked against the f64 reference
    // within f16's tolerance, each row saying how it computed.
    let rows = measured(
        &[
            "op",
            "--kind",
            "dwconv",
            "--shape",
            "16x10x10",
            "--layers",
            "3",
            "--dtype",
            "f16",
            "--backend",
            "ort,tract",
        ],
        &dir.path().join("op"),
    );
    assert_eq!(rows.len(), 2);
    for r in &rows {
        assert_eq!(r.status, Status::Ok, "{}: {}", r.backend, r.error);
        assert!(
            r.max_abs_err.is_some() && r.rel_err_vs_f32.is_some(),
            "{r:?}"
        );
        // tract computes in f16; ONNX Runtime's x86 provider may have no f16 kernel and
        // compute in f32 between the Casts it inserts, and its row then says so.
        let said = &r.computed;
        if r.backend == "tract" {
            assert!(said.starts_with("f16 ("), "{said}");
        } else {
            assert!(
                said.starts_with("f16 (") || said.starts_with("f32 via "),
                "{said}"
            );
        }
    }
    // Without --dtype, each case runs at its own precision only: the f16 file at f16,
    // the zoo network at f32, and no row of either at the other's.
    let rows = measured(
        &[
            "net",
            file_arg,
            "mobilenetv3-small",
            "--resolution",
            "32",
            "--backend",
            "ort,tract",
        ],
        &dir.path().join("file"),
    );
    assert_eq!(rows.len(), 4, "{rows:?}");
    for r in &rows {
        assert_eq!(r.status, Status::Ok, "{}: {}", r.backend, r.error);
        let want = if r.name == "dw-f16" {
            flopsbench::spec::Dtype::F16
        } else {
            flopsbench::spec::Dtype::F32
        };
        assert_eq!(r.dtype, want, "{}", r.case);
    }
    // Counted at its own precision too: f16, two bytes an element.
    let counted = common::flopsbench_ok(&["count", file_arg, "--format", "json"], None);
    let v: serde_json::Value = serde_json::from_slice(&counted.stdout).unwrap();
    assert_eq!(v[0]["dtype"], "f16", "{v}");
    let at_f32 = common::flopsbench_ok(
        &["count", file_arg, "--dtype", "f32", "--format", "json"],
        None,
    );
    let w: serde_json::Value = serde_json::from_slice(&at_f32.stdout).unwrap();
    assert_eq!(
        v[0]["mem_bytes"].as_u64().unwrap() * 2,
        w[0]["mem_bytes"].as_u64().unwrap()
    );
    // Asked at a precision it is not in: refused, naming the flag and the file.
    let o = assert_cmd::Command::cargo_bin("flopsbench")
        .unwrap()
        .args(["net", file_arg, "--dtype", "f32", "--backend", "ort"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--dtype") && stderr.contains("dw-f16.onnx"),
        "{stderr}"
    );
}

#[test]
fn a_quantized_model_file_runs_as_given_on_ort_and_tract() {
    if !ort_ready() {
        return;
    }
    // flopsbench's own QDQ graph, as a model file a user brings.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pconv-int8.onnx");
    let file_arg = file.to_str().unwrap();
    common::flopsbench_ok(
        &[
            "export", "--kind", "pconv", "--shape", "32x12x12", "--layers", "3", "--dtype", "int8",
            "-o", file_arg,
        ],
        None,
    );
    let out = dir.path().join("run");
    let rows = measured(&["net", file_arg, "--backend", "ort,tract"], &out);
    assert_eq!(rows.len(), 2);
    for r in &rows {
        assert_eq!(r.status, Status::Ok, "{}: {}", r.backend, r.error);
        // Keyed by the file's own precision.
        assert_eq!(r.dtype, flopsbench::spec::Dtype::Int8);
        // Checked against the other runtime's run of the same graph, not an f32 model.
        assert!(r.rel_err_vs_f32.is_none(), "{r:?}");
        let want = if r.backend == "ort" {
            "QLinearConv ×3"
        } else {
            "QDQ simulated"
        };
        assert!(r.computed.contains(want), "{}: {}", r.backend, r.computed);
    }
    // ONNX Runtime's optimised graph of a model file is kept too.
    assert!(out.join("graphs").read_dir().unwrap().count() >= 1);
    // Counted as given: the convolutions' MACs, its Q/DQ nodes by their rules.
    let counted = common::flopsbench_ok(&["count", file_arg, "--format", "json"], None);
    let v: serde_json::Value = serde_json::from_slice(&counted.stdout).unwrap();
    let op = common::flopsbench_ok(
        &[
            "count", "--kind", "pconv", "--shape", "32x12x12", "--layers", "3", "--format", "json",
        ],
        None,
    );
    let o: serde_json::Value = serde_json::from_slice(&op.stdout).unwrap();
    assert_eq!(v[0]["macs"], o[0]["macs"], "{v}");
}

/// tch at int8: peak's GEMM as torch._int_mm, checked against the quantized arithmetic;
/// every other case a skipped row saying why (tch's API has no quantized convolution).
#[cfg(feature = "tch")]
#[test]
fn tch_runs_peaks_int8_gemm_and_skips_int8_convolutions() {
    if !ort_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let rows = measured(
        &["peak", "--dtype", "int8", "--backend", "tch"],
        &dir.path().join("peak"),
    );
    let gemm: Vec<&Record> = rows.iter().filter(|r| r.name == "gemm").collect();
    assert!(!gemm.is_empty(), "{rows:?}");
    for r in gemm {
        assert_eq!(r.status, Status::Ok, "{}", r.error);
        assert!(r.computed.contains("torch._int_mm"), "{}", r.computed);
        assert!(
            r.max_abs_err.is_some() && r.rel_err_vs_f32.is_some(),
            "{r:?}"
        );
    }
    let rows = measured(
        &[
            "op",
            "--kind",
            "conv",
            "--shape",
            "8x6x6",
            "--layers",
            "1",
            "--dtype",
            "int8",
            "--backend",
            "tch,ort",
        ],
        &dir.path().join("op"),
    );
    assert_eq!(rows.len(), 2);
    for r in &rows {
        let want = if r.backend == "tch" {
            Status::Skipped
        } else {
            Status::Ok
        };
        assert_eq!(r.status, want, "{}: {}", r.backend, r.error);
    }
    let tch = rows.iter().find(|r| r.backend == "tch").unwrap();
    assert!(tch.error.contains("peak's GEMM only"), "{}", tch.error);
}
