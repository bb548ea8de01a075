//! What each command does, given a plain configuration (no clap here).

use std::io::Write;

use crate::count::{CaseCount, CountOptions, count_op, count_zoo, validate_options};
use crate::error::{Error, Result};
use crate::output::{Format, render_counts};
use crate::spec::OpSweep;
use crate::zoo;

/// What `count` counts.
#[derive(Debug, Clone, PartialEq)]
pub enum CountTarget {
    /// Zoo networks by name (`all` = every one).
    Nets(Vec<String>),
    /// An operator sweep.
    Ops(OpSweep),
}

/// The configuration of `flopsbench count`.
#[derive(Debug, Clone, PartialEq)]
pub struct CountConfig {
    /// Networks or operator cases.
    pub target: CountTarget,
    /// Options that change counts.
    pub options: CountOptions,
    /// Input resolution of networks.
    pub resolution: usize,
    /// Output format.
    pub format: Format,
    /// Print every layer.
    pub per_layer: bool,
}

/// A command, ready to run.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// `flopsbench count`.
    Count(Box<CountConfig>),
    /// `flopsbench list`.
    List,
}

/// Computes every case of a `count` command; nothing is printed.
pub fn counts(config: &CountConfig) -> Result<Vec<CaseCount>> {
    validate_options(&config.options)?;
    match &config.target {
        CountTarget::Nets(names) => {
            let mut expanded: Vec<&str> = Vec::new();
            for name in names {
                if name == "all" {
                    expanded.extend(zoo::NAMES);
                } else {
                    expanded.push(zoo::check_name(name)?);
                }
            }
            expanded
                .into_iter()
                .map(|n| count_zoo(n, config.resolution, &config.options, config.per_layer))
                .collect()
        }
        CountTarget::Ops(sweep) => sweep
            .expand()?
            .iter()
            .map(|case| count_op(case, &config.options, config.per_layer))
            .collect(),
    }
}

/// Runs a command, writing its output to `out` only once all of it is computed.
pub fn run(command: &Command, out: &mut dyn Write) -> Result<()> {
    let text = match command {
        Command::Count(config) => render_counts(&counts(config)?, config.format, config.per_layer)?,
        Command::List => crate::list::render()?,
    };
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .map_err(|source| Error::Io {
            path: "<stdout>".into(),
            source,
        })
}
