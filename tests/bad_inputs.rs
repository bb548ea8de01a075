//! Runs every bad input in `tests/bad_inputs/*.toml` through the real binary: each must
//! exit with its code, name the flag in its message, print nothing on stdout, never
//! panic, and write no file. `{files}` in an argument is the folder of bad input files
//! (`tests/bad_inputs/files/`: malformed CSVs, suites, devices files).

use assert_cmd::Command;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Corpus {
    case: Vec<Case>,
}

#[derive(Debug, Deserialize)]
struct Case {
    args: Vec<String>,
    code: i32,
    contains: Vec<String>,
}

fn corpus(file: &str) -> Vec<Case> {
    let path = format!("{}/tests/bad_inputs/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("corpus file");
    toml::from_str::<Corpus>(&text)
        .expect("corpus is valid TOML")
        .case
}

fn run_corpus(file: &str, min_cases: usize) {
    let cases = corpus(file);
    assert!(
        cases.len() >= min_cases,
        "{file} must hold at least {min_cases} cases"
    );
    // Run in an empty folder: a bad input must not create reports/ or anything else.
    let scratch = tempfile::tempdir().unwrap();
    let files = format!("{}/tests/bad_inputs/files", env!("CARGO_MANIFEST_DIR"));
    let mut failures = Vec::new();
    for case in &cases {
        let out = Command::cargo_bin("flopsbench")
            .unwrap()
            .current_dir(scratch.path())
            .args(case.args.iter().map(|a| a.replace("{files}", &files)))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let mut problems = Vec::new();
        if out.status.code() != Some(case.code) {
            problems.push(format!(
                "exit {:?}, expected {}",
                out.status.code(),
                case.code
            ));
        }
        for word in &case.contains {
            if !stderr.contains(word.as_str()) {
                problems.push(format!("message lacks {word:?}"));
            }
        }
        if stderr.contains("panicked") || stderr.contains("RUST_BACKTRACE") {
            problems.push("panicked".into());
        }
        if !out.stdout.is_empty() {
            problems.push("wrote to stdout".into());
        }
        let written: Vec<_> = std::fs::read_dir(scratch.path()).unwrap().collect();
        if !written.is_empty() {
            problems.push(format!("wrote files: {written:?}"));
        }
        if !problems.is_empty() {
            failures.push(format!(
                "{:?}: {}\n  stderr: {stderr}",
                case.args,
                problems.join("; ")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn bad_count_inputs_exit_2_with_a_clear_message() {
    run_corpus("count.toml", 15);
}

#[test]
fn bad_op_and_net_inputs_exit_2_and_write_nothing() {
    run_corpus("bench.toml", 15);
}

#[test]
fn bad_report_inputs_name_the_file_and_line_and_write_nothing() {
    run_corpus("report.toml", 10);
}

#[test]
fn bad_suites_and_study_flags_name_the_file_and_line() {
    run_corpus("suite.toml", 20);
}

#[test]
fn bad_devices_files_and_device_flags_name_the_file_and_line() {
    run_corpus("devices.toml", 20);
}

#[test]
fn bad_compare_inputs_name_the_argument_and_write_nothing() {
    run_corpus("compare.toml", 8);
}
