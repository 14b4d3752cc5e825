//! `pybundle venv FILE DIR [--compile]` and `pybundle extract` of a `--venv` bundle: the bundle's
//! virtual environment written to a directory of the user's choice, or pre-seeded in a cache
//! root (`<DIR>/v1/venvs/<key>/`) exactly as its first start would build it.
//!
//! Both run the bundle itself (through its shebang, or with `--python`) with a variable that
//! makes its run time (`_pybundle/_venv.py`) build the environment and exit: the environment
//! links to the interpreter that builds it, so it must be the one that will run it, and one
//! implementation of the layout serves the first start, `extract` and `venv` alike.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::bundle::Bundle;
use crate::layout::LAYOUT;
use crate::layout::venv::VENVS_DIR;

use super::extract::ensure_dir;

/// `_venv.DEST_VAR`: write the environment to this directory, then exit.
const DEST_VAR: &str = "PYBUNDLE_VENV_DEST";
/// `_venv.COMPILE_VAR`: with the bytecode.
const COMPILE_VAR: &str = "PYBUNDLE_VENV_COMPILE";
/// `_venv.SEED_VAR`: write the environment under this cache root, then exit.
const SEED_VAR: &str = "PYBUNDLE_VENV_SEED";

/// Returns true if `bundle` is a `--venv` bundle.
pub fn is_venv_bundle(bundle: &Path) -> Result<bool> {
    Ok(Bundle::open(bundle)?.manifest.venv.is_some())
}

/// Returns the command that starts `bundle`: through its shebang, or with `python`.
fn start(bundle: &Path, python: Option<&Path>) -> Result<Command> {
    let bundle = std::path::absolute(bundle)
        .with_context(|| format!("cannot resolve `{}`", bundle.display()))?;
    let why = Bundle::open(&bundle)?.manifest.venv;
    if why.is_none() {
        bail!(
            "`{}` is not a --venv bundle\nhint: build it with --venv; `pybundle extract` pre-seeds the cache of other bundles",
            bundle.display()
        );
    }
    let mut cmd = match python {
        Some(py) => {
            let mut cmd = Command::new(py);
            cmd.arg(&bundle);
            cmd
        }
        None => Command::new(&bundle),
    };
    for var in [DEST_VAR, COMPILE_VAR, SEED_VAR] {
        cmd.env_remove(var);
    }
    cmd.env_remove("PYBUNDLE_ENTRY_POINT")
        .env_remove("PYBUNDLE_INTERPRETER")
        .stdin(Stdio::null())
        .stderr(Stdio::inherit());
    Ok(cmd)
}

/// Runs `cmd`, failing with its stderr (already shown) when it fails; returns its stdout.
fn run(mut cmd: Command, what: &str) -> Result<String> {
    let out = cmd
        .output()
        .with_context(|| format!("cannot start `{}`", cmd.get_program().to_string_lossy()))?;
    if !out.status.success() {
        bail!("{what} failed ({}); its error is above", out.status);
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Writes the environment of `bundle` to `dir` (which must not exist, or be empty), with the
/// bundle's bytecode when `compile`.
pub fn write(bundle: &Path, dir: &Path, compile: bool, python: Option<&Path>) -> Result<()> {
    let dir: PathBuf =
        std::path::absolute(dir).with_context(|| format!("cannot resolve `{}`", dir.display()))?;
    if let Some(parent) = dir.parent() {
        fs_err::create_dir_all(parent)?;
    }
    let mut cmd = start(bundle, python)?;
    cmd.env(DEST_VAR, &dir);
    if compile {
        cmd.env(COMPILE_VAR, "1");
    }
    run(
        cmd,
        &format!("writing the environment of `{}`", bundle.display()),
    )?;
    println!(
        "wrote {} (run its scripts as {}/bin/NAME)",
        dir.display(),
        dir.display()
    );
    Ok(())
}

/// Pre-seeds the environment of `bundle` under the cache root `root`, as its first start would
/// build it (`<root>/v1/venvs/<key>/`); the root, `v1` and `venvs` are 0755 like `extract`'s.
pub fn seed(bundle: &Path, root: &Path, python: Option<&Path>) -> Result<()> {
    let root: PathBuf = std::path::absolute(root)
        .with_context(|| format!("cannot resolve `{}`", root.display()))?;
    if let Some(parent) = root.parent() {
        fs_err::create_dir_all(parent)?;
    }
    let v1 = root.join(LAYOUT);
    for dir in [&root, &v1, &v1.join(VENVS_DIR)] {
        ensure_dir(dir, 0o755)?;
    }
    ensure_dir(&v1.join(crate::layout::TMP_DIR), 0o700)?;
    let mut cmd = start(bundle, python)?;
    cmd.env(SEED_VAR, &root);
    let env = run(
        cmd,
        &format!("building the environment of `{}`", bundle.display()),
    )?;
    println!("environment {}", env.trim());
    println!(
        "root: {} (run with PYBUNDLE_ROOTS={} to use it read-only)",
        root.display(),
        root.display()
    );
    Ok(())
}
