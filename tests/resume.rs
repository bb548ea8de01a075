//! Nothing lost: a suite killed mid-run (SIGKILL, a real child process) leaves files that
//! `report` reads, and `--resume` completes them with every case exactly once; a folder
//! another live run is writing is refused.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SUITE: &str = r#"
name = "resume-test"
[measure]
warmup = "0.05s"
min_time = "0.3s"
[[ops]]
kind = ["conv", "dwconv", "pconv"]
shape = ["16x12x12", "32x8x8"]
layers = 2
"#;

fn bin() -> String {
    env!("CARGO_BIN_EXE_flopsbench").to_string()
}

fn data_rows(csv: &Path) -> usize {
    std::fs::read_to_string(csv)
        .map(|t| t.lines().count().saturating_sub(1))
        .unwrap_or(0)
}

#[test]
fn a_killed_suite_is_readable_and_resumes_to_every_case_once() {
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("s.toml");
    std::fs::write(&suite, SUITE).unwrap();
    let out = dir.path().join("run");
    let mut child = Command::new(bin())
        .args([
            "suite",
            suite.to_str().unwrap(),
            "--backend",
            "tract",
            "--quiet",
            "--out",
        ])
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let csv = out.join("results.csv");
    let start = Instant::now();
    while data_rows(&csv) < 2 {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no rows appeared"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "finished before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL: no handler runs
    child.wait().unwrap();
    let before = data_rows(&csv);
    assert!((2..6).contains(&before), "{before} rows before the kill");

    // What was flushed is a valid result folder.
    let report = dir.path().join("report");
    let r = Command::new(bin())
        .args(["report", out.to_str().unwrap(), "--format", "csv", "-o"])
        .arg(&report)
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));

    let r = Command::new(bin())
        .args([
            "suite",
            suite.to_str().unwrap(),
            "--backend",
            "tract",
            "--resume",
        ])
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(r.status.success(), "{stderr}");
    assert!(stderr.contains("already ok"), "{stderr}");
    let mut reader = csv::Reader::from_path(&csv).unwrap();
    let headers = reader.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (case, status, run_id) = (col("case"), col("status"), col("run_id"));
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut runs = std::collections::HashSet::new();
    for row in reader.records() {
        let row = row.unwrap();
        assert_eq!(&row[status], "ok");
        *seen.entry(row[case].to_string()).or_default() += 1;
        runs.insert(row[run_id].to_string());
    }
    assert_eq!(seen.len(), 6, "{seen:?}");
    assert!(seen.values().all(|n| *n == 1), "every case once: {seen:?}");
    assert_eq!(runs.len(), 1, "a resumed folder stays one run");
    let jsonl = std::fs::read_to_string(out.join("results.jsonl")).unwrap();
    assert_eq!(jsonl.lines().count(), 6);
    assert!(
        !out.join(".flopsbench.lock").exists(),
        "the lock is released"
    );
}

#[test]
fn a_folder_being_written_by_a_live_run_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    // This test process is alive: its pid in the lock file stands for a running writer.
    std::fs::write(
        dir.path().join(".flopsbench.lock"),
        std::process::id().to_string(),
    )
    .unwrap();
    let r = Command::new(bin())
        .args([
            "op",
            "--kind",
            "conv",
            "--shape",
            "8x8x8",
            "--backend",
            "tract",
        ])
        .args(["--min-time", "0", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("another flopsbench run"), "{stderr}");
    assert!(!dir.path().join("results.csv").exists());
}
