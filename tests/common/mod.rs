//! Helpers shared by the integration tests that need tools from outside Cargo.

/// Skips a test whose tool is missing, saying why; in CI (`CI` set) a missing tool is a
/// failure instead, since `.ci/run` installs every tool through `scripts/setup-*`.
pub fn skip(reason: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must run this test, but: {reason} (scripts/setup-* install what it needs)"
    );
    eprintln!("skipped: {reason}");
}
