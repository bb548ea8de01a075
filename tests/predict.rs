//! `flopsbench predict` on real measurements: four small networks profiled on tract, the
//! device's ceilings from `peak`, every predictor evaluated both ways, and a network not
//! measured predicted.

use std::path::Path;

use assert_cmd::Command;

mod common;

fn flopsbench(args: &[&str], dir: &Path) -> String {
    String::from_utf8(common::flopsbench_ok(args, Some(dir)).stdout).unwrap()
}

#[test]
fn predictors_are_evaluated_on_measured_networks_and_predict_others() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let quick = ["--runs", "3", "--warmup", "0", "--min-time", "0", "-q"];
    let mut net = vec![
        "net",
        "fasternet-t0,resnet18,mobilenetv2,mobilenetv3-small",
        "--resolution",
        "64",
        "--backend",
        "tract",
        "--per-layer",
        "--out",
        "nets",
    ];
    net.extend(quick);
    flopsbench(&net, d);
    let mut peak = vec!["peak", "--backend", "tract", "--out", "peak"];
    peak.extend(quick);
    flopsbench(&peak, d);
    let text = flopsbench(
        &[
            "predict",
            "--from",
            "nets,peak",
            "mobilenetv3-large,resnet50",
            "--resolution",
            "64",
        ],
        d,
    );
    assert!(text.contains("tract · cpu"), "{text}");
    assert!(text.contains("4 networks"), "{text}");
    for predictor in ["FLOPs (a·MACs + b)", "roofline (no fit)", "per-layer model"] {
        assert_eq!(
            text.matches(&format!("│ {predictor}")).count()
                + text.matches(&format!("┆ {predictor}")).count(),
            4,
            "{predictor}: two evaluations and two predictions: {text}"
        );
    }
    for name in [
        "fasternet-t0",
        "resnet18",
        "mobilenetv2",
        "mobilenetv3-small",
    ] {
        assert!(text.contains(name), "{name}: {text}");
    }
    assert!(
        text.contains("mobilenetv3-large") && text.contains("resnet50"),
        "{text}"
    );
    // The report answers it too, with the predicted-vs-measured chart.
    flopsbench(&["report", "nets", "peak", "-o", "report"], d);
    let md = std::fs::read_to_string(d.join("report/report.md")).unwrap();
    assert!(
        md.contains("Does FLOPs predict latency? tract · cpu @"),
        "{md}"
    );
    let charts: Vec<String> = std::fs::read_dir(d.join("report"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("predict-") && n.ends_with("-tract.svg"))
        .collect();
    assert_eq!(charts.len(), 1, "{charts:?}");
    // Without the ceilings there is no roofline: refused, naming what to run.
    let out = Command::cargo_bin("flopsbench")
        .unwrap()
        .args(["predict", "--from", "nets"])
        .current_dir(d)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no peak rows") && stderr.contains("flopsbench peak"),
        "{stderr}"
    );
}
