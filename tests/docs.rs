//! The docs' examples run: every ```console block of README.md and docs/*.md goes through
//! trycmd, which runs each `$ flopsbench …` line and compares its output (stdout and
//! stderr merged; `[..]` and `...` lines are wildcards; `? 2` states the exit code).
//!
//! trycmd's traps, handled here: pages run from a temporary copy, each in a folder of its
//! own (`<page>.in/`, with the repository's `tests/`, `operators/` and `reports/sample/`
//! linked in, so examples name the same relative paths as in a checkout and write their
//! files apart); the flopsbench binary is registered by name; `COLUMNS` is fixed (clap
//! wraps help to it) and every command has a timeout; a bare ``` fence would be a test
//! block and a program trycmd does not know would be skipped silently, so every executed
//! line must be a flopsbench command, and the number of them is asserted. After a change
//! of output, `TRYCMD=overwrite cargo test --test docs` rewrites the pages' outputs (then
//! read the diff: `[..]` and `...` wildcards are kept only where the output still matches).

use std::path::{Path, PathBuf};
use std::time::Duration;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// README.md and docs/*.md.
fn pages() -> Vec<PathBuf> {
    let mut out = vec![root().join("README.md")];
    if let Ok(entries) = std::fs::read_dir(root().join("docs")) {
        let mut docs: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "md"))
            .collect();
        docs.sort();
        out.extend(docs);
    }
    out
}

/// The command lines (after `$ `) of the blocks trycmd executes in `text`: fences whose
/// info string is `console` or `trycmd` (without `ignore`), and bare fences.
fn executed_commands(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut fence: Option<(String, bool)> = None;
    for line in text.lines() {
        let ticks = line.chars().take_while(|c| *c == '`').count();
        match &fence {
            Some((pattern, run)) => {
                if line.starts_with(pattern.as_str()) {
                    fence = None;
                } else if *run && let Some(cmd) = line.strip_prefix("$ ") {
                    out.push(cmd.trim().to_string());
                }
            }
            None if ticks >= 3 => {
                let info = line[ticks..].trim();
                let mut parts = info.split(',');
                let lang = parts.next().unwrap_or("");
                let run = info.is_empty()
                    || (matches!(lang, "console" | "trycmd") && !parts.any(|p| p == "ignore"));
                fence = Some(("`".repeat(ticks), run));
            }
            None => {}
        }
    }
    out
}

/// The least number of flopsbench commands the docs run.
const AT_LEAST: usize = 30;

#[test]
fn every_executed_doc_line_is_a_flopsbench_command_and_there_are_enough() {
    let mut total = 0;
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        for cmd in executed_commands(&text) {
            assert!(
                cmd.starts_with("flopsbench ") || cmd == "flopsbench",
                "{}: `$ {cmd}` is in a block the docs test runs, but it is not a flopsbench \
                 command (trycmd would skip it silently): use a ```sh or ```text block",
                page.display()
            );
            total += 1;
        }
    }
    eprintln!("{total} flopsbench commands in the docs' console blocks");
    assert!(
        total >= AT_LEAST,
        "the docs run only {total} flopsbench commands (at least {AT_LEAST})"
    );
}

#[test]
fn the_block_reader_sees_what_trycmd_runs() {
    let text = "```console\n$ flopsbench count x\nout\n```\n```sh\n$ cargo build\n```\n```\n$ bare\n```\n```console,ignore\n$ skipped\n```\n";
    assert_eq!(executed_commands(text), ["flopsbench count x", "bare"]);
}

/// Links `target` at `link` (a symlink; a copy where links are not available).
fn link_dir(target: &Path, link: &Path) {
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(target, link).unwrap();
    #[cfg(not(unix))]
    panic!("the docs test links folders: run it on a unix system");
}

#[test]
fn the_docs_examples_run_and_print_what_they_show() {
    let work = tempfile::tempdir().unwrap();
    let mut copies = Vec::new();
    for page in pages() {
        let name = match page.parent().and_then(Path::file_name) {
            Some(dir) if dir == "docs" => format!("docs-{}", page.file_stem().unwrap().display()),
            _ => page.file_stem().unwrap().display().to_string(),
        };
        let copy = work.path().join(format!("{name}.md"));
        std::fs::copy(&page, &copy).unwrap();
        copies.push((copy, page.clone()));
        // The page's commands run in `<name>.in/`, which sees the repository's inputs.
        let cwd = work.path().join(format!("{name}.in"));
        std::fs::create_dir_all(&cwd).unwrap();
        for dir in ["tests", "operators"] {
            link_dir(&root().join(dir), &cwd.join(dir));
        }
        link_dir(&root().join("reports/sample"), &cwd.join("reports/sample"));
    }
    trycmd::TestCases::new()
        .register_bin(
            "flopsbench",
            PathBuf::from(env!("CARGO_BIN_EXE_flopsbench")),
        )
        .env("COLUMNS", "100")
        .env("NO_COLOR", "1")
        .timeout(Duration::from_secs(120))
        .case(work.path().join("*.md"));
    // `TRYCMD=overwrite` rewrote the copies' outputs: the pages take them.
    if std::env::var("TRYCMD").is_ok_and(|v| v == "overwrite") {
        for (copy, page) in copies {
            std::fs::copy(copy, page).unwrap();
        }
    }
}
