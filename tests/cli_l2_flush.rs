//! `--l2-flush` end to end: every timed call clocked without its cache flush, the row and
//! the terminal say so, and `compare` never judges a flushed row against a warm one.

use std::path::Path;

use assert_cmd::Command;
use flopsbench::record::Status;

/// `op` on one DWConv layer of 768×7×7 through tract, with `args`, into `out`.
fn one_dwconv_layer(args: &[&str], out: &Path) -> std::process::Output {
    Command::cargo_bin("flopsbench")
        .unwrap()
        .args([
            "op", "--kind", "dwconv", "--shape", "768x7x7", "--layers", "1",
        ])
        .args(["--backend", "tract", "--out", out.to_str().unwrap()])
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn l2_flush_times_each_call_without_its_flush_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cold");
    // One DWConv layer on 768×7×7: tens of microseconds a call, cold or warm, against the
    // flush's milliseconds (a write of twice the host's largest cache).
    let flushed = [
        "--l2-flush",
        "--warmup",
        "0",
        "--min-time",
        "0.2s",
        "--max-time",
        "2s",
    ];
    let output = one_dwconv_layer(&flushed, &out);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("caches flushed before each call (untimed)"),
        "{stderr}"
    );
    assert!(
        stdout.contains("dwconv-768x7x7-k3-l1 (caches flushed)"),
        "{stdout}"
    );
    let rows: Vec<flopsbench::record::Record> = csv::Reader::from_path(out.join("results.csv"))
        .unwrap()
        .deserialize()
        .map(|r| r.unwrap())
        .collect();
    let r = &rows[0];
    assert_eq!((r.status, r.l2_flush), (Status::Ok, true), "{r:?}");
    // Every call timed one by one (a short call is otherwise timed per sample only), and
    // the flush outside the clock: the median is the call's, not the flush's.
    let calls = r.samples.unwrap() as u64 * r.iters_per_sample.unwrap();
    assert!(calls >= 10 && r.call_p50_ms.is_some(), "{r:?}");
    let median = r.median_ms.unwrap();
    assert!(
        median < 1.0,
        "a flushed call took {median} ms: the flush was timed"
    );
    // No GPU here: no device times.
    assert_eq!(r.gpu_median_ms, None);
    // The same case warm is another protocol: `compare` names the pair, never judges it.
    let warm = dir.path().join("warm");
    assert!(
        one_dwconv_layer(&["--runs", "3", "-q"], &warm)
            .status
            .success()
    );
    let compared = Command::cargo_bin("flopsbench")
        .unwrap()
        .args(["compare", warm.to_str().unwrap(), out.to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&compared.stdout).into_owned()
        + &String::from_utf8_lossy(&compared.stderr);
    // (Its only row pair differs in protocol: nothing in common, a usage error naming it.)
    assert_eq!(compared.status.code(), Some(2), "{text}");
    assert!(
        text.contains("not compared, protocols differ") && text.contains("caches flushed"),
        "{text}"
    );
    // Nor does a resumed run mix them in one folder: refused, the folder untouched.
    let before = std::fs::read(warm.join("results.jsonl")).unwrap();
    let resumed = Command::cargo_bin("flopsbench")
        .unwrap()
        .args([
            "op", "--kind", "dwconv", "--shape", "768x7x7", "--layers", "1",
        ])
        .args([
            "--backend",
            "tract",
            "--l2-flush",
            "--resume",
            warm.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&resumed.stderr);
    assert_eq!(resumed.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--resume") && stderr.contains("resume it without --l2-flush too"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(warm.join("results.jsonl")).unwrap(), before);
}
