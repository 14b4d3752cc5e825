//! `pybundle lock`: writes a PEP 751 `pylock.toml` for a target from requirements, so that a
//! project without a lock tool gets one to build from (`--lock`). uv when there is one
//! (`uv pip compile --format pylock.toml`, the command of `--resolver uv`, with uv's
//! `--python-version` and `--python-platform` for a cross target), else `pip lock` (pip 25.1 or
//! newer in `--python`; it locks for `--python` only).
//! See: #23

use std::path::Path;
use std::process::Command;

use super::uv::{compile_command, find_uv, inline_requirements};
use super::{ResolveError, index_args, run_pip};
use crate::config::{CrossTarget, LockPlan, Resolver};
use crate::python::Interpreter;

/// Which tool wrote the lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockTool {
    Uv,
    Pip,
}

/// Writes the lock `plan` asks for with uv, else `pip lock`, run for `interp`; returns the tool.
pub fn write_lock(interp: &Interpreter, plan: &LockPlan) -> Result<LockTool, ResolveError> {
    if let Some(parent) = plan.output.parent() {
        fs_err::create_dir_all(parent).map_err(super::wheelhouse_error(parent))?;
    }
    let uv = match plan.tool {
        Some(Resolver::Pip) => None,
        Some(Resolver::Uv) => Some(find_uv(&interp.executable)?),
        None => find_uv(&interp.executable).ok(),
    };
    match uv {
        Some(uv) => {
            let scratch =
                tempfile::tempdir().map_err(super::wheelhouse_error(Path::new("/tmp")))?;
            let inline = if plan.pip.requirements.is_empty() {
                None
            } else {
                let cwd =
                    std::env::current_dir().map_err(super::wheelhouse_error(Path::new(".")))?;
                let file = scratch.path().join("requirements.in");
                fs_err::write(&file, inline_requirements(&plan.pip.requirements, &cwd))
                    .map_err(super::wheelhouse_error(&file))?;
                Some(file)
            };
            let mut cmd = compile_command(
                &uv,
                interp,
                &plan.pip,
                inline.as_deref(),
                &plan.output,
                !plan.stream,
            );
            if let Some(target) = &plan.target {
                uv_target_args(&mut cmd, target)?;
            }
            super::uv::run_uv(&mut cmd, plan.stream)?;
            Ok(LockTool::Uv)
        }
        None => {
            if plan.target.is_some() {
                return Err(ResolveError::PipLockCross);
            }
            if !interp.pip {
                return Err(super::no_pip(interp));
            }
            run_pip(&mut pip_lock_command(interp, plan), plan.stream)?;
            Ok(LockTool::Pip)
        }
    }
}

/// Adds uv's `--python-version` and `--python-platform` for `target`.
fn uv_target_args(cmd: &mut Command, target: &CrossTarget) -> Result<(), ResolveError> {
    if let Some((major, minor)) = target.python_version {
        cmd.arg("--python-version").arg(format!("{major}.{minor}"));
    }
    if let Some(tag) = target.platforms.first() {
        let platform =
            uv_platform(tag).ok_or_else(|| ResolveError::NoUvPlatform { tag: tag.clone() })?;
        cmd.arg("--python-platform").arg(platform);
    }
    Ok(())
}

/// Returns uv's `--python-platform` name for a wheel platform tag (`manylinux2014_x86_64` →
/// `x86_64-manylinux2014`, `manylinux_2_28_aarch64` → `aarch64-manylinux_2_28`,
/// `musllinux_1_2_x86_64` → `x86_64-unknown-linux-musl`, `linux_x86_64` →
/// `x86_64-unknown-linux-gnu`, `macosx_11_0_arm64` → `aarch64-apple-darwin`, `win_amd64` →
/// `x86_64-pc-windows-msvc`).
pub fn uv_platform(tag: &str) -> Option<String> {
    fn arch_of(a: &str) -> &str {
        match a {
            "arm64" | "aarch64" => "aarch64",
            "amd64" | "x86_64" => "x86_64",
            _ => a,
        }
    }
    if let Some(rest) = tag.strip_prefix("manylinux_") {
        let (glibc, arch) = rest.split_at(rest.find(|c: char| c.is_ascii_alphabetic())?);
        return Some(format!(
            "{}-manylinux_{}",
            arch_of(arch),
            glibc.trim_end_matches('_')
        ));
    }
    if let Some(arch) = tag.strip_prefix("manylinux2014_") {
        return Some(format!("{}-manylinux2014", arch_of(arch)));
    }
    if tag.starts_with("musllinux_") {
        let arch = tag.splitn(4, '_').nth(3)?;
        return Some(format!("{}-unknown-linux-musl", arch_of(arch)));
    }
    if let Some(arch) = tag.strip_prefix("linux_") {
        return Some(format!("{}-unknown-linux-gnu", arch_of(arch)));
    }
    if tag.starts_with("macosx_") {
        let arch = if tag.ends_with("arm64") {
            "aarch64"
        } else {
            "x86_64"
        };
        return Some(format!("{arch}-apple-darwin"));
    }
    match tag {
        "win_amd64" => Some("x86_64-pc-windows-msvc".into()),
        "win_arm64" => Some("aarch64-pc-windows-msvc".into()),
        "win32" => Some("i686-pc-windows-msvc".into()),
        _ => None,
    }
}

/// Returns the `pip lock` command for `plan` (pip 25.1 or newer).
fn pip_lock_command(interp: &Interpreter, plan: &LockPlan) -> Command {
    let mut cmd = Command::new(&interp.executable);
    cmd.args([
        "-m",
        "pip",
        "lock",
        "--disable-pip-version-check",
        "--no-input",
    ]);
    cmd.arg("--output").arg(&plan.output);
    index_args(&mut cmd, &plan.pip);
    if plan.pip.pre {
        cmd.arg("--pre");
    }
    for file in &plan.pip.requirement_files {
        cmd.arg("--requirement").arg(file);
    }
    cmd.args(&plan.pip.requirements);
    cmd.env("PIP_PROGRESS_BAR", "off");
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uv_platforms() {
        for (tag, uv) in [
            ("manylinux2014_x86_64", "x86_64-manylinux2014"),
            ("manylinux_2_28_aarch64", "aarch64-manylinux_2_28"),
            ("manylinux_2_17_x86_64", "x86_64-manylinux_2_17"),
            ("musllinux_1_2_x86_64", "x86_64-unknown-linux-musl"),
            ("linux_x86_64", "x86_64-unknown-linux-gnu"),
            ("macosx_11_0_arm64", "aarch64-apple-darwin"),
            ("win_amd64", "x86_64-pc-windows-msvc"),
        ] {
            assert_eq!(uv_platform(tag).as_deref(), Some(uv), "{tag}");
        }
        assert_eq!(uv_platform("any"), None);
    }
}
