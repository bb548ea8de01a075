//! libtorch's OpenMP spinning and interleaved rounds: a tch build restarts itself once with
//! a short `GOMP_SPINCOUNT` when tch may share rounds with another backend (src/spin.rs),
//! and meta.json records what the run had. Built with the `tch` feature only.
#![cfg(feature = "tch")]

use assert_cmd::Command;
use serde_json::Value;

/// With tch beside another backend in rounds, the run restarts itself with libgomp's spin
/// count lowered (its idle threads would otherwise spin ~10 ms into the next backend's
/// sample); not without rounds, not without tch, and never over the user's own setting.
#[test]
fn tch_in_rounds_with_another_backend_runs_with_a_short_openmp_spin() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &[&str], Option<&str>, &str); 4] = [
        ("tch,tract", &[], None, "GOMP_SPINCOUNT=10000"),
        ("tch,tract", &["--no-interleave"], None, "default"),
        ("tract", &[], None, "default"),
        ("tch,tract", &[], Some("ACTIVE"), "OMP_WAIT_POLICY=ACTIVE"),
    ];
    for (i, (backends, flags, policy, want)) in cases.into_iter().enumerate() {
        let out = dir.path().join(format!("r{i}"));
        let mut command = Command::cargo_bin("flopsbench").unwrap();
        command
            .env_remove("GOMP_SPINCOUNT")
            .env_remove("OMP_WAIT_POLICY")
            .args(["op", "--kind", "conv", "--shape", "8x8x8", "--layers", "1"])
            .args([
                "--runs",
                "3",
                "--warmup",
                "0",
                "--quiet",
                "--backend",
                backends,
            ])
            .args(flags)
            .arg("--out")
            .arg(&out);
        if let Some(policy) = policy {
            command.env("OMP_WAIT_POLICY", policy);
        }
        let output = command.output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{backends} {flags:?}: {stderr}");
        assert!(!stderr.contains("could not restart"), "{stderr}");
        let meta: Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("meta.json")).unwrap()).unwrap();
        assert_eq!(meta["openmp"], want, "{backends} {flags:?} {policy:?}");
        // The restarted process wrote every row once.
        let rows = csv::Reader::from_path(out.join("results.csv"))
            .unwrap()
            .records()
            .count();
        assert_eq!(rows, backends.split(',').count());
    }
}
