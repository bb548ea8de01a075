//! Helpers shared by the integration tests: skipping a test whose outside tool is missing,
//! and running the CLI. (Each test crate uses some of them.)
#![allow(dead_code)]

use std::path::Path;

/// Skips a test whose tool is missing, saying why; in CI (`CI` set) a missing tool is a
/// failure instead, since `.ci/run` installs every tool through `scripts/setup-*`.
pub fn skip(reason: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must run this test, but: {reason} (scripts/setup-* install what it needs)"
    );
    eprintln!("skipped: {reason}");
}

/// `flopsbench ARGS` (in `dir`, or the test's own folder), which must succeed; its output.
pub fn flopsbench_ok(args: &[&str], dir: Option<&Path>) -> std::process::Output {
    let mut command = assert_cmd::Command::cargo_bin("flopsbench").unwrap();
    command.args(args);
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The rows of a CSV file (`results.csv`, `layers.csv`), typed.
pub fn csv_rows<T: serde::de::DeserializeOwned>(path: &Path) -> Vec<T> {
    csv::Reader::from_path(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .deserialize()
        .map(|r| r.unwrap())
        .collect()
}

/// The rows of a `results.jsonl`, with their samples and output digests.
pub fn jsonl_rows(path: &Path) -> Vec<flopsbench::record::RecordWithSamples> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A suite file `DIR/small.toml` named `name`: PConv, DWConv and Conv stacks of two layers
/// on 32×16×16, no warm-up, `min_time` per case. The three share interleaved rounds (one
/// feature map), so their rows come back together.
pub fn small_suite(dir: &Path, name: &str, min_time: &str) -> std::path::PathBuf {
    write_small_suite(dir, name, min_time, "")
}

/// [`small_suite`] measured one case after the other (`interleave = false`), so its rows
/// come back one by one.
pub fn small_suite_one_by_one(dir: &Path, name: &str, min_time: &str) -> std::path::PathBuf {
    write_small_suite(dir, name, min_time, "interleave = false\n")
}

fn write_small_suite(dir: &Path, name: &str, min_time: &str, extra: &str) -> std::path::PathBuf {
    let path = dir.join("small.toml");
    std::fs::write(
        &path,
        format!(
            "name = \"{name}\"\ndescription = \"three small stacks\"\n\n[measure]\nwarmup = \"0\"\n\
             min_time = \"{min_time}\"\n{extra}\n[[ops]]\nkind = [\"pconv\", \"dwconv\", \"conv\"]\n\
             shape = [\"32x16x16\"]\nlayers = 2\n"
        ),
    )
    .unwrap();
    path
}
