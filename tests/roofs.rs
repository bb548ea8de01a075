//! Roofs that hold: `peak` measures the compute peak (the FMA chain and every backend's
//! GEMM) and a bandwidth per memory level; operator stacks measured on every backend
//! available here then sit under their roofs (none above), each bound naming `compute` or a
//! level, and the report's ceilings table carries every figure with its level and method.

use std::path::Path;

use flopsbench::record::{Record, Status};
use flopsbench::roofs::{Ceilings, cache};
use flopsbench::spec::CaseKind;

mod common;

fn flopsbench(args: &[&str], dir: &Path) -> String {
    String::from_utf8(common::flopsbench_ok(args, Some(dir)).stdout).unwrap()
}

#[test]
fn every_row_sits_under_its_roof_and_names_its_level() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The backends' GEMMs sampled for 0.5 s (the micro-kernels for their own fixed
    // window: their best sample is the roof); the operator rows briefly (their medians).
    flopsbench(
        &[
            "peak",
            "--backend",
            "all",
            "--min-time",
            "0.5s",
            "-q",
            "--out",
            "peak",
        ],
        d,
    );
    flopsbench(
        &[
            "op",
            "--kind",
            "conv,dwconv,pconv",
            "--shape",
            "32x28x28",
            "--threads",
            "1",
            "--backend",
            "all",
            "--runs",
            "5",
            "--warmup",
            "0",
            "-q",
            "--out",
            "ops",
        ],
        d,
    );
    let peaks: Vec<Record> = common::csv_rows(&d.join("peak/results.csv"));
    let rows: Vec<Record> = common::csv_rows(&d.join("ops/results.csv"));
    let kernel: Vec<&Record> = peaks.iter().filter(|r| r.backend == "kernel").collect();
    assert!(
        kernel.iter().all(|r| r.status != Status::Error),
        "{kernel:#?}"
    );
    // The FMA chain on one thread, and a bandwidth per cache level the OS reports + DRAM.
    let names: Vec<&str> = kernel
        .iter()
        .filter(|r| r.threads == 1 && r.status == Status::Ok)
        .map(|r| r.name.as_str())
        .collect();
    let mut want = vec!["fma".to_string()];
    want.extend(cache::here().iter().map(|c| format!("bw-{}", c.name())));
    want.push("bw-DRAM".into());
    assert_eq!(names, want, "{kernel:#?}");
    for r in &kernel {
        assert_eq!(
            r.max_abs_err,
            Some(0.0),
            "checked against its closed form: {r:?}"
        );
        assert!(!r.detail.is_empty(), "the method is recorded: {r:?}");
    }
    let peak_refs: Vec<&Record> = peaks.iter().collect();
    let ok: Vec<&Record> = rows
        .iter()
        .filter(|r| r.status == Status::Ok && r.kind != CaseKind::Peak)
        .collect();
    assert!(ok.len() >= 6, "tract and candle at least: {rows:#?}");
    for r in ok {
        let c = Ceilings::of(&peak_refs, r.threads, r.dtype).expect("roofs at f32, 1 thread");
        assert!(c.levels.len() >= 2, "{c:?}");
        let intensity = r.macs as f64 * r.batch as f64 / r.mem_bytes_graph.unwrap() as f64;
        let b = c.bound(intensity, r.working_set_bytes);
        let rate = r.gmacs_per_s.unwrap();
        assert!(
            rate <= b.roof,
            "{} on {} at {rate:.1} G MAC/s sits above its {} roof {:.1}: {c:?}",
            r.case,
            r.backend,
            b.bound,
            b.roof
        );
        // 32×28×28 in and out (PConv: its quarter) and the weights: a cache level, never
        // DRAM, where the OS reports its caches.
        if !cache::here().is_empty() {
            assert!(r.level.starts_with('L'), "{r:?}");
            assert!(r.working_set_bytes.unwrap() >= 2 * 8 * 28 * 28 * 4, "{r:?}");
        }
    }
    flopsbench(&["report", "peak", "ops", "-o", "rep"], d);
    let md = std::fs::read_to_string(d.join("rep/report.md")).unwrap();
    assert!(md.contains("No row sits above its roof."), "{md}");
    let ceilings = md
        .split("## Device ceilings")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .unwrap();
    for level in want.iter().skip(1) {
        let level = level.trim_start_matches("bw-");
        assert!(
            ceilings.contains(&format!("| bandwidth | {level}")),
            "{level}: {ceilings}"
        );
    }
    assert!(ceilings.contains("FMA chains"), "{ceilings}");
    let bounds = md
        .split("## Where each row sits")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .unwrap();
    let cells: Vec<&str> = bounds
        .lines()
        .filter(|l| l.contains("conv-32x28x28"))
        .map(|l| l.split('|').nth(8).unwrap().trim())
        .collect();
    assert!(cells.len() >= 6, "{bounds}");
    for c in cells {
        assert!(
            ["compute", "L1", "L2", "L3", "DRAM"].contains(&c),
            "{c}: {bounds}"
        );
    }
    let meta = std::fs::read_to_string(d.join("peak/meta.json")).unwrap();
    assert!(
        meta.contains("\"caches\"") && meta.contains("\"theoretical_peaks\""),
        "{meta}"
    );
}
