//! The `flopsbench` binary: parse, run, print the error and exit with its code.

use std::process::ExitCode;

use flopsbench::app::Finished;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let command = match flopsbench::cli::parse_from(std::env::args_os()) {
        Ok(Ok(command)) => command,
        Ok(Err(e)) => return fail(&e),
        Err(clap_error) => clap_error.exit(),
    };
    if flopsbench::spin::restart_wanted(&command.command) {
        let e = flopsbench::spin::restart();
        eprintln!(
            "warning: could not restart with GOMP_SPINCOUNT set ({e}); in rounds, tch's idle threads may slow the next backend"
        );
    }
    match flopsbench::run(
        &command,
        &mut std::io::stdout().lock(),
        &mut std::io::stderr(),
    ) {
        Ok(Finished::Success) => ExitCode::SUCCESS,
        Ok(Finished::SomeCasesFailed) => ExitCode::from(1),
        Err(e) => fail(&e),
    }
}

fn fail(e: &flopsbench::Error) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(e.exit_code() as u8)
}
