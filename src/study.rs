//! `flopsbench paper`: the whole study in one command — the embedded Table-1 and Table-3
//! suites on the chosen devices and backends, `peak` for the roofline, then the report, then the headline numbers
//! beside the paper's in the terminal.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::backend::Selection;
use crate::bench::Experiment;
use crate::device::DeviceSpec;
use crate::error::Result;
use crate::measure::{SamplerConfig, SamplerOverrides};
use crate::record::{Record, Status};
use crate::report::select::is_table1;
use crate::report::tables::paper_ratios;
use crate::report::{Column, ReportConfig, columns};
use crate::run::RunOptions;
use crate::target::Target;

/// The configuration of `flopsbench paper`.
#[derive(Debug, Clone, PartialEq)]
pub struct PaperConfig {
    /// Devices.
    pub devices: Vec<DeviceSpec>,
    /// Backends.
    pub backends: Selection,
    /// 0.1 s of samples per case instead of the suites' settings.
    pub quick: bool,
    /// Where named devices are defined.
    pub fleet: crate::fleet::FleetOptions,
    /// Folder for both runs and the report.
    pub out: Option<PathBuf>,
    /// No per-case lines.
    pub quiet: bool,
    /// Element types: the whole study at each (`--dtype f32,bf16,int8`).
    pub dtypes: Vec<crate::spec::Dtype>,
}

/// What a finished study produced.
#[derive(Debug, Clone)]
pub struct Study {
    /// Every row of both runs.
    pub records: Vec<Record>,
    /// The study's folder.
    pub dir: PathBuf,
    /// The terminal summary.
    pub summary: String,
}

/// The sampler of a suite of the study at `dtypes` element types: the suite's (its budget
/// once per dtype), or `--quick`'s.
fn sampler(suite: &crate::suite::Suite, quick: bool, dtypes: usize) -> SamplerConfig {
    if quick {
        return SamplerOverrides {
            warmup: Some(Duration::from_millis(50)),
            min_time: Some(Duration::from_millis(100)),
            max_time: suite.sampler.max_time,
            ..SamplerOverrides::default()
        }
        .resolve();
    }
    let mut sampler = suite.sampler.resolve();
    sampler.budget = sampler.budget.map(|b| b * dtypes.max(1) as u32);
    sampler
}

/// The help of `paper --quick`, with the sampling times of the embedded suites.
pub fn quick_help() -> String {
    let own = |name: &str| {
        let Ok(suite) = crate::suite::embedded(name) else {
            return "its own".to_string();
        };
        let s = suite.sampler;
        let target = s.target_ci.map_or(String::new(), |t| {
            format!("±{}% ", (t * 1000.0).round() / 10.0)
        });
        let budget = s
            .budget
            .map_or(String::new(), |b| format!("within {} s, ", b.as_secs_f64()));
        let min = s
            .min_time
            .map_or("its default".into(), |d| format!("{} s", d.as_secs_f64()));
        format!("{target}{budget}at least {min} per case")
    };
    format!(
        "Trade precision for time: 0.1 s of samples per case (0.05 s warm-up, no CI target, \
         no budget) instead of the suites' own (Table 1: {}; Table 3: {}); confidence \
         intervals get wider, and the preparation, checks and 10-sample minimum of the slow \
         cases still take their time",
        own("paper-table1"),
        own("paper-table3")
    )
}

fn summary(records: &[Record], dir: &std::path::Path, elapsed: Duration) -> String {
    let rows: Vec<&Record> = records
        .iter()
        .filter(|r| r.status == Status::Ok && is_table1(r))
        .collect();
    let paper = paper_ratios();
    let paper_avg = |kind: &str| {
        let t = crate::paper::table1();
        let v: Vec<f64> = t
            .iter()
            .filter(|r| r.kind == kind)
            .map(|r| r.cpu_gflops_per_s)
            .collect();
        v.iter().sum::<f64>() / v.len().max(1) as f64
    };
    let measured: Vec<&Record> = records
        .iter()
        .filter(|r| r.status == Status::Ok && r.kind != crate::spec::CaseKind::Peak)
        .collect();
    let flagged = measured
        .iter()
        .filter(|r| r.ci_target_met == Some(false))
        .count();
    let mut out = if flagged > 0 {
        format!(
            "\n{flagged} of {} rows reached their time cap before their 95% CI met the suite's \
             target (marked † in the report)\n",
            measured.len()
        )
    } else {
        String::new()
    };
    out += &format!(
        "\nTable 1, average achieved GFLOPS (multiply-adds/s) over the four feature maps, \
         finished in {:.0} s:\n",
        elapsed.as_secs_f64()
    );
    out += &format!(
        "  {:<34} {:>8} {:>8} {:>8} {:>8} {:>14} {:>10}\n",
        "column", "Conv", "GConv", "DWConv", "PConv", "PConv/DWConv", "paper"
    );
    for c in columns(&rows) {
        let avg = |kind: &str| {
            let v: Vec<f64> = rows
                .iter()
                .filter(|r| r.kind.as_str() == kind && Column::of(r) == c)
                .filter_map(|r| r.gmacs_per_s)
                .collect();
            (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
        };
        let cell = |v: Option<f64>| v.map_or("–".into(), |v| format!("{v:.2}"));
        let ratio = match (avg("pconv"), avg("dwconv")) {
            (Some(p), Some(d)) => format!("{:.1}×", p / d),
            _ => "–".into(),
        };
        let device = c.paper_device();
        out += &format!(
            "  {:<34} {:>8} {:>8} {:>8} {:>8} {:>14} {:>10}\n",
            c.to_string(),
            cell(avg("conv")),
            cell(avg("gconv")),
            cell(avg("dwconv")),
            cell(avg("pconv")),
            ratio,
            paper
                .get(device)
                .map_or("–".into(), |r| format!("{r:.1}× {device}"))
        );
    }
    out += &format!(
        "  {:<34} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>14} {:>8}\n",
        "paper CPU (i9-9900X, PyTorch)",
        paper_avg("conv"),
        paper_avg("gconv"),
        paper_avg("dwconv"),
        paper_avg("pconv"),
        format!("{:.1}×", paper.get("CPU").copied().unwrap_or(0.0)),
        ""
    );
    let report = dir.join("report");
    out += &format!(
        "\nreport: {}\n        {}\n",
        report.join("report.html").display(),
        report.join("report.md").display()
    );
    out
}

/// A measured run of the study: `target` on the study's backends and dtypes, the paper's
/// protocol per device (batch, threads), BN folded.
fn experiment(
    config: &PaperConfig,
    target: Target,
    sampler: SamplerConfig,
    seed: u64,
) -> Experiment {
    Experiment {
        backends: config.backends.clone(),
        dtypes: config.dtypes.clone(),
        sampler,
        seed,
        ..Experiment::new(target)
    }
}

/// How each of the study's runs runs: on the study's devices, into `out`.
fn options(config: &PaperConfig, out: PathBuf) -> RunOptions {
    RunOptions {
        devices: config.devices.clone(),
        out: Some(out),
        quiet: config.quiet,
        progress: true,
        fleet: config.fleet.clone(),
        ..RunOptions::default()
    }
}

/// Runs the study; the summary is in the result.
pub fn run(config: &PaperConfig, log: &mut (dyn Write + Send)) -> Result<Study> {
    let started = Instant::now();
    // Every device must resolve (devices.toml), and some selected backend must run on
    // each of this host's devices, before anything is written.
    let places = crate::fleet::place(&config.devices, &config.fleet)?;
    let local: Vec<DeviceSpec> = places
        .iter()
        .filter_map(|p| match p {
            crate::fleet::Place::Local(d) => Some(d.clone()),
            crate::fleet::Place::Remote(_) => None,
        })
        .collect();
    if !local.is_empty() {
        let any = experiment(config, Target::Peak, SamplerConfig::default(), 0);
        crate::bench::plan(&any, &local, &mut std::io::sink())?;
    }
    // A folder this study creates is removed again if nothing could run (exit 2 leaves
    // nothing behind, e.g. a named device without a worker binary).
    let fresh = config.out.as_ref().is_none_or(|o| !o.exists());
    let dir = match &config.out {
        Some(out) => out.clone(),
        None => crate::results::new_default_dir(&format!(
            "paper-{}",
            crate::bench::stamp(&crate::bench::now())
        ))?,
    };
    crate::results::prepare_dir(&dir)?;
    let mut records = Vec::new();
    let mut inputs = Vec::new();
    for (name, sub) in [("paper-table1", "table1"), ("paper-table3", "table3")] {
        let suite = crate::suite::embedded(name)?;
        if let Some(why) = crate::bench::refused_at(&suite.cases, &config.dtypes) {
            // No case of this suite can take the study's dtypes.
            if !config.quiet {
                writeln!(log, "== {name}: nothing runs at these dtypes ({why})").ok();
            }
            continue;
        }
        let run = experiment(
            config,
            Target::Cases(suite.cases.clone()),
            sampler(&suite, config.quick, config.dtypes.len()),
            suite.seed.unwrap_or(0),
        );
        if !config.quiet {
            writeln!(
                log,
                "== {name}: {} ({} cases)",
                suite.description,
                suite.cases.len()
            )
            .ok();
        }
        let outcome = match crate::run::run(&run, &options(config, dir.join(sub)), log) {
            Ok(outcome) => outcome,
            Err(e) => {
                if fresh && records.is_empty() {
                    std::fs::remove_dir_all(&dir).ok();
                    if config.out.is_none() {
                        // reports/ too, when this left it empty (remove_dir keeps others').
                        dir.parent().map(std::fs::remove_dir);
                    }
                }
                return Err(e);
            }
        };
        records.extend(outcome.records);
        inputs.push(outcome.dir);
    }
    // The device's ceilings, so the report's roofline has its roof.
    let peak = experiment(
        config,
        Target::Peak,
        SamplerConfig {
            warmup: Duration::from_millis(if config.quick { 50 } else { 100 }),
            min_time: Duration::from_millis(if config.quick { 100 } else { 300 }),
            ..SamplerConfig::default()
        },
        0,
    );
    if !config.quiet {
        writeln!(log, "== peak: the device's GEMM and bandwidth ceilings").ok();
    }
    let outcome = crate::run::run(&peak, &options(config, dir.join("peak")), log)?;
    records.extend(outcome.records);
    inputs.push(outcome.dir);
    crate::report::run(&ReportConfig {
        inputs,
        out: dir.join("report"),
        formats: Vec::new(),
        include_emulated: false,
    })?;
    let summary = summary(&records, &dir, started.elapsed());
    Ok(Study {
        records,
        dir,
        summary,
    })
}
