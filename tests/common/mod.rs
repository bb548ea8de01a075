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
