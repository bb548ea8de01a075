//! `flopsbench export`: the ONNX file loads in onnxruntime (Python, from the .deps venv
//! that scripts/setup-ort makes) and computes what flopsbench computes for the same seed.

use std::path::{Path, PathBuf};
use std::process::Command as Process;

use assert_cmd::Command;
use flopsbench::backend::{self, Settings};
use flopsbench::device::DeviceSpec;
use flopsbench::model::Model;
use flopsbench::spec::{Net, OpCase, OpKind, Shape};
use flopsbench::zoo;

fn venv_python() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(".deps/venv/bin/python");
    let ok = p.is_file()
        && Process::new(&p)
            .args(["-c", "import onnxruntime, numpy"])
            .status()
            .is_ok_and(|s| s.success());
    if !ok {
        let why = "the .deps venv has no onnxruntime: run scripts/setup-ort";
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must check exports: {why}"
        );
        eprintln!("skipping the onnxruntime check: {why}");
    }
    ok.then_some(p)
}

fn write_f32(path: &Path, data: &[f32]) {
    let bytes: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(path, bytes).unwrap();
}

/// Exports with the binary, then checks the file in onnxruntime against flopsbench's own
/// (candle) output for the same seed.
fn check_export(export_args: &[&str], net: &Net, batch: usize, seed: u64, fuse: bool) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("model.onnx");
    let out = Command::cargo_bin("flopsbench")
        .unwrap()
        .args(export_args)
        .args(["-o", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("wrote"));
    assert!(std::fs::metadata(&file).unwrap().len() > 0);
    let Some(python) = venv_python() else { return };
    let model = Model::new(net, batch, seed, fuse);
    let settings = Settings::f32(1);
    let mut p = backend::by_name("candle")
        .unwrap()
        .prepare(&model, &DeviceSpec::Cpu, &settings)
        .unwrap();
    p.run().unwrap();
    write_f32(&dir.path().join("input.f32"), &model.input);
    write_f32(&dir.path().join("expected.f32"), &p.output().unwrap());
    let dims: Vec<String> = model.input_dims().iter().map(|d| d.to_string()).collect();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/check-onnx.py");
    let check = Process::new(python)
        .arg(script)
        .arg(&file)
        .arg(dir.path().join("input.f32"))
        .arg(dir.path().join("expected.f32"))
        .arg(dims.join(","))
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success(),
        "{export_args:?}: {report}{}",
        String::from_utf8_lossy(&check.stderr)
    );
    eprintln!("{export_args:?}: {report}");
}

#[test]
fn exported_networks_match_in_onnxruntime() {
    let net = zoo::build("fasternet-t0", 64).unwrap();
    check_export(
        &[
            "export",
            "fasternet-t0",
            "--resolution",
            "64",
            "--seed",
            "4",
        ],
        &net,
        1,
        4,
        true,
    );
    let net = zoo::build("mobilenetv3-small", 64).unwrap();
    check_export(
        &[
            "export",
            "mobilenetv3-small",
            "--resolution",
            "64",
            "--batch",
            "2",
            "--no-fuse-bn",
        ],
        &net,
        2,
        0,
        false,
    );
}

#[test]
fn exported_op_stacks_match_in_onnxruntime() {
    let mut case = OpCase::paper(OpKind::Pconv, Shape::new(32, 14, 14));
    case.layers = 3;
    check_export(
        &[
            "export", "--kind", "pconv", "--shape", "32x14x14", "--layers", "3",
        ],
        &case.to_net().unwrap(),
        1,
        0,
        true,
    );
}

#[test]
fn export_refuses_sweeps_and_missing_folders() {
    let out = Command::cargo_bin("flopsbench")
        .unwrap()
        .args(["export", "--kind", "conv", "-o", "x.onnx"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("4 cases"));
    let out = Command::cargo_bin("flopsbench")
        .unwrap()
        .args(["export", "resnet18", "-o", "/nonexistent-folder/r.onnx"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("-o: folder /nonexistent-folder does not exist")
    );
}
