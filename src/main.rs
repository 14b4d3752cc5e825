//! The `pybundle` binary: parse the command line, run it, render any error once.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = pybundle::cli::Cli::parse();
    match pybundle::run(cli) {
        Ok(code) => code,
        Err(err) => {
            if err.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            pybundle::ui::print_error(&err);
            ExitCode::FAILURE
        }
    }
}
