//! `peak`'s micro-kernels in the engine: on this host's CPU, after the backends' peak
//! rows, the FMA chain at each dtype and the read-write kernel at each memory level, on
//! each thread count of the peak cases; checked (their closed forms) before they are
//! timed, written as rows of the backend `kernel`. And every row's place in the memory
//! hierarchy: its working set and the smallest level of this host that holds it.

use std::time::Duration;

use crate::device::DeviceSpec;
use crate::error::Result;
use crate::measure::{SamplerConfig, measure};
use crate::record::{Record, RowKey, Status};
use crate::roofs::{Kernel, KernelCase, KernelRun, cache};
use crate::spec::{CaseKind, Dtype, NetBuilder, Shape};
use crate::target::{Case, Graph};

use super::{Engine, RowBase, blank_record, now};

/// The `backend` of the micro-kernels' rows.
pub const KERNEL_BACKEND: &str = "kernel";

/// One micro-kernel row to produce: the kernel, or the one this CPU lacks and why.
pub(super) struct KernelJob {
    dtype: Dtype,
    case: std::result::Result<KernelCase, (String, String, usize, String)>,
}

/// Whether `device` is the CPU this process runs on.
fn is_this_cpu(device: &DeviceSpec) -> bool {
    *device == DeviceSpec::Cpu || (*device == DeviceSpec::Arm && cfg!(target_arch = "aarch64"))
}

/// The micro-kernel rows of a run of `cases` at `dtypes` on `device`: none unless it
/// measures `peak` on this CPU; the FMA chain per dtype and thread count of the peak
/// cases, the bandwidths once (at the first dtype: bytes are bytes).
pub(super) fn jobs(dtypes: &[Dtype], cases: &[Case], device: &DeviceSpec) -> Vec<KernelJob> {
    let mut threads: Vec<usize> = cases
        .iter()
        .filter(|c| c.kind == CaseKind::Peak)
        .filter_map(|c| c.threads)
        .collect();
    threads.sort_unstable();
    threads.dedup();
    if threads.is_empty() || !is_this_cpu(device) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (i, dtype) in dtypes.iter().enumerate() {
        for t in &threads {
            out.push(KernelJob {
                dtype: *dtype,
                case: KernelCase::compute(*dtype, *t)
                    .map_err(|why| (format!("peak-fma-t{t}"), "fma".into(), *t, why)),
            });
            if i == 0 {
                out.extend(
                    KernelCase::bandwidth(cache::here(), *t)
                        .into_iter()
                        .map(|k| KernelJob {
                            dtype: *dtype,
                            case: Ok(k),
                        }),
                );
            }
        }
    }
    out
}

/// The micro-kernel rows ([`jobs`]) of each device of `plan`.
pub(super) fn per_device(
    plan: &super::Plan<'_>,
    dtypes: &[Dtype],
    cases: &[Case],
) -> Vec<Vec<KernelJob>> {
    plan.iter()
        .map(|(device, _)| jobs(dtypes, cases, device))
        .collect()
}

/// The sampler of a micro-kernel, whatever the run's `--min-time`, `--max-time` and
/// `--runs`: a fixed window (the FMA chain at least 1 s, at most 2 s; a bandwidth pass at
/// least 0.5 s, at most 1 s; warm-up at most 50 ms). The roof is the best sample, and a
/// longer window is likelier to hold one where the machine was undisturbed.
fn sampler_of(s: &SamplerConfig, kernel: &Kernel) -> SamplerConfig {
    let (min_time, max_time) = match kernel {
        Kernel::Fma(_) => (Duration::from_secs(1), Duration::from_secs(2)),
        Kernel::Bandwidth { .. } => (Duration::from_millis(500), Duration::from_secs(1)),
    };
    SamplerConfig {
        warmup: s.warmup.min(Duration::from_millis(50)),
        min_time,
        max_time,
        runs: None,
        target_ci: None,
        share: None,
        budget: None,
        ..*s
    }
}

/// Sets `record`'s working set and the level of this host that holds it.
pub(super) fn place(record: &mut Record, working_set: Option<u64>) {
    record.working_set_bytes = working_set;
    if let Some(w) = working_set.filter(|_| !cache::here().is_empty()) {
        match cache::level_of(cache::here(), w, record.threads) {
            Some((level, bytes)) => (record.level, record.level_bytes) = (level, Some(bytes)),
            None => record.level = cache::DRAM.into(),
        }
    }
}

impl Engine<'_> {
    /// What a row of `backend` (name, version) on `device` shares with the run's others.
    pub(super) fn row_base(
        &self,
        device: &DeviceSpec,
        (backend, version): (&str, String),
        batch: usize,
        threads: usize,
    ) -> RowBase {
        RowBase {
            run_id: self.context.run_id.clone(),
            host: self.host.clone(),
            device: device.clone(),
            device_model: self.device_model.clone(),
            arch: std::env::consts::ARCH.to_string(),
            backend: backend.into(),
            backend_version: version,
            batch,
            threads,
            overhead_ns: self.context.overhead_ns,
        }
    }

    /// Measures (or keeps, when resumed) the micro-kernel rows of `jobs` on `device`.
    pub(super) fn kernels(&mut self, jobs: &[KernelJob], device: &DeviceSpec) -> Result<()> {
        for job in jobs {
            let (id, name, threads) = match &job.case {
                Ok(k) => (k.id.clone(), k.name.clone(), k.threads),
                Err((id, name, t, _)) => (id.clone(), name.clone(), *t),
            };
            let key = RowKey {
                case: id.clone(),
                device: device.clone(),
                backend: KERNEL_BACKEND.into(),
                dtype: job.dtype,
                batch: 1,
                threads,
            };
            if let Some(kept) = self.context.done.iter().find(|r| RowKey::of(r) == key) {
                let kept = self.keep(kept);
                self.records.push(kept);
                continue;
            }
            let mut record = self.kernel_record(&id, &name, threads, job.dtype, device);
            self.reporter.started(&format!(
                "{id} · {KERNEL_BACKEND} · {device} · {}",
                job.dtype
            ));
            let samples = match &job.case {
                Ok(k) => self.measure_kernel(k, &mut record),
                Err((.., why)) => {
                    record.status = Status::Skipped;
                    record.error = why.clone();
                    Vec::new()
                }
            };
            record.timestamp = now();
            let record = self.write((record, samples, None, None))?;
            self.records.push(record);
        }
        Ok(())
    }

    /// A micro-kernel's row before it is measured.
    fn kernel_record(
        &self,
        id: &str,
        name: &str,
        threads: usize,
        dtype: Dtype,
        device: &DeviceSpec,
    ) -> Record {
        let case = Case {
            id: id.into(),
            kind: CaseKind::Peak,
            name: name.into(),
            graph: Graph::Spec(NetBuilder::new(name, Shape::new(1, 1, 1), "peak").finish()),
            op: None,
            resolution: None,
            threads: Some(threads),
            batch: Some(1),
            per_layer: false,
        };
        blank_record(
            &self.experiment.at(dtype),
            &case,
            &self.row_base(
                device,
                (KERNEL_BACKEND, env!("CARGO_PKG_VERSION").into()),
                1,
                threads,
            ),
            None,
        )
    }

    /// Prepares, checks and times `kernel` into `record`; its samples (none when the
    /// check failed: an error row).
    fn measure_kernel(&mut self, kernel: &KernelCase, record: &mut Record) -> Vec<f64> {
        let started = std::time::Instant::now();
        let mut run = KernelRun::new(kernel);
        record.prepare_ms = Some(started.elapsed().as_secs_f64() * 1e3);
        record.detail = kernel.describe();
        record.computed = record.dtype.to_string();
        if kernel.working_set() > 0 {
            place(record, Some(kernel.working_set()));
        }
        let cold = std::time::Instant::now();
        let checked = run.checked_call();
        record.cold_ms = Some(cold.elapsed().as_secs_f64() * 1e3);
        record.macs = run.macs();
        record.flops = 2 * run.macs();
        record.mem_bytes = run.bytes();
        let measured = checked.map_err(crate::error::Error::Usage).and_then(|()| {
            measure(
                &sampler_of(&self.experiment.sampler, &kernel.kernel),
                self.experiment.seed,
                &mut || {
                    run.call();
                    Ok(())
                },
            )
        });
        match measured {
            Ok(m) => {
                super::check::fill_timing(record, &m, self.experiment.seed);
                record.max_abs_err = Some(0.0);
                record.reference = "closed form".into();
                m.samples_ms
            }
            Err(e) => {
                record.status = Status::Error;
                record.error = e.to_string();
                Vec::new()
            }
        }
    }
}
