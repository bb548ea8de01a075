//! Slurm partitions as devices, against a real Slurm: the one-node cluster that
//! scripts/setup-slurm starts on this machine (partitions `debug` and `batch`, its
//! configuration in .deps/slurm/slurm.conf, found through SLURM_CONF). A suite runs on a
//! partition through srun with the binary broadcast by Slurm and must compute what the same
//! suite computes here; an unknown partition and a job cancelled mid-run (`scancel`) end as
//! error rows with Slurm's message while another device finishes, and `--resume` reruns
//! what is missing; hostile srun options are refused before anything runs. Without Slurm
//! the tests that need it are skipped with the reason (and fail in CI).

mod common;

use common::skip;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use flopsbench::record::{Record, RecordWithSamples, Status};

/// SLURM_CONF for the tests: the environment's, else the one scripts/setup-slurm wrote;
/// `Err` when no controller answers.
fn slurm() -> Result<PathBuf, String> {
    let conf = std::env::var_os("SLURM_CONF").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join(".deps/slurm/slurm.conf"),
        PathBuf::from,
    );
    if !conf.is_file() {
        return Err(format!(
            "no Slurm configuration at {} (scripts/setup-slurm starts a one-node cluster)",
            conf.display()
        ));
    }
    let ping = Command::new("scontrol")
        .arg("ping")
        .env("SLURM_CONF", &conf)
        .output()
        .map_err(|e| format!("scontrol: {e} (scripts/setup-slurm installs slurm-wlm)"))?;
    let said = String::from_utf8_lossy(&ping.stdout);
    if !said.contains("is UP") {
        return Err(format!(
            "slurmctld does not answer ({}); run scripts/setup-slurm",
            said.trim()
        ));
    }
    Ok(conf)
}

fn flopsbench(conf: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_flopsbench"));
    c.env("SLURM_CONF", conf);
    c
}

/// A devices file in `dir`: `dbg` and `bat` on the two partitions (binaries broadcast to
/// `dir/bcast/`), `nowhere` on a partition the cluster does not have.
fn devices_file(dir: &Path) -> PathBuf {
    let bcast = dir.join("bcast");
    std::fs::create_dir_all(&bcast).unwrap();
    let text = format!(
        "[devices.dbg]\nslurm = \"--partition=debug --time=00:20:00\"\nremote_dir = '{b}'\n\n\
         [devices.bat]\nslurm = \"-p batch\"\nremote_dir = '{b}'\n\n\
         [devices.nowhere]\nslurm = \"--partition=nowhere\"\n",
        b = bcast.display()
    );
    let path = dir.join("devices.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn suite(dir: &Path, min_time: &str) -> PathBuf {
    common::small_suite(dir, "slurm-small", min_time)
}

/// The small suite, one case after the other: rows come back one by one.
fn suite_one_by_one(dir: &Path, min_time: &str) -> PathBuf {
    common::small_suite_one_by_one(dir, "slurm-small", min_time)
}

fn rows(dir: &Path) -> Vec<Record> {
    common::csv_rows(&dir.join("results.csv"))
}

fn jsonl(dir: &Path) -> Vec<RecordWithSamples> {
    common::jsonl_rows(&dir.join("results.jsonl"))
}

/// The node's name as Slurm knows it (scripts/setup-slurm: not this host's name, so that
/// rows show which one they carry).
const NODE: &str = "flopsnode";

#[test]
fn a_suite_on_a_partition_computes_what_it_computes_here() {
    let conf = match slurm() {
        Ok(c) => c,
        Err(why) => return skip(&why),
    };
    let dir = tempfile::tempdir().unwrap();
    let devices = devices_file(dir.path());
    let suite = suite(dir.path(), "0.02");
    let out = dir.path().join("run");
    let run = flopsbench(&conf)
        .arg("suite")
        .arg(&suite)
        .args([
            "--backend",
            "tract,candle",
            "--device",
            "cpu,dbg",
            "--quiet",
        ])
        .arg("--devices")
        .arg(&devices)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");

    let node = NODE;
    let remote = jsonl(&out.join("dbg"));
    assert_eq!(remote.len(), 6, "{stderr}");
    let job_id = remote[0].record.slurm_job_id.clone();
    assert!(job_id.parse::<u64>().is_ok(), "a job id: {job_id:?}");
    let local_dir = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_name().unwrap() != "dbg")
        .unwrap();
    let local = jsonl(&local_dir);
    for r in &remote {
        let row = &r.record;
        assert_eq!(row.status, Status::Ok, "{}: {}", row.case, row.error);
        assert_eq!(row.device.to_string(), "dbg");
        assert_eq!(
            (row.partition.as_str(), &row.slurm_job_id),
            ("debug", &job_id)
        );
        assert_eq!(row.host, node, "host is the node as Slurm names it");
        // Same binary, same seed, one thread: the very same outputs as here.
        let here = local
            .iter()
            .find(|l| l.record.case == row.case && l.record.backend == row.backend)
            .unwrap();
        assert!(r.output.is_some());
        assert_eq!(r.output, here.output, "{} {}", row.case, row.backend);
        assert!(here.record.slurm_job_id.is_empty() && here.record.partition.is_empty());
    }
    // The worker ran the copy Slurm broadcast to the node, and removed it once running.
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("dbg/meta.json")).unwrap()).unwrap();
    let exe = meta["executable"].as_str().unwrap();
    let bcast = dir.path().join("bcast");
    assert!(
        Path::new(exe).starts_with(&bcast) && exe.contains("slurm_bcast_"),
        "the worker ran {exe}, not a broadcast copy in {}",
        bcast.display()
    );
    assert_ne!(Path::new(exe), Path::new(env!("CARGO_BIN_EXE_flopsbench")));
    assert_eq!(meta["slurm"]["job_id"], job_id.as_str());
    assert_eq!(meta["slurm"]["partition"], "debug");
    assert_eq!(
        (meta["host"].as_str(), meta["slurm"]["node"].as_str()),
        (Some(node), Some(node))
    );
    assert_eq!(meta["via"], "srun --partition=debug --time=00:20:00");
    assert_eq!(std::fs::read_dir(&bcast).unwrap().count(), 0, "copy left");

    // `list` shows the partitions as sinfo sees them.
    let list = flopsbench(&conf)
        .arg("list")
        .arg("--devices")
        .arg(&devices)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(list.status.success());
    assert!(text.contains("partition debug: up, "), "{text}");
    assert!(text.contains("partition batch: up, "), "{text}");
    assert!(text.contains("sinfo: no partition nowhere"), "{text}");

    // `list --device` asks the node itself what it has, through srun.
    let asked = flopsbench(&conf)
        .args(["list", "--device", "dbg,nowhere", "--devices"])
        .arg(&devices)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&asked.stdout);
    assert_eq!(
        asked.status.code(),
        Some(1),
        "nowhere was not reached: {text}"
    );
    assert!(text.contains(&format!("  host     {node}\n")), "{text}");
    assert!(text.contains("  tract    available (version "), "{text}");
    assert!(
        text.contains("not reached: ") && text.contains("Invalid partition name"),
        "{text}"
    );
    assert_eq!(std::fs::read_dir(&bcast).unwrap().count(), 0, "copy left");
}

#[test]
fn a_model_file_travels_inside_the_job() {
    let conf = match slurm() {
        Ok(c) => c,
        Err(why) => return skip(&why),
    };
    let dir = tempfile::tempdir().unwrap();
    let devices = devices_file(dir.path());
    // An srun first on PATH that keeps a copy of the job it passes on.
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let srun = Command::new("sh")
        .args(["-c", "command -v srun"])
        .output()
        .unwrap();
    let srun = String::from_utf8_lossy(&srun.stdout).trim().to_string();
    let job = dir.path().join("job.json");
    std::fs::write(
        bin.join("srun"),
        format!(
            "#!/bin/sh\ntee '{}' | exec '{srun}' \"$@\"\n",
            job.display()
        ),
    )
    .unwrap();
    Command::new("chmod")
        .arg("+x")
        .arg(bin.join("srun"))
        .status()
        .unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let model = dir.path().join("my-net.onnx");
    let export = flopsbench(&conf)
        .args(["export", "fasternet-t0", "--resolution", "64", "-o"])
        .arg(&model)
        .output()
        .unwrap();
    assert!(export.status.success());
    let out = dir.path().join("run");
    let run = flopsbench(&conf)
        .arg("net")
        .arg(&model)
        .args(["--backend", "tract", "--device", "bat", "--runs", "2"])
        .args(["--warmup", "0", "--min-time", "0", "--quiet"])
        .arg("--devices")
        .arg(&devices)
        .arg("--out")
        .arg(&out)
        .env("PATH", &path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    let rows = rows(&out.join("bat"));
    assert_eq!(rows.len(), 1, "{stderr}");
    let r = &rows[0];
    assert_eq!(r.status, Status::Ok, "{}", r.error);
    assert_eq!((r.name.as_str(), r.partition.as_str()), ("my-net", "batch"));
    assert_eq!(r.reference, "candle", "checked on the node before timing");
    assert_eq!(r.model_path, model.to_str().unwrap());
    // The job carried the file itself and named it by its hash, not by its path here.
    let sent = std::fs::read_to_string(&job).unwrap();
    assert!(
        sent.contains(&format!("\"models\":[{{\"sha256\":\"{}\"", r.model_sha256)),
        "{}",
        &sent[..sent.len().min(400)]
    );
    assert!(sent.contains(&format!("\"{}.onnx\"", r.model_sha256)));
    assert!(
        !sent.contains(model.to_str().unwrap()),
        "the local path was sent"
    );
}

/// Waits until `csv` has a row; its Slurm job id.
fn first_job_id(csv: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(mut reader) = csv::Reader::from_path(csv)
            && let Some(Ok(row)) = reader.deserialize::<Record>().next()
        {
            return row.slurm_job_id;
        }
        assert!(Instant::now() < deadline, "no row came back in 120 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn refused_and_cancelled_jobs_become_error_rows_and_resume_reruns_them() {
    let conf = match slurm() {
        Ok(c) => c,
        Err(why) => return skip(&why),
    };
    let dir = tempfile::tempdir().unwrap();
    let devices = devices_file(dir.path());
    let suite = suite_one_by_one(dir.path(), "0.4");
    let out = dir.path().join("run");
    let command = |resume: bool| {
        let mut c = flopsbench(&conf);
        c.arg("suite")
            .arg(&suite)
            .args([
                "--backend",
                "tract",
                "--device",
                "dbg,bat,nowhere",
                "--quiet",
            ])
            .arg("--devices")
            .arg(&devices)
            .arg(if resume { "--resume" } else { "--out" })
            .arg(&out);
        c
    };
    let child = command(false)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The first row of dbg names its job: cancel it.
    let job = first_job_id(&out.join("dbg/results.csv"));
    let cancel = Command::new("scancel")
        .arg(&job)
        .env("SLURM_CONF", &conf)
        .status()
        .unwrap();
    assert!(cancel.success());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");

    let dbg = rows(&out.join("dbg"));
    assert_eq!(dbg.len(), 3, "every case once: {dbg:?}");
    let ok = dbg.iter().filter(|r| r.status == Status::Ok).count();
    assert!((1..3).contains(&ok), "rows before the cancel are kept");
    for r in dbg.iter().filter(|r| r.status != Status::Ok) {
        assert!(r.error.contains("lost on dbg"), "{}", r.error);
        assert!(
            r.error.contains("CANCELLED"),
            "Slurm's message: {}",
            r.error
        );
        assert_eq!(
            (r.slurm_job_id.as_str(), r.partition.as_str()),
            (job.as_str(), "debug")
        );
        assert_eq!(r.host, NODE, "the node that lost them");
    }
    // The other partition finished; the unknown one says what Slurm said.
    let bat = rows(&out.join("bat"));
    assert_eq!(bat.len(), 3);
    assert!(
        bat.iter()
            .all(|r| r.status == Status::Ok && r.partition == "batch")
    );
    let nowhere = rows(&out.join("nowhere"));
    assert_eq!(nowhere.len(), 3);
    for r in &nowhere {
        assert_eq!(r.status, Status::Error);
        assert!(r.error.contains("Invalid partition name"), "{}", r.error);
        assert!(r.slurm_job_id.is_empty() && r.partition == "nowhere");
        assert_eq!(r.host, "slurm:nowhere", "no node was ever given");
    }

    // --resume reruns what is missing, in a new job, and keeps the rest.
    let resumed = command(true).output().unwrap();
    let stderr = String::from_utf8_lossy(&resumed.stderr);
    assert_eq!(
        resumed.status.code(),
        Some(1),
        "nowhere fails again: {stderr}"
    );
    let again = rows(&out.join("dbg"));
    assert_eq!(again.len(), 3, "every case once: {again:?}");
    assert!(again.iter().all(|r| r.status == Status::Ok), "{again:?}");
    let kept = again.iter().filter(|r| r.slurm_job_id == job).count();
    assert_eq!(kept, ok, "the rows before the cancel were kept, not rerun");
    assert!(again.iter().all(|r| r.run_id == dbg[0].run_id), "one run");
    assert_eq!(rows(&out.join("bat")), bat, "bat had nothing missing");
    // ... so no job was queued for it: its meta.json is still its first job's.
    assert!(
        stderr.contains("[bat] nothing missing: no worker started"),
        "{stderr}"
    );
    assert!(!stderr.contains("[dbg] nothing missing"), "{stderr}");
    let bat_meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("bat/meta.json")).unwrap()).unwrap();
    assert_eq!(bat_meta["slurm"]["job_id"], bat[0].slurm_job_id.as_str());
    assert_eq!(
        rows(&out.join("nowhere")).len(),
        3,
        "its error rows replaced, not added"
    );
    // meta.json describes the worker of the resumed session, under the run's id.
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("dbg/meta.json")).unwrap()).unwrap();
    assert_eq!(meta["run_id"], dbg[0].run_id.as_str());
    let rerun = again.iter().find(|r| r.slurm_job_id != job).unwrap();
    assert_eq!(meta["slurm"]["job_id"], rerun.slurm_job_id.as_str());
}

#[test]
fn hostile_srun_options_are_refused_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    for (options, word) in [
        ("-p debug -n 4", "-n"),
        ("--partition=debug --output=/tmp/x", "--output"),
        ("--partition=debug hostname", "hostname"),
        ("-p debug --pty", "--pty"),
        ("-p debug : -p batch", ":"),
        ("--nice sh -c 'touch x'", "sh"),
        ("-p debug --outp=x", "--outp"),
        ("-p debug --task-prolog=/bin/x", "--task-prolog"),
    ] {
        let devices = dir.path().join("devices.toml");
        std::fs::write(
            &devices,
            format!("# a cluster\n[devices.gpu1]\nslurm = \"{options}\"\n"),
        )
        .unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_flopsbench"))
            .args(["op", "--kind", "pconv", "--device", "gpu1", "--devices"])
            .arg(&devices)
            .arg("--out")
            .arg(dir.path().join("run"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{options}: {stderr}");
        assert!(
            stderr.contains(&format!("{}:3:", devices.display())) && stderr.contains(word),
            "{options}: {stderr}"
        );
        assert!(!dir.path().join("run").exists(), "nothing written");
    }
}
