//! A real remote device over SSH: the test starts its own sshd on 127.0.0.1 on a free port
//! with a generated host key and user key (no system configuration is touched), names it
//! in a temporary devices.toml, runs a small suite there through the system OpenSSH
//! client, and checks the records; then the failures: a wrong key, an unreachable host and
//! a worker killed mid-run each end as one error row per lost case, while the rows already
//! received and the other devices' rows are kept. `.ci/run` installs openssh-server
//! (scripts/setup-ssh); without it the test is skipped with its reason (and fails in CI).

mod common;

use common::skip;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use flopsbench::record::{Record, Status};

const SSHD: &str = "/usr/sbin/sshd";

struct Sshd {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
    user: String,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn keygen(path: &Path) {
    let ok = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .status()
        .expect("ssh-keygen runs")
        .success();
    assert!(ok, "ssh-keygen {}", path.display());
}

fn start_sshd() -> Result<Sshd, String> {
    if !Path::new(SSHD).is_file() {
        return Err(format!("{SSHD} not found"));
    }
    if Command::new("ssh").arg("-V").output().is_err() {
        return Err("no ssh client".into());
    }
    if !Path::new("/run/sshd").is_dir() {
        std::fs::create_dir_all("/run/sshd")
            .map_err(|e| format!("sshd needs /run/sshd and it cannot be made: {e}"))?;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    keygen(&d.join("host_key"));
    keygen(&d.join("user_key"));
    keygen(&d.join("other_key"));
    std::fs::copy(d.join("user_key.pub"), d.join("authorized_keys")).unwrap();
    let port = free_port();
    let config = format!(
        "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nAuthorizedKeysFile {}\nPidFile {}\n\
         StrictModes no\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
         PermitRootLogin prohibit-password\nLogLevel ERROR\n",
        d.join("host_key").display(),
        d.join("authorized_keys").display(),
        d.join("sshd.pid").display(),
    );
    std::fs::write(d.join("sshd_config"), config).unwrap();
    let child = Command::new(SSHD)
        .args(["-D", "-e", "-f"])
        .arg(d.join("sshd_config"))
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start sshd: {e}"))?;
    let user = String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout)
        .unwrap()
        .trim()
        .to_string();
    let sshd = Sshd {
        child,
        port,
        dir,
        user,
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            return Err("sshd did not listen within 10 s".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(sshd)
}

impl Sshd {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The worker binaries' folder on the "board": a path a shell would expand, so the
    /// test also shows that no remote shell ever sees it unquoted.
    fn remote_dir(&self) -> PathBuf {
        self.path(&format!(
            "remote dir/$(touch {})",
            self.path("PWNED").display()
        ))
    }

    /// A devices file with `board` (the right key), `wrongkey` and `unreachable`.
    fn devices_file(&self) -> PathBuf {
        let entry = |name: &str, port: u16, key: &str| {
            format!(
                "[devices.{name}]\nssh = \"{}@127.0.0.1\"\nport = {port}\nidentity = \"{key}\"\n\
                 remote_dir = '{}'\nssh_options = [\"StrictHostKeyChecking=no\", \"UserKnownHostsFile={}\"]\n\n",
                self.user,
                self.remote_dir().display(),
                self.path("known_hosts").display()
            )
        };
        let text = entry("board", self.port, "user_key")
            + &entry("wrongkey", self.port, "other_key")
            + &entry("unreachable", free_port(), "user_key");
        let path = self.path("devices.toml");
        std::fs::write(&path, text).unwrap();
        path
    }
}

fn suite(dir: &Path, min_time: &str) -> PathBuf {
    common::small_suite(dir, "ssh-small", min_time)
}

/// The small suite, one case after the other: rows come back one by one.
fn suite_one_by_one(dir: &Path, min_time: &str) -> PathBuf {
    common::small_suite_one_by_one(dir, "ssh-small", min_time)
}

fn rows(dir: &Path) -> Vec<Record> {
    common::csv_rows(&dir.join("results.csv"))
}

fn flopsbench() -> Command {
    Command::new(env!("CARGO_BIN_EXE_flopsbench"))
}

#[test]
fn a_suite_runs_on_a_board_over_ssh_and_failures_become_rows() {
    let sshd = match start_sshd() {
        Ok(s) => s,
        Err(why) => return skip(&why),
    };
    let devices = sshd.devices_file();
    let suite = suite(sshd.dir.path(), "0.02");
    let out = sshd.path("run");
    let run = flopsbench()
        .arg("suite")
        .arg(&suite)
        .args([
            "--backend",
            "tract,candle",
            "--device",
            "board,wrongkey,unreachable",
        ])
        .arg("--devices")
        .arg(&devices)
        .arg("--out")
        .arg(&out)
        // sshd starts the worker in the board's own environment: the run passes its
        // OpenMP variables on.
        .env("GOMP_SPINCOUNT", "4321")
        .env_remove("OMP_WAIT_POLICY")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "some devices failed: {stderr}");

    // The board: every case on both backends, checked and timed there.
    let board = rows(&out.join("board"));
    assert_eq!(board.len(), 6, "{stderr}");
    for r in &board {
        assert_eq!(r.status, Status::Ok, "{}: {}", r.case, r.error);
        assert_eq!(r.device.to_string(), "board");
        assert!(!r.emulated);
        assert!(r.median_ms.unwrap() > 0.0 && r.max_abs_err.unwrap() < 1e-3);
    }
    let meta = std::fs::read_to_string(out.join("board/meta.json")).unwrap();
    assert!(
        meta.contains(&format!(
            "\"via\": \"ssh {}@127.0.0.1 (port {})\"",
            sshd.user, sshd.port
        )),
        "{meta}"
    );
    assert!(
        meta.contains("\"openmp\": \"GOMP_SPINCOUNT=4321\""),
        "{meta}"
    );

    // `list --device` asks the board what it has, over the same ssh; the unreachable
    // one says why (exit code 1).
    let asked = flopsbench()
        .args(["list", "--device", "board,unreachable", "--devices"])
        .arg(&devices)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&asked.stdout);
    assert_eq!(asked.status.code(), Some(1), "{text}");
    assert!(text.contains("  tract    available (version "), "{text}");
    assert!(
        text.contains("not reached: ") && text.contains("Connection refused"),
        "{text}"
    );

    // The binary went to the literal folder, once, by content hash; nothing was executed.
    let installed: Vec<_> = std::fs::read_dir(sshd.remote_dir()).unwrap().collect();
    assert_eq!(installed.len(), 1, "one binary, no temporary file left");
    assert!(
        !sshd.path("PWNED").exists(),
        "remote_dir was run by a shell"
    );

    // The failures: one error row per case and backend, saying why.
    for (name, why) in [
        ("wrongkey", "Permission denied"),
        ("unreachable", "Connection refused"),
    ] {
        let lost = rows(&out.join(name));
        assert_eq!(lost.len(), 6, "{name}");
        for r in &lost {
            assert_eq!(r.status, Status::Error);
            assert!(r.error.contains(why), "{name}: {}", r.error);
            assert!(r.error.contains(&format!("lost on {name}")), "{}", r.error);
        }
    }

    // report merges the per-host folders.
    let report = flopsbench()
        .arg("report")
        .arg(&out)
        .arg("-o")
        .arg(sshd.path("report"))
        .args(["--format", "csv,md"])
        .output()
        .unwrap();
    assert!(
        report.status.success(),
        "{}",
        String::from_utf8_lossy(&report.stderr)
    );
    assert_eq!(rows(&sshd.path("report")).len(), 18);
    let md = std::fs::read_to_string(sshd.path("report/report.md")).unwrap();
    assert!(md.contains("via ssh"), "provenance names the board");
}

#[test]
fn a_model_file_travels_to_the_board_by_content_hash() {
    let sshd = match start_sshd() {
        Ok(s) => s,
        Err(why) => return skip(&why),
    };
    let devices = sshd.devices_file();
    let model = sshd.path("my-net.onnx");
    let export = flopsbench()
        .args(["export", "fasternet-t0", "--resolution", "64", "-o"])
        .arg(&model)
        .output()
        .unwrap();
    assert!(export.status.success());
    let out = sshd.path("run");
    let run = flopsbench()
        .arg("net")
        .arg(&model)
        .args([
            "--backend",
            "tract",
            "--device",
            "board",
            "--runs",
            "2",
            "--per-layer",
        ])
        .args(["--warmup", "0", "--min-time", "0", "--quiet"])
        .arg("--devices")
        .arg(&devices)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    let rows = rows(&out.join("board"));
    assert_eq!(rows.len(), 1, "{stderr}");
    let r = &rows[0];
    assert_eq!(r.status, Status::Ok, "{}", r.error);
    assert_eq!(r.name, "my-net");
    assert_eq!(
        r.reference, "candle",
        "checked on the board before it was timed"
    );
    // The row names the file as given here; the board got a copy named by its hash.
    assert_eq!(r.model_path, model.to_str().unwrap());
    let copy = sshd
        .remote_dir()
        .join(format!("models/{}.onnx", r.model_sha256));
    assert_eq!(
        std::fs::read(&copy).unwrap(),
        std::fs::read(&model).unwrap()
    );
    // The worker's per-layer profile came back with the row, under the board's name.
    let layers: Vec<flopsbench::profile::LayerRow> =
        csv::Reader::from_path(out.join("board/layers.csv"))
            .unwrap()
            .deserialize()
            .map(|r| r.unwrap())
            .collect();
    assert!(layers.len() > 10, "{layers:?}");
    assert!(
        layers
            .iter()
            .all(|l| l.device == "board" && l.status == "ok")
    );
}

/// The worker processes running from the board's binary folder.
fn workers(remote_dir: &Path) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if let Ok(exe) = std::fs::read_link(entry.path().join("exe"))
            && exe.starts_with(remote_dir)
        {
            out.push(pid);
        }
    }
    out
}

#[test]
fn a_worker_killed_mid_run_keeps_received_rows_and_reports_the_rest() {
    let sshd = match start_sshd() {
        Ok(s) => s,
        Err(why) => return skip(&why),
    };
    let devices = sshd.devices_file();
    let suite = suite_one_by_one(sshd.dir.path(), "0.5");
    let out = sshd.path("run");
    let child = flopsbench()
        .arg("suite")
        .arg(&suite)
        .args(["--backend", "tract", "--device", "board", "--quiet"])
        .arg("--devices")
        .arg(&devices)
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the first row to come back, then kill the worker on the board.
    let csv = out.join("board/results.csv");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let lines = std::fs::read_to_string(&csv).map_or(0, |t| t.lines().count());
        if lines >= 2 {
            break;
        }
        assert!(Instant::now() < deadline, "no row came back in 120 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    let pids = workers(&sshd.remote_dir());
    assert!(!pids.is_empty(), "the worker runs from the board's folder");
    for pid in pids {
        Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status()
            .unwrap();
    }
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let rows = rows(&out.join("board"));
    assert_eq!(rows.len(), 3, "every case once: {rows:?}");
    let ok = rows.iter().filter(|r| r.status == Status::Ok).count();
    assert!(
        (1..3).contains(&ok),
        "rows received before the kill are kept"
    );
    for r in rows.iter().filter(|r| r.status != Status::Ok) {
        assert!(r.error.contains("lost on board"), "{}", r.error);
        assert!(r.error.contains("stopped before finishing"), "{}", r.error);
    }
}
