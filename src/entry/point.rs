//! Locate the requested entry point against the staged distributions, at build time, so that a
//! module, function or console script that is not in the bundle is a build error, not a failure
//! in production. Input: an [`EntryRequest`] and the distributions; output: the manifest's
//! [`EntryInfo`] and, for functions, the source file whose top level must define the name.

use std::path::PathBuf;

use crate::config::EntryRequest;
use crate::install::InstalledDist;
use crate::layout::{EntryInfo, EntryKind};

/// The entry point cannot be found in the bundle.
#[derive(Debug, thiserror::Error)]
pub enum EntryError {
    #[error(
        "the console script `{name}` is not in the bundle (looked in the `console_scripts` entry points of {dists})\n{available}"
    )]
    NoConsoleScript {
        name: String,
        dists: String,
        available: String,
    },
    #[error(
        "the module `{module}` is not in the bundle (looked for {looked})\nhint: add the distribution that provides it to the requirements, or check the module's dotted name (`pybundle info` lists what a bundle holds)"
    )]
    NoModule { module: String, looked: String },
    #[error(
        "the module `{module}` has no top-level `{name}` (looked in `{file}`)\nhint: give MODULE:FUNC with a function defined at the module's top level, or use -m to run the module itself"
    )]
    NoAttribute {
        module: String,
        name: String,
        file: String,
    },
}

/// An entry point located in the distributions.
#[derive(Debug, Clone)]
pub struct Located {
    /// What the manifest records.
    pub info: EntryInfo,
    /// For functions: the module's source and the first name of the attribute path, to check
    /// statically that the module defines it.
    pub attr_check: Option<(PathBuf, String)>,
}

/// Returns the entry point for `request`, checked against `dists`.
pub fn locate(request: &EntryRequest, dists: &[InstalledDist]) -> Result<Located, EntryError> {
    let (module, attr, console_script) = match request {
        EntryRequest::Interpreter => {
            return Ok(Located {
                info: EntryInfo {
                    kind: EntryKind::Interpreter,
                    module: None,
                    attr: None,
                    console_script: None,
                    script: None,
                },
                attr_check: None,
            });
        }
        EntryRequest::Module(module) => {
            find_module(module, dists)?;
            return Ok(Located {
                info: EntryInfo {
                    kind: EntryKind::Module,
                    module: Some(module.clone()),
                    attr: None,
                    console_script: None,
                    script: None,
                },
                attr_check: None,
            });
        }
        EntryRequest::Function(target) => (target.module.clone(), target.attr.clone(), None),
        EntryRequest::ConsoleScript(name) => {
            let target = console_script(name, dists)?;
            (target.module, target.attr, Some(name.clone()))
        }
    };
    let source = find_module(&module, dists)?;
    let Some(attr) = attr else {
        // A console script may name a bare module (`name = pkg.mod`): run it as `-m`.
        return Ok(Located {
            info: EntryInfo {
                kind: EntryKind::Module,
                module: Some(module),
                attr: None,
                console_script,
                script: None,
            },
            attr_check: None,
        });
    };
    let first = attr.split('.').next().unwrap_or(&attr).to_string();
    Ok(Located {
        info: EntryInfo {
            kind: EntryKind::Function,
            module: Some(module),
            attr: Some(attr),
            console_script,
            script: None,
        },
        attr_check: source.map(|s| (s, first)),
    })
}

/// Returns the target of the console (or GUI) script `name`, or an error listing the bundle's
/// console scripts.
fn console_script(
    name: &str,
    dists: &[InstalledDist],
) -> Result<crate::name::EntryTarget, EntryError> {
    let found = dists.iter().find_map(|d| {
        d.entry_points
            .console_script(name)
            .or_else(|| d.entry_points.entry("gui_scripts", name))
    });
    if let Some(target) = found {
        return Ok(target);
    }
    let mut names: Vec<String> = dists
        .iter()
        .flat_map(|d| {
            d.entry_points
                .groups
                .get("console_scripts")
                .into_iter()
                .flat_map(|g| g.keys().cloned())
        })
        .collect();
    names.sort();
    names.dedup();
    let available = if names.is_empty() {
        "hint: no bundled distribution declares console scripts; use -e MODULE:FUNC or -m MODULE"
            .to_string()
    } else {
        format!(
            "hint: the bundle's console scripts are: {}",
            names.join(", ")
        )
    };
    let dists = dists
        .iter()
        .map(|d| format!("`{}`", d.name))
        .collect::<Vec<_>>()
        .join(", ");
    Err(EntryError::NoConsoleScript {
        name: name.to_string(),
        dists,
        available,
    })
}

/// Returns the module's source file when it is a `.py` file (None for native modules and
/// namespace packages), or an error naming what was looked for.
fn find_module(module: &str, dists: &[InstalledDist]) -> Result<Option<PathBuf>, EntryError> {
    let base = module.replace('.', "/");
    let candidates = [format!("{base}.py"), format!("{base}/__init__.py")];
    for dist in dists {
        for candidate in &candidates {
            if dist.files.binary_search(candidate).is_ok()
                || dist.files.iter().any(|f| f == candidate)
            {
                return Ok(Some(dist.root.join(candidate)));
            }
        }
        let native_prefix = format!("{base}.");
        let dir_prefix = format!("{base}/");
        let found = dist.files.iter().any(|f| {
            (f.starts_with(&native_prefix)
                && (f.ends_with(".so") || f.ends_with(".pyd"))
                && !f[native_prefix.len()..].contains('/'))
                || (f.starts_with(&dir_prefix) && f.ends_with(".py"))
        });
        if found {
            return Ok(None);
        }
    }
    Err(EntryError::NoModule {
        module: module.to_string(),
        looked: format!(
            "`{}` and `{}` in {} distribution(s)",
            candidates[0],
            candidates[1],
            dists.len()
        ),
    })
}
