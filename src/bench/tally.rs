//! What a run will produce, decided before it starts: its experiment at each dtype, the
//! (case, backend) rows that run or are skipped at each dtype and device, and `peak`'s
//! micro-kernel rows per device. The engine measures from it; a worker announces its
//! total to the orchestrator from it.

use crate::target::Case;

use super::experiment::Experiment;
use super::kernels::{self, KernelJob};
use super::plan::Plan;
use super::skipped::{self, Split};

/// The rows of a run, before it starts.
pub(super) struct Tally<'c, 'b> {
    /// The experiment at each of its dtypes (the engine runs one dtype at a time: a round
    /// group never mixes dtypes, so the paired ratios of a group are at one precision).
    pub(super) at: Vec<Experiment>,
    /// Per dtype and device: the rows that run and the rows skipped.
    pub(super) splits: Vec<Vec<Split<'c, 'b>>>,
    /// Per device: the micro-kernel rows.
    pub(super) kernels: Vec<Vec<KernelJob>>,
}

impl<'c, 'b> Tally<'c, 'b> {
    /// The rows of `experiment` over `cases` on `plan`.
    pub(super) fn new(experiment: &Experiment, cases: &'c [Case], plan: &Plan<'b>) -> Self {
        let at: Vec<Experiment> = experiment
            .dtypes
            .iter()
            .map(|d| experiment.at(*d))
            .collect();
        let splits = skipped::splits(&at, experiment.own_dtype, cases, plan);
        let kernels = kernels::per_device(plan, &experiment.dtypes, cases);
        Tally {
            at,
            splits,
            kernels,
        }
    }

    /// Rows skipped with their reason (they take nothing of a budget).
    pub(super) fn skipped(&self) -> usize {
        self.splits.iter().flatten().map(|s| s.skipped.len()).sum()
    }

    /// Micro-kernel rows (they sample for their own fixed window: nothing of a budget).
    pub(super) fn kernel_rows(&self) -> usize {
        self.kernels.iter().map(Vec::len).sum()
    }

    /// Every row the run produces.
    pub(super) fn total(&self) -> usize {
        skipped::rows(&self.splits) + self.kernel_rows()
    }
}
