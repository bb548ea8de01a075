//! `--device arm` end to end on an x86 host: the aarch64 build of flopsbench (scripts/test
//! cross-builds it: `cargo build --release --target aarch64-unknown-linux-gnu`) runs as a
//! worker under qemu-user emulating a Cortex-A72, as the `arm` entry of a devices file.
//! Its candle and tract outputs must match this host's within the f32 tolerance, its rows
//! must say aarch64 and emulated, and `report` must leave them out unless asked.

mod common;

use common::skip;

use std::path::{Path, PathBuf};
use std::process::Command;

use flopsbench::bench::F32_TOLERANCE;
use flopsbench::record::{RecordWithSamples, Status};

const QEMU: &str = "qemu-aarch64";

fn arm_binary() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("aarch64-unknown-linux-gnu/release/flopsbench")
}

fn jsonl(path: &Path) -> Vec<RecordWithSamples> {
    common::jsonl_rows(path)
}

/// A devices file in `dir` whose `arm` is the aarch64 build under qemu, or `None` (the
/// test skipped, saying why) when qemu or the build is missing.
fn emulated_arm(dir: &Path) -> Option<PathBuf> {
    if Command::new(QEMU).arg("--version").output().is_err() {
        skip("qemu-aarch64 not found");
        return None;
    }
    let binary = arm_binary();
    if !binary.is_file() {
        skip(&format!("{} not built", binary.display()));
        return None;
    }
    let devices = dir.join("devices.toml");
    std::fs::write(
        &devices,
        format!(
            "[devices.arm]\nrunner = \"{QEMU} -L /usr/aarch64-linux-gnu -cpu cortex-a72\"\n\
             arch = \"aarch64\"\nemulated = true\nbinary = \"{}\"\n",
            binary.display()
        ),
    )
    .unwrap();
    Some(devices)
}

/// Samples as briefly as the sampler allows (the micro-kernels keep their own windows).
const BRIEF: [&str; 6] = ["--runs", "2", "--min-time", "0", "--warmup", "0"];

/// `flopsbench ARGS --devices DEVICES --out OUT`, which must succeed: its stderr.
fn run_with(devices: &Path, out: &Path, args: &[&str]) -> String {
    let mut all = args.to_vec();
    all.extend([
        "--devices",
        devices.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    String::from_utf8_lossy(&common::flopsbench_ok(&all, None).stderr).into_owned()
}

/// `flopsbench report RUN -o DEST EXTRA`, which must succeed.
fn report(run: &Path, dest: &Path, extra: &[&str]) {
    let mut all = vec![
        "report",
        run.to_str().unwrap(),
        "-o",
        dest.to_str().unwrap(),
    ];
    all.extend(extra);
    common::flopsbench_ok(&all, None);
}

#[test]
fn f16_and_int8_run_checked_on_emulated_arm() {
    let dir = tempfile::tempdir().unwrap();
    let Some(devices) = emulated_arm(dir.path()) else {
        return;
    };
    let out = dir.path().join("run");
    let args = [
        "op",
        "--kind",
        "dwconv,pconv",
        "--shape",
        "16x8x8",
        "--layers",
        "2",
        "--dtype",
        "f16,int8",
        "--device",
        "arm",
        "--backend",
        "candle,tract",
    ];
    let stderr = run_with(&devices, &out, &[&args[..], &BRIEF].concat());
    let rows = jsonl(&out.join("arm/results.jsonl"));
    // 2 kinds × 2 backends × 2 dtypes: candle f16, tract f16 and tract int8 run, candle
    // int8 skips.
    assert_eq!(rows.len(), 8, "{stderr}");
    for r in rows.iter().map(|r| &r.record) {
        assert!(r.emulated && r.arch == "aarch64", "{r:?}");
        let runs = matches!(
            (r.backend.as_str(), r.dtype.as_str()),
            ("candle" | "tract", "f16") | ("tract", "int8")
        );
        let want = if runs { Status::Ok } else { Status::Skipped };
        assert_eq!(r.status, want, "{} {}: {}", r.backend, r.dtype, r.error);
        if runs {
            assert!(
                r.max_abs_err.is_some() && r.rel_err_vs_f32.is_some(),
                "{r:?}"
            );
            let want = if r.dtype.as_str() == "f16" {
                "f16"
            } else {
                "QDQ simulated"
            };
            assert!(r.computed.contains(want), "{}: {}", r.backend, r.computed);
        }
    }
}

#[test]
fn fasternet_t0_on_emulated_arm_matches_x86() {
    let dir = tempfile::tempdir().unwrap();
    let Some(devices) = emulated_arm(dir.path()) else {
        return;
    };
    let out = dir.path().join("run");
    let stderr = run_with(
        &devices,
        &out,
        &[
            "net",
            "fasternet-t0",
            "--device",
            "cpu,arm",
            "--min-time",
            "0",
            "--warmup",
            "0",
            "--backend",
            "candle,tract",
        ],
    );

    let arm = jsonl(&out.join("arm/results.jsonl"));
    let host_dir = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| !p.ends_with("arm"))
        .expect("this host's folder");
    let x86 = jsonl(&host_dir.join("results.jsonl"));
    assert_eq!(arm.len(), 2, "candle and tract on arm: {stderr}");
    assert_eq!(x86.len(), 2);
    for a in &arm {
        let r = &a.record;
        assert_eq!(r.status, Status::Ok, "{}: {}", r.backend, r.error);
        assert_eq!(
            (r.device.to_string().as_str(), r.arch.as_str()),
            ("arm", "aarch64")
        );
        assert!(r.emulated, "qemu rows are marked emulated");
        assert!(
            r.max_abs_err.is_some(),
            "checked against the reference on arm too"
        );
        let x = x86
            .iter()
            .find(|x| x.record.backend == r.backend)
            .expect("the same backend on x86");
        assert_eq!(x.record.arch, std::env::consts::ARCH);
        let (da, dx) = (a.output.as_ref().unwrap(), x.output.as_ref().unwrap());
        let diff = da.relative_difference(dx);
        assert!(
            diff < F32_TOLERANCE,
            "{}: arm and x86 outputs differ by {diff:e}",
            r.backend
        );
    }

    // Reports leave emulated rows out of tables and charts unless asked.
    let report_to = |extra: &[&str], name: &str| {
        let dest = dir.path().join(name);
        report(&out, &dest, extra);
        dest
    };
    let plain = report_to(&[], "plain");
    assert!(!plain.join("nets-arm.svg").exists());
    assert!(plain.join("nets-cpu.svg").exists());
    let md = std::fs::read_to_string(plain.join("report.md")).unwrap();
    assert!(
        md.contains("Left out: emulated devices"),
        "the report says what it left out"
    );
    let all = report_to(&["--include-emulated"], "all");
    assert!(all.join("nets-arm.svg").exists());
}

#[test]
fn peak_micro_kernels_run_checked_on_emulated_arm_and_stay_off_the_charts() {
    let dir = tempfile::tempdir().unwrap();
    let Some(devices) = emulated_arm(dir.path()) else {
        return;
    };
    let out = dir.path().join("run");
    let peak = ["peak", "--device", "arm", "--backend", "candle"];
    let stderr = run_with(&devices, &out, &[&peak[..], &BRIEF].concat());
    let rows = jsonl(&out.join("arm/results.jsonl"));
    // The worker announced every row it sent, its micro-kernel rows included.
    let n = rows.len();
    assert!(stderr.contains(&format!("[{n}/{n}] ")), "{stderr}");
    let kernel: Vec<_> = rows
        .iter()
        .map(|r| &r.record)
        .filter(|r| r.backend == "kernel")
        .collect();
    // The NEON FMA chain and a bandwidth per level, checked against their closed forms.
    let fma = kernel
        .iter()
        .find(|r| r.name == "fma" && r.threads == 1)
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(fma.detail.contains("NEON"), "{fma:?}");
    assert!(kernel.iter().any(|r| r.name == "bw-DRAM"), "{kernel:?}");
    for r in &kernel {
        assert_eq!(r.status, Status::Ok, "{}: {}", r.case, r.error);
        assert!(r.emulated && r.arch == "aarch64", "{r:?}");
        assert_eq!(r.max_abs_err, Some(0.0), "{r:?}");
        assert!(r.gmacs_per_s.unwrap_or(0.0) > 0.0 || r.gbytes_per_s.unwrap_or(0.0) > 0.0);
    }
    // Emulated figures are never drawn or tabled as roofs.
    let dest = dir.path().join("report");
    report(&out, &dest, &[]);
    let md = std::fs::read_to_string(dest.join("report.md")).unwrap();
    assert!(!md.contains("## Device ceilings"), "{md}");
    let charts: Vec<String> = std::fs::read_dir(&dest)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("roofline"))
        .collect();
    assert!(charts.is_empty(), "{charts:?}");
}
