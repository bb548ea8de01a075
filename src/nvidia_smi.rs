//! The GPUs' state as `nvidia-smi` reads it: clocks, power and temperature, recorded in
//! `meta.json` before and after a run on a GPU, so that a throttled or power-capped card
//! shows in the run's own files (a warm card at its power limit clocks down: the same
//! model is slower at the end of a run than at its start).

use serde::{Deserialize, Serialize};

/// The fields asked for, in order (`nvidia-smi --help-query-gpu` names them).
const QUERY: &str = "index,name,driver_version,pstate,clocks.sm,clocks.mem,clocks.max.sm,\
                     clocks.max.mem,power.draw,power.limit,temperature.gpu,utilization.gpu";

/// One GPU at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GpuState {
    /// The GPU's index (`cuda:N` where no CUDA_VISIBLE_DEVICES reorders them).
    pub index: u32,
    /// Its model.
    pub name: String,
    /// The driver's version.
    pub driver: String,
    /// Performance state (`P0`: maximum performance).
    pub pstate: String,
    /// SM clock, MHz.
    pub sm_clock_mhz: Option<f64>,
    /// Memory clock, MHz.
    pub mem_clock_mhz: Option<f64>,
    /// Highest SM clock, MHz.
    pub max_sm_clock_mhz: Option<f64>,
    /// Highest memory clock, MHz.
    pub max_mem_clock_mhz: Option<f64>,
    /// Power drawn, W.
    pub power_w: Option<f64>,
    /// Power limit, W.
    pub power_limit_w: Option<f64>,
    /// Temperature, °C.
    pub temperature_c: Option<f64>,
    /// Utilisation over the last sample period, %.
    pub utilization_pct: Option<f64>,
}

/// Every GPU at one moment of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GpuReading {
    /// `start` (before the first case) or `end` (after the last).
    pub moment: String,
    /// When (RFC 3339, UTC).
    pub at: String,
    /// The GPUs.
    pub gpus: Vec<GpuState>,
}

/// How long nvidia-smi may take (a stuck driver can hang it).
const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// The GPUs now, labelled `moment`; why not where nvidia-smi cannot say.
pub fn read(moment: &str, at: String) -> Result<GpuReading, String> {
    let mut command = std::process::Command::new("nvidia-smi");
    command.args([
        &format!("--query-gpu={QUERY}"),
        "--format=csv,noheader,nounits",
    ]);
    let out = run_with_timeout(&mut command, TIMEOUT)?;
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr);
        let why = if why.trim().is_empty() {
            String::from_utf8_lossy(&out.stdout)
        } else {
            why
        };
        return Err(format!("nvidia-smi: {}", why.trim()));
    }
    Ok(GpuReading {
        moment: moment.into(),
        at,
        gpus: parse(&String::from_utf8_lossy(&out.stdout))?,
    })
}

/// Runs `command` (nvidia-smi) to its end, or kills it after `timeout`.
fn run_with_timeout(
    command: &mut std::process::Command,
    timeout: std::time::Duration,
) -> Result<std::process::Output, String> {
    use std::process::Stdio;
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("nvidia-smi: {e}"))?;
    let start = std::time::Instant::now();
    // Its output is a few lines: the pipes never fill while it runs.
    while child
        .try_wait()
        .map_err(|e| format!("nvidia-smi: {e}"))?
        .is_none()
    {
        if start.elapsed() > timeout {
            child.kill().ok();
            child.wait().ok();
            return Err(format!(
                "nvidia-smi: no answer in {:.1} s",
                timeout.as_secs_f64()
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child
        .wait_with_output()
        .map_err(|e| format!("nvidia-smi: {e}"))
}

/// The GPUs of `nvidia-smi --query-gpu=<QUERY> --format=csv,noheader,nounits` output.
pub fn parse(text: &str) -> Result<Vec<GpuState>, String> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let f: Vec<&str> = line.split(',').map(str::trim).collect();
            if f.len() != QUERY.split(',').count() {
                return Err(format!("nvidia-smi printed an unexpected line: {line}"));
            }
            // `[N/A]`, `[Not Supported]`: the card does not say.
            let num = |i: usize| f[i].parse::<f64>().ok();
            Ok(GpuState {
                index: f[0]
                    .parse()
                    .map_err(|_| format!("nvidia-smi printed no GPU index: {line}"))?,
                name: f[1].into(),
                driver: f[2].into(),
                pstate: f[3].into(),
                sm_clock_mhz: num(4),
                mem_clock_mhz: num(5),
                max_sm_clock_mhz: num(6),
                max_mem_clock_mhz: num(7),
                power_w: num(8),
                power_limit_w: num(9),
                temperature_c: num(10),
                utilization_pct: num(11),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nvidia_smi_lines_become_gpu_states() {
        // Two cards as nvidia-smi prints them with --format=csv,noheader,nounits; the
        // second does not report its power draw.
        let text = "0, NVIDIA H100 80GB HBM3, 580.95.05, P0, 1980, 2619, 1980, 2619, 121.43, \
                    700.00, 41, 0\n1, NVIDIA H100 80GB HBM3, 580.95.05, P8, 345, 2619, 1980, \
                    2619, [N/A], 700.00, 33, 0\n";
        let gpus = parse(text).unwrap();
        assert_eq!(gpus.len(), 2);
        assert_eq!(gpus[0].name, "NVIDIA H100 80GB HBM3");
        assert_eq!(gpus[0].pstate, "P0");
        assert_eq!(gpus[0].sm_clock_mhz, Some(1980.0));
        assert_eq!(gpus[0].power_w, Some(121.43));
        assert_eq!(gpus[0].power_limit_w, Some(700.0));
        assert_eq!(gpus[1].index, 1);
        assert_eq!(gpus[1].power_w, None);
        assert_eq!(gpus[1].temperature_c, Some(33.0));
        assert!(
            parse("0, too, few")
                .unwrap_err()
                .contains("unexpected line")
        );
    }

    #[test]
    fn a_hung_command_is_killed_at_its_timeout() {
        let started = std::time::Instant::now();
        let mut sleep = std::process::Command::new("sleep");
        sleep.arg("30");
        let why = run_with_timeout(&mut sleep, std::time::Duration::from_millis(200)).unwrap_err();
        assert!(why.contains("no answer in 0.2 s"), "{why}");
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
        // One that ends in time gives its output and status.
        let mut quick = std::process::Command::new("sh");
        quick.args(["-c", "echo 0, x; exit 3"]);
        let out = run_with_timeout(&mut quick, std::time::Duration::from_secs(10)).unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!((out.status.code(), stdout.trim()), (Some(3), "0, x"));
    }

    #[test]
    fn a_reading_lists_the_gpus_or_says_why_not() {
        match read("start", "now".into()) {
            // A GPU machine: every GPU, each with a name.
            Ok(r) => {
                assert_eq!((r.moment.as_str(), r.at.as_str()), ("start", "now"));
                assert!(!r.gpus.is_empty() && r.gpus.iter().all(|g| !g.name.is_empty()));
            }
            // Here: nvidia-smi is not installed, and the reason names it.
            Err(why) => assert!(why.starts_with("nvidia-smi: "), "{why}"),
        }
    }
}
