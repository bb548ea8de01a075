//! `flopsbench op` and `net` through the real binary and the runner's library entry:
//! result files with the contract's columns, rows flushed per case, checked outputs,
//! error rows that do not stop a run.

use std::path::Path;

use assert_cmd::Command;
use flopsbench::backend::{self, Backend, Prepared, Settings};
use flopsbench::bench::Experiment;
use flopsbench::device::DeviceSpec;
use flopsbench::measure::SamplerConfig;
use flopsbench::model::Model;
use flopsbench::record::Status;
use flopsbench::run::{RunOptions, run_on};
use flopsbench::spec::{OpKind, OpSweep, Shape};
use flopsbench::target::Target;
use serde_json::Value;

const CONTRACT_COLUMNS: &str = "run_id,timestamp,host,device,device_model,arch,emulated,backend,backend_version,\
case,kind,name,shape,layers,ratio,groups,kernel,stride,batch,dtype,threads,fused_bn,\
macs,flops,params,mem_bytes,warmup_iters,samples,iters_per_sample,\
median_ms,mean_ms,stddev_ms,ci95_low_ms,ci95_high_ms,min_ms,max_ms,outliers,\
throughput_per_s,gmacs_per_s,gflops_per_s,max_abs_err,status,error";

/// How many backends can run on this CPU (ort only after scripts/setup-ort).
fn available_backends() -> usize {
    backend::registry()
        .iter()
        .filter(|b| b.probe(&DeviceSpec::Cpu).is_ok())
        .count()
}

fn quick() -> [&'static str; 6] {
    ["--warmup", "0", "--min-time", "0", "--max-time", "5s"]
}

fn rows(dir: &Path) -> Vec<csv::StringRecord> {
    let mut r = csv::Reader::from_path(dir.join("results.csv")).unwrap();
    r.records().map(|r| r.unwrap()).collect()
}

#[test]
fn op_writes_the_contract_files_with_checked_rows() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let mut args = vec![
        "op",
        "--kind",
        "conv,dwconv,pconv",
        "--shape",
        "16x10x10",
        "--layers",
        "3",
    ];
    args.extend(quick());
    args.extend(["--out", out.to_str().unwrap(), "--format", "json"]);
    let output = Command::cargo_bin("flopsbench")
        .unwrap()
        .args(&args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    for name in backend::names() {
        let b = backend::by_name(name).unwrap();
        let line = format!("{name} unavailable on cpu");
        assert_eq!(
            stderr.contains(&line),
            b.probe(&DeviceSpec::Cpu).is_err(),
            "one line per unavailable backend, none for the others: {stderr}"
        );
    }
    let header = std::fs::read_to_string(out.join("results.csv")).unwrap();
    assert!(
        header.starts_with(CONTRACT_COLUMNS),
        "{}",
        header.lines().next().unwrap()
    );
    let rows = rows(&out);
    let backends = available_backends();
    assert!(backends >= 2, "candle and tract are always compiled in");
    assert_eq!(
        rows.len(),
        3 * backends,
        "three cases on every available backend"
    );
    let printed: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(printed.len(), rows.len());
    for row in &printed {
        assert_eq!(row["status"], "ok", "{row}");
        assert!(row["max_abs_err"].as_f64().unwrap() < 1e-3);
        assert!(row["median_ms"].as_f64().unwrap() > 0.0);
        assert!(row["samples"].as_u64().unwrap() >= 10);
        let (lo, med, hi) = (
            row["ci95_low_ms"].as_f64().unwrap(),
            row["median_ms"].as_f64().unwrap(),
            row["ci95_high_ms"].as_f64().unwrap(),
        );
        assert!(lo <= med && med <= hi);
        assert_eq!(row["threads"], 1);
        assert_eq!(row["batch"], 1);
        assert_eq!(row["reference"], "f64 direct convolution");
    }
    // MACs in the rows equal `count`.
    let counted = Command::cargo_bin("flopsbench")
        .unwrap()
        .args([
            "count", "--kind", "conv", "--shape", "16x10x10", "--layers", "3", "--format", "json",
        ])
        .output()
        .unwrap();
    let counted: Vec<Value> = serde_json::from_slice(&counted.stdout).unwrap();
    assert_eq!(printed[0]["macs"], counted[0]["macs"]);
    let jsonl = std::fs::read_to_string(out.join("results.jsonl")).unwrap();
    let first: Value = serde_json::from_str(jsonl.lines().next().unwrap()).unwrap();
    assert_eq!(
        first["samples_ms"].as_array().unwrap().len() as u64,
        first["samples"].as_u64().unwrap()
    );
    let meta: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("meta.json")).unwrap()).unwrap();
    for field in [
        "host",
        "os",
        "cpu_model",
        "logical_cores",
        "memory_bytes",
        "backends",
        "flopsbench_version",
        "git_commit",
        "command_line",
    ] {
        assert!(meta.get(field).is_some(), "meta.json lacks {field}");
    }
}

#[test]
fn threads_and_the_pconv_forward_are_honoured_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let mut args = vec![
        "op",
        "--kind",
        "pconv",
        "--shape",
        "32x12x12",
        "--layers",
        "2",
        "--threads",
        "2",
    ];
    args.extend(quick());
    args.extend([
        "--pconv-impl",
        "slicing",
        "--out",
        out.to_str().unwrap(),
        "-q",
        "--format",
        "json",
    ]);
    let output = Command::cargo_bin("flopsbench")
        .unwrap()
        .args(&args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    for row in &printed {
        assert_eq!(row["status"], "ok", "{row}");
        assert_eq!(row["threads"], 2);
    }
    let by = |b: &str| printed.iter().find(|r| r["backend"] == b).unwrap().clone();
    assert_eq!(by("candle")["pconv_impl"], "slicing");
    assert_eq!(
        by("tract")["pconv_impl"],
        "split-cat",
        "tract runs the ONNX split-cat graph"
    );
    assert!(
        by("tract")["detail"]
            .as_str()
            .unwrap()
            .contains("2 thread(s)")
    );
}

#[test]
fn net_runs_checked_against_the_other_backend() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let mut args = vec![
        "net",
        "mobilenetv3-small",
        "--resolution",
        "64",
        "--runs",
        "3",
        "--warmup",
        "0",
    ];
    args.extend(["--out", out.to_str().unwrap(), "-q", "--format", "csv"]);
    let output = Command::cargo_bin("flopsbench")
        .unwrap()
        .args(&args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rows = rows(&out);
    assert_eq!(rows.len(), available_backends());
    let text = std::fs::read_to_string(out.join("results.csv")).unwrap();
    for row in &rows {
        assert_eq!(&row[41], "ok", "{row:?}");
    }
    assert!(
        text.contains(",tract,") && text.contains(",candle,"),
        "the reference column names the other backend"
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(
        stdout.lines().count(),
        1 + rows.len(),
        "--format csv prints the header and every row: {stdout}"
    );
    assert!(stdout.contains(",tract,") && stdout.contains(",candle,"));
}

/// A real backend (candle) that refuses cases with more than 8 channels, to check that a
/// failing case becomes an error row and the run goes on.
struct FailsOnWideInputs;

impl Backend for FailsOnWideInputs {
    fn name(&self) -> &'static str {
        "candle"
    }
    fn version(&self) -> String {
        backend::by_name("candle").unwrap().version()
    }
    fn probe(&self, d: &DeviceSpec) -> Result<(), String> {
        backend::by_name("candle").unwrap().probe(d)
    }
    fn prepare(
        &self,
        m: &Model,
        d: &DeviceSpec,
        s: &Settings,
    ) -> flopsbench::Result<Box<dyn Prepared>> {
        if m.net.input.c > 8 {
            return Err(flopsbench::Error::Backend {
                backend: "candle".into(),
                message: "out of memory (simulated refusal)".into(),
            });
        }
        backend::by_name("candle").unwrap().prepare(m, d, s)
    }
}

#[test]
fn a_failing_case_is_an_error_row_and_the_run_continues() {
    let dir = tempfile::tempdir().unwrap();
    let experiment = Experiment {
        target: Target::Ops(OpSweep {
            kinds: vec![OpKind::Conv],
            shapes: vec![Shape::new(16, 6, 6), Shape::new(4, 6, 6)],
            layers: Some(2),
            ..OpSweep::default()
        }),
        sampler: SamplerConfig {
            warmup: std::time::Duration::ZERO,
            runs: Some(3),
            ..SamplerConfig::default()
        },
        ..Experiment::new(Target::Peak)
    };
    let options = RunOptions {
        out: Some(dir.path().join("run")),
        ..RunOptions::default()
    };
    let failing = FailsOnWideInputs;
    let plan = vec![(DeviceSpec::Cpu, vec![&failing as &dyn Backend])];
    let outcome = run_on(&experiment, &options, &plan, &mut std::io::sink()).unwrap();
    let statuses: Vec<Status> = outcome.records.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [Status::Error, Status::Ok]);
    assert!(outcome.records[0].error.contains("out of memory"));
    assert_eq!(
        rows(&dir.path().join("run")).len(),
        2,
        "both rows were written"
    );
    // In interleaved rounds with tract, the refusal is candle's error row; tract's rounds
    // go on alone, and on the narrow case both are measured in rounds.
    let options = RunOptions {
        out: Some(dir.path().join("rounds")),
        ..RunOptions::default()
    };
    let tract = backend::by_name("tract").unwrap();
    let plan = vec![(DeviceSpec::Cpu, vec![&failing as &dyn Backend, tract])];
    let outcome = run_on(&experiment, &options, &plan, &mut std::io::sink()).unwrap();
    let rows: Vec<(Status, &str, bool, Option<usize>)> = outcome
        .records
        .iter()
        .map(|r| (r.status, r.backend.as_str(), r.interleaved, r.samples))
        .collect();
    assert_eq!(
        rows,
        [
            (Status::Error, "candle", true, None),
            (Status::Ok, "tract", true, Some(3)),
            (Status::Ok, "candle", true, Some(3)),
            (Status::Ok, "tract", true, Some(3)),
        ]
    );
}

/// Calls of `run` on [`WrongOutput`]'s prepared models.
static WRONG_RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A real backend (tract) whose output is made wrong after it ran: one value off by 1.
struct WrongOutput;

struct Perturbed(Box<dyn Prepared>);

impl Prepared for Perturbed {
    fn run(&mut self) -> flopsbench::Result<()> {
        WRONG_RUNS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.0.run()
    }
    fn sync(&mut self) -> flopsbench::Result<()> {
        self.0.sync()
    }
    fn output(&mut self) -> flopsbench::Result<Vec<f32>> {
        let mut v = self.0.output()?;
        v[0] += 1.0;
        Ok(v)
    }
    fn detail(&self) -> String {
        self.0.detail()
    }
    fn pconv_impl(&self) -> flopsbench::backend::PconvImpl {
        self.0.pconv_impl()
    }
    fn computed(&self) -> String {
        self.0.computed()
    }
}

impl Backend for WrongOutput {
    fn name(&self) -> &'static str {
        "tract"
    }
    fn version(&self) -> String {
        backend::by_name("tract").unwrap().version()
    }
    fn probe(&self, d: &DeviceSpec) -> Result<(), String> {
        backend::by_name("tract").unwrap().probe(d)
    }
    fn prepare(
        &self,
        m: &Model,
        d: &DeviceSpec,
        s: &Settings,
    ) -> flopsbench::Result<Box<dyn Prepared>> {
        let inner = backend::by_name("tract").unwrap().prepare(m, d, s)?;
        Ok(Box::new(Perturbed(inner)))
    }
}

#[test]
fn a_wrong_output_is_an_error_row_and_nothing_is_timed() {
    let dir = tempfile::tempdir().unwrap();
    let experiment = Experiment {
        target: Target::Ops(OpSweep {
            kinds: vec![OpKind::Conv],
            shapes: vec![Shape::new(8, 6, 6)],
            layers: Some(2),
            ..OpSweep::default()
        }),
        sampler: SamplerConfig {
            warmup: std::time::Duration::ZERO,
            runs: Some(3),
            ..SamplerConfig::default()
        },
        ..Experiment::new(Target::Peak)
    };
    let options = RunOptions {
        out: Some(dir.path().join("run")),
        ..RunOptions::default()
    };
    let wrong = WrongOutput;
    let plan = vec![(DeviceSpec::Cpu, vec![&wrong as &dyn Backend])];
    let outcome = run_on(&experiment, &options, &plan, &mut std::io::sink()).unwrap();
    let [r] = outcome.records.as_slice() else {
        panic!("one row: {:?}", outcome.records)
    };
    assert_eq!(r.status, Status::Error);
    assert!(
        r.error
            .contains("output differs from the f64 direct convolution reference"),
        "{}",
        r.error
    );
    assert!(
        r.max_abs_err.is_some_and(|e| e > 0.5),
        "{:?}",
        r.max_abs_err
    );
    assert_eq!(
        (r.median_ms, r.samples, r.warmup_iters, r.gmacs_per_s),
        (None, None, None, None),
        "nothing was timed"
    );
    assert_eq!(
        WRONG_RUNS.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "the model ran once, for the check, and never in a timed loop"
    );
    let line = std::fs::read_to_string(dir.path().join("run/results.jsonl")).unwrap();
    let row: Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(row["status"], "error");
    assert_eq!(row["samples_ms"].as_array().map(Vec::len), Some(0));
}

#[test]
fn runs_started_together_without_out_get_their_own_folders() {
    let scratch = tempfile::tempdir().unwrap();
    let start = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_flopsbench"))
            .current_dir(scratch.path())
            .args(["op", "--kind", "conv", "--shape", "4x6x6", "--layers", "1"])
            .args(["--backend", "tract", "-q", "--runs", "1"])
            .args(["--warmup", "0", "--min-time", "0"])
            .output()
    };
    // Two runs at once: the same second, the same host, so the same default name.
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(start);
        let b = s.spawn(start);
        (a.join().unwrap().unwrap(), b.join().unwrap().unwrap())
    });
    for run in [&a, &b] {
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
    }
    let folders: Vec<_> = std::fs::read_dir(scratch.path().join("reports"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(folders.len(), 2, "{folders:?}");
    for f in folders {
        assert_eq!(rows(&f).len(), 1, "{}", f.display());
    }
}

#[test]
fn the_c_heap_is_pinned_unless_the_environment_sets_it() {
    let scratch = tempfile::tempdir().unwrap();
    let c_heap = |name: &str, setting: Option<(&str, &str)>| {
        let out = scratch.path().join(name);
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_flopsbench"));
        cmd.args(["op", "--kind", "conv", "--shape", "4x6x6", "--layers", "1"])
            .args(["--backend", "tract", "-q", "--runs", "1"])
            .args(["--warmup", "0", "--min-time", "0", "--out"])
            .arg(&out);
        for var in flopsbench::heap::USER_SETTINGS {
            cmd.env_remove(var);
        }
        if let Some((var, value)) = setting {
            cmd.env(var, value);
        }
        let run = cmd.output().unwrap();
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        let meta: Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("meta.json")).unwrap()).unwrap();
        meta["c_heap"].as_str().unwrap().to_string()
    };
    if cfg!(all(target_os = "linux", target_env = "gnu")) {
        assert_eq!(
            c_heap("pinned", None),
            "glibc malloc pinned: M_MMAP_THRESHOLD=33554432 M_TRIM_THRESHOLD=67108864"
        );
        assert_eq!(
            c_heap("user", Some(("MALLOC_TOP_PAD_", "131072"))),
            "glibc malloc, thresholds as set in the environment: MALLOC_TOP_PAD_=131072"
        );
        assert_eq!(
            c_heap("adaptive", Some(("FLOPSBENCH_C_HEAP", "adaptive"))),
            "glibc malloc, thresholds as set in the environment: FLOPSBENCH_C_HEAP=adaptive"
        );
        // Other malloc settings do not stop the pinning.
        assert!(c_heap("arenas", Some(("MALLOC_ARENA_MAX", "2"))).contains("pinned:"));
    } else {
        assert!(c_heap("other", None).contains("nothing pinned"));
    }
}

/// `op ARGS… --out DIR --format FORMAT` on candle and tract: whether it succeeded, and
/// what it printed.
fn op_rows(args: &[&str], out: &Path, format: &str) -> (bool, String) {
    let output = Command::cargo_bin("flopsbench")
        .unwrap()
        .args(["op", "--backend", "candle,tract"])
        .args(args)
        .args(["--out", out.to_str().unwrap(), "--format", format])
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[test]
fn per_call_percentiles_cold_start_memory_and_the_ci_target_are_recorded() {
    let dir = tempfile::tempdir().unwrap();
    // 2 layers of Conv 64×28×28: milliseconds per call, so calls are timed one by one. A
    // target no run can meet (±0.0000001%) is missed; the table marks it.
    let long = [
        "--kind",
        "conv",
        "--shape",
        "64x28x28",
        "--layers",
        "2",
        "--warmup",
        "0",
        "--min-time",
        "0",
        "--max-time",
        "0.3s",
    ];
    let (ok, table) = op_rows(
        &[&long[..], &["--target-ci", "0.000000001"]].concat(),
        &dir.path().join("missed"),
        "table",
    );
    assert!(ok);
    assert!(
        table.contains("*") && table.contains("sampling reached its time cap first"),
        "{table}"
    );
    let (ok, json) = op_rows(
        &[&long[..], &["--target-ci", "0.9"]].concat(),
        &dir.path().join("met"),
        "json",
    );
    assert!(ok);
    let printed: Vec<Value> = serde_json::from_str(&json).unwrap();
    assert_eq!(printed.len(), 2);
    for row in &printed {
        assert_eq!(row["status"], "ok", "{row}");
        assert_eq!(row["ci_target_met"], true, "{row}");
        let get = |k: &str| row[k].as_f64().unwrap_or_else(|| panic!("{k}: {row}"));
        let (p50, p90, p99, max) = (
            get("call_p50_ms"),
            get("call_p90_ms"),
            get("call_p99_ms"),
            get("call_max_ms"),
        );
        assert!(0.0 < p50 && p50 <= p90 && p90 <= p99 && p99 <= max, "{row}");
        // A sample is the mean of its calls: the fastest sample is no faster than the
        // fastest call, and the median call lies within the samples' range widened by the
        // spread of calls within a sample.
        assert!(
            p50 <= get("max_ms") * 1.5 && p50 >= get("min_ms") * 0.5,
            "{row}"
        );
        assert!(get("cold_ms") > 0.0 && get("prepare_ms") > 0.0, "{row}");
        if cfg!(target_os = "linux") {
            // Preparing a model and running it once allocates: some memory is added.
            assert!(row["peak_rss_added_mib"].as_f64().is_some(), "{row}");
        }
    }
    let missed = rows(&dir.path().join("missed"));
    let csv = csv::Reader::from_path(dir.path().join("missed/results.csv"))
        .unwrap()
        .headers()
        .unwrap()
        .clone();
    let col = csv.iter().position(|h| h == "ci_target_met").unwrap();
    assert!(missed.iter().all(|r| &r[col] == "false"));
    // A call far under 50 µs is timed per sample only: no per-call columns. The rule
    // reads the warm-up's estimate of a call, which a stall of this shared machine can
    // push past 50 µs; the estimate also sets the iterations per sample (10 ms of calls),
    // so calls are timed one by one exactly when a sample holds at most 200 of them.
    let (ok, json) = op_rows(
        &[
            "--kind",
            "conv",
            "--shape",
            "4x4x4",
            "--layers",
            "1",
            "--warmup",
            "0",
            "--min-time",
            "0",
            "--max-time",
            "0.1s",
        ],
        &dir.path().join("short"),
        "json",
    );
    assert!(ok);
    let printed: Vec<Value> = serde_json::from_str(&json).unwrap();
    assert_eq!(printed.len(), 2);
    for row in &printed {
        let iters = row["iters_per_sample"].as_u64().unwrap();
        assert_eq!(row["call_p50_ms"].is_null(), iters > 200, "{row}");
        assert_eq!(row["call_max_ms"].is_null(), iters > 200, "{row}");
        assert!(
            row["ci_target_met"].is_null(),
            "no target, no verdict: {row}"
        );
        assert!(row["cold_ms"].as_f64().unwrap() > 0.0, "{row}");
    }
}

#[test]
fn a_cases_backends_are_measured_in_rounds_unless_told_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let case = [
        "--kind", "conv", "--shape", "16x10x10", "--layers", "3", "--warmup", "0", "--runs", "7",
    ];
    for (flags, rounds) in [(&[][..], true), (&["--no-interleave"][..], false)] {
        let out = dir.path().join(format!("r{rounds}"));
        let (ok, json) = op_rows(&[&case[..], flags].concat(), &out, "json");
        assert!(ok);
        let printed: Vec<Value> = serde_json::from_str(&json).unwrap();
        assert_eq!(printed.len(), 2);
        for row in &printed {
            assert_eq!(row["status"], "ok", "{row}");
            assert_eq!(row["interleaved"], rounds, "{row}");
            // Each row keeps its own statistics over its own samples.
            assert_eq!(row["samples"], 7, "{row}");
        }
    }
}

#[test]
fn the_coverage_self_check_counts_the_runs_whose_ci_holds_the_grand_median() {
    let output = Command::cargo_bin("flopsbench")
        .unwrap()
        .args([
            "coverage",
            "--kind",
            "conv",
            "--shape",
            "8x8x8",
            "--layers",
            "1",
            "--backend",
            "tract",
            "--runs",
            "3",
            "--warmup",
            "0",
            "--min-time",
            "0.05s",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.starts_with("conv-8x8x8-k3-l1 · tract · cpu\n"),
        "{stdout}"
    );
    for label in ["in a row", "in rounds"] {
        let line = stdout.lines().find(|l| l.contains(label)).unwrap();
        let n: usize = line
            .split(" lies inside ")
            .nth(1)
            .and_then(|r| r.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{line}"));
        assert!(n <= 3 && line.contains("of 3 runs' 95% CIs"), "{line}");
        // The grand median of the pooled samples lies within the runs' medians.
        let num = |after: &str| -> f64 {
            line.split(after)
                .nth(1)
                .unwrap()
                .split(' ')
                .next()
                .unwrap()
                .parse()
                .unwrap()
        };
        let (grand, lo, hi) = (num("grand median "), num("(medians "), num(" … "));
        assert!(
            lo <= hi && lo * 0.999 <= grand && grand <= hi * 1.001,
            "{line}"
        );
    }
}
