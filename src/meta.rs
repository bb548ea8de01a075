//! What produced a run: host, OS, CPU, memory, backend versions, flopsbench version and
//! commit, the command line (`meta.json`).

use serde::{Deserialize, Serialize};
use sysinfo::System;

/// The run's metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    /// The run's id (also in every row).
    pub run_id: String,
    /// When the run started (RFC 3339, UTC).
    pub started: String,
    /// Host name.
    pub host: String,
    /// Operating system.
    pub os: String,
    /// CPU architecture.
    pub arch: String,
    /// CPU model.
    pub cpu_model: String,
    /// Logical CPUs.
    pub logical_cores: usize,
    /// Physical cores, when known.
    pub physical_cores: Option<usize>,
    /// Total memory, bytes.
    pub memory_bytes: u64,
    /// The GPUs of a run on a GPU (`0: NVIDIA H100 80GB HBM3 (driver 580.95.05)`), as
    /// nvidia-smi lists them, or why they could not be read; empty for CPU runs.
    pub gpus: Vec<String>,
    /// Backend name → version, for the backends that ran.
    pub backends: Vec<(String, String)>,
    /// flopsbench version.
    pub flopsbench_version: String,
    /// Git commit the binary was built from.
    pub git_commit: String,
    /// The global allocator (Rust's allocations: tract, candle, flopsbench itself).
    pub allocator: String,
    /// The C heap libtorch and ONNX Runtime allocate from, and how it was set
    /// ([`crate::heap`]); empty in runs written before it was recorded.
    #[serde(default)]
    pub c_heap: String,
    /// libtorch's OpenMP spin settings (`GOMP_SPINCOUNT=10000`, `default`; see
    /// [`openmp_env`]); empty in runs written before it was recorded.
    #[serde(default)]
    pub openmp: String,
    /// The sampling loop's overhead per iteration, ns (calibrated once per run).
    pub overhead_ns: f64,
    /// The command line.
    pub command_line: Vec<String>,
    /// How a remote or emulated device was reached (`ssh pi@board`, `qemu-aarch64 …`);
    /// absent for this host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    /// Whether the device was emulated (its times are not results).
    #[serde(default)]
    pub emulated: bool,
    /// The flopsbench binary that ran (on a Slurm node: the broadcast copy).
    #[serde(default)]
    pub executable: String,
    /// The Slurm job the run was part of, when it ran under Slurm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slurm: Option<SlurmJob>,
    /// The CPU's lower-precision features (see [`precision_features`]): why bf16 or int8
    /// is fast on one machine and not on another; empty in runs written before it was
    /// recorded.
    #[serde(default)]
    pub precision_features: Vec<String>,
    /// The data caches the OS reports (level, bytes of one instance, CPUs sharing one),
    /// from which `peak` sizes its bandwidth kernels and rows are placed in the hierarchy.
    #[serde(default)]
    pub caches: Vec<crate::roofs::CacheLevel>,
    /// The theoretical compute peaks where they can be derived, each with its method.
    #[serde(default)]
    pub theoretical_peaks: Vec<crate::roofs::theory::Theoretical>,
    /// Every roof this run's `peak` rows measured, each with its level and method, added
    /// as each row finishes.
    #[serde(default)]
    pub roofs: Vec<crate::roofs::Figure>,
    /// A run on a GPU: every GPU's clocks, power and temperature before the first case
    /// and after the last (nvidia-smi); absent for CPU runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gpu_readings: Vec<crate::nvidia_smi::GpuReading>,
}

impl Meta {
    /// Adds nvidia-smi's reading of the GPUs at `moment` (`start`, `end`; at `at`); the
    /// first one lists them in `gpus`, where a failed one says why.
    pub fn add_gpu_reading(&mut self, moment: &str, at: String) {
        self.record_gpu_reading(moment, crate::nvidia_smi::read(moment, at));
    }

    /// Adds `reading` (taken at `moment`), or why there is none, as
    /// [`Meta::add_gpu_reading`] does.
    pub fn record_gpu_reading(
        &mut self,
        moment: &str,
        reading: std::result::Result<crate::nvidia_smi::GpuReading, String>,
    ) {
        match reading {
            Ok(reading) => {
                if self.gpu_readings.is_empty() {
                    // Before any earlier reading's failure, which stays.
                    let names = reading
                        .gpus
                        .iter()
                        .map(|g| format!("{}: {} (driver {})", g.index, g.name, g.driver));
                    self.gpus.splice(0..0, names);
                }
                self.gpu_readings.push(reading);
            }
            Err(why) => self.gpus.push(format!("{moment}: no reading ({why})")),
        }
    }
}

/// The Slurm job a worker runs in, from the environment Slurm gives its tasks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlurmJob {
    /// `SLURM_JOB_ID`.
    pub job_id: String,
    /// `SLURM_JOB_PARTITION`.
    pub partition: String,
    /// `SLURMD_NODENAME`: the node.
    pub node: String,
    /// `SLURM_STEP_ID`: the worker's step of the job.
    #[serde(default)]
    pub step_id: String,
}

impl SlurmJob {
    /// The job this process runs in, when Slurm started it.
    pub fn from_env() -> Option<SlurmJob> {
        let var = |k: &str| std::env::var(k).unwrap_or_default();
        let job_id = var("SLURM_JOB_ID");
        (!job_id.is_empty()).then(|| SlurmJob {
            job_id,
            partition: var("SLURM_JOB_PARTITION"),
            node: var("SLURMD_NODENAME"),
            step_id: var("SLURM_STEP_ID"),
        })
    }
}

/// The global allocator of the binary (mimalloc; tract allocates every layer's output
/// on every run, so the allocator changes its timings).
pub const ALLOCATOR: &str = "mimalloc";

/// The OpenMP variables that decide whether libtorch's idle threads spin.
pub const OPENMP_VARIABLES: [&str; 2] = ["GOMP_SPINCOUNT", "OMP_WAIT_POLICY"];

/// The OpenMP spin settings of this process, as meta.json records them:
/// `GOMP_SPINCOUNT=10000`, or `default` when neither variable is set.
pub fn openmp_env() -> String {
    let set: Vec<String> = OPENMP_VARIABLES
        .iter()
        .filter_map(|v| Some(format!("{v}={}", std::env::var(v).ok()?)))
        .collect();
    if set.is_empty() {
        "default".into()
    } else {
        set.join(" ")
    }
}

/// This host's name.
pub fn host_name() -> String {
    System::host_name().unwrap_or_else(|| "unknown-host".into())
}

/// This host's CPU model.
pub fn cpu_model() -> String {
    let mut sys = System::new();
    sys.refresh_cpu_all();
    sys.cpus()
        .first()
        .map(|c| c.brand().trim().to_string())
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| "unknown CPU".into())
}

/// This host's name; under Slurm, the node's name as Slurm knows it (`SLURMD_NODENAME`).
pub fn node_name() -> String {
    std::env::var("SLURMD_NODENAME")
        .ok()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(host_name)
}

/// This host's CPU in words, e.g. `Intel(R) Xeon(R) ... (2 logical cores, x86_64)`.
pub fn cpu_summary() -> String {
    let mut sys = System::new();
    sys.refresh_cpu_all();
    format!(
        "{} ({} logical cores, {})",
        cpu_model(),
        sys.cpus().len().max(1),
        std::env::consts::ARCH
    )
}

/// Collects the metadata of a run starting now.
pub fn collect(
    run_id: &str,
    started: &str,
    backends: Vec<(String, String)>,
    overhead_ns: f64,
) -> Meta {
    let mut sys = System::new();
    sys.refresh_cpu_all();
    sys.refresh_memory();
    let slurm = SlurmJob::from_env();
    Meta {
        run_id: run_id.into(),
        started: started.into(),
        host: node_name(),
        os: System::long_os_version().unwrap_or_else(|| std::env::consts::OS.into()),
        arch: std::env::consts::ARCH.into(),
        cpu_model: cpu_model(),
        logical_cores: sys.cpus().len(),
        physical_cores: System::physical_core_count(),
        memory_bytes: sys.total_memory(),
        gpus: Vec::new(),
        backends,
        flopsbench_version: env!("CARGO_PKG_VERSION").into(),
        git_commit: env!("FLOPSBENCH_GIT_COMMIT").into(),
        allocator: ALLOCATOR.into(),
        c_heap: crate::heap::describe().into(),
        openmp: openmp_env(),
        overhead_ns,
        command_line: std::env::args().collect(),
        via: None,
        emulated: false,
        // A broadcast copy is removed once running: Linux then adds " (deleted)".
        executable: std::env::current_exe()
            .map(|p| p.display().to_string().replace(" (deleted)", ""))
            .unwrap_or_default(),
        slurm,
        precision_features: precision_features(),
        caches: crate::roofs::cache::here().to_vec(),
        theoretical_peaks: crate::roofs::theory::here(
            std::thread::available_parallelism().map_or(1, |n| n.get()),
            System::physical_core_count().unwrap_or(1),
        ),
        roofs: Vec::new(),
        gpu_readings: Vec::new(),
    }
}

/// The lower-precision features the OS reports for this CPU, of those that decide how
/// fast bf16, f16 and int8 run: x86 `avx512_bf16`, `amx_bf16`, `amx_int8`, `amx_fp16`,
/// `avx512_fp16`, `avx512_vnni`, `avx_vnni`, `f16c`; aarch64 `asimddp` (dot product),
/// `i8mm`, `bf16`, `fphp`/`asimdhp` (half precision), `sve`. Read from /proc/cpuinfo's
/// flags (x86) or Features (aarch64); empty where it cannot be read.
pub fn precision_features() -> Vec<String> {
    let text = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    features_in(&text)
}

/// The precision features of a /proc/cpuinfo text (its first processor's flags).
pub fn features_in(cpuinfo: &str) -> Vec<String> {
    const WANTED: [&str; 14] = [
        "avx512_bf16",
        "amx_bf16",
        "amx_int8",
        "amx_fp16",
        "avx512_fp16",
        "avx512_vnni",
        "avx_vnni",
        "f16c",
        "asimddp",
        "i8mm",
        "bf16",
        "fphp",
        "asimdhp",
        "sve",
    ];
    let flags = cpuinfo
        .lines()
        .find(|l| l.starts_with("flags") || l.starts_with("Features"))
        .and_then(|l| l.split_once(':'))
        .map_or("", |(_, v)| v);
    let have: Vec<&str> = flags.split_whitespace().collect();
    WANTED
        .iter()
        .filter(|w| have.contains(w))
        .map(|w| w.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::features_in;

    #[test]
    fn gpus_are_listed_from_the_first_reading_and_failures_stay() {
        let mut meta = super::collect("r", "t", Vec::new(), 0.0);
        meta.record_gpu_reading("start", Err("nvidia-smi: no answer in 20.0 s".into()));
        let line = "0, NVIDIA H200, 580.95.05, P0, 1980, 3201, 1980, 3201, 90.5, 700.00, 38, 0";
        let reading = |moment: &str| crate::nvidia_smi::GpuReading {
            moment: moment.into(),
            at: "now".into(),
            gpus: crate::nvidia_smi::parse(line).unwrap(),
        };
        meta.record_gpu_reading("end", Ok(reading("end")));
        meta.record_gpu_reading("later", Ok(reading("later")));
        assert_eq!(
            meta.gpus,
            [
                "0: NVIDIA H200 (driver 580.95.05)",
                "start: no reading (nvidia-smi: no answer in 20.0 s)"
            ]
        );
        let moments: Vec<&str> = meta
            .gpu_readings
            .iter()
            .map(|r| r.moment.as_str())
            .collect();
        assert_eq!(moments, ["end", "later"]);
        // A CPU run's meta.json has no readings at all.
        let cpu = serde_json::to_string(&super::collect("r", "t", Vec::new(), 0.0)).unwrap();
        assert!(!cpu.contains("gpu_readings"), "{cpu}");
    }

    #[test]
    fn precision_features_are_read_from_the_first_processors_flags() {
        let x86 = "processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512_bf16 amx_int8 \
                   avx512_vnni\nprocessor\t: 1\nflags\t\t: fpu\n";
        assert_eq!(features_in(x86), ["avx512_bf16", "amx_int8", "avx512_vnni"]);
        let arm = "processor\t: 0\nFeatures\t: fp asimd asimdhp asimddp i8mm bf16 sve\n";
        assert_eq!(
            features_in(arm),
            ["asimddp", "i8mm", "bf16", "asimdhp", "sve"]
        );
        assert!(features_in("no flags here").is_empty());
    }
}
