//! The read side: every subcommand that looks at built bundles or at the run-time cache
//! (`info`, `verify`, `extract`, `venv`, `cache`, `diff`, `completions`). Input: the parsed subcommand;
//! output: text on stdout and an exit code.
//!
//! These modules open bundles through [`crate::bundle`] and know the format through
//! [`crate::layout`]; they never import the write side (`pipeline`, `pack`, `install`, `bytecode`),
//! which the architecture test in `tests/it` checks.

pub mod cache;
pub mod diff;
pub mod extract;
pub mod info;
pub mod sbom;
pub mod venv;
pub mod verify;

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{CacheCommand, Cli, Command};
use crate::ui;

/// Runs the subcommand `command` and returns the process exit code.
pub fn run(command: Command) -> Result<ExitCode> {
    match command {
        Command::Info(args) if args.sbom => {
            sbom::print(&args.file)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Info(args) => {
            info::info(&args.file, args.json)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify(args) => Ok(
            if verify::verify(&args.file, args.lock.as_deref(), &args.python)? {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            },
        ),
        Command::Extract(args) => {
            if venv::is_venv_bundle(&args.file)? {
                venv::seed(&args.file, &args.root, args.python.as_deref())?;
            } else {
                extract::run(&args.file, &args.root)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Venv(args) => {
            venv::write(&args.file, &args.dir, args.compile, args.python.as_deref())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Cache(cmd) => {
            match cmd {
                CacheCommand::List(a) => cache::list(a.root.as_deref())?,
                CacheCommand::Prune(a) => {
                    cache::run_prune(a.root.root.as_deref(), a.older_than, &a.keep_bundle)?;
                }
                CacheCommand::Clean(a) => cache::run_clean(a.root.as_deref())?,
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Diff(args) => match diff::diff(&args.a, &args.b) {
            Ok(true) => Ok(ExitCode::SUCCESS),
            Ok(false) => Ok(ExitCode::FAILURE),
            Err(err) => {
                // Like diff(1): trouble is 2, so that 1 always means "they differ".
                ui::print_error(&err);
                Ok(ExitCode::from(2))
            }
        },
        // Writes a lock (the write side): `crate::run` handles it before this point.
        Command::Lock(_) => unreachable!("`pybundle lock` is run by `crate::run`"),
        Command::Completions(args) => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(args.shell, &mut cmd, "pybundle", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
    }
}
