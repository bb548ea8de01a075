//! Looks at the report as a person would: renders `report.html` and every SVG chart in
//! headless Chromium (Debian's chromium, installed by scripts/setup-chromium) to PNG and
//! checks that each screenshot shows something (not blank) and that the page logged no
//! console message (it has no scripts, so any message means a broken resource).

use std::path::{Path, PathBuf};
use std::process::Command;

fn chromium() -> Option<PathBuf> {
    let candidates = [
        std::env::var("CHROMIUM").unwrap_or_default(),
        "chromium".into(),
        "chromium-browser".into(),
        "google-chrome".into(),
    ];
    for c in candidates.iter().filter(|c| !c.is_empty()) {
        if let Ok(out) = Command::new("sh")
            .args(["-c", &format!("command -v {c}")])
            .output()
            && out.status.success()
        {
            return Some(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
        }
    }
    None
}

/// Fraction of pixels that are not (near) white, and the number of distinct colours.
fn ink(png_path: &Path) -> (f64, usize) {
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(png_path).unwrap(),
    ));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    let pixels = &buf[..info.buffer_size()];
    let mut colours = std::collections::HashSet::new();
    let mut inked = 0usize;
    let mut total = 0usize;
    for px in pixels.chunks(channels) {
        total += 1;
        if px[..3].iter().any(|&v| v < 235) {
            inked += 1;
        }
        colours.insert((px[0] / 8, px[1] / 8, px[2] / 8));
    }
    (inked as f64 / total as f64, colours.len())
}

#[test]
fn the_report_and_its_charts_render_in_chromium() {
    let Some(chromium) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must render the report: scripts/setup-chromium did not install chromium"
        );
        eprintln!("skipping: no chromium (scripts/setup-chromium installs it)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    let fixtures: Vec<String> = ["table1", "nets", "peak", "ratio", "layers"]
        .iter()
        .map(|d| format!("{}/tests/fixtures/report/{d}", env!("CARGO_MANIFEST_DIR")))
        .collect();
    let status = assert_cmd::Command::cargo_bin("flopsbench")
        .unwrap()
        .arg("report")
        .args(&fixtures)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(status.status.success(), "{status:?}");
    let mut pages: Vec<PathBuf> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "svg" || e == "html"))
        .collect();
    pages.sort();
    // report.html, the 4 paper charts, and the per-layer profile's two (its shares by op
    // type, its layers on the roofline of the peak fixture's ceilings).
    let names: Vec<String> = pages
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(pages.len(), 7, "{names:?}");
    for chart in [
        "layers-fasternet-t0-64-tract-cpu.svg",
        "layers-roofline-fasternet-t0-64-tract-cpu.svg",
    ] {
        assert!(names.iter().any(|n| n == chart), "{chart}: {names:?}");
    }
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("Per layer: fasternet-t0-64 · tract · cpu"));
    let profile = dir.path().join("profile");
    for page in &pages {
        let png = page.with_extension("png");
        let run = Command::new(&chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--no-first-run",
                "--enable-logging=stderr",
                "--v=0",
                "--window-size=1280,1800",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(format!("--screenshot={}", png.display()))
            .arg(format!("file://{}", page.display()))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(
            png.is_file(),
            "{} was not rendered: {stderr}",
            page.display()
        );
        let console: Vec<&str> = stderr.lines().filter(|l| l.contains("CONSOLE")).collect();
        assert!(console.is_empty(), "{} logged: {console:?}", page.display());
        let (inked, colours) = ink(&png);
        eprintln!(
            "{}: {:.1}% inked, {colours} colours",
            page.display(),
            inked * 100.0
        );
        assert!(
            inked > 0.002 && colours > 3,
            "{} renders blank ({:.2}% inked, {colours} colours)",
            page.display(),
            inked * 100.0
        );
    }
}
