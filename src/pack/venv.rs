//! A `--venv` bundle's description of its environment (`_pybundle/venv.json`, format in
//! [`crate::layout::venv`]): which paths of each distribution's inner archive go under the
//! environment's prefix, which console scripts to write, and the environment's key, which goes
//! into `__main__.py` as `VENV` in place of the `EXTRACT` and `DISTS` literals (a warm start
//! reads nothing else).
//!
//! Every distribution of a `--venv` bundle is extracted whole (the analysis is told
//! `--extract-all`), so each has an inner archive laid out like `pip install --target`.

use std::collections::{BTreeMap, BTreeSet};

use crate::install::InstalledDist;
use crate::install::data::Scheme;
use crate::layout::MemberInfo;
use crate::layout::main::MainData;
use crate::layout::venv::{VENV_FORMAT, VENV_INFO_PATH, VenvDist, VenvInfo, venv_key};
use crate::name::normalize_name;

use super::Placed;
use super::writer::{Member, Source};

/// Replaces the extraction literals of `main` by `VENV` and adds `_pybundle/venv.json` to the
/// members (`outer`) and to the manifest's list (`listed`). `stem` names the environment.
pub fn apply(
    placed: &[Placed<'_>],
    stem: &str,
    main: &mut MainData,
    listed: &mut BTreeMap<String, MemberInfo>,
    outer: &mut BTreeMap<String, Member>,
) -> anyhow::Result<()> {
    let extracted = placed.iter().filter(|p| p.extracted.is_some());
    let dists: Vec<VenvDist> = extracted
        .zip(&main.extract)
        .map(|(p, item)| VenvDist {
            name: p.dist.name.clone(),
            key: item.key.clone(),
            dist_info: p.dist.dist_info.clone(),
            files: item.files,
            size: item.bytes,
            prefixes: prefixes(p.dist),
            scripts: scripts(p.dist),
        })
        .collect();
    let keys: Vec<&str> = dists.iter().map(|d| d.key.as_str()).collect();
    let info = VenvInfo {
        format: VENV_FORMAT,
        key: venv_key(&normalize_name(stem), &keys),
        dists,
    };
    let bytes = serde_json::to_vec(&info)?;
    listed.insert(
        VENV_INFO_PATH.to_string(),
        Source::Bytes(bytes.clone()).hash()?,
    );
    outer.insert(
        VENV_INFO_PATH.to_string(),
        Member {
            path: VENV_INFO_PATH.to_string(),
            source: Source::Bytes(bytes),
            executable: false,
        },
    );
    main.venv = Some(info.key);
    main.extract.clear();
    main.dists.clear();
    main.pth.clear();
    Ok(())
}

/// Returns the paths of `dist` that belong under the prefix, with their scheme, as short as
/// they can be: the top-level directory (`share/`, `bin/`, `include/`) when no library file of
/// the distribution lies under it and it holds files of one scheme only, else each file.
pub fn prefixes(dist: &InstalledDist) -> Vec<(String, String)> {
    let name = |s: Scheme| match s {
        Scheme::Scripts => "scripts",
        Scheme::Headers => "headers",
        _ => "data",
    };
    let prefix_paths: BTreeSet<&str> = dist.prefix_files.iter().map(|(p, _)| p.as_str()).collect();
    let library_tops: BTreeSet<&str> = dist
        .files
        .iter()
        .filter(|f| !prefix_paths.contains(f.as_str()))
        .map(|f| f.split('/').next().unwrap_or(f))
        .collect();
    let mut by_top: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (path, scheme) in &dist.prefix_files {
        let top = path.split('/').next().unwrap_or(path);
        by_top.entry(top).or_default().insert(name(*scheme));
    }
    let mut out = Vec::new();
    for (path, scheme) in &dist.prefix_files {
        let top = path.split('/').next().unwrap_or(path);
        let whole_dir = path.contains('/')
            && !library_tops.contains(top)
            && by_top.get(top).is_some_and(|s| s.len() == 1);
        let entry = if whole_dir {
            (format!("{top}/"), name(*scheme).to_string())
        } else {
            (path.clone(), name(*scheme).to_string())
        };
        if !out.contains(&entry) {
            out.push(entry);
        }
    }
    out.sort();
    out
}

/// Returns the console and GUI scripts of `dist` as (name, module, attribute); entries without
/// an attribute are left out, as pip leaves them out.
fn scripts(dist: &InstalledDist) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for group in ["console_scripts", "gui_scripts"] {
        for name in dist
            .entry_points
            .groups
            .get(group)
            .map(|g| g.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default()
        {
            if let Some(target) = dist.entry_points.entry(group, &name)
                && let Some(attr) = target.attr
            {
                out.push((name, target.module, attr));
            }
        }
    }
    out
}
