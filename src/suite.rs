//! Suite files (`operators/*.toml`): named lists of operator sweeps and networks with
//! their measurement settings, expanded to the cross product of every list (like
//! hyperfine's `-L`). Schema and units: operators/README.md. Every error names the file
//! and the line of the entry or value at fault.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::error::{Error, Result};
use crate::measure::SamplerOverrides;
use crate::spec::{OpKind, OpSweep, Ratio, Shape};
use crate::target::{Case, NetTarget};

/// A value or a list of values (`kind = "conv"` or `kind = ["conv", "dwconv"]`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum OneOrMany<T> {
    /// One value.
    One(T),
    /// A list.
    Many(Vec<T>),
}

impl<T: Clone> OneOrMany<T> {
    fn to_vec(&self) -> Vec<T> {
        match self {
            OneOrMany::One(v) => vec![v.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

/// A ratio as written: `"1/4"` or `0.25`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum RatioValue {
    /// `"1/4"`, `"0.25"`.
    Text(String),
    /// `0.25`, `1`.
    Number(f64),
}

/// The `[measure]` table: defaults for every case (command-line flags override).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Measure {
    /// Warm-up time, e.g. `"0.25s"`.
    pub warmup: Option<Spanned<String>>,
    /// Minimum sampling time.
    pub min_time: Option<Spanned<String>>,
    /// Maximum sampling time.
    pub max_time: Option<Spanned<String>>,
    /// Exact number of samples.
    pub runs: Option<usize>,
    /// Keep sampling until the 95% CI is within this fraction of the median.
    pub target_ci: Option<Spanned<f64>>,
    /// Wall time of the whole suite, shared out among its cases.
    pub budget: Option<Spanned<String>>,
    /// Measure a case's backends, and the operator kinds of one feature map, in
    /// interleaved rounds (default true).
    pub interleave: Option<bool>,
    /// Flush the caches before every timed call (default false).
    pub l2_flush: Option<bool>,
    /// Seed.
    pub seed: Option<u64>,
    /// Element types swept over every case (`["f32", "bf16", "int8"]`).
    pub dtype: Option<Spanned<OneOrMany<String>>>,
}

/// One `[[ops]]` entry: an operator sweep.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OpsEntry {
    /// Operator kinds.
    pub kind: Spanned<OneOrMany<String>>,
    /// Input shapes `CxHxW` (default: the paper's four stages).
    pub shape: Option<Spanned<OneOrMany<String>>>,
    /// PConv ratios.
    pub ratio: Option<Spanned<OneOrMany<RatioValue>>>,
    /// GConv groups.
    pub groups: Option<OneOrMany<usize>>,
    /// Kernel sizes.
    pub kernel: Option<OneOrMany<usize>>,
    /// Strides.
    pub stride: Option<OneOrMany<usize>>,
    /// Padding.
    pub padding: Option<usize>,
    /// Output channels.
    pub out_channels: Option<usize>,
    /// Stacked layers.
    pub layers: Option<usize>,
    /// Batch sizes (default: the device's paper protocol).
    pub batch: Option<OneOrMany<usize>>,
    /// Thread counts (default: the device's paper protocol).
    pub threads: Option<OneOrMany<usize>>,
}

/// One `[[nets]]` entry: zoo networks.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NetsEntry {
    /// Network names (`flopsbench list`), `all`, or model files (`.onnx` paths, relative
    /// to the suite file's folder).
    pub name: Spanned<OneOrMany<String>>,
    /// Model files' input shapes for symbolic or unknown dimensions (`NAME=1x3x224x224`).
    #[serde(default)]
    pub input_shape: Option<Spanned<OneOrMany<String>>>,
    /// Profile each network layer by layer after its timed row.
    #[serde(default)]
    pub per_layer: bool,
    /// Input resolutions (default 224).
    pub resolution: Option<OneOrMany<usize>>,
    /// Batch sizes (default: the device's paper protocol).
    pub batch: Option<OneOrMany<usize>>,
    /// Thread counts (default: the device's paper protocol).
    pub threads: Option<OneOrMany<usize>>,
}

/// A suite file as written.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SuiteFile {
    /// Short name.
    pub name: String,
    /// What it measures.
    #[serde(default)]
    pub description: String,
    /// Where the cases come from (paper table, ...).
    #[serde(default)]
    pub source: String,
    /// Measurement defaults.
    #[serde(default)]
    pub measure: Measure,
    /// Operator sweeps.
    #[serde(default)]
    pub ops: Vec<Spanned<OpsEntry>>,
    /// Networks.
    #[serde(default)]
    pub nets: Vec<Spanned<NetsEntry>>,
}

/// A parsed, expanded suite.
#[derive(Debug, Clone)]
pub struct Suite {
    /// The file it came from (or a label for embedded suites).
    pub path: PathBuf,
    /// Short name.
    pub name: String,
    /// What it measures.
    pub description: String,
    /// Every case, expanded, in file order, without duplicates.
    pub cases: Vec<Case>,
    /// Sampling settings from `[measure]`.
    pub sampler: SamplerOverrides,
    /// Seed from `[measure]`.
    pub seed: Option<u64>,
    /// Element types from `[measure]` (`--dtype` overrides them).
    pub dtypes: Option<Vec<crate::spec::Dtype>>,
}

struct Ctx<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Ctx<'_> {
    fn line(&self, span: Range<usize>) -> u64 {
        let end = span.start.min(self.text.len());
        self.text[..end].matches('\n').count() as u64 + 1
    }

    fn err(&self, span: Range<usize>, message: impl Into<String>) -> Error {
        Error::InputFile {
            path: self.path.to_path_buf(),
            line: Some(self.line(span)),
            message: message.into(),
        }
    }
}

fn duration(ctx: &Ctx<'_>, field: &str, v: &Option<Spanned<String>>) -> Result<Option<Duration>> {
    let Some(v) = v else { return Ok(None) };
    let text = v.get_ref().trim();
    let parsed = humantime::parse_duration(text).ok().or_else(|| {
        text.parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64)
    });
    parsed.map(Some).ok_or_else(|| {
        ctx.err(
            v.span(),
            format!("measure.{field} = \"{text}\" is not a duration (e.g. \"0.5s\", \"250ms\")"),
        )
    })
}

fn check_list<T: PartialEq + Copy + std::fmt::Display>(
    ctx: &Ctx<'_>,
    span: Range<usize>,
    field: &str,
    values: &[T],
    ok: impl Fn(T) -> bool,
    expect: &str,
) -> Result<()> {
    if values.is_empty() {
        return Err(ctx.err(span, format!("{field} is an empty list")));
    }
    match values.iter().find(|v| !ok(**v)) {
        Some(v) => Err(ctx.err(span, format!("{field} = {v}: {expect}"))),
        None => Ok(()),
    }
}

/// Batch × threads, each `None` when the entry leaves it to the device's protocol.
fn protocol(
    ctx: &Ctx<'_>,
    span: Range<usize>,
    batch: &Option<OneOrMany<usize>>,
    threads: &Option<OneOrMany<usize>>,
) -> Result<Vec<(Option<usize>, Option<usize>)>> {
    let b: Vec<Option<usize>> = match batch {
        Some(v) => {
            let v = v.to_vec();
            check_list(
                ctx,
                span.clone(),
                "batch",
                &v,
                |b| (1..=crate::spec::shape::MAX_BATCH).contains(&b),
                "must be ≥ 1",
            )?;
            v.into_iter().map(Some).collect()
        }
        None => vec![None],
    };
    let t: Vec<Option<usize>> = match threads {
        Some(v) => {
            let v = v.to_vec();
            check_list(
                ctx,
                span,
                "threads",
                &v,
                |t| (1..=1024).contains(&t),
                "must be in 1..=1024",
            )?;
            v.into_iter().map(Some).collect()
        }
        None => vec![None],
    };
    Ok(b.iter()
        .flat_map(|b| t.iter().map(move |t| (*b, *t)))
        .collect())
}

fn ops_cases(ctx: &Ctx<'_>, entry: &Spanned<OpsEntry>) -> Result<Vec<Case>> {
    let e = entry.get_ref();
    let mut sweep = OpSweep::default();
    for k in e.kind.get_ref().to_vec() {
        sweep.kinds.push(
            k.parse::<OpKind>()
                .map_err(|m| ctx.err(e.kind.span(), m.to_string()))?,
        );
    }
    if let Some(shapes) = &e.shape {
        for s in shapes.get_ref().to_vec() {
            sweep.shapes.push(
                s.parse::<Shape>()
                    .map_err(|m| ctx.err(shapes.span(), format!("shape \"{s}\": {m}")))?,
            );
        }
    }
    if let Some(ratios) = &e.ratio {
        for r in ratios.get_ref().to_vec() {
            let text = match &r {
                RatioValue::Text(t) => t.clone(),
                RatioValue::Number(n) => n.to_string(),
            };
            sweep.ratios.push(
                text.parse::<Ratio>()
                    .map_err(|m| ctx.err(ratios.span(), format!("ratio {text}: {m}")))?,
            );
        }
    }
    sweep.groups = e.groups.as_ref().map(OneOrMany::to_vec).unwrap_or_default();
    sweep.kernels = e.kernel.as_ref().map(OneOrMany::to_vec).unwrap_or_default();
    sweep.strides = e.stride.as_ref().map(OneOrMany::to_vec).unwrap_or_default();
    sweep.padding = e.padding;
    sweep.out_channels = e.out_channels;
    sweep.layers = e.layers;
    let ops = sweep
        .expand()
        .map_err(|m| ctx.err(entry.span(), format!("[[ops]]: {m}")))?;
    let mut out = Vec::new();
    for (batch, threads) in protocol(ctx, entry.span(), &e.batch, &e.threads)? {
        for op in &ops {
            out.push(
                Case::op(*op, batch, threads).map_err(|m| ctx.err(entry.span(), m.to_string()))?,
            );
        }
    }
    Ok(out)
}

/// The network names of a `[[nets]]` entry, model-file paths taken from the suite file's
/// folder (absolute paths as written).
fn net_names(ctx: &Ctx<'_>, names: &[String]) -> Vec<String> {
    let dir = ctx.path.parent().unwrap_or(Path::new(""));
    names
        .iter()
        .map(|n| {
            let relative = dir.join(n);
            let looks_like_file =
                n.to_ascii_lowercase().ends_with(".onnx") || n.contains('/') || relative.exists();
            if crate::zoo::NAMES.contains(&n.as_str()) || n == "all" || !looks_like_file {
                n.clone()
            } else {
                relative.to_string_lossy().into_owned()
            }
        })
        .collect()
}

fn nets_cases(ctx: &Ctx<'_>, entry: &Spanned<NetsEntry>) -> Result<Vec<Case>> {
    let e = entry.get_ref();
    let nets = NetTarget::resolve(&net_names(ctx, &e.name.get_ref().to_vec()))
        .map_err(|m| ctx.err(e.name.span(), m.to_string()))?;
    let shapes = match &e.input_shape {
        Some(s) => s
            .get_ref()
            .to_vec()
            .iter()
            .map(|v| v.parse::<crate::import::InputShape>())
            .collect::<Result<Vec<_>>>()
            .map_err(|m| ctx.err(s.span(), format!("input_shape: {m}")))?,
        None => Vec::new(),
    };
    if let Some(s) = &e.input_shape
        && !nets.iter().any(NetTarget::is_file)
    {
        return Err(ctx.err(
            s.span(),
            "input_shape applies to ONNX model files; this entry names none",
        ));
    }
    if e.resolution.is_some() && nets.iter().all(NetTarget::is_file) {
        return Err(ctx.err(
            entry.span(),
            "resolution applies to zoo networks; a model file's input shape comes from the file (set it with input_shape)",
        ));
    }
    let resolutions = e.resolution.as_ref().map_or(vec![224], OneOrMany::to_vec);
    let mut out = Vec::new();
    for (batch, threads) in protocol(ctx, entry.span(), &e.batch, &e.threads)? {
        for net in &nets {
            // A model file has its own input shape: one case, whatever the resolutions.
            let rs = if net.is_file() {
                &resolutions[..1]
            } else {
                &resolutions[..]
            };
            for &r in rs {
                let mut case = net.case(r, batch, threads, &shapes).map_err(|m| {
                    let at = if net.is_file() {
                        String::new()
                    } else {
                        format!(" at resolution {r}")
                    };
                    ctx.err(entry.span(), format!("{}{at}: {m}", net.name()))
                })?;
                case.per_layer = e.per_layer;
                out.push(case);
            }
        }
    }
    Ok(out)
}

/// Parses and expands a suite from its text; `path` names it in errors.
pub fn parse(path: &Path, text: &str) -> Result<Suite> {
    let ctx = Ctx { path, text };
    let file: SuiteFile = toml::from_str(text).map_err(|e| Error::InputFile {
        path: path.to_path_buf(),
        line: e.span().map(|s| ctx.line(s)),
        message: e.message().trim().to_string(),
    })?;
    if file.ops.is_empty() && file.nets.is_empty() {
        return Err(ctx.err(0..0, "no cases: add an [[ops]] or a [[nets]] entry"));
    }
    let mut cases: Vec<Case> = Vec::new();
    for entry in &file.ops {
        cases.extend(ops_cases(&ctx, entry)?);
    }
    for entry in &file.nets {
        cases.extend(nets_cases(&ctx, entry)?);
    }
    let mut seen = std::collections::HashSet::new();
    cases.retain(|c| seen.insert(c.id.clone()));
    let m = &file.measure;
    Ok(Suite {
        path: path.to_path_buf(),
        name: file.name.clone(),
        description: file.description.clone(),
        cases,
        sampler: SamplerOverrides {
            warmup: duration(&ctx, "warmup", &m.warmup)?,
            min_time: duration(&ctx, "min_time", &m.min_time)?,
            max_time: duration(&ctx, "max_time", &m.max_time)?,
            runs: m.runs,
            target_ci: match &m.target_ci {
                Some(t) if !(*t.get_ref() > 0.0 && *t.get_ref() < 1.0) => {
                    return Err(ctx.err(
                        t.span(),
                        format!(
                            "measure.target_ci = {}: must be in (0, 1), e.g. 0.02",
                            t.get_ref()
                        ),
                    ));
                }
                Some(t) => Some(*t.get_ref()),
                None => None,
            },
            budget: duration(&ctx, "budget", &m.budget)?,
            interleave: m.interleave,
            l2_flush: m.l2_flush,
        },
        seed: m.seed,
        dtypes: match &m.dtype {
            Some(d) => Some(
                d.get_ref()
                    .to_vec()
                    .iter()
                    .map(|v| v.parse::<crate::spec::Dtype>())
                    .collect::<std::result::Result<Vec<_>, String>>()
                    .map_err(|why| ctx.err(d.span(), format!("measure.dtype: {why}")))?,
            ),
            None => None,
        },
    })
}

/// Reads and parses the suite at `path`.
pub fn load(path: &Path) -> Result<Suite> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::InputFile {
        path: path.to_path_buf(),
        line: None,
        message: format!("cannot read the suite: {e}"),
    })?;
    parse(path, &text)
}

/// The suites shipped in `operators/`, embedded so `flopsbench paper` runs anywhere.
pub const EMBEDDED: [(&str, &str); 6] = [
    (
        "paper-table1",
        include_str!("../operators/paper-table1.toml"),
    ),
    (
        "paper-table3",
        include_str!("../operators/paper-table3.toml"),
    ),
    ("ratio-sweep", include_str!("../operators/ratio-sweep.toml")),
    ("batch-sweep", include_str!("../operators/batch-sweep.toml")),
    (
        "threads-sweep",
        include_str!("../operators/threads-sweep.toml"),
    ),
    (
        "kernel-sweep",
        include_str!("../operators/kernel-sweep.toml"),
    ),
];

/// The embedded suite called `name`.
pub fn embedded(name: &str) -> Result<Suite> {
    let (_, text) = EMBEDDED
        .iter()
        .find(|(n, _)| *n == name)
        .ok_or_else(|| Error::unknown("suite", name, &EMBEDDED.map(|(n, _)| n)))?;
    parse(Path::new(&format!("operators/{name}.toml")), text)
}
