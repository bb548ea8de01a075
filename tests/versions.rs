//! The backend versions recorded in every row are the ones Cargo.lock really links.

fn locked_version(krate: &str) -> String {
    let lock = include_str!("../Cargo.lock");
    let marker = format!("name = \"{krate}\"\nversion = \"");
    let start = lock
        .find(&marker)
        .unwrap_or_else(|| panic!("{krate} not in Cargo.lock"))
        + marker.len();
    lock[start..].split('"').next().unwrap().to_string()
}

#[test]
fn recorded_backend_versions_match_cargo_lock() {
    assert_eq!(
        flopsbench::backend::candle::VERSION,
        locked_version("candle-core")
    );
    assert_eq!(
        flopsbench::backend::tract::VERSION,
        locked_version("tract-onnx")
    );
}

#[test]
fn ort_versions_match_cargo_lock_and_the_setup_script() {
    assert_eq!(
        flopsbench::backend::ort::CRATE_VERSION,
        locked_version("ort")
    );
    let script = include_str!("../scripts/setup-ort");
    assert!(script.contains(&format!(
        "ORT_VERSION={}",
        flopsbench::backend::ort::RUNTIME_VERSION
    )));
}

#[cfg(feature = "tch")]
#[test]
fn tch_versions_match_cargo_lock_and_the_setup_script() {
    use flopsbench::backend::libtorch::{LIBTORCH_VERSION, VERSION};
    assert_eq!(VERSION, locked_version("tch"));
    let script = include_str!("../scripts/setup-libtorch");
    assert!(script.contains(&format!("TORCH_VERSION={LIBTORCH_VERSION}")));
}
