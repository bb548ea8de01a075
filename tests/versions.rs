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
