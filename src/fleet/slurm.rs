//! Running the worker through Slurm: `srun --ntasks=1 <options> --bcast=DIR/ BINARY worker`,
//! the job on its stdin, JSON lines on its stdout. The options come from devices.toml
//! (`slurm = "--partition=gpu --gres=gpu:1"`), split like a shell would (no shell ever
//! runs them) and checked: nothing that changes the task layout, redirects the streams,
//! adds a second command or replaces the command is accepted.

use std::process::{Command, Stdio};

/// A Slurm device: the srun options that place the worker, and where the broadcast copy
/// of the binary goes on the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlurmTarget {
    /// srun options, one word each, checked by [`check_options`].
    pub options: Vec<String>,
    /// The partition the options ask for (`--partition`/`-p`), if any.
    pub partition: Option<String>,
    /// The folder on the node that receives the broadcast binary [default: /tmp].
    pub bcast_dir: String,
}

/// Options refused, with why.
const REFUSED: &[(&[&str], &str)] = &[
    (
        &[
            "-n",
            "--ntasks",
            "-N",
            "--nodes",
            "--ntasks-per-node",
            "--ntasks-per-core",
            "--ntasks-per-socket",
            "--ntasks-per-gpu",
            "--ntasks-per-tres",
            "--het-group",
            "--multi-prog",
            "-Z",
            "--no-allocate",
        ],
        "changes the task layout (flopsbench runs one task)",
    ),
    (
        &[
            "-i",
            "--input",
            "-o",
            "--output",
            "-e",
            "--error",
            "--pty",
            "-l",
            "--label",
            "--open-mode",
        ],
        "redirects or rewrites the worker's streams (the job goes on stdin, rows come on stdout)",
    ),
    (
        &["--bcast", "--send-libs"],
        "is set by flopsbench (the binary is broadcast unless devices.toml gives binary = …)",
    ),
    (
        &[
            "-h",
            "--help",
            "--usage",
            "-V",
            "--version",
            "--test-only",
            "--wrap",
        ],
        "replaces the command",
    ),
];

/// Options that take a value as the next word when not written `--opt=value` (or `-pVALUE`).
const WITH_VALUE: &[&str] = &[
    "-p",
    "--partition",
    "-t",
    "--time",
    "-A",
    "--account",
    "-q",
    "--qos",
    "-c",
    "--cpus-per-task",
    "-G",
    "--gpus",
    "--gres",
    "--gpus-per-task",
    "--gpus-per-node",
    "--cpus-per-gpu",
    "--mem-per-gpu",
    "-C",
    "--constraint",
    "-w",
    "--nodelist",
    "-x",
    "--exclude",
    "-J",
    "--job-name",
    "--mem",
    "--mem-per-cpu",
    "--reservation",
    "-D",
    "--chdir",
    "--export",
    "--cpu-bind",
    "--mem-bind",
    "--hint",
    "--signal",
    "--begin",
    "--deadline",
    "--comment",
    "--jobid",
    "--nice",
    "--tmp",
    "-M",
    "--clusters",
    "--time-min",
    "--mpi",
    "--gpu-bind",
    "--gpu-freq",
    "--cpu-freq",
    "-W",
    "--wait",
    "-m",
    "--distribution",
];

/// Whether option `name` (`-p`, `--partition`) is refused, and why.
fn refused(name: &str) -> Option<&'static str> {
    REFUSED
        .iter()
        .find(|(names, _)| names.contains(&name))
        .map(|(_, why)| *why)
}

/// Splits and checks `text` (devices.toml's `slurm`): the option words, and the partition
/// named; `Err` says which word is refused and why.
pub fn check_options(text: &str) -> Result<(Vec<String>, Option<String>), String> {
    let words = shlex::split(text).ok_or_else(|| {
        "unbalanced quotes (the options are split like a shell would)".to_string()
    })?;
    let mut partition = None;
    let mut i = 0;
    while i < words.len() {
        let word = &words[i];
        if word == ":" || word == "--" || !word.starts_with('-') || word == "-" {
            return Err(format!(
                "\"{word}\" is not an option: a second command or a heterogeneous job is refused (flopsbench gives the command)"
            ));
        }
        let (name, attached) = if word.starts_with("--") {
            match word.split_once('=') {
                Some((n, v)) => (n.to_string(), Some(v.to_string())),
                None => (word.clone(), None),
            }
        } else {
            let name: String = word.chars().take(2).collect();
            let rest: String = word.chars().skip(2).collect();
            if !rest.is_empty() && !WITH_VALUE.contains(&name.as_str()) {
                if let Some(why) = rest
                    .chars()
                    .find_map(|c| refused(&format!("-{c}")).map(|w| (c, w)))
                {
                    return Err(format!("\"{word}\" includes -{}, which {}", why.0, why.1));
                }
                return Err(format!(
                    "\"{word}\": write short options one per word (or with their value, -p gpu)"
                ));
            }
            (name, (!rest.is_empty()).then_some(rest))
        };
        if let Some(why) = refused(&name) {
            return Err(format!("{name} {why}"));
        }
        let value = match attached {
            Some(v) => Some(v),
            None if WITH_VALUE.contains(&name.as_str()) => {
                match words.get(i + 1).filter(|w| !w.starts_with('-')) {
                    Some(v) => {
                        i += 1;
                        Some(v.clone())
                    }
                    None => return Err(format!("{name} needs a value")),
                }
            }
            None => None,
        };
        if matches!(name.as_str(), "-p" | "--partition") {
            partition = value;
        }
        i += 1;
    }
    Ok((words, partition))
}

/// The srun command that runs `binary worker` on `target`: the binary broadcast to the
/// node's `bcast_dir` when `broadcast`, or run in place (a shared file system).
pub fn command(
    target: &SlurmTarget,
    name: &str,
    binary: &std::path::Path,
    broadcast: bool,
) -> Command {
    let mut c = Command::new("srun");
    c.args(["--ntasks=1", "--quiet", "--kill-on-bad-exit=1"])
        .arg(format!("--job-name=flopsbench-{name}"))
        .args(&target.options);
    if broadcast {
        c.arg(format!(
            "--bcast={}/",
            target.bcast_dir.trim_end_matches('/')
        ));
    }
    c.arg(binary).arg("worker");
    c
}

/// Cancels Slurm job `job_id` (best effort: the job may be gone already).
pub fn cancel(job_id: &str) {
    Command::new("scancel")
        .args(["--quiet", job_id])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok();
}

/// `sinfo`'s view of the target's partition (or the default one): its state and nodes
/// idle out of all, e.g. `partition debug: up, 1/1 nodes idle`; `None` when `sinfo` is not
/// here.
pub fn sinfo(target: &SlurmTarget) -> Option<String> {
    let mut c = Command::new("sinfo");
    c.args(["--noheader", "--format=%P %a %A %D"]);
    if let Some(p) = &target.partition {
        c.arg(format!("--partition={p}"));
    }
    let out = c.stdin(Stdio::null()).output().ok()?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Some(format!(
            "sinfo failed: {}",
            err.lines().last().unwrap_or("").trim()
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| {
        target.partition.is_some()
            || l.split_whitespace()
                .next()
                .is_some_and(|p| p.ends_with('*'))
    });
    let Some(line) = line else {
        return Some(match &target.partition {
            Some(p) => format!("sinfo: no partition {p}"),
            None => "sinfo: no default partition".into(),
        });
    };
    let f: Vec<&str> = line.split_whitespace().collect();
    let [p, avail, alloc_idle, total] = f[..] else {
        return Some(format!("sinfo: {line}"));
    };
    let idle = alloc_idle.split('/').nth(1).unwrap_or("?");
    Some(format!(
        "partition {}: {avail}, {idle}/{total} nodes idle",
        p.trim_end_matches('*')
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_checked() {
        let (words, p) = check_options("--partition=gpu --gres=gpu:1 --time=00:30:00").unwrap();
        assert_eq!(words.len(), 3);
        assert_eq!(p.as_deref(), Some("gpu"));
        assert_eq!(
            check_options("-p batch -t 5 --exclusive")
                .unwrap()
                .1
                .as_deref(),
            Some("batch")
        );
        assert_eq!(check_options("-pcpu").unwrap().1.as_deref(), Some("cpu"));
        for bad in [
            "-n 2",
            "--ntasks=4",
            "-N2",
            "--nodes 2",
            "--input=job.json",
            "-o out.txt",
            "--error=/dev/null",
            "--pty",
            "--label",
            "-lv",
            "--bcast=/x",
            "-p gpu hostname",
            "-p gpu : -p cpu",
            "--partition",
            "-p gpu -- rm",
            "--partition='unbalanced",
            "--version",
        ] {
            assert!(check_options(bad).is_err(), "{bad} accepted");
        }
        let e = check_options("-p gpu -n 4").unwrap_err();
        assert!(e.contains("-n") && e.contains("task layout"), "{e}");
    }

    #[test]
    fn the_command_broadcasts_the_binary() {
        let t = SlurmTarget {
            options: vec!["--partition=debug".into()],
            partition: Some("debug".into()),
            bcast_dir: "/scratch/".into(),
        };
        let args: Vec<String> = command(&t, "a100", std::path::Path::new("/b/flopsbench"), true)
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(args[0], "--ntasks=1");
        assert!(args.contains(&"--partition=debug".to_string()));
        assert!(args.contains(&"--bcast=/scratch/".to_string()));
        assert_eq!(&args[args.len() - 2..], ["/b/flopsbench", "worker"]);
    }
}
