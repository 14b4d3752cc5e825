//! Naming the output: the facts that fill the placeholders of `-o` (which distribution names
//! the bundle, the interpreter's and platform's wheel tags, the date), and the `--checksum`
//! file written after the bundle. Input: the [`OutputTemplate`] and the installed, analyzed
//! distributions; output: an [`OutputName`] for `pack`.

use anyhow::Result;

use crate::config::BuildPlan;
use crate::install::{Installed, InstalledDist};
use crate::layout::{EntryInfo, EntryKind};
use crate::name::normalize_name;
use crate::output::{self, OutputName, OutputTemplate};
use crate::pack::{Packed, Placed};

use super::Target;

/// Returns `SOURCE_DATE_EPOCH`, when it is set to a number.
pub(super) fn source_date_epoch() -> Option<u64> {
    std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.trim().parse().ok())
}

/// Names the output now that its facts are known (all but the build id).
pub(super) fn output_name(
    plan: &BuildPlan,
    template: OutputTemplate,
    target: &Target,
    installed: &Installed,
    placed: &[Placed<'_>],
    entry: &EntryInfo,
) -> Result<OutputName> {
    let interp = &target.interp;
    let native = placed.iter().any(|p| p.decision.native);
    let cross_platform = plan
        .target
        .as_ref()
        .and_then(|t| t.platforms.first())
        .map(String::as_str);
    let facts = output::Facts {
        project: project_dist(entry, &installed.dists, plan.local_project.as_deref())
            .map(|d| (d.name.clone(), d.version.clone())),
        python: output::python_tag(&interp.implementation, interp.version.0, interp.version.1),
        platform: output::platform_tag(native, cross_platform, &interp.platform),
        date: output::date_stamp(source_date_epoch()),
    };
    Ok(OutputName::new(template, facts)?)
}

/// `--checksum`: writes `<bundle>.sha256`. On failure removes the bundle and the directories
/// created for it: a bundle without the checksum it was asked for is not a finished build.
pub(super) fn write_checksum(plan: &BuildPlan, packed: &Packed) -> Result<()> {
    if !plan.checksum {
        return Ok(());
    }
    if let Err(err) = output::write_checksum(&packed.output) {
        let _ = fs_err::remove_file(&packed.output);
        output::remove_created(&packed.created_dirs);
        return Err(err.into());
    }
    Ok(())
}

/// Returns the distribution that names the bundle: the one that declares the console script
/// (`-c`) or installs the script the bundle runs, else the one whose files hold the entry module (`-e`, `-m`), else the local project
/// (`local`, the `[project]` name of a REQUIREMENT directory). The error says why none does.
pub(super) fn project_dist<'a>(
    entry: &EntryInfo,
    dists: &'a [InstalledDist],
    local: Option<&str>,
) -> Result<&'a InstalledDist, String> {
    // The unit of unclaimed `--site-packages` files has no name or version of its own.
    let named = |d: &&InstalledDist| !d.dist_info.is_empty();
    let by_script = entry.console_script.as_ref().and_then(|script| {
        dists.iter().find(|d| {
            d.entry_points.console_script(script).is_some()
                || d.entry_points.entry("gui_scripts", script).is_some()
                || entry
                    .script
                    .as_ref()
                    .is_some_and(|rel| d.files.contains(rel))
        })
    });
    let by_module = || {
        let module = entry.module.as_deref()?;
        dists.iter().find(|d| provides_module(d, module))
    };
    if let Some(dist) = by_script.or_else(by_module).filter(named) {
        return Ok(dist);
    }
    if let Some(local) = local {
        let wanted = normalize_name(local);
        if let Some(dist) = dists
            .iter()
            .filter(named)
            .find(|d| normalize_name(&d.name) == wanted)
        {
            return Ok(dist);
        }
    }
    let entry_part = match entry.kind {
        EntryKind::Interpreter => "the bundle has no entry point".to_string(),
        _ => format!(
            "no bundled distribution with metadata provides the entry point `{}`",
            entry.describe()
        ),
    };
    Err(match local {
        Some(local) => format!("{entry_part} and the local project `{local}` is not bundled"),
        None => format!("{entry_part} and no local project directory is bundled"),
    })
}

/// Returns true if and only if `dist` holds the module `module` (a `.py` file, a package, or
/// an extension module).
fn provides_module(dist: &InstalledDist, module: &str) -> bool {
    let base = module.replace('.', "/");
    let file = format!("{base}.py");
    let native = format!("{base}.");
    let package = format!("{base}/");
    dist.files.iter().any(|f| {
        *f == file
            || f.starts_with(&package)
            || (f.starts_with(&native)
                && (f.ends_with(".so") || f.ends_with(".pyd"))
                && !f[native.len()..].contains('/'))
    })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn dist(name: &str, files: &[&str]) -> InstalledDist {
        let files = files.iter().map(|f| (*f).to_string()).collect();
        InstalledDist {
            name: name.into(),
            version: "1.0".into(),
            dist_info: format!("{name}-1.0.dist-info"),
            ..InstalledDist::unclaimed(PathBuf::new(), files)
        }
    }

    fn entry(kind: EntryKind, module: Option<&str>, script: Option<&str>) -> EntryInfo {
        EntryInfo {
            kind,
            module: module.map(str::to_string),
            attr: None,
            console_script: script.map(str::to_string),
            script: None,
        }
    }

    #[test]
    fn project_comes_from_the_entry_point_then_the_local_project() {
        let mut app = dist("MyApp", &["myapp/__init__.py", "myapp/main.py"]);
        app.entry_points
            .groups
            .entry("console_scripts".into())
            .or_default()
            .insert("tool".into(), "myapp.main:main".into());
        let dep = dist("dep", &["dep.py", "_dep.cpython-311-x86_64-linux-gnu.so"]);
        let dists = [dep, app];
        let pick = |e: &EntryInfo, local: Option<&str>| {
            project_dist(e, &dists, local).map(|d| d.name.clone())
        };
        assert_eq!(
            pick(
                &entry(EntryKind::Function, Some("myapp.main"), Some("tool")),
                None
            )
            .unwrap(),
            "MyApp"
        );
        assert_eq!(
            pick(&entry(EntryKind::Module, Some("myapp"), None), None).unwrap(),
            "MyApp"
        );
        let script = EntryInfo {
            script: Some("bin/dep-tool".into()),
            ..entry(EntryKind::Executable, None, Some("dep-tool"))
        };
        let mut dists = dists.clone();
        dists[0].files.push("bin/dep-tool".into());
        assert_eq!(
            project_dist(&script, &dists, Some("myapp")).unwrap().name,
            "dep"
        );
        assert_eq!(
            pick(&entry(EntryKind::Module, Some("_dep"), None), None).unwrap(),
            "dep"
        );
        assert_eq!(
            pick(&entry(EntryKind::Interpreter, None, None), Some("MYAPP")).unwrap(),
            "MyApp"
        );
        let err = pick(&entry(EntryKind::Interpreter, None, None), None).unwrap_err();
        assert_eq!(
            err,
            "the bundle has no entry point and no local project directory is bundled"
        );
        let err = pick(&entry(EntryKind::Interpreter, None, None), Some("other")).unwrap_err();
        assert!(
            err.contains("the local project `other` is not bundled"),
            "{err}"
        );
    }
}
