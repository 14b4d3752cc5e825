//! Whether the bundle runs in a virtual environment (`--venv`), and what that changes for the
//! analysis: every distribution is extracted whole (its files then go to the site store, from
//! which the run time installs them into the environment, see `pack::venv`).
//!
//! Chosen without the flag when a distribution installs data-scheme files that programs find
//! through `sys.prefix` only: `share/jupyter` and `etc/jupyter` (jupyter_core's
//! `jupyter_path()` and `jupyter_config_path()` look under the prefix, `JUPYTER_PATH` and the
//! user's and system directories, never next to the code). `--no-venv` (`venv = false`) keeps
//! such a bundle plain.

use crate::analyze::{Analyzed, Reason};
use crate::config::{BuildPlan, Overrides};
use crate::install::data::Scheme;
use crate::install::{Installed, InstalledDist};

/// Data directories under the prefix that programs read through `sys.prefix`.
const PREFIX_READ: &[&str] = &["share/jupyter/", "etc/jupyter/"];

/// Returns why the bundle is a `--venv` bundle, or `None` when it is not.
pub fn choose(plan: &BuildPlan, installed: &Installed) -> Option<String> {
    match plan.runtime.venv {
        Some(true) => Some("--venv".to_string()),
        Some(false) => None,
        None => installed.dists.iter().find_map(prefix_read_data),
    }
}

/// Returns why `dist` needs a prefix: the first of its data files under [`PREFIX_READ`].
fn prefix_read_data(dist: &InstalledDist) -> Option<String> {
    let (path, _) = dist.prefix_files.iter().find(|(path, scheme)| {
        *scheme == Scheme::Data && PREFIX_READ.iter().any(|p| path.starts_with(p))
    })?;
    let dir = PREFIX_READ.iter().find(|p| path.starts_with(*p))?;
    Some(format!(
        "`{}` installs data under `{}` (`{path}`), which is read through `sys.prefix`",
        dist.name,
        dir.trim_end_matches('/')
    ))
}

/// Returns the overrides the analysis gets: the user's, with `--extract-all` (and every test
/// suite on disk) for a venv bundle.
pub fn overrides(user: &Overrides, venv: Option<&str>) -> Overrides {
    let mut out = user.clone();
    out.extract_all |= venv.is_some();
    out.venv = venv.is_some();
    out
}

/// Says, in every decision of a venv bundle, where the distribution goes.
pub fn relabel(analyzed: &mut Analyzed<'_>, venv: Option<&str>) {
    if venv.is_none() {
        return;
    }
    for (_, decision) in &mut analyzed.decisions {
        if !decision.native {
            decision.reason = Reason::Venv;
        }
    }
}

/// The build output's line about the choice.
pub fn summary(why: &str) -> String {
    if why == "--venv" {
        "    venv: runs in a virtual environment built in the cache on its first start (--venv)"
            .to_string()
    } else {
        format!(
            "    venv: runs in a virtual environment built in the cache on its first start: {why} (--no-venv builds a plain bundle)"
        )
    }
}
