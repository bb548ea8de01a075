//! `flopsbench compare` end to end: two separate runs compared unpaired, a run against
//! itself unchanged; a rerun of one model in paired rounds passes the gate; a model whose
//! eight stage-2 PConvs became full 3×3 convs is slower, in exactly those layers, the
//! roll-up names conv, and `--fail-on-regression` exits 1.

use assert_cmd::Command;
use serde_json::Value;
use std::path::Path;

/// The tests of this file take turns: each measures, and a separate run's times are
/// only comparable with another's on an otherwise idle machine.
static ALONE: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn flopsbench(dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::cargo_bin("flopsbench")
        .unwrap()
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn two_runs_are_compared_unpaired_and_a_run_against_itself_is_unchanged() {
    let _alone = ALONE.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let run = [
        "net",
        "fasternet-t0",
        "--resolution",
        "32",
        "--backend",
        "tract,candle",
    ];
    for out in ["base", "new"] {
        let (code, _, err) = flopsbench(
            dir.path(),
            &[
                &run[..],
                &["--min-time", "0.5s", "--max-time", "1s", "-q", "--out", out],
            ]
            .concat(),
        );
        assert_eq!(code, Some(0), "{err}");
    }
    // Two separate runs: unpaired, each ratio inside its CI, judged against the 5% band
    // of separate runs. Whether they agree depends on the machine staying as quiet for
    // the second run as for the first (on this shared VM, a neighbour's load has made
    // them differ by 1.45×), so their verdict is not asserted here: the statistics'
    // "no false alarm under drift" is a unit test (compare::change), and a rerun that
    // must pass the gate is measured in rounds (the next test).
    let (code, json, err) = flopsbench(dir.path(), &["compare", "base", "new", "--format", "json"]);
    assert_eq!(code, Some(0), "{err}");
    let doc: Value = serde_json::from_str(&json).unwrap();
    let rows = doc["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{json}");
    for row in rows {
        assert_eq!(row["paired"], false, "{row}");
        assert_eq!(row["noise"], 0.05, "{row}");
        let (r, lo, hi) = (
            row["ratio"].as_f64().unwrap(),
            row["ratio_ci95_low"].as_f64().unwrap(),
            row["ratio_ci95_high"].as_f64().unwrap(),
        );
        assert!(lo <= r && r <= hi, "{row}");
        let verdict = if lo > 1.05 {
            "regressed"
        } else if hi < 0.95 {
            "improved"
        } else {
            "unchanged"
        };
        assert_eq!(row["verdict"], verdict, "{row}");
    }
    // A run against itself (its rows share their rounds: paired, every per-round ratio 1):
    // unchanged, and the gate passes.
    let (code, json, err) = flopsbench(
        dir.path(),
        &[
            "compare",
            "base",
            "base",
            "--fail-on-regression",
            "1",
            "--format",
            "json",
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    let doc: Value = serde_json::from_str(&json).unwrap();
    for row in doc["rows"].as_array().unwrap() {
        assert_eq!(row["verdict"], "unchanged", "{row}");
        assert_eq!(row["ratio"], 1.0, "{row}");
    }
    // One folder against itself, across its two backends: paired round by round.
    let (code, json, err) = flopsbench(
        dir.path(),
        &[
            "compare",
            "base",
            "base",
            "--across",
            "backend=tract,candle",
            "--format",
            "json",
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    let doc: Value = serde_json::from_str(&json).unwrap();
    let row = &doc["rows"][0];
    assert_eq!(
        (&row["backend"], &row["new_value"]),
        (&Value::from("tract"), &Value::from("candle")),
        "{row}"
    );
    assert_eq!(row["paired"], true, "{row}");
    assert_eq!(row["noise"], 0.01, "{row}");
    // The CSV alone has no samples: the ratio of medians, no verdict, said so.
    let (code, text, err) = flopsbench(
        dir.path(),
        &["compare", "base/results.csv", "new/results.csv"],
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(text.contains("no verdicts: no row has samples"), "{text}");
}

#[test]
fn a_stage_whose_pconvs_became_convs_is_slower_in_those_layers_and_fails_the_gate() {
    let _alone = ALONE.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let export = ["export", "fasternet-t0", "--resolution", "64", "-o"];
    let (code, _, err) = flopsbench(dir.path(), &[&export[..], &["t0.onnx"]].concat());
    assert_eq!(code, Some(0), "{err}");
    let (code, _, err) = flopsbench(
        dir.path(),
        &[
            &export[..],
            &["t0-conv.onnx", "--pconv-as", "conv@stages.2."],
        ]
        .concat(),
    );
    assert_eq!(code, Some(0), "{err}");
    // A rerun of the same configuration, measured in the same rounds (the same model
    // under another name): unchanged, and the gate passes.
    std::fs::copy(dir.path().join("t0.onnx"), dir.path().join("t0-again.onnx")).unwrap();
    let (code, json, err) = flopsbench(
        dir.path(),
        &[
            "compare",
            "t0.onnx",
            "t0-again.onnx",
            "--backend",
            "tract",
            "--min-time",
            "1s",
            "--fail-on-regression",
            "5",
            "--format",
            "json",
            "--out",
            "aa",
            "-q",
        ],
    );
    assert_eq!(code, Some(0), "{err}\n{json}");
    let doc: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["rows"][0]["paired"], true, "{json}");
    assert_ne!(doc["rows"][0]["verdict"], "regressed", "{json}");
    let (code, json, err) = flopsbench(
        dir.path(),
        &[
            "compare",
            "t0.onnx",
            "t0-conv.onnx",
            "--backend",
            "tract",
            "--per-layer",
            "--min-time",
            "3s",
            "--max-time",
            "5s",
            "--fail-on-regression",
            "1",
            "--format",
            "json",
            "--out",
            "ab",
            "-q",
        ],
    );
    // Measured in the same rounds: paired, and the gate trips.
    assert_eq!(code, Some(1), "{err}\n{json}");
    assert!(
        err.contains("regression beyond --fail-on-regression 1%"),
        "{err}"
    );
    let doc: Value = serde_json::from_str(&json).unwrap();
    let row = &doc["rows"][0];
    assert_eq!(row["verdict"], "regressed", "{row}");
    assert_eq!(row["paired"], true, "{row}");
    assert_eq!(row["across"], "case", "{row}");
    // A layer that changed leads, matched across the importer's names, and is slower.
    let layers = doc["layers"].as_array().unwrap();
    let top = &layers[0];
    let name = top["layer"].as_str().unwrap();
    assert!(
        name.starts_with("stages.2.blocks.") && name.contains(".spatial_mixing.partial_conv3"),
        "{top}"
    );
    assert_eq!(top["op"], "pconv→conv", "{top}");
    assert_eq!(top["status"], "slower", "{top}");
    // No other layer was replaced, added or removed.
    assert!(
        layers
            .iter()
            .all(|l| l["status"] != "added" && l["status"] != "removed")
    );
    // Stage 2 of FasterNet-T0 has eight blocks, one PConv each.
    let swapped: Vec<&Value> = layers.iter().filter(|l| l["op"] == "pconv→conv").collect();
    assert_eq!(swapped.len(), 8);
    let swapped_delta: f64 = swapped
        .iter()
        .map(|l| l["delta_ms"].as_f64().unwrap())
        .sum();
    // The roll-up by op type names conv, with at least half the swapped layers' change.
    let conv = doc["by_op"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["op"] == "conv")
        .unwrap_or_else(|| panic!("{}", doc["by_op"]));
    assert!(
        conv["delta_ms"].as_f64().unwrap() > 0.5 * swapped_delta,
        "{conv}"
    );
    // The comparison is kept beside the run.
    for f in [
        "results.csv",
        "layers.csv",
        "comparison.csv",
        "comparison.md",
        "layer_changes.csv",
    ] {
        assert!(dir.path().join("ab").join(f).is_file(), "{f}");
    }
    // The report shows it: the verdict, the layer table led by a changed layer, and
    // the chart of per-layer changes.
    let (code, _, err) = flopsbench(dir.path(), &["report", "ab", "-o", "rep"]);
    assert_eq!(code, Some(0), "{err}");
    let md = std::fs::read_to_string(dir.path().join("rep/report.md")).unwrap();
    let section = md
        .split("## Comparison: ab")
        .nth(1)
        .unwrap_or_else(|| panic!("{md}"));
    assert!(section.contains("| regressed | t0-"), "{section}");
    let layers = section.split("## Per-layer changes: ").nth(1).unwrap();
    let first_row = layers
        .lines()
        .find(|l| l.starts_with("| ") && !l.starts_with("| layer") && !l.starts_with("| ---"))
        .unwrap();
    assert!(first_row.contains("| pconv→conv | slower |"), "{layers}");
    let charts = std::fs::read_dir(dir.path().join("rep"))
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("layer-changes-")
        })
        .count();
    assert_eq!(charts, 1);
}
