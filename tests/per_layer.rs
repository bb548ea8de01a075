//! Per-layer profiles (`net --per-layer`): every layer of a zoo network on every backend
//! built, with the counts of `count --per-layer` (fused groups summed on the layer that
//! ran them), shares that sum to one, and an error row from a backend that cannot
//! profile while the rest goes on.

use std::collections::BTreeMap;
use std::path::Path;

mod common;

use assert_cmd::Command;
use flopsbench::backend::{self, Backend, Prepared, Settings};
use flopsbench::bench::Experiment;
use flopsbench::device::DeviceSpec;
use flopsbench::measure::SamplerConfig;
use flopsbench::model::Model;
use flopsbench::profile::LayerRow;
use flopsbench::record::Status;
use flopsbench::run::{RunOptions, run_on};
use flopsbench::target::Target;

fn layer_rows(dir: &Path) -> Vec<LayerRow> {
    common::csv_rows(&dir.join("layers.csv"))
}

/// The backends that run on this CPU; in CI every registered one must.
fn backends_here() -> Vec<&'static str> {
    let here: Vec<&str> = backend::registry()
        .iter()
        .filter(|b| b.probe(&DeviceSpec::Cpu).is_ok())
        .map(|b| b.name())
        .collect();
    if std::env::var_os("CI").is_some() {
        assert_eq!(here.len(), backend::registry().len(), "{here:?}");
    }
    here
}

#[test]
fn every_layer_of_a_zoo_net_is_profiled_on_every_backend() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let run = Command::cargo_bin("flopsbench")
        .unwrap()
        .args(["net", "fasternet-t0", "--resolution", "64", "--per-layer"])
        .args([
            "--runs",
            "3",
            "--warmup",
            "0",
            "--min-time",
            "0",
            "-q",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    // The counts: one row per layer of the network as the backends run it (BN folded).
    let count = Command::cargo_bin("flopsbench")
        .unwrap()
        .args(["count", "fasternet-t0", "--resolution", "64", "--per-layer"])
        .args(["--format", "csv"])
        .output()
        .unwrap();
    let mut counted: Vec<(String, u64, u64)> = Vec::new();
    for r in csv::Reader::from_reader(count.stdout.as_slice()).records() {
        let r = r.unwrap();
        counted.push((
            r[1].to_string(),
            r[5].parse().unwrap(),
            r[8].parse().unwrap(),
        ));
    }
    let rows = layer_rows(&out);
    for backend in backends_here() {
        check_profile(backend, &rows, &counted);
    }
    // The report's section per network and backend, with its chart.
    let report = dir.path().join("report");
    let made = Command::cargo_bin("flopsbench")
        .unwrap()
        .arg("report")
        .arg(&out)
        .arg("-o")
        .arg(&report)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let md = std::fs::read_to_string(report.join("report.md")).unwrap();
    for backend in backends_here() {
        assert!(
            md.contains(&format!("## Per layer: fasternet-t0-64 · {backend} · cpu")),
            "{md}"
        );
        assert!(
            report
                .join(format!("layers-fasternet-t0-64-{backend}-cpu.svg"))
                .is_file()
        );
    }
    assert!(md.contains("| pconv | 13 |"), "{md}");
    let jsonl = std::fs::read_to_string(out.join("layers.jsonl")).unwrap();
    assert_eq!(
        jsonl.lines().count(),
        rows.len(),
        "the samples of every row"
    );
}

/// `backend`'s profile among `rows`: every layer of `counted` (name, MACs, bytes) in
/// order, fused groups carrying their members' counts, shares summing to one.
fn check_profile(backend: &str, rows: &[LayerRow], counted: &[(String, u64, u64)]) {
    let mine: Vec<&LayerRow> = rows.iter().filter(|r| r.backend == backend).collect();
    assert!(mine.iter().all(|r| r.status == "ok"), "{backend}: {mine:?}");
    let layers: Vec<&&LayerRow> = mine.iter().filter(|r| r.ran_as != "runtime node").collect();
    let names: Vec<&str> = layers.iter().map(|r| r.layer.as_str()).collect();
    let expected: Vec<&str> = counted.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(names, expected, "{backend}: every layer, in order");
    // Each group (a layer and those fused into it) carries the group's counts.
    let mut groups: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for (r, (name, macs, bytes)) in layers.iter().zip(counted) {
        let owner = match r.ran_as.strip_prefix("fused into ") {
            Some(x) => {
                assert_eq!((r.macs, r.median_ms), (0, None), "{backend} {name}");
                x
            }
            None if r.ran_as == "removed" => continue,
            None => name.as_str(),
        };
        let g = groups.entry(owner).or_default();
        g.0 += macs;
        g.1 += bytes;
    }
    for r in &layers {
        if let Some(&(macs, bytes)) = groups.get(r.layer.as_str()) {
            assert_eq!(
                (r.macs, r.mem_bytes),
                (macs, bytes),
                "{backend} {}",
                r.layer
            );
            assert!(r.median_ms.is_some(), "{backend} {}: timed", r.layer);
        }
    }
    if backend == "candle" || backend == "tch" {
        // Node by node: every layer is its own node.
        assert!(layers.iter().all(|r| r.ran_as == "1 node"), "{backend}");
    }
    let total: u64 = mine.iter().map(|r| r.macs).sum();
    assert_eq!(total, counted.iter().map(|c| c.1).sum::<u64>(), "{backend}");
    let time: f64 = mine.iter().filter_map(|r| r.share_of_time).sum();
    let macs: f64 = mine.iter().filter_map(|r| r.share_of_macs).sum();
    assert!(
        (time - 1.0).abs() < 1e-9,
        "{backend}: shares of time sum to {time}"
    );
    assert!(
        (macs - 1.0).abs() < 1e-9,
        "{backend}: shares of MACs sum to {macs}"
    );
    assert!(mine.iter().all(|r| r.samples == 0 || r.samples == 3));
}

/// A real backend (candle) whose prepared models have no per-node hook.
struct NoHook;

struct Plain(Box<dyn Prepared>);

impl Prepared for Plain {
    fn run(&mut self) -> flopsbench::Result<()> {
        self.0.run()
    }
    fn sync(&mut self) -> flopsbench::Result<()> {
        self.0.sync()
    }
    fn output(&mut self) -> flopsbench::Result<Vec<f32>> {
        self.0.output()
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

impl Backend for NoHook {
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
        Ok(Box::new(Plain(
            backend::by_name("candle").unwrap().prepare(m, d, s)?,
        )))
    }
}

#[test]
fn a_backend_that_cannot_profile_gives_an_error_row_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let experiment = Experiment {
        target: Target::Nets(vec!["mobilenetv3-small".into(), "fasternet-t0".into()]),
        resolution: 64,
        per_layer: true,
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
    let plan = vec![(DeviceSpec::Cpu, vec![&NoHook as &dyn Backend])];
    let outcome = run_on(&experiment, &options, &plan, &mut std::io::sink()).unwrap();
    assert!(outcome.records.iter().all(|r| r.status == Status::Ok));
    assert_eq!(outcome.records.len(), 2, "both networks were timed");
    let rows = layer_rows(&dir.path().join("run"));
    assert_eq!(rows.len(), 2, "one error row per network: {rows:?}");
    for r in &rows {
        assert_eq!(r.status, "error");
        assert!(r.error.contains("no per-node hook"), "{}", r.error);
    }
}

/// `flopsbench ARGS` in `dir` with quick sampling, which must succeed.
fn flopsbench(args: &[&str], dir: &Path) -> std::process::Output {
    let quick = ["--runs", "3", "--warmup", "0", "--min-time", "0"];
    common::flopsbench_ok(&[args, &quick[..]].concat(), Some(dir))
}

#[test]
fn ceilings_depth_suites_and_resume() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The device's roofs from a peak run give every layer its bound.
    flopsbench(&["peak", "--backend", "tract", "-q", "--out", "peak"], d);
    let net = [
        "net",
        "mobilenetv3-small",
        "--resolution",
        "32",
        "--backend",
        "tract",
    ];
    let mut args = net.to_vec();
    args.extend([
        "--per-layer",
        "--depth",
        "1",
        "--ceilings",
        "peak",
        "--out",
        "run",
    ]);
    let out = flopsbench(&args, d);
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("by module (depth 1)"), "{text}");
    assert!(text.contains("layers account for"), "{text}");
    let rows = layer_rows(&d.join("run"));
    let bounded: Vec<&LayerRow> = rows.iter().filter(|r| r.gmacs_per_s.is_some()).collect();
    assert!(!bounded.is_empty());
    for r in bounded {
        assert!(
            ["compute", "L1", "L2", "L3", "DRAM"].contains(&r.bound.as_str()),
            "{r:?}"
        );
        assert!(r.roof_fraction.unwrap() > 0.0, "{r:?}");
    }
    // A suite entry asks for profiles with per_layer = true.
    std::fs::write(
        d.join("s.toml"),
        "name = \"s\"\n\n[[nets]]\nname = \"mobilenetv3-small\"\nresolution = 32\nper_layer = true\n",
    )
    .unwrap();
    flopsbench(
        &[
            "suite",
            "s.toml",
            "--backend",
            "tract",
            "-q",
            "--out",
            "suite",
        ],
        d,
    );
    assert_eq!(layer_rows(&d.join("suite")).len(), rows.len());
    // A run killed while writing its profile: the cut line is dropped on --resume and the
    // kept row is profiled again, whole.
    let layers = d.join("suite/layers.csv");
    let full = std::fs::read_to_string(&layers).unwrap();
    let header_end = full.find('\n').unwrap() + 1;
    std::fs::write(&layers, &full[..header_end + 20]).unwrap();
    flopsbench(
        &[
            "suite",
            "s.toml",
            "--backend",
            "tract",
            "-q",
            "--resume",
            "suite",
        ],
        d,
    );
    let again = layer_rows(&d.join("suite"));
    assert_eq!(again.len(), rows.len(), "one whole profile");
    assert!(again.iter().all(|r| r.status == "ok"));
    let results = std::fs::read_to_string(d.join("suite/results.csv")).unwrap();
    assert_eq!(results.lines().count(), 2, "the network's row, kept once");
}
