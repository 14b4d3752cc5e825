//! pybundle turns a Python application and its dependencies into one executable zipapp.
//!
//! Stages, one module each: [`config`] (validated plan), [`python`] (target interpreter probe),
//! [`resolve`] (pip), [`install`] (wheels → staging trees), [`analyze`] (zip or extract),
//! [`entry`] (entry point checks), [`pack`] (bytecode, manifest, reproducible zip),
//! [`bootstrap`] (the run time shipped in every bundle), [`bundle`] and [`info`] (reading built
//! bundles). [`build`] wires the stages together. [`sbom`] (CycloneDX) and [`diff`] read built
//! bundles too; `config::pyproject` reads `[tool.pybundle]`.

pub mod analyze;
pub mod bootstrap;
pub mod build;
pub mod bundle;
pub mod cli;
pub mod config;
pub mod diff;
pub mod entry;
pub mod fsutil;
pub mod info;
pub mod install;
pub mod pack;
pub mod python;
pub mod resolve;
pub mod sbom;
pub mod ui;

use std::process::ExitCode;

use anyhow::{Context, Result};

use cli::{Cli, Command};
use config::BuildPlan;

/// Runs the command line `cli` and returns the process exit code.
pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Some(Command::Info(args)) if args.sbom => {
            info::sbom(&args.file)?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Info(args)) => {
            info::info(&args.file, args.json)?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Verify(args)) => Ok(if info::verify(&args.file)? {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }),
        Some(Command::Diff(args)) => match diff::diff(&args.a, &args.b) {
            Ok(true) => Ok(ExitCode::SUCCESS),
            Ok(false) => Ok(ExitCode::FAILURE),
            Err(err) => {
                // Like diff(1): trouble is 2, so that 1 always means "they differ".
                ui::print_error(&err);
                Ok(ExitCode::from(2))
            }
        },
        Some(Command::Completions(args)) => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(args.shell, &mut cmd, "pybundle", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        None => {
            let cwd = std::env::current_dir().context("cannot read the current directory")?;
            let plan = BuildPlan::from_args(cli.build, &cwd)?;
            ui::set_verbosity(plan.verbosity);
            let output = plan.output.display().to_string();
            build::build(&plan).with_context(|| format!("cannot build `{output}`"))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
