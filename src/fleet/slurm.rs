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

/// Options refused, with why (by full long name, and short name).
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
        &["--prolog", "--epilog", "--task-prolog", "--task-epilog"],
        "runs another program",
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

/// What an accepted option takes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Takes {
    /// A value: attached (`--time=5`, `-t5`) or the next word.
    Value,
    /// An optional value, only attached (`--nice=5`, `-K1`): never the next word.
    Optional,
    /// Nothing.
    Flag,
}

use Takes::{Flag, Optional, Value};

/// The srun options a device may give, by full long name and short name. Anything else
/// (an abbreviation, an unknown option) is refused: srun reads unambiguous prefixes of
/// long names, so only full names can be checked.
const ALLOWED: &[(&str, Option<char>, Takes)] = &[
    ("partition", Some('p'), Value),
    ("time", Some('t'), Value),
    ("time-min", None, Value),
    ("account", Some('A'), Value),
    ("qos", Some('q'), Value),
    ("cpus-per-task", Some('c'), Value),
    ("gpus", Some('G'), Value),
    ("gres", None, Value),
    ("gres-flags", None, Value),
    ("gpus-per-task", None, Value),
    ("gpus-per-node", None, Value),
    ("gpus-per-socket", None, Value),
    ("cpus-per-gpu", None, Value),
    ("mem-per-gpu", None, Value),
    ("tres-per-task", None, Value),
    ("constraint", Some('C'), Value),
    ("nodelist", Some('w'), Value),
    ("exclude", Some('x'), Value),
    ("job-name", Some('J'), Value),
    ("mem", None, Value),
    ("mem-per-cpu", None, Value),
    ("mincpus", None, Value),
    ("tmp", None, Value),
    ("reservation", None, Value),
    ("chdir", Some('D'), Value),
    ("export", None, Value),
    ("cpu-bind", None, Value),
    ("mem-bind", None, Value),
    ("gpu-bind", None, Value),
    ("hint", None, Value),
    ("distribution", Some('m'), Value),
    ("threads-per-core", None, Value),
    ("sockets-per-node", None, Value),
    ("cores-per-socket", None, Value),
    ("extra-node-info", Some('B'), Value),
    ("core-spec", Some('S'), Value),
    ("thread-spec", None, Value),
    ("cpu-freq", None, Value),
    ("gpu-freq", None, Value),
    ("licenses", Some('L'), Value),
    ("network", None, Value),
    ("switches", None, Value),
    ("signal", None, Value),
    ("begin", None, Value),
    ("deadline", None, Value),
    ("dependency", Some('d'), Value),
    ("comment", None, Value),
    ("wckey", None, Value),
    ("priority", None, Value),
    ("jobid", None, Value),
    ("clusters", Some('M'), Value),
    ("mpi", None, Value),
    ("wait", Some('W'), Value),
    ("profile", None, Value),
    ("acctg-freq", None, Value),
    ("nice", None, Optional),
    ("exclusive", None, Optional),
    ("immediate", Some('I'), Optional),
    ("kill-on-bad-exit", Some('K'), Optional),
    ("no-kill", Some('k'), Optional),
    ("overlap", None, Flag),
    ("oversubscribe", Some('s'), Flag),
    ("contiguous", None, Flag),
    ("overcommit", Some('O'), Flag),
    ("exact", None, Flag),
    ("spread-job", None, Flag),
    ("use-min-nodes", None, Flag),
    ("reboot", None, Flag),
    ("quiet", Some('Q'), Flag),
    ("verbose", Some('v'), Flag),
    ("unbuffered", Some('u'), Flag),
    ("disable-status", Some('X'), Flag),
];

/// Whether option `name` (`-p`, `--partition`) is refused, and why.
fn refused(name: &str) -> Option<&'static str> {
    REFUSED
        .iter()
        .find(|(names, _)| names.contains(&name))
        .map(|(_, why)| *why)
}

/// Why `name` (`--foo` or `-f`), which is not accepted, is refused.
fn not_accepted(name: &str) -> String {
    if let Some(why) = refused(name) {
        return format!("{name} {why}");
    }
    let long = name.trim_start_matches('-');
    let abbreviates = name.starts_with("--")
        && (ALLOWED.iter().any(|(l, _, _)| l.starts_with(long))
            || REFUSED
                .iter()
                .flat_map(|(names, _)| names.iter())
                .any(|n| n.starts_with(name)));
    if abbreviates {
        format!("{name}: write srun options in full (abbreviations cannot be checked)")
    } else {
        format!("{name} is not an srun option flopsbench passes on (see docs/devices.md)")
    }
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
        let (name, takes, attached) = if let Some(long) = word.strip_prefix("--") {
            let (l, v) = match long.split_once('=') {
                Some((l, v)) => (l, Some(v.to_string())),
                None => (long, None),
            };
            let Some((_, _, takes)) = ALLOWED.iter().find(|(name, _, _)| *name == l) else {
                return Err(not_accepted(&format!("--{l}")));
            };
            (format!("--{l}"), *takes, v)
        } else {
            let c = word.chars().nth(1).unwrap_or('-');
            let rest: String = word.chars().skip(2).collect();
            let Some((_, _, takes)) = ALLOWED.iter().find(|(_, short, _)| *short == Some(c)) else {
                return Err(not_accepted(&format!("-{c}")));
            };
            if *takes == Flag && !rest.is_empty() {
                return Err(format!(
                    "\"{word}\": write short options one per word (or with their value, -p gpu)"
                ));
            }
            (format!("-{c}"), *takes, (!rest.is_empty()).then_some(rest))
        };
        let value = match (takes, attached) {
            (Flag, Some(_)) => return Err(format!("{name} takes no value")),
            (_, Some(v)) => Some(v),
            (Value, None) => match words.get(i + 1).filter(|w| !w.starts_with('-')) {
                Some(v) => {
                    i += 1;
                    Some(v.clone())
                }
                None => return Err(format!("{name} needs a value")),
            },
            (Optional | Flag, None) => None,
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
    // srun reads its options from SLURM_* variables too: inside an sbatch or salloc job,
    // they would make this a step of that job, label its output or redirect its streams.
    // Only the devices.toml options count (and SLURM_CONF, which says where the cluster is).
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("SLURM_") && key != "SLURM_CONF" {
            c.env_remove(key.as_ref());
        }
    }
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

/// Cancels the worker's step of Slurm job `job` (best effort: it may be gone already);
/// only the step, so that a job the devices.toml options named (`--jobid`) lives on.
pub fn cancel(job: &crate::meta::SlurmJob) {
    let id = if job.step_id.is_empty() {
        job.job_id.clone()
    } else {
        format!("{}.{}", job.job_id, job.step_id)
    };
    Command::new("scancel")
        .args(["--quiet", &id])
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
        assert!(check_options("--nice=5 -K1 --threads-per-core 1 --exclusive -v").is_ok());
        let e = check_options("--part=gpu").unwrap_err();
        assert!(e.contains("in full"), "{e}");
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
            "--nice sh -c 'touch x'",
            "--outp=x",
            "--inp=job.json",
            "--ntasks-per-n=2",
            "--task-prolog=/bin/x",
            "--lab",
            "--frobnicate",
            "-Q1",
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
