//! `flopsbench report` on fixtures (real runs of this machine, committed under
//! tests/fixtures/report/{table1,nets,peak,ratio}): snapshots of every format, merging and
//! deduplication.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

mod common;

/// The four fixture folders (Table 1, networks, peak, ratio sweep), as arguments.
fn fixtures() -> Vec<String> {
    ["table1", "nets", "peak", "ratio"]
        .iter()
        .map(|d| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/report")
                .join(d)
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

fn fixture() -> PathBuf {
    PathBuf::from(&fixtures()[0])
}

fn report(args: &[&str], out: &Path) -> String {
    let run = Command::cargo_bin("flopsbench")
        .unwrap()
        .arg("report")
        .args(args)
        .arg("-o")
        .arg(out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    String::from_utf8_lossy(&run.stdout).into_owned()
}

fn read(p: PathBuf) -> String {
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn every_format_matches_its_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r");
    let inputs = fixtures();
    let args: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let stdout = report(&args, &out);
    assert!(stdout.contains("report.html"), "{stdout}");
    insta::assert_snapshot!("report.md", read(out.join("report.md")));
    insta::assert_snapshot!("results.csv", read(out.join("results.csv")));
    insta::assert_snapshot!("report.html", read(out.join("report.html")));
    let mut svgs: Vec<PathBuf> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "svg"))
        .collect();
    svgs.sort();
    assert_eq!(svgs.len(), 4, "{svgs:?}");
    for svg in svgs {
        let name = svg.file_name().unwrap().to_string_lossy().into_owned();
        let text = read(svg);
        assert!(text.contains("<text"), "{name}: real text, no font files");
        insta::assert_snapshot!(name, text);
    }
}

#[test]
fn the_same_rows_given_twice_are_merged_once() {
    let dir = tempfile::tempdir().unwrap();
    let once = dir.path().join("once");
    let twice = dir.path().join("twice");
    let f = fixture();
    let csv = f.join("results.csv");
    report(&[f.to_str().unwrap(), "--format", "csv"], &once);
    report(
        &[
            f.to_str().unwrap(),
            csv.to_str().unwrap(),
            "--format",
            "csv",
        ],
        &twice,
    );
    assert_eq!(
        read(once.join("results.csv")),
        read(twice.join("results.csv"))
    );
    assert!(
        !twice.join("report.md").exists(),
        "--format csv writes only the CSV"
    );
}

#[test]
fn strings_from_result_files_are_escaped_in_html() {
    let dir = tempfile::tempdir().unwrap();
    let text = read(fixture().join("results.csv"));
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let row = lines.next().unwrap();
    let evil = row.replacen(",vm,", ",<script>alert(1)</script>,", 1);
    assert_ne!(evil, row, "the fixture's host is 'vm'");
    let csv = dir.path().join("evil.csv");
    std::fs::write(&csv, format!("{header}\n{evil}\n")).unwrap();
    let out = dir.path().join("r");
    report(&[csv.to_str().unwrap(), "--format", "html"], &out);
    let html = read(out.join("report.html"));
    assert!(!html.contains("<script>"), "unescaped host in report.html");
    assert!(html.contains("&lt;script&gt;"));
}

/// A real `op` run of one Table-1 case on tract with `extra` flags, into `out`.
fn measure_conv(out: &Path, extra: &[&str]) {
    let run = Command::cargo_bin("flopsbench")
        .unwrap()
        .args([
            "op",
            "--kind",
            "conv",
            "--shape",
            "192x28x28",
            "--backend",
            "tract",
        ])
        .args([
            "--warmup",
            "0",
            "--min-time",
            "0",
            "--runs",
            "3",
            "-q",
            "--out",
        ])
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
}

/// The Table-1 cell (ms) of the first column whose header starts with `column` in the
/// "Conv 3×3" 192×28×28 row of report.md.
fn conv_cell(md: &str, column: &str) -> Option<String> {
    let lines: Vec<&str> = md.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with("## Table 1: operators"))?;
    let header: Vec<&str> = lines[start..]
        .iter()
        .find(|l| l.starts_with("| Operator"))?
        .split(" | ")
        .collect();
    let i = header.iter().position(|h| *h == format!("{column} ms"))?;
    let row: Vec<&str> = lines[start..]
        .iter()
        .find(|l| l.starts_with("| Conv 3×3 | 192×28×28"))?
        .split(" | ")
        .collect();
    row.get(i).map(|s| s.to_string())
}

#[test]
fn tables_follow_the_paper_protocol_whatever_the_input_order() {
    let dir = tempfile::tempdir().unwrap();
    let one = dir.path().join("t1");
    let two = dir.path().join("t2");
    measure_conv(&one, &["--threads", "1"]);
    measure_conv(&two, &["--threads", "2"]);
    let (a, b) = (dir.path().join("ab"), dir.path().join("ba"));
    report(&[one.to_str().unwrap(), two.to_str().unwrap()], &a);
    report(&[two.to_str().unwrap(), one.to_str().unwrap()], &b);
    let md = read(a.join("report.md"));
    assert_eq!(
        md,
        read(b.join("report.md")),
        "report.md depends on input order"
    );
    let svgs: Vec<PathBuf> = std::fs::read_dir(&a)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "svg"))
        .collect();
    assert!(!svgs.is_empty());
    for svg in svgs {
        let name = svg.file_name().unwrap();
        assert_eq!(
            read(svg.clone()),
            read(b.join(name)),
            "{name:?} depends on input order"
        );
    }
    let host = flopsbench::meta::host_name();
    let median = |dir: &Path| {
        let mut r = csv::Reader::from_path(dir.join("results.csv")).unwrap();
        let row: std::collections::HashMap<String, String> =
            r.deserialize().next().unwrap().unwrap();
        format!("{:.2}", row["median_ms"].parse::<f64>().unwrap())
    };
    let paper = format!("tract · cpu @ {host}");
    assert_eq!(
        conv_cell(&md, &paper),
        Some(median(&one)),
        "the paper-protocol column holds the 1-thread row:\n{md}"
    );
    assert_eq!(
        conv_cell(&md, &format!("{paper} (2 threads)")),
        Some(median(&two)),
        "the 2-thread row has its own labelled column:\n{md}"
    );
}

#[test]
fn markdown_links_only_charts_that_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = fixtures();
    let mut args: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let with = dir.path().join("with");
    report(&args, &with);
    assert!(read(with.join("report.md")).contains(".svg)"));
    args.extend(["--format", "md,csv"]);
    let without = dir.path().join("without");
    report(&args, &without);
    let md = read(without.join("report.md"));
    assert!(
        !md.contains(".svg"),
        "report.md links charts it did not write"
    );
    assert!(
        std::fs::read_dir(&without)
            .unwrap()
            .all(|e| { e.unwrap().path().extension().is_none_or(|x| x != "svg") })
    );
}

#[test]
fn per_call_figures_and_missed_ci_targets_are_shown() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r");
    let calls = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/report/calls");
    report(&[calls.to_str().unwrap()], &out);
    let md = read(out.join("report.md"));
    // Two of the four rows missed their ±2% target: † on their Table-1 cells, the legend
    // above, "no †" in the per-call table.
    let table1 = md.split("\n## ").nth(1).unwrap();
    assert_eq!(table1.matches(" † |").count(), 2, "{table1}");
    assert!(
        table1.contains("† marks a row whose 95% CI is wider"),
        "{table1}"
    );
    insta::assert_snapshot!(
        "calls.md",
        md.split("\n## ")
            .find(|s| s.starts_with("Per call, cold start and memory"))
            .unwrap()
    );
    // Both cases ran tract and ort in interleaved rounds: tract against the faster ort,
    // from the per-round samples of results.jsonl.
    let paired = md
        .split("\n## ")
        .find(|s| s.starts_with("Backends against each other"))
        .unwrap();
    assert_eq!(
        paired
            .matches("| tract · cpu @ vm | ort · cpu @ vm |")
            .count(),
        2,
        "{paired}"
    );
    insta::assert_snapshot!("paired.md", paired);
    // The PConv/DWConv ratio gets a bootstrap CI from the rows' samples (results.jsonl),
    // around the ratio itself.
    let ratios = md
        .split("\n## ")
        .find(|s| s.starts_with("PConv / DWConv achieved FLOPS"))
        .unwrap();
    for line in ratios
        .lines()
        .filter(|l| l.starts_with("| tract") || l.starts_with("| ort"))
    {
        ratio_within_its_ci(line);
    }
    assert_eq!(ratios.matches("| [").count(), 2, "{ratios}");
}

#[test]
fn pconv_and_dwconv_of_one_feature_map_share_rounds_and_their_ratio_ci_is_paired() {
    let dir = tempfile::tempdir().unwrap();
    for (flags, sampled) in [
        (&[][..], "in rounds"),
        (&["--no-interleave"][..], "one after another"),
    ] {
        let run = dir.path().join(sampled.replace(' ', "-"));
        let args = [
            &[
                "op",
                "--kind",
                "dwconv,pconv",
                "--shape",
                "384x14x14,768x7x7",
                "--backend",
                "tract",
                "--warmup",
                "0",
                "--runs",
                "12",
                "--quiet",
                "--out",
                run.to_str().unwrap(),
            ][..],
            flags,
        ]
        .concat();
        common::flopsbench_ok(&args, None);
        // One backend, yet in rounds: each feature map's two kinds took turns, and their
        // rows share the group's timestamp.
        let rows: Vec<flopsbench::record::Record> = common::csv_rows(&run.join("results.csv"));
        assert_eq!(rows.len(), 4);
        for shape in ["384x14x14", "768x7x7"] {
            let pair: Vec<_> = rows.iter().filter(|r| r.shape == shape).collect();
            assert_eq!(pair.len(), 2);
            let rounds = sampled == "in rounds";
            assert!(pair.iter().all(|r| r.interleaved == rounds), "{pair:?}");
            if rounds {
                assert_eq!(pair[0].timestamp, pair[1].timestamp);
            }
        }
        let out = dir
            .path()
            .join(format!("{}-report", sampled.replace(' ', "-")));
        report(&[run.to_str().unwrap()], &out);
        let md = read(out.join("report.md"));
        let table = md
            .split("\n## ")
            .find(|s| s.starts_with("PConv / DWConv achieved FLOPS"))
            .unwrap();
        let line = table.lines().find(|l| l.starts_with("| tract")).unwrap();
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        assert_eq!(cells[4], sampled, "{table}");
        ratio_within_its_ci(line);
    }
}

/// A "PConv / DWConv achieved FLOPS" row's ratio lies inside its 95% CI (both shown with
/// two decimals), and the CI is not empty.
fn ratio_within_its_ci(line: &str) {
    let cells: Vec<&str> = line.split('|').map(str::trim).collect();
    let ratio: f64 = cells[2].trim_end_matches('×').parse().unwrap();
    let (lo, hi) = cells[3]
        .trim_matches(|c| c == '[' || c == ']')
        .split_once(", ")
        .unwrap();
    let (lo, hi): (f64, f64) = (lo.parse().unwrap(), hi.parse().unwrap());
    assert!(
        lo <= ratio + 0.01 && ratio - 0.01 <= hi && lo < hi,
        "{line}"
    );
}
