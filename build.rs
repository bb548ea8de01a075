//! Records the git commit the binary was built from (for meta.json) and, with the `tch`
//! feature, makes the binary find libtorch by itself: an rpath to the libtorch that
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
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/index");
    link_libtorch();
}

fn link_libtorch() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    if std::env::var_os("CARGO_FEATURE_TCH").is_none() {
        return;
    }
    let Some(lib) = std::env::var_os("DEP_TCH_LIBTORCH_LIB") else {
        println!("cargo:warning=torch-sys did not report its libtorch folder; no rpath set");
        return;
    };
    let lib = std::path::PathBuf::from(lib);
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
