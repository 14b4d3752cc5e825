//! pybundle turns a Python application and its dependencies into one executable zipapp.
//!
//! Stages, one module each: [`config`] (validated plan), [`python`] (target interpreter probe),
//! [`resolve`] (pip), [`install`] (wheels → staging trees), [`analyze`] (zip or extract),
//! [`entry`] (entry point checks), [`launch`] (scripts as entries, multi-call commands), [`pack`] (bytecode, manifest, reproducible zip),
//! [`bootstrap`] (the run time shipped in every bundle), [`bundle`] and [`info`] (reading built
//! bundles), [`extract`] and [`cache`] (pre-seeding and trimming the run-time cache),
//! [`sbom`] (CycloneDX) and [`diff`]; `config::pyproject` reads `[tool.pybundle]`. [`build`]
//! wires the stages together.

pub mod analyze;
pub mod bootstrap;
pub mod build;
pub mod bundle;
pub mod cache;
pub mod cli;
pub mod config;
pub mod diff;
pub mod entry;
pub mod extract;
pub mod fsutil;
pub mod info;
pub mod install;
pub mod launch;
pub mod pack;
pub mod python;
pub mod resolve;
pub mod sbom;
pub mod ui;

use std::process::ExitCode;

use anyhow::{Context, Result};

use cli::{CacheCommand, Cli, Command};
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
        Some(Command::Extract(args)) => {
            extract::run(&args.file, &args.root)?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Cache(cmd)) => {
            match cmd {
                CacheCommand::List(a) => cache::list(a.root.as_deref())?,
                CacheCommand::Prune(a) => {
                    cache::run_prune(a.root.root.as_deref(), a.older_than, &a.keep_bundle)?;
                }
                CacheCommand::Clean(a) => cache::run_clean(a.root.as_deref())?,
            }
            Ok(ExitCode::SUCCESS)
        }
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
