//! The run time that ships inside every bundle: the `_pybundle` package (real `.py` files in
//! `src/bootstrap/_pybundle/`, embedded here) and the generated `__main__.py`, which holds only
//! data literals and one call into `_pybundle`. The contract between the two is documented in
//! `docs/DESIGN.md`.
//!
//! The package, by concern: `__init__` is the warm path and the only module every start imports
//! (it also holds the Python side's only definitions of the bundle format's names, checked
//! against the Rust side by a test below); `_cache` the extraction cache as a start reads it
//! (roots, lookup, the `.pybundle-pyc` format), imported when an extracted distribution is
//! first needed; `_extract` creating roots, the marker format, checking and writing entries
//! (`_unpack` writing one entry's files); `_zip` the bundle's directory and the inner archives; `_metadata` importlib.metadata;
//! `_errors` error messages, the exit on KeyboardInterrupt and the thread traceback hook;
//! `_interp` interpreter mode; `_launch` scripts as entries and the commands of a multi-call
//! bundle; `_pth` the `.pth` files (imported only by bundles that ship some); `_importer` the
//! finder and loader of the zip-safe distributions (the store `_pybundle/site.data` indexed by
//! `_pybundle/site.index`), imported by every start; `_resources` their resources
//! (`importlib.resources`, `pkg_resources`); `_child` and `child/sitecustomize.py` the children
//! (`PYBUNDLE_EXTEND_PYTHONPATH`, multiprocessing spawn and forkserver) that import them.

/// Every file of the run-time package, as (path inside the bundle, source).
pub const RUNTIME_FILES: &[(&str, &str)] = &[
    (
        "_pybundle/__init__.py",
        include_str!("_pybundle/__init__.py"),
    ),
    ("_pybundle/_cache.py", include_str!("_pybundle/_cache.py")),
    ("_pybundle/_child.py", include_str!("_pybundle/_child.py")),
    ("_pybundle/_errors.py", include_str!("_pybundle/_errors.py")),
    (
        "_pybundle/_extract.py",
        include_str!("_pybundle/_extract.py"),
    ),
    (
        "_pybundle/_importer.py",
        include_str!("_pybundle/_importer.py"),
    ),
    ("_pybundle/_interp.py", include_str!("_pybundle/_interp.py")),
    ("_pybundle/_launch.py", include_str!("_pybundle/_launch.py")),
    (
        "_pybundle/_metadata.py",
        include_str!("_pybundle/_metadata.py"),
    ),
    ("_pybundle/_parts.py", include_str!("_pybundle/_parts.py")),
    ("_pybundle/_pth.py", include_str!("_pybundle/_pth.py")),
    (
        "_pybundle/_resources.py",
        include_str!("_pybundle/_resources.py"),
    ),
    (
        "_pybundle/child/sitecustomize.py",
        include_str!("_pybundle/child/sitecustomize.py"),
    ),
    ("_pybundle/_unpack.py", include_str!("_pybundle/_unpack.py")),
    ("_pybundle/_zip.py", include_str!("_pybundle/_zip.py")),
];

/// The guard of every `__main__.py` (`guard.py`, rendered by [`crate::layout::main`]).
pub use crate::layout::main::GUARD;

/// The run-time files only a `--venv` bundle carries (so that every other bundle stays as it
/// was): the start that builds and executes its environment.
pub const VENV_RUNTIME_FILES: &[(&str, &str)] =
    &[("_pybundle/_venv.py", include_str!("_pybundle/_venv.py"))];

/// The run-time files a `--venv` bundle leaves out: its start only builds and executes the
/// environment (`_venv` with `__init__`, `_importer`'s store reader, `_cache`, `_extract`'s
/// roots and rename, `_errors`, `_launch` for a multi-call bundle), nothing is imported from the
/// bundle, no distribution is extracted from an inner archive.
pub const NOT_IN_VENV_BUNDLES: &[&str] = &[
    "_pybundle/_child.py",
    "_pybundle/_interp.py",
    "_pybundle/_metadata.py",
    "_pybundle/_parts.py",
    "_pybundle/_pth.py",
    "_pybundle/_resources.py",
    "_pybundle/_zip.py",
    "_pybundle/child/sitecustomize.py",
];

/// Returns the run-time files of a bundle: for a `venv` one with [`VENV_RUNTIME_FILES`] and
/// without [`NOT_IN_VENV_BUNDLES`].
pub fn runtime_files(venv: bool) -> Vec<(&'static str, &'static str)> {
    if !venv {
        return RUNTIME_FILES.to_vec();
    }
    RUNTIME_FILES
        .iter()
        .filter(|(path, _)| !NOT_IN_VENV_BUNDLES.contains(path))
        .chain(VENV_RUNTIME_FILES)
        .copied()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::store;

    /// `NAME = value` lines of the `# --- site index format` block of `_pybundle/_importer.py`.
    fn importer_format() -> Vec<(String, String)> {
        let text = include_str!("_pybundle/_importer.py");
        let start = text
            .find("\n# --- site index format")
            .expect("`_importer.py` has a site index format block");
        let len = text[start..]
            .find("\n# --- end of the site index format")
            .expect("the site index format block ends");
        let line = regex::Regex::new(r"(?m)^(_?[A-Z][A-Z0-9_]*) = (.+)$").unwrap();
        let mut found: Vec<(String, String)> = line
            .captures_iter(&text[start..start + len])
            .map(|c| (c[1].to_string(), c[2].trim().to_string()))
            .collect();
        found.sort();
        found
    }

    /// The Python reader of the site store uses the Rust writer's format: every constant of
    /// its format block, by value; a name added, removed or changed on either side fails here.
    #[test]
    fn the_importer_shares_the_site_index_format() {
        let quoted = |s: &str| format!("\"{s}\"");
        let magic = format!("b\"{}\"", std::str::from_utf8(store::MAGIC).unwrap());
        let mut rust: Vec<(String, String)> = [
            ("DATA", quoted(store::DATA_MEMBER)),
            ("INDEX", quoted(store::INDEX_MEMBER)),
            ("MAGIC", magic),
            ("HEADER", quoted(store::HEADER_STRUCT)),
            ("SLOT", quoted(store::SLOT_STRUCT)),
            ("RECORD", quoted(store::RECORD_STRUCT)),
            ("KIND_FILE", store::KIND_FILE.to_string()),
            ("KIND_DIR", store::KIND_DIR.to_string()),
            ("F_DEFLATED", store::FLAG_DEFLATED.to_string()),
            ("F_BYTECODE", store::FLAG_PYC.to_string()),
            ("F_PYC_DEFLATED", store::FLAG_PYC_DEFLATED.to_string()),
            ("F_EXEC", store::FLAG_EXECUTABLE.to_string()),
            ("_HEADER_SIZE", store::HEADER_LEN.to_string()),
            ("_SLOT_SIZE", store::SLOT_LEN.to_string()),
            ("_RECORD_SIZE", store::RECORD_LEN.to_string()),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_string(), value))
        .collect();
        rust.sort();
        assert_eq!(importer_format(), rust);
    }

    /// The guard of `__main__.py` cannot import `_pybundle` (it checks it): its damage
    /// paragraph is written out, in the words of `_pybundle.damaged`.
    #[test]
    fn the_guard_reports_damage_in_the_package_words() {
        let init = include_str!("_pybundle/__init__.py");
        for words in ["\"error: the bundle `%s` is damaged (", "); rebuild it or "] {
            assert!(GUARD.contains(words) && init.contains(words), "{words}");
        }
        assert!(GUARD.ends_with("\n_pybundle_guard(globals())\n"));
    }

    #[test]
    fn every_runtime_file_is_embedded() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/bootstrap");
        let mut on_disk: Vec<String> = walkdir::WalkDir::new(&dir)
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "py"))
            .filter(|e| e.path() != dir.join("guard.py")) // rendered into `__main__.py`
            .map(|e| {
                e.path()
                    .strip_prefix(&dir)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/")
            })
            .collect();
        on_disk.sort();
        let mut embedded: Vec<String> = RUNTIME_FILES
            .iter()
            .chain(VENV_RUNTIME_FILES)
            .map(|(p, _)| (*p).to_string())
            .collect();
        embedded.sort();
        assert_eq!(on_disk, embedded);
    }

    /// `_venv.py` imports none of the modules a venv bundle leaves out.
    #[test]
    fn the_venv_module_needs_no_module_it_leaves_out() {
        let text = include_str!("_pybundle/_venv.py");
        for path in NOT_IN_VENV_BUNDLES {
            let module = path.trim_end_matches(".py").rsplit('/').next().unwrap();
            assert!(!text.contains(&format!(" {module}")), "{module}");
            assert!(!text.contains(&format!(".{module}")), "{module}");
        }
        assert_eq!(
            runtime_files(true).len() + NOT_IN_VENV_BUNDLES.len(),
            RUNTIME_FILES.len() + 1
        );
    }

    /// `_venv.py` names the environments' directory and `venv.json` as the Rust side does.
    #[test]
    fn the_venv_module_shares_the_format() {
        let text = include_str!("_pybundle/_venv.py");
        for (name, value) in [
            ("VENVS_DIR", crate::layout::venv::VENVS_DIR),
            ("VENV_INFO", crate::layout::venv::VENV_INFO_PATH),
        ] {
            assert!(
                text.contains(&format!("\n{name} = \"{value}\"\n")),
                "{name}"
            );
        }
    }
}
