//! The `pybundle` binary: parse the command line, run it, render any error once.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    if !cfg!(debug_assertions) {
        install_panic_hook();
    }
    let cli = pybundle::cli::Cli::parse();
    match pybundle::run(cli) {
        Ok(code) => code,
        Err(err) => {
            if pybundle::interrupt::received() {
                pybundle::interrupt::wait_for_exit();
            }
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

/// Replaces the panic backtrace of release builds with a one-line bug report request: a panic is
/// always a bug in pybundle, never something the user typed.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_string());
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!(
            "error: pybundle {} hit a bug: {what}{place}\nhint: please report it with the command line you ran",
            env!("CARGO_PKG_VERSION")
        );
    }));
}
