//! Which rows of one dtype run and which are skipped: a backend that does not compute in
//! the dtype ([`Backend::supports`]) skips every case, a case the dtype cannot take (int8
//! of a graph without convolutions, a model file at another precision) is skipped on every
//! backend, and a backend may skip the cases it cannot run at the dtype
//! ([`Backend::refuses_case`]: tch at int8 runs peak's GEMM only). Each
//! skipped pair is a row that says why, never a silent gap.

use crate::backend::Backend;
use crate::device::DeviceSpec;
use crate::spec::Dtype;
use crate::target::Case;

/// The rows of one dtype on one device: what runs, and what is skipped with why.
pub(super) struct Split<'c, 'b> {
    /// The rows that run: consecutive cases that the same backends run, with those
    /// backends (one entry unless a backend runs only some cases at the dtype).
    pub(super) runs: Vec<(Vec<Case>, Vec<&'b dyn Backend>)>,
    /// (case, backend, why) of every skipped row, case-major.
    pub(super) skipped: Vec<(&'c Case, &'b dyn Backend, String)>,
}

/// Where and how rows are split: the dtype, the device, and whether each case runs at its
/// own precision only (no `--dtype` given: a case at another one has no row at all).
#[derive(Debug, Clone, Copy)]
pub struct At<'d> {
    /// The dtype.
    pub dtype: Dtype,
    /// The device.
    pub device: &'d DeviceSpec,
    /// Whether each case runs at its own precision only.
    pub own_only: bool,
}

impl At<'_> {
    /// Whether `case` has rows at this dtype at all.
    fn asked(&self, case: &Case) -> bool {
        !self.own_only || case.own_dtype() == self.dtype
    }
}

/// Why `backend` cannot run `case` at `at` (`refused`: why no backend can), if it cannot.
fn why_not(
    case: &Case,
    backend: &dyn Backend,
    at: At<'_>,
    refused: &Option<String>,
) -> Option<String> {
    match (refused, backend.supports(at.dtype)) {
        (_, Err(why)) => Some(why),
        (Some(why), Ok(())) => Some(why.clone()),
        (None, Ok(())) => backend.refuses_case(case, at.device, at.dtype),
    }
}

/// Splits `cases` × `backends` at `at` into rows to run and rows to skip.
pub(super) fn split<'c, 'b>(
    at: At<'_>,
    cases: &'c [Case],
    backends: &[&'b dyn Backend],
) -> Split<'c, 'b> {
    let mut out = Split {
        runs: Vec::new(),
        skipped: Vec::new(),
    };
    for case in cases.iter().filter(|c| at.asked(c)) {
        let refused = case_refuses(case, at.dtype);
        let mut runs_on: Vec<&'b dyn Backend> = Vec::new();
        for backend in backends {
            match why_not(case, *backend, at, &refused) {
                Some(why) => out.skipped.push((case, *backend, why)),
                None => runs_on.push(*backend),
            }
        }
        if runs_on.is_empty() {
            continue;
        }
        let names = |bs: &[&dyn Backend]| bs.iter().map(|b| b.name()).collect::<Vec<_>>();
        match out.runs.last_mut() {
            Some((cases, bs)) if names(bs) == names(&runs_on) => cases.push(case.clone()),
            _ => out.runs.push((vec![case.clone()], runs_on)),
        }
    }
    out
}

/// Per experiment of `at` (one dtype each) and device of `plan`: the rows that run and the
/// rows skipped.
pub(super) fn splits<'c, 'b>(
    at: &[crate::bench::Experiment],
    own_only: bool,
    cases: &'c [Case],
    plan: &crate::bench::Plan<'b>,
) -> Vec<Vec<Split<'c, 'b>>> {
    at.iter()
        .map(|e| {
            plan.iter()
                .map(|(device, backends)| {
                    let at = At {
                        dtype: e.dtype(),
                        device,
                        own_only,
                    };
                    split(at, cases, backends)
                })
                .collect()
        })
        .collect()
}

/// How many rows `splits` make, run or skipped.
pub(super) fn rows(splits: &[Vec<Split<'_, '_>>]) -> usize {
    splits
        .iter()
        .flatten()
        .map(|s| {
            s.skipped.len()
                + s.runs
                    .iter()
                    .map(|(cases, backends)| cases.len() * backends.len())
                    .sum::<usize>()
        })
        .sum()
}

/// Why `case` cannot run at `dtype` on any backend, if it cannot: a model file runs as
/// given, in its own precision only; an operator stack or network at int8 must be one
/// flopsbench can quantize.
pub(super) fn case_refuses(case: &Case, dtype: Dtype) -> Option<String> {
    if let Some(file) = case.model_file() {
        return (file.dtype != dtype).then(|| {
            format!(
                "{} computes in {} and runs as given, at --dtype {} only: flopsbench \
                 converts and quantizes its own operator stacks, not model files",
                file.path.display(),
                file.dtype,
                file.dtype
            )
        });
    }
    match (dtype, case.spec_net()) {
        (Dtype::Int8, Some(net)) => crate::quant::quantizable(net).err(),
        _ => None,
    }
}

/// Refuses a run in which no row can run: every (case, backend) pair of every dtype is
/// skipped (an int8 sweep of networks, say), naming `--dtype` and why.
pub fn ensure_runnable(
    experiment: &crate::bench::Experiment,
    cases: &[Case],
    plan: &crate::bench::Plan<'_>,
) -> crate::error::Result<()> {
    let mut why: Vec<String> = Vec::new();
    for dtype in &experiment.dtypes {
        for (device, backends) in plan {
            let at = At {
                dtype: *dtype,
                device,
                own_only: experiment.own_dtype,
            };
            let split = split(at, cases, backends);
            if !split.runs.is_empty() {
                return Ok(());
            }
            for (_, _, reason) in split.skipped {
                if !why.contains(&reason) {
                    why.push(reason);
                }
            }
        }
    }
    Err(crate::error::Error::flag(
        "--dtype",
        format!("nothing selected can run: {}", why.join("; ")),
    ))
}

/// Why no case of `cases` can run at any of `dtypes`, whatever the backend (networks at
/// int8), if none can.
pub fn refused_at(cases: &[Case], dtypes: &[Dtype]) -> Option<String> {
    let mut why = Vec::new();
    for dtype in dtypes {
        for case in cases {
            let reason = case_refuses(case, *dtype)?;
            if !why.contains(&reason) {
                why.push(reason);
            }
        }
    }
    Some(why.join("; "))
}

/// Why `backend` (by name) has no measured row of `case` at `at`, if it has none: the
/// row a worker writes as skipped, or no row at all (a case not asked at that dtype).
pub fn refuses(case: &Case, backend: &str, at: At<'_>) -> Option<String> {
    if !at.asked(case) {
        return Some(format!("not asked at {}", at.dtype));
    }
    let backend = crate::backend::by_name(backend).ok()?;
    why_not(case, backend, at, &case_refuses(case, at.dtype))
}
