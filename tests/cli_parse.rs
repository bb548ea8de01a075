//! The command line parses to the plain commands the library runs.

use clap::CommandFactory;
use flopsbench::app::{Command, CountTarget};
use flopsbench::cli::{Cli, parse_from};
use flopsbench::spec::OpKind;

#[test]
fn cli_is_well_formed() {
    Cli::command().debug_assert();
}

#[test]
fn count_ops_parse_to_a_sweep() {
    let cmd = parse_from([
        "flopsbench",
        "count",
        "--kind",
        "conv,pconv",
        "--ratio",
        "1/4,0.5",
    ])
    .unwrap()
    .unwrap();
    let Command::Count(cfg) = cmd.command else {
        panic!("not count")
    };
    let CountTarget::Ops(sweep) = cfg.target else {
        panic!("not ops")
    };
    assert_eq!(sweep.kinds, [OpKind::Conv, OpKind::Pconv]);
    assert_eq!(sweep.ratios.len(), 2);
}

#[test]
fn op_flags_with_a_network_are_refused() {
    let e = parse_from(["flopsbench", "count", "resnet50", "--ratio", "0.5"])
        .unwrap()
        .unwrap_err();
    assert!(e.to_string().starts_with("--ratio"), "{e}");
}
