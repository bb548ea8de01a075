//! The `flopsbench` binary: parse, run, print the error and exit with its code.

use std::process::ExitCode;

fn main() -> ExitCode {
    let command = match flopsbench::cli::parse_from(std::env::args_os()) {
        Ok(Ok(command)) => command,
        Ok(Err(e)) => return fail(&e),
        Err(clap_error) => clap_error.exit(),
    };
    match flopsbench::run(&command, &mut std::io::stdout().lock()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn fail(e: &flopsbench::Error) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(e.exit_code() as u8)
}
