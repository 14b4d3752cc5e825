//! The target of a build: the `--python` interpreter that runs the resolver, the interpreter
//! whose version and platform the bundle is for (the same one, or the facts of a cross target),
//! and the interpreter that compiles bytecode (of the target's version, when one is installed).
//! Input: the [`BuildPlan`]; output: a [`Target`]. It also renders the target's facts into the
//! two places that record them, the manifest's [`PythonInfo`] and the generated `__main__.py`.

use anyhow::Result;

use crate::config::BuildPlan;
use crate::layout::PythonInfo;
use crate::layout::main::MainData;
use crate::python::{self, Interpreter};
use crate::ui;

/// The interpreters of one build.
#[derive(Debug, Clone)]
pub struct Target {
    /// `--python`: runs pip (or finds uv).
    pub pip_python: Interpreter,
    /// The target: `--python` itself, or the cross target's facts.
    pub interp: Interpreter,
    /// The interpreter that compiles bytecode, of the target's version; `None` when no such
    /// interpreter is installed (the bundle then ships sources only).
    pub compiler: Option<Interpreter>,
}

/// Probes `plan.python` and works out the target and the compiler. Warns when a cross target
/// has no interpreter of its version to compile bytecode with.
pub fn probe(plan: &BuildPlan) -> Result<Target> {
    let pip_python = Interpreter::probe(&plan.python)?;
    let (interp, compiler) = match &plan.target {
        None => (pip_python.clone(), Some(pip_python.clone())),
        Some(target) => {
            let mut interp = pip_python.retarget(target);
            let (major, minor) = (interp.version.0, interp.version.1);
            let compiler = python::find_compiler(&pip_python, major, minor);
            match &compiler {
                Some(c) => {
                    interp.cache_tag = c.cache_tag.clone();
                    interp.magic = c.magic.clone();
                }
                None => ui::warn(&format!(
                    "no Python {major}.{minor} found to compile bytecode: the bundle ships sources only (pass --python with a {major}.{minor} interpreter, or install python{major}.{minor})"
                )),
            }
            (interp, compiler)
        }
    };
    ui::detail(&format!(
        "target interpreter: {} on {} (the resolver runs with {})",
        interp.display_name(),
        interp.platform,
        pip_python.executable.display()
    ));
    Ok(Target {
        pip_python,
        interp,
        compiler,
    })
}

impl Target {
    /// Returns the manifest's record of the target.
    pub fn python_info(
        &self,
        requires_python: Option<String>,
        native: bool,
        shebang: &str,
    ) -> PythonInfo {
        let interp = &self.interp;
        PythonInfo {
            implementation: interp.implementation.clone(),
            version: interp.short_version(),
            cache_tag: interp.cache_tag.clone(),
            platform: interp.platform.clone(),
            sys_platform: interp.sys_platform.clone(),
            machine: interp.machine.clone(),
            ext_suffix: interp.ext_suffix.clone(),
            requires_python,
            native,
            shebang: shebang.to_string(),
        }
    }

    /// Returns `main` with the target's facts that the run time checks at start (the
    /// manifest's [`PythonInfo`] records the same facts).
    pub fn main_data(&self, main: MainData, python: &PythonInfo) -> MainData {
        let interp = &self.interp;
        MainData {
            implementation: python.implementation.clone(),
            version: (interp.version.0, interp.version.1),
            cache_tag: python.cache_tag.clone(),
            requires_python: python.requires_python.clone(),
            native: python.native,
            platform: python.platform.clone(),
            sys_platform: python.sys_platform.clone(),
            machine: python.machine.clone(),
            multiarch: interp.multiarch.clone(),
            ..main
        }
    }
}
