//! The flopsbench binary a device runs: this one on a host of the same architecture,
//! otherwise the cross-built `target/<arch>-unknown-linux-gnu/release/flopsbench` (built on
//! request with `--build`), or the entry's `binary`.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::fleet::devices::Device;

/// The Rust target triple of a Linux `arch`.
pub fn triple(arch: &str) -> String {
    format!("{arch}-unknown-linux-gnu")
}

/// Where a cross-built binary for `arch` may be, most likely first.
fn candidates(arch: &str) -> Vec<PathBuf> {
    let rel = Path::new(&triple(arch)).join("release").join("flopsbench");
    let mut out = Vec::new();
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        out.push(PathBuf::from(dir).join(&rel));
    }
    out.push(Path::new("target").join(&rel));
    // This binary is target/{release,debug}/flopsbench: look beside its profile folder.
    if let Ok(exe) = std::env::current_exe()
        && let Some(target_dir) = exe.parent().and_then(Path::parent)
    {
        out.push(target_dir.join(&rel));
    }
    out
}

/// Runs `cargo build --release --target <triple>` in the current folder (a checkout).
pub fn build(arch: &str, log: &mut dyn Write) -> Result<()> {
    if !Path::new("Cargo.toml").is_file() {
        return Err(Error::flag(
            "--build",
            "run it from the flopsbench checkout (no Cargo.toml here)",
        ));
    }
    let triple = triple(arch);
    writeln!(
        log,
        "building the {arch} worker: cargo build --release --target {triple}"
    )
    .ok();
    let status = std::process::Command::new(std::env::var_os("CARGO").unwrap_or("cargo".into()))
        .args(["build", "--release", "--locked", "--target", &triple])
        .status()
        .map_err(|e| Error::flag("--build", format!("cannot run cargo: {e}")))?;
    if !status.success() {
        return Err(Error::flag(
            "--build",
            format!(
                "cargo build --target {triple} failed ({status}); scripts/setup-arm installs the target, cross gcc and qemu"
            ),
        ));
    }
    Ok(())
}

/// The binary to run on `device`.
pub fn for_device(device: &Device) -> Result<PathBuf> {
    if let Some(path) = &device.binary {
        return if path.is_file() {
            Ok(path.clone())
        } else {
            Err(Error::flag(
                "--devices",
                format!(
                    "[devices.{}] binary = {}: no such file",
                    device.name,
                    path.display()
                ),
            ))
        };
    }
    if device.arch == std::env::consts::ARCH {
        return std::env::current_exe()
            .map_err(|e| Error::Usage(format!("cannot find this flopsbench binary: {e}")));
    }
    candidates(&device.arch)
        .into_iter()
        .find(|p| p.is_file())
        .ok_or_else(|| {
            Error::flag(
                "--device",
                format!(
                    "{} is {} and there is no {} build of flopsbench: add --build, or run \
                     `scripts/setup-arm --build`, or set binary = \"…\" in its devices.toml entry",
                    device.name,
                    device.arch,
                    triple(&device.arch)
                ),
            )
        })
}

/// A copy of `binary` without debug information, for copying to a board (release builds
/// keep line tables, ten times the code's size), made once per binary with the target's
/// `strip` and kept in the temporary folder; `binary` itself when it is small or no strip
/// tool works.
pub fn slim(binary: &Path, arch: &str) -> PathBuf {
    let Ok(meta) = std::fs::metadata(binary) else {
        return binary.to_path_buf();
    };
    if meta.len() < 64 << 20 {
        return binary.to_path_buf();
    }
    let stamp = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let out = std::env::temp_dir().join(format!("flopsbench-worker-{arch}-{}-{stamp}", meta.len()));
    if out.is_file() {
        return out;
    }
    let mut tools = vec![format!("{arch}-linux-gnu-strip"), "llvm-strip".to_string()];
    if arch == std::env::consts::ARCH {
        tools.push("strip".into());
    }
    // Devices start in parallel threads: each strips into its own file, and the rename
    // makes a whole copy appear at once.
    static COPIES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let copy = COPIES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = out.with_extension(format!("tmp{}-{copy}", std::process::id()));
    for tool in tools {
        let stripped = std::process::Command::new(&tool)
            .arg("--strip-debug")
            .arg("-o")
            .arg(&tmp)
            .arg(binary)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if stripped && std::fs::rename(&tmp, &out).is_ok() {
            return out;
        }
    }
    std::fs::remove_file(&tmp).ok();
    binary.to_path_buf()
}
