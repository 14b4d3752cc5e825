//! A `--venv` bundle's description of its environment (`_pybundle/venv.json`, format in
//! [`crate::layout::venv`]): which of each distribution's files in the site store go under the
//! environment's prefix, which console scripts to write, and the environment's key, which goes
//! into `__main__.py` as `VENV` in place of the `EXTRACT` and `DISTS` literals (a warm start
//! reads nothing else).
//!
//! Every distribution of a `--venv` bundle is extracted whole (the analysis is told
//! `--extract-all`, so each has its cache key and `__pycache__` bytecode as an extracted one
//! would), but its files go to the site store, not to an inner archive ([`store_path`]): the
//! store has no per-file headers, so the bundle is no larger than a plain one. The run time
//! writes each distribution's files ([`roots`]) into the environment.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::install::InstalledDist;
use crate::install::data::Scheme;
use crate::layout::main::MainData;
use crate::layout::venv::{VENV_FORMAT, VENV_INFO_PATH, VenvDist, VenvInfo, venv_key};
use crate::layout::{EXTRACT_DIR, MemberInfo};
use crate::name::normalize_name;

use super::Placed;
use super::writer::{Member, Source};

/// Returns where the member `path` of a venv bundle goes: `extract/<key>/<rel>` is the store's
/// `<rel>`, and compiled bytecode `<dir>/__pycache__/<stem>.<tag>.pyc` (`is_pyc`) the logical
/// `<dir>/<stem>.pyc`, which the store attaches to `<dir>/<stem>.py` (the run time writes it
/// back to `__pycache__`).
pub fn store_path(path: String, is_pyc: bool) -> String {
    let rel = match path
        .strip_prefix(EXTRACT_DIR)
        .and_then(|p| p.strip_prefix('/'))
        .and_then(|p| p.split_once('/'))
    {
        Some((_key, rel)) => rel.to_string(),
        None => return path,
    };
    let (dir, name) = match rel.rsplit_once('/') {
        Some((dir, name)) => (Some(dir), name),
        None => (None, rel.as_str()),
    };
    let cached = dir.and_then(|d| d.strip_suffix("__pycache__"));
    let stem = name
        .strip_suffix(".pyc")
        .and_then(|n| n.rsplit_once('.'))
        .map(|(stem, _tag)| stem);
    match (is_pyc, cached, stem) {
        (true, Some(parent), Some(stem)) => format!("{parent}{stem}.pyc"),
        _ => rel,
    }
}

/// Returns where the member `path` goes: [`store_path`] in a venv bundle (`venv`), else `path`.
pub fn member_path(venv: bool, path: String, is_pyc: bool) -> String {
    if venv { store_path(path, is_pyc) } else { path }
}

/// Returns, per distribution (`owners` gives the owner index of every store file, the attached
/// bytecode left out), the shortest list of store paths that covers exactly its files: a
/// directory (with a trailing `/`) when every file under it is its own, else the file.
pub fn roots<'a>(
    owners: impl Iterator<Item = (&'a str, usize)> + Clone,
    count: usize,
) -> Vec<Vec<String>> {
    // Which owners have files under each directory (`""` is the root, never a root itself).
    let mut under: HashMap<&str, BTreeSet<usize>> = HashMap::new();
    for (path, owner) in owners.clone() {
        let mut end = 0;
        while let Some(i) = path[end..].find('/') {
            end += i + 1;
            under.entry(&path[..end]).or_default().insert(owner);
        }
    }
    let mut out: Vec<BTreeSet<String>> = vec![BTreeSet::new(); count];
    for (path, owner) in owners {
        let mut end = 0;
        let mut root = path;
        while let Some(i) = path[end..].find('/') {
            end += i + 1;
            if under.get(&path[..end]).is_some_and(|o| o.len() == 1) {
                root = &path[..end];
                break;
            }
        }
        if let Some(set) = out.get_mut(owner) {
            set.insert(root.to_string());
        }
    }
    out.into_iter().map(|s| s.into_iter().collect()).collect()
}

/// [`roots`] of the members of a venv bundle (by path, with their owner and whether they are
/// bytecode attached to a source), that attached bytecode left out when its `.py` is a member.
pub(super) fn store_roots(members: &super::Members, count: usize) -> Vec<Vec<String>> {
    let has_source = |pyc: &str| {
        pyc.strip_suffix(".pyc")
            .is_some_and(|stem| members.contains_key(&format!("{stem}.py")))
    };
    let owners = members
        .iter()
        .filter_map(|(path, (_, owner, attached))| match owner {
            super::Owner::Dist(index) if !(*attached && has_source(path)) => {
                Some((path.as_str(), *index))
            }
            _ => None,
        });
    roots(owners, count)
}

/// Replaces the extraction literals of `main` by `VENV` and adds `_pybundle/venv.json` to the
/// members (`outer`) and to the manifest's list (`listed`). The output's stem names the
/// environment; `roots` are each distribution's files in the store ([`roots`]).
pub fn apply(
    placed: &[Placed<'_>],
    roots: Vec<Vec<String>>,
    output: &crate::output::OutputName,
    main: &mut MainData,
    listed: &mut BTreeMap<String, MemberInfo>,
    outer: &mut BTreeMap<String, Member>,
) -> anyhow::Result<()> {
    let extracted = placed
        .iter()
        .zip(roots)
        .filter(|(p, _)| p.extracted.is_some());
    let dists: Vec<VenvDist> = extracted
        .zip(&main.extract)
        .map(|((p, roots), item)| VenvDist {
            name: p.dist.name.clone(),
            key: item.key.clone(),
            dist_info: p.dist.dist_info.clone(),
            files: item.files,
            size: item.bytes,
            roots,
            prefixes: prefixes(p.dist),
            scripts: scripts(p.dist),
        })
        .collect();
    let keys: Vec<&str> = dists.iter().map(|d| d.key.as_str()).collect();
    let output = output.provisional();
    let stem = output
        .file_stem()
        .map_or("app".into(), |s| s.to_string_lossy());
    let info = VenvInfo {
        format: VENV_FORMAT,
        key: venv_key(&normalize_name(&stem), &keys),
        cache_tag: main.cache_tag.clone(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_go_to_the_store_with_bytecode_beside_its_source() {
        let at = |p: &str, pyc| store_path(p.to_string(), pyc);
        assert_eq!(at("extract/a-1-0123/pkg/mod.py", false), "pkg/mod.py");
        assert_eq!(
            at("extract/a-1-0123/pkg/__pycache__/mod.cpython-311.pyc", true),
            "pkg/mod.pyc"
        );
        assert_eq!(
            at("extract/a-1-0123/__pycache__/top.cpython-311.pyc", true),
            "top.pyc"
        );
        // A `.pyc` the distribution ships itself stays where it is.
        assert_eq!(
            at(
                "extract/a-1-0123/pkg/__pycache__/mod.cpython-311.pyc",
                false
            ),
            "pkg/__pycache__/mod.cpython-311.pyc"
        );
        assert_eq!(at("_pybundle/venv.json", false), "_pybundle/venv.json");
    }

    #[test]
    fn roots_are_the_widest_directories_one_distribution_owns() {
        let files = [
            ("a-1.dist-info/RECORD", 0),
            ("bin/a", 0),
            ("bin/b", 1),
            ("ns/a/__init__.py", 0),
            ("ns/a/sub/x.py", 0),
            ("ns/b/__init__.py", 1),
            ("share/jupyter/a/x.json", 0),
            ("share/jupyter/a/y.json", 0),
            ("six.py", 1),
        ];
        let roots = roots(files.iter().copied(), 3);
        assert_eq!(
            roots[0],
            ["a-1.dist-info/", "bin/a", "ns/a/", "share/"].map(String::from)
        );
        assert_eq!(roots[1], ["bin/b", "ns/b/", "six.py"].map(String::from));
        assert!(roots[2].is_empty());
    }
}
