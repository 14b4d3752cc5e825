//! pybundle turns a Python application and its dependencies into one executable zipapp.
//!
//! Dependencies flow one way (checked by `tests/it/architecture.rs`):
//! - leaves: [`cli`] (clap types), [`ui`] (everything printed to stderr), [`name`] (Python
//!   names), [`fsutil`] (paths and hashes), [`dirs`] (cache directories), [`layout`] (the bundle
//!   format), [`output`] (the `-o` placeholders and the `--checksum` file), [`interrupt`]
//!   (SIGINT/SIGTERM during a build);
//! - [`config`]: the validated [`config::BuildPlan`], from the command line and `[tool.pybundle]`;
//! - [`pylock`]: PEP 751 lock files and their markers, shared by `--lock` and `verify --lock`;
//! - the stages of a build, each a function from one typed value to the next: [`python`]
//!   (interpreter probe), [`resolve`] (pip or uv), [`install`] (wheels → staging trees),
//!   [`entry`] (entry points, scripts as entries, multi-call commands), [`analyze`] (zip or extract), [`bytecode`] (compile, with a
//!   cache), [`pack`] (the reproducible zip), with [`bootstrap`], the run time every bundle ships;
//! - [`pipeline`] runs the stages in order; [`bundle`] and [`commands`] are the read side (`info`,
//!   `verify`, `extract`, `cache`, `diff`), which never imports the write side.

pub mod analyze;
pub mod bootstrap;
pub mod bundle;
pub mod bytecode;
pub mod cli;
pub mod commands;
pub mod config;
pub mod dirs;
pub mod entry;
pub mod fsutil;
pub mod install;
pub mod interrupt;
pub mod layout;
pub mod name;
pub mod output;
pub mod pack;
pub mod pipeline;
pub mod pylock;
pub mod python;
pub mod resolve;
pub mod ui;

use std::process::ExitCode;

use anyhow::{Context, Result};

use cli::Cli;
use config::BuildPlan;

/// Runs the command line `cli` and returns the process exit code.
pub fn run(cli: Cli) -> Result<ExitCode> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    if let Some(cli::Command::Lock(args)) = cli.command {
        return lock(args, &cwd);
    }
    if let Some(command) = cli.command {
        return commands::run(command);
    }
    let plan = BuildPlan::from_args(cli.build, &cwd)?;
    ui::set_verbosity(plan.verbosity);
    let output = plan.output.display().to_string();
    interrupt::install().context("cannot install the handlers of SIGINT and SIGTERM")?;
    pipeline::build(&plan).with_context(|| format!("cannot build `{output}`"))?;
    Ok(ExitCode::SUCCESS)
}

/// `pybundle lock`: writes a `pylock.toml` for a target (see [`resolve::write_lock`]).
fn lock(args: cli::LockArgs, cwd: &std::path::Path) -> Result<ExitCode> {
    let plan = config::LockPlan::from_args(args, cwd)?;
    let output = plan.output.display().to_string();
    interrupt::install().context("cannot install the handlers of SIGINT and SIGTERM")?;
    let interp = python::Interpreter::probe(&plan.python)?;
    let tool = resolve::write_lock::write_lock(&interp, &plan)
        .with_context(|| format!("cannot write the lock `{output}`"))?;
    let written = pylock::LoadedLock::read(&plan.output)
        .with_context(|| format!("the lock tool wrote `{output}`, which pybundle cannot read"))?;
    ui::stage(&format!(
        "wrote {output} ({}, by {}); build with `pybundle --lock {output}`",
        ui::count(written.lock.packages.len(), "package"),
        match tool {
            resolve::write_lock::LockTool::Uv => "uv",
            resolve::write_lock::LockTool::Pip => "pip lock",
        }
    ));
    Ok(ExitCode::SUCCESS)
}
