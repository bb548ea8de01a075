//! Records the git commit the binary was built from (for meta.json) and, with the `tch`
//! feature, the version of the libtorch it links, and makes the binary find libtorch by
//! itself: an rpath to the libtorch that
//! torch-sys linked, and libtorch_cuda linked with `--no-as-needed` when that libtorch
//! has it (rustc's `--as-needed` would drop it, leaving CUDA unavailable; tch-rs #907).

use std::process::Command;

fn main() {
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let dirty = Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .is_some_and(|o| !o.stdout.is_empty());
    let suffix = if dirty { "-dirty" } else { "" };
    println!("cargo:rustc-env=FLOPSBENCH_GIT_COMMIT={commit}{suffix}");
    // A build for another architecture than the build machine's (the devices' worker).
    let cross = std::env::var("TARGET").ok() != std::env::var("HOST").ok();
    println!(
        "cargo:rustc-env=FLOPSBENCH_CROSS_BUILT={}",
        if cross { "1" } else { "0" }
    );
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/index");
    link_libtorch();
}

/// The version of the libtorch in `lib` (its Python package's `torch/version.py`, or the
/// `build-version` file of a libtorch archive), without a local suffix such as `+cpu`.
fn libtorch_version(lib: &std::path::Path) -> Option<String> {
    let root = lib.parent()?;
    let py = root.join("version.py");
    println!("cargo:rerun-if-changed={}", py.display());
    let from_py = std::fs::read_to_string(&py).ok().and_then(|text| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix("__version__ = "))
            .map(|v| v.trim_matches(|c| c == '\'' || c == '"').to_string())
    });
    let text = from_py.or_else(|| {
        std::fs::read_to_string(root.join("build-version"))
            .ok()
            .map(|t| t.trim().to_string())
    })?;
    let version = text.split('+').next()?.trim().to_string();
    (!version.is_empty()).then_some(version)
}

fn link_libtorch() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    if std::env::var_os("CARGO_FEATURE_TCH").is_none() {
        return;
    }
    let Some(lib) = std::env::var_os("DEP_TCH_LIBTORCH_LIB") else {
        println!("cargo:warning=torch-sys did not report its libtorch folder; no rpath set");
        println!("cargo:rustc-env=FLOPSBENCH_LIBTORCH_VERSION=unknown");
        return;
    };
    let lib = std::path::PathBuf::from(lib);
    // The version recorded in every tch row is the one of the libtorch linked here.
    let version = libtorch_version(&lib).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=FLOPSBENCH_LIBTORCH_VERSION={version}");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    // The CPU-minimum install has libtorch_cuda.so but not the CUDA libraries it needs
    // (cuDNN, cuBLAS, ...): link it only when those are installed beside torch, or when
    // FLOPSBENCH_TORCH_CUDA=1 says they will be on the machine that runs the binary.
    println!("cargo:rerun-if-env-changed=FLOPSBENCH_TORCH_CUDA");
    let cuda_libs = lib.join("../../nvidia/cudnn/lib").exists();
    let link_cuda = match std::env::var("FLOPSBENCH_TORCH_CUDA").as_deref() {
        Ok("1") => true,
        Ok("0") => false,
        _ => lib.join("libtorch_cuda.so").exists() && cuda_libs,
    };
    if link_cuda {
        println!("cargo:rustc-link-search=native={}", lib.display());
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed,-ltorch_cuda,--as-needed");
        if !cuda_libs {
            // Building here for a GPU machine that has the CUDA libraries (scripts/gpu-check):
            // their symbols are resolved there, at load time.
            println!("cargo:rustc-link-arg=-Wl,--allow-shlib-undefined");
        }
    }
}
