//! Reaching a board with the system OpenSSH client: batch mode (no password prompt, a
//! connect timeout), the worker binary copied once per content hash, and remote commands
//! built only from fixed words, shell-quoted paths and this run's OpenMP variables
//! (shell-quoted). Nothing a user typed as a device name or a suite value is ever part of
//! a remote command: the job travels on stdin.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use sha2::{Digest, Sha256};

use crate::fleet::devices::SshTarget;

/// Seconds ssh waits for a connection.
pub const CONNECT_TIMEOUT_S: u32 = 10;

/// The ssh command for `target` running `remote_command` (already quoted).
pub fn command(target: &SshTarget, remote_command: &str) -> Command {
    let mut c = Command::new("ssh");
    c.args(["-o", "BatchMode=yes"])
        .arg("-o")
        .arg(format!("ConnectTimeout={CONNECT_TIMEOUT_S}"))
        .args([
            "-o",
            "ServerAliveInterval=15",
            "-o",
            "ServerAliveCountMax=4",
        ])
        .args(["-o", "LogLevel=ERROR"]);
    if let Some(port) = target.port {
        c.arg("-p").arg(port.to_string());
    }
    if let Some(identity) = &target.identity {
        c.arg("-i").arg(identity).args(["-o", "IdentitiesOnly=yes"]);
    }
    for o in &target.options {
        c.arg("-o").arg(o);
    }
    c.arg("--").arg(&target.destination).arg(remote_command);
    c
}

/// `s` quoted for a POSIX shell.
pub fn quote(s: &str) -> Result<String, String> {
    shlex::try_quote(s)
        .map(|q| q.into_owned())
        .map_err(|e| format!("cannot quote {s:?} for the remote shell: {e}"))
}

/// The remote command that starts the worker at `path` (already quoted) with `vars`:
/// `env 'NAME=value' … path worker`.
pub fn worker_command(path: &str, vars: &[(&str, String)]) -> Result<String, String> {
    let mut words = Vec::new();
    for (name, value) in vars {
        words.push(quote(&format!("{name}={value}"))?);
    }
    Ok(if words.is_empty() {
        format!("{path} worker")
    } else {
        format!("env {} {path} worker", words.join(" "))
    })
}

/// This run's OpenMP variables ([`crate::meta::OPENMP_VARIABLES`], the restart's
/// `GOMP_SPINCOUNT` or the user's): sshd starts the worker in the board's own
/// environment, so they are passed on in its command (srun and emulators pass this
/// process's environment on by themselves), and libtorch's threads there spin as here.
pub fn openmp_vars() -> Vec<(&'static str, String)> {
    crate::meta::OPENMP_VARIABLES
        .iter()
        .filter_map(|v| std::env::var(v).ok().map(|value| (*v, value)))
        .collect()
}

/// The first 16 hex digits of the SHA-256 of `bytes`.
pub fn content_hash(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Where the binary with `hash` lives on the host.
pub fn remote_binary(target: &SshTarget, hash: &str) -> String {
    format!(
        "{}/flopsbench-{hash}",
        target.remote_dir.trim_end_matches('/')
    )
}

fn failure(what: &str, target: &SshTarget, out: &std::process::Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    let code = out
        .status
        .code()
        .map_or("a signal".to_string(), |c| c.to_string());
    if out.status.code() == Some(255) {
        let hint = if last.contains("Permission denied") || last.contains("passphrase") {
            " (ssh runs in batch mode: the key must work without a prompt; see identity in devices.toml)"
        } else {
            ""
        };
        format!("ssh {} failed ({what}): {last}{hint}", target.destination)
    } else {
        format!(
            "{what} on {} exited with {code}: {last}",
            target.destination
        )
    }
}

/// Makes sure the host has `binary` (by content hash) and is of `arch`; returns the
/// remote path of the binary, quoted for its shell.
pub fn install(target: &SshTarget, binary: &Path, arch: &str) -> Result<String, String> {
    let bytes =
        std::fs::read(binary).map_err(|e| format!("cannot read {}: {e}", binary.display()))?;
    let hash = content_hash(&bytes);
    let path = quote(&remote_binary(target, &hash))?;
    let probe = command(
        target,
        &format!("uname -m; if test -x {path}; then echo present; else echo absent; fi"),
    )
    .stdin(Stdio::null())
    .output()
    .map_err(|e| format!("cannot run ssh: {e} (install openssh-client)"))?;
    if !probe.status.success() {
        return Err(failure("probe", target, &probe));
    }
    let said = String::from_utf8_lossy(&probe.stdout);
    let mut lines = said.lines();
    let remote_arch = lines.next().unwrap_or("").trim().to_string();
    let remote_arch = if remote_arch == "arm64" {
        "aarch64".to_string()
    } else {
        remote_arch
    };
    if remote_arch != arch {
        return Err(format!(
            "{} is {remote_arch}, but devices.toml says arch = \"{arch}\"",
            target.destination
        ));
    }
    if lines.next().map(str::trim) == Some("present") {
        return Ok(path);
    }
    upload(
        target,
        &bytes,
        &remote_binary(target, &hash),
        "755",
        "copying the binary",
    )?;
    Ok(path)
}

/// Writes `bytes` to `remote_path` on the host (created through a temporary file renamed
/// into place, so a copy cut short is never taken for the file), with `mode`.
pub fn upload(
    target: &SshTarget,
    bytes: &[u8],
    remote_path: &str,
    mode: &str,
    what: &str,
) -> Result<(), String> {
    let dir = quote(
        Path::new(remote_path)
            .parent()
            .and_then(Path::to_str)
            .unwrap_or("."),
    )?;
    let path = quote(remote_path)?;
    let tmp = quote(&format!("{remote_path}.tmp{}", std::process::id()))?;
    let mut child = command(
        target,
        &format!("mkdir -p {dir} && cat > {tmp} && chmod {mode} {tmp} && mv -f {tmp} {path}"),
    )
    .stdin(Stdio::piped())
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .map_err(|e| format!("cannot run ssh: {e}"))?;
    let wrote = child
        .stdin
        .take()
        .map(|mut stdin| stdin.write_all(bytes))
        .unwrap_or(Ok(()));
    let out = child
        .wait_with_output()
        .map_err(|e| format!("ssh {}: {e}", target.destination))?;
    if !out.status.success() {
        return Err(failure(what, target, &out));
    }
    wrote.map_err(|e| format!("{what} to {}: {e}", target.destination))
}

/// Whether the host has a file at `remote_path`.
pub fn has_file(target: &SshTarget, remote_path: &str) -> Result<bool, String> {
    let path = quote(remote_path)?;
    let out = command(
        target,
        &format!("if test -f {path}; then echo present; else echo absent; fi"),
    )
    .stdin(Stdio::null())
    .output()
    .map_err(|e| format!("cannot run ssh: {e} (install openssh-client)"))?;
    if !out.status.success() {
        return Err(failure("probe", target, &out));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim() == "present")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(remote_dir: &str) -> SshTarget {
        SshTarget {
            destination: "pi@board".into(),
            port: Some(2222),
            identity: None,
            remote_dir: remote_dir.into(),
            options: vec!["StrictHostKeyChecking=no".into()],
        }
    }

    #[test]
    fn remote_paths_are_quoted() {
        let t = target("bench dir/$(touch pwned)");
        let q = quote(&remote_binary(&t, "00ff")).unwrap();
        assert_eq!(q, "'bench dir/$(touch pwned)/flopsbench-00ff'");
        let args: Vec<String> = command(&t, &q)
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let dash = args.iter().position(|a| a == "--").unwrap();
        assert_eq!(&args[dash + 1..], ["pi@board", q.as_str()]);
        assert!(args.contains(&"BatchMode=yes".to_string()));
        assert_eq!(content_hash(b"abc"), "ba7816bf8f01cfea");
    }

    #[test]
    fn the_worker_gets_this_runs_openmp_variables_quoted() {
        assert_eq!(worker_command("'/b/f'", &[]).unwrap(), "'/b/f' worker");
        let vars = [
            ("GOMP_SPINCOUNT", "10000".to_string()),
            ("OMP_WAIT_POLICY", "passive; rm -rf ~".to_string()),
        ];
        assert_eq!(
            worker_command("'/b/f'", &vars).unwrap(),
            "env 'GOMP_SPINCOUNT=10000' 'OMP_WAIT_POLICY=passive; rm -rf ~' '/b/f' worker"
        );
    }
}
