//! The report's tables as plain data (title, header, rows, notes), rendered to Markdown
//! by `markdown` and to HTML by `html`: Table 1 and Table 3 in the paper's layout with the paper's
//! numbers beside ours, PConv/DWConv ratios, peaks, sweeps, failures and provenance.

use std::collections::BTreeMap;

use super::load::Loaded;
use super::select::{TABLE1_KINDS, is_table1, is_zoo_net, paper_network, pick, superseded};
use super::{Column, columns, usable};
use crate::device::DeviceSpec;
use crate::paper;
use crate::record::{Record, Status};
use crate::spec::CaseKind;
use crate::spec::PAPER_SHAPES;

/// One table of the report.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Section title.
    pub title: String,
    /// A paragraph above the table.
    pub intro: String,
    /// Column headings.
    pub header: Vec<String>,
    /// Cells, row by row (already formatted).
    pub rows: Vec<Vec<String>>,
}

pub(super) fn f(x: f64, digits: usize) -> String {
    format!("{x:.digits$}")
}

/// Latency per item (CPU/ARM: the batch's median latency / batch, which at the paper's
/// batch 1 is the latency) or throughput (GPU), as the paper reports it.
/// A row whose CI missed the run's target carries † (see "Per call, cold start and
/// memory").
pub(super) fn speed(c: &Column, r: &Record) -> String {
    let value = if c.is_gpu() {
        f(r.throughput_per_s.unwrap_or(0.0), 0)
    } else {
        f(r.median_ms.unwrap_or(0.0) / r.batch.max(1) as f64, 2)
    };
    if r.ci_target_met == Some(false) {
        value + " †"
    } else {
        value
    }
}

pub(super) fn speed_unit(c: &Column) -> &'static str {
    if c.is_gpu() { "fps" } else { "ms" }
}

/// The legend of †, when some of `rows` carry it.
pub(super) fn flag_note(rows: &[&Record]) -> &'static str {
    if rows.iter().any(|r| r.ci_target_met == Some(false)) {
        " † marks a row whose 95% CI is wider than its run's target (sampling reached its \
         time cap first)."
    } else {
        ""
    }
}

pub(super) fn mean(xs: &[f64]) -> Option<f64> {
    (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
}

fn table1(rows: &[&Record]) -> Vec<Table> {
    let t1: Vec<&Record> = rows.iter().copied().filter(|r| is_table1(r)).collect();
    if t1.is_empty() {
        return Vec::new();
    }
    let cols = columns(&t1);
    let by = pick(&t1);
    let mut header = vec!["Operator".into(), "Feature map".into(), "FLOPs (M)".into()];
    for c in &cols {
        header.push(format!("{c} {}", speed_unit(c)));
        header.push(format!("{c} GFLOPS"));
    }
    let mut out_rows = Vec::new();
    for (kind, label) in TABLE1_KINDS {
        let mut per_col: Vec<Vec<f64>> = vec![Vec::new(); cols.len()];
        for shape in PAPER_SHAPES {
            let shape = shape.to_string();
            let any = t1.iter().find(|r| r.kind == kind && r.shape == shape);
            let Some(any) = any else { continue };
            let mut row = vec![
                label.to_string(),
                shape.replace('x', "×"),
                f(any.macs as f64 / 1e6, 0),
            ];
            for (i, c) in cols.iter().enumerate() {
                match by.get(&(c.clone(), any.case.clone())) {
                    Some(r) => {
                        row.push(speed(c, r));
                        let g = r.gmacs_per_s.unwrap_or(0.0);
                        per_col[i].push(g);
                        row.push(f(g, 2));
                    }
                    None => row.extend(["–".to_string(), "–".to_string()]),
                }
            }
            out_rows.push(row);
        }
        let mut avg = vec![format!("{label} average"), String::new(), String::new()];
        for col in &per_col {
            avg.push(String::new());
            match mean(col) {
                Some(m) => avg.push(format!("**{}**", f(m, 2))),
                None => avg.push("–".into()),
            }
        }
        out_rows.push(avg);
    }
    let mut tables = vec![Table {
        title: "Table 1: operators on the four stage feature maps (measured)".into(),
        intro: "Ten stacked 3×3 layers per case, as the paper. FLOPs counted as \
                multiply-adds (the paper's convention), per item; GFLOPS = achieved G \
                multiply-adds per second. Latency per item (ms) on CPU/ARM, throughput (fps) \
                on GPU. Unlabelled columns follow the paper's protocol (CPU/ARM: 1 thread, \
                batch 1; GPU: batch 32; split-cat PConv; f32); any other protocol is its own \
                column, labelled with its threads, batch, PConv forward or dtype. Each cell \
                is the most recent run of that configuration."
            .to_string()
            + flag_note(&t1),
        header,
        rows: out_rows,
    }];
    tables.push(paper_table1());
    tables
}

/// The paper's PConv/DWConv ratio of average FLOPS per device (GPU, CPU, ARM).
pub fn paper_ratios() -> BTreeMap<&'static str, f64> {
    let t = paper::table1();
    let avg = |kind: &str, pick: fn(&paper::Table1Row) -> f64| {
        let v: Vec<f64> = t.iter().filter(|r| r.kind == kind).map(pick).collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    let mut out = BTreeMap::new();
    out.insert(
        "GPU",
        avg("pconv", |r| r.gpu_gflops_per_s) / avg("dwconv", |r| r.gpu_gflops_per_s),
    );
    out.insert(
        "CPU",
        avg("pconv", |r| r.cpu_gflops_per_s) / avg("dwconv", |r| r.cpu_gflops_per_s),
    );
    out.insert(
        "ARM",
        avg("pconv", |r| r.arm_gflops_per_s) / avg("dwconv", |r| r.arm_gflops_per_s),
    );
    out
}

fn paper_table1() -> Table {
    let rows = paper::table1()
        .iter()
        .map(|r| {
            vec![
                r.operator.clone(),
                format!("{}×{}×{}", r.channels, r.height, r.width),
                f(r.mflops_x10, 0),
                f(r.gpu_fps, 0),
                f(r.gpu_gflops_per_s, 0),
                f(r.cpu_ms, 2),
                f(r.cpu_gflops_per_s, 2),
                f(r.arm_ms, 2),
                f(r.arm_gflops_per_s, 2),
            ]
        })
        .collect();
    Table {
        title: "Table 1 as printed in the paper".into(),
        intro: "GPU: RTX 2080Ti, batch 32; CPU: Intel i9-9900X, 1 thread; ARM: Cortex-A72, \
                1 thread; PyTorch, fp32 (data/paper/table1.csv)."
            .into(),
        header: [
            "Operator",
            "Feature map",
            "FLOPs (M)",
            "GPU fps",
            "GPU GFLOPS",
            "CPU ms",
            "CPU GFLOPS",
            "ARM ms",
            "ARM GFLOPS",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    }
}

fn table3(rows: &[&Record]) -> Option<Table> {
    let nets: Vec<&Record> = rows.iter().copied().filter(|r| is_zoo_net(r)).collect();
    if nets.is_empty() {
        return None;
    }
    let cols = columns(&nets);
    let by = pick(&nets);
    let paper = paper::table3();
    let mut header = vec!["Network".into(), "Params (M)".into(), "FLOPs (G)".into()];
    for c in &cols {
        header.push(format!("{c} {}", speed_unit(c)));
    }
    header.extend(
        [
            "Paper GPU fps",
            "Paper CPU ms",
            "Paper ARM ms",
            "Paper top-1 %",
        ]
        .map(String::from),
    );
    let mut cases: Vec<&Record> = Vec::new();
    for r in &nets {
        if !cases.iter().any(|c| c.case == r.case) {
            cases.push(r);
        }
    }
    // The zoo's order (the paper's), then the case id: not the order of the inputs.
    let zoo_index = |name: &str| {
        crate::zoo::NAMES
            .iter()
            .position(|n| *n == name)
            .unwrap_or(usize::MAX)
    };
    cases.sort_by_cached_key(|r| (zoo_index(&r.name), r.resolution, r.case.clone()));
    let out_rows = cases
        .iter()
        .map(|any| {
            let mut row = vec![
                any.case.clone(),
                f(any.params as f64 / 1e6, 2),
                f(any.macs as f64 / 1e9, 2),
            ];
            for c in &cols {
                row.push(
                    by.get(&(c.clone(), any.case.clone()))
                        .map_or("–".into(), |r| speed(c, r)),
                );
            }
            let p = paper_network(&any.name).and_then(|n| paper.iter().find(|p| p.network == n));
            match p {
                Some(p) => row.extend([
                    f(p.gpu_fps, 0),
                    f(p.cpu_ms, 1),
                    p.arm_ms.map_or("OOM".into(), |v| f(v, 0)),
                    f(p.top1, 1),
                ]),
                None => row.extend(["–", "–", "–", "–"].map(String::from)),
            }
            row
        })
        .collect();
    Some(Table {
        title: "Table 3: networks (measured, the paper's values beside them)".into(),
        intro: "Latency per image on CPU/ARM (at the paper's batch 1, the latency; a column \
                labelled with another batch gives the batch's latency / batch), throughput at \
                the column's batch on GPU; FLOPs as multiply-adds at the case's resolution. \
                Unlabelled columns follow the paper's protocol. The paper: RTX 2080Ti batch \
                32 fps, i9-9900X and Cortex-A72 latency, 1 thread (data/paper/table3.csv)."
            .to_string()
            + flag_note(&nets),
        header,
        rows: out_rows,
    })
}

/// A reading order of rows that does not depend on the order of the inputs: by column,
/// then the case's parameters (numbers as numbers), then when it ran.
fn in_order(rows: &mut [&Record]) {
    let key = |r: &Record| {
        let channels: u64 = r
            .shape
            .split('x')
            .next()
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        (
            Column::of(r),
            r.kind,
            channels,
            r.ratio.map(|x| (x * 1e9) as i64),
            (r.groups, r.kernel, r.stride, r.layers),
            r.case.clone(),
            r.timestamp.clone(),
            r.run_id.clone(),
        )
    };
    rows.sort_by_cached_key(|r| key(r));
}

fn other_ops(rows: &[&Record]) -> Option<Table> {
    let mut ops: Vec<&Record> = rows
        .iter()
        .copied()
        .filter(|r| r.layers.is_some() && r.kind != CaseKind::Peak && !is_table1(r))
        .collect();
    in_order(&mut ops);
    if ops.is_empty() {
        return None;
    }
    let out_rows = ops
        .iter()
        .map(|r| {
            let c = Column::of(r);
            vec![
                r.case.clone(),
                c.to_string(),
                r.ratio.map_or(String::new(), |x| f(x, 4)),
                r.batch.to_string(),
                r.threads.to_string(),
                format!("{} {}", speed(&c, r), speed_unit(&c)),
                f(r.gmacs_per_s.unwrap_or(0.0), 2),
                f(r.gbytes_per_s.unwrap_or(0.0), 2),
            ]
        })
        .collect();
    Some(Table {
        title: "Other operator cases (sweeps)".into(),
        intro: "Every measured operator case outside Table 1, e.g. ratio, kernel, batch or \
                thread sweeps; the case id encodes its parameters."
            .into(),
        header: [
            "Case", "Column", "r", "Batch", "Threads", "Speed", "G MAC/s", "GB/s",
        ]
        .map(String::from)
        .to_vec(),
        rows: out_rows,
    })
}

fn failures(records: &[Record]) -> Option<Table> {
    let mut failed: Vec<&Record> = records.iter().filter(|r| r.status != Status::Ok).collect();
    in_order(&mut failed);
    if failed.is_empty() {
        return None;
    }
    Some(Table {
        title: "Cases that did not run".into(),
        intro: "Error and skipped rows, with their reasons (they appear in no other table).".into(),
        header: ["Case", "Column", "Status", "Reason"]
            .map(String::from)
            .to_vec(),
        rows: failed
            .iter()
            .map(|r| {
                vec![
                    r.case.clone(),
                    Column::of(r).to_string(),
                    format!("{:?}", r.status).to_lowercase(),
                    r.error.clone(),
                ]
            })
            .collect(),
    })
}

fn provenance(loaded: &Loaded) -> Table {
    let mut runs: Vec<&Record> = Vec::new();
    for r in &loaded.records {
        if !runs.iter().any(|x| x.run_id == r.run_id) {
            runs.push(r);
        }
    }
    runs.sort_by(|a, b| a.run_id.cmp(&b.run_id));
    let rows = runs
        .iter()
        .map(|r| {
            let meta = loaded.runs.get(&r.run_id);
            let mut backends: Vec<String> = loaded
                .records
                .iter()
                .filter(|x| x.run_id == r.run_id)
                .map(|x| format!("{} {}", x.backend, x.backend_version))
                .collect();
            backends.sort();
            backends.dedup();
            vec![
                r.run_id.clone(),
                match meta.and_then(|m| m.via.as_ref().map(|v| (v, m.emulated))) {
                    Some((via, true)) => format!("{} via {via} (emulated)", r.host),
                    Some((via, false)) => format!("{} via {via}", r.host),
                    None => r.host.clone(),
                },
                meta.map_or(r.device_model.clone(), |m| {
                    format!("{} ({} cores, {})", m.cpu_model, m.logical_cores, m.arch)
                }),
                meta.map_or(String::new(), |m| m.gpus.join(", ")),
                meta.map_or(String::new(), |m| m.os.clone()),
                meta.map_or(String::new(), |m| {
                    format!("{} ({})", m.flopsbench_version, m.git_commit)
                }),
                backends.join("; "),
            ]
        })
        .collect();
    Table {
        title: "Where each column comes from".into(),
        intro: "One row per run: host, CPU, GPU, OS, flopsbench build and backend versions \
                (from each run's meta.json where present, else from its rows)."
            .into(),
        header: ["Run", "Host", "CPU", "GPUs", "OS", "flopsbench", "Backends"]
            .map(String::from)
            .to_vec(),
        rows,
    }
}

/// Every table of the report, in order.
pub fn build(loaded: &Loaded, include_emulated: bool) -> Vec<Table> {
    let rows = usable(&loaded.records, include_emulated);
    let mut out = table1(&rows);
    out.extend(super::ratios::table(loaded, &rows, 0));
    out.extend(table3(&rows));
    out.extend(super::models::table(&rows));
    out.extend(earlier(&rows));
    out.extend(super::ceilings::table(loaded, include_emulated));
    out.extend(super::ceilings::bounds(loaded, include_emulated));
    out.extend(other_ops(&rows));
    out.extend(super::calls::table(&rows));
    out.extend(super::paired::table(loaded, &rows, 0));
    out.extend(failures(&loaded.records));
    if !include_emulated {
        out.extend(left_out(&loaded.records));
    }
    out.push(provenance(loaded));
    out
}

/// Table-1 and Table-3 rows that a more recent run of the same configuration replaced, so
/// that every measured row appears somewhere.
fn earlier(rows: &[&Record]) -> Option<Table> {
    let paper_rows: Vec<&Record> = rows
        .iter()
        .copied()
        .filter(|r| is_table1(r) || is_zoo_net(r))
        .collect();
    let old = superseded(&paper_rows);
    if old.is_empty() {
        return None;
    }
    Some(Table {
        title: "Earlier runs of the same configuration".into(),
        intro: "Table 1 and Table 3 show the most recent run of each case in each column; \
                these are the earlier ones."
            .into(),
        header: ["Case", "Column", "Speed", "G MAC/s", "Run", "Finished"]
            .map(String::from)
            .to_vec(),
        rows: old
            .iter()
            .map(|r| {
                let c = Column::of(r);
                vec![
                    r.case.clone(),
                    c.to_string(),
                    format!("{} {}", speed(&c, r), speed_unit(&c)),
                    f(r.gmacs_per_s.unwrap_or(0.0), 2),
                    r.run_id.clone(),
                    r.timestamp.clone(),
                ]
            })
            .collect(),
    })
}

/// The emulated devices whose rows the tables and charts leave out.
fn left_out(records: &[Record]) -> Option<Table> {
    let mut counts: Vec<(DeviceSpec, String, usize)> = Vec::new();
    for r in records
        .iter()
        .filter(|r| r.emulated && r.status == Status::Ok)
    {
        match counts
            .iter_mut()
            .find(|(d, h, _)| *d == r.device && *h == r.host)
        {
            Some(c) => c.2 += 1,
            None => counts.push((r.device.clone(), r.host.clone(), 1)),
        }
    }
    counts.sort();
    if counts.is_empty() {
        return None;
    }
    Some(Table {
        title: "Left out: emulated devices".into(),
        intro: "These rows were measured under an emulator (qemu): they check that the \
                device computes the right outputs, but their times are not results. \
                `flopsbench report --include-emulated` puts them in the tables and charts."
            .into(),
        header: ["Device", "Host", "Rows"].map(String::from).to_vec(),
        rows: counts
            .into_iter()
            .map(|(d, h, n)| vec![d.to_string(), h, n.to_string()])
            .collect(),
    })
}
