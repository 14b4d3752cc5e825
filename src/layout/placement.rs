//! Where each file of a distribution goes in the bundle: the site store (imported from the
//! bundle), its inner archive (extracted to the cache on first import), or both. One place for
//! the rule that pack, the bytecode plan and the read side follow (docs/DESIGN.md, "Extraction
//! units").

/// Returns true if the site-root directory (or file) `top` can hold importable code: not
/// metadata (`.dist-info`, `.egg-info`, `.data`), scripts (`bin`), headers (`include`) or
/// bytecode (`__pycache__`). The one definition the analysis and the bytecode plan share.
pub fn holds_code(top: &str) -> bool {
    !(top.ends_with(".dist-info")
        || top.ends_with(".egg-info")
        || top.ends_with(".data")
        || matches!(top, "bin" | "include" | "__pycache__"))
}

/// Returns true if `path` is under a directory named `tests` or `test`, at any depth: a test
/// suite, which the analysis does not read and the bytecode plan does not compile.
pub fn in_tests(path: &str) -> bool {
    path.split('/')
        .rev()
        .skip(1)
        .any(|c| c == "tests" || c == "test")
}

/// The part of an extracted distribution that goes to disk, when it is less than the whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    /// The package directory extracted with everything under it, `/`-separated, relative to
    /// the site root, never empty (e.g. `azure/cli/command_modules/acs`,
    /// `sphinxcontrib/applehelp`, `portalocker`).
    pub dir: String,
    /// The dotted module whose first import extracts it: the package itself
    /// (`azure.cli.command_modules.acs`), or a module inside `dir` when only that module uses
    /// paths (`portalocker.__main__`). Always `dir` dotted, or `dir` dotted + "." + one module
    /// name of a file directly in `dir`.
    pub trigger: String,
    /// Why only this part: shown by `pybundle info` (e.g. "path use only under
    /// `azure/cli/command_modules/acs`").
    pub why: String,
}

/// How a distribution is laid out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// Every file in the site store.
    Zip,
    /// Every file in its inner archive, except its test suites in `tests`: package directories
    /// (`numpy/linalg/tests`) that no code outside them imports, which stay in the store, where
    /// they remain importable (the run time finds them there), and are not written on first start.
    Whole {
        /// The test-suite directories left in the store, `/`-separated, sorted; none of them
        /// below another.
        tests: Vec<String>,
        /// Subpackages (`scipy/stats`) that a start writes to its entry only when they are
        /// first imported, `/`-separated, sorted, none below another: each is in the inner
        /// archive too, but not in what a first start writes up front.
        parts: Vec<String>,
    },
    /// Extracted in part: the package directory `unit.dir` with everything under it goes to
    /// the inner archive, the rest to the store. `unit.trigger` is the dotted module whose
    /// import extracts it: `dir` itself (its `__init__.py` then stays in the store too, as
    /// source, so that listings of the parent package still name it), or one module file under
    /// `dir` (`pkg.__main__`, `pkg.sub.tool`: only that module leaves the store; the archive
    /// holds a copy of the whole directory for it to find the files it reads).
    Unit(Unit),
}

impl Placement {
    /// Every file in the inner archive.
    pub fn whole() -> Placement {
        Placement::Whole {
            tests: Vec::new(),
            parts: Vec::new(),
        }
    }

    /// Returns true if the distribution is extracted whole (its test suites aside).
    pub fn is_whole(&self) -> bool {
        matches!(self, Placement::Whole { .. })
    }

    /// Returns the test suites left in the store of a distribution extracted whole.
    pub fn tests(&self) -> &[String] {
        match self {
            Placement::Whole { tests, .. } => tests,
            Placement::Zip | Placement::Unit(_) => &[],
        }
    }

    /// Returns the subpackages of a distribution extracted whole that are written on their
    /// first import.
    pub fn parts(&self) -> &[String] {
        match self {
            Placement::Whole { parts, .. } => parts,
            Placement::Zip | Placement::Unit(_) => &[],
        }
    }

    /// Returns the manifest's mode: zip, or extract (whole or in part).
    pub fn mode(&self) -> super::Mode {
        match self {
            Placement::Zip => super::Mode::Zip,
            Placement::Whole { .. } | Placement::Unit(_) => super::Mode::Extract,
        }
    }

    /// Returns the unit of a distribution extracted in part.
    pub fn unit(&self) -> Option<&Unit> {
        match self {
            Placement::Unit(unit) => Some(unit),
            Placement::Zip | Placement::Whole { .. } => None,
        }
    }

    /// Returns true if `rel` (a `/`-path relative to the distribution's root) goes to the
    /// inner archive.
    pub fn extracts(&self, rel: &str) -> bool {
        match self {
            Placement::Zip => false,
            Placement::Whole { tests, .. } => !tests.iter().any(|t| under(t, rel)),
            Placement::Unit(unit) => under(&unit.dir, rel),
        }
    }

    /// Returns true if `rel` goes to the site store.
    pub fn stores(&self, rel: &str) -> bool {
        match self {
            Placement::Zip => true,
            Placement::Whole { tests, .. } => tests.iter().any(|t| under(t, rel)),
            Placement::Unit(Unit { dir, trigger, .. }) => match trigger_file(dir, trigger) {
                Some(file) => rel != file,
                None => !under(dir, rel) || rel == format!("{dir}/__init__.py"),
            },
        }
    }

    /// Returns true if the module `rel` is imported from the store (its bytecode is the legacy
    /// `module.pyc` next to it), false if from the cache (`__pycache__`).
    pub fn imports_from_store(&self, rel: &str) -> bool {
        match self {
            Placement::Zip => true,
            Placement::Whole { tests, .. } => tests.iter().any(|t| under(t, rel)),
            Placement::Unit(Unit { dir, trigger, .. }) => match trigger_file(dir, trigger) {
                Some(file) => rel != file,
                None => !under(dir, rel),
            },
        }
    }
}

/// Returns true if the `/`-path `rel` is below the directory `dir`.
pub fn under(dir: &str, rel: &str) -> bool {
    rel.strip_prefix(dir)
        .is_some_and(|rest| rest.starts_with('/'))
}

/// Returns the file of a module trigger (`pkg/__main__.py` for `pkg.__main__` in `pkg`,
/// `pkg/sub/tool.py` for `pkg.sub.tool`), or `None` when the trigger is the package `dir`
/// itself.
fn trigger_file(dir: &str, trigger: &str) -> Option<String> {
    let package = dir.replace('/', ".");
    let name = trigger.strip_prefix(&package)?.strip_prefix('.')?;
    Some(format!("{dir}/{}.py", name.replace('.', "/")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(dir: &str, trigger: &str) -> Placement {
        Placement::Unit(Unit {
            dir: dir.into(),
            trigger: trigger.into(),
            why: String::new(),
        })
    }

    #[test]
    fn package_unit_keeps_the_rest_and_its_init_in_the_store() {
        let p = unit("a/b", "a.b");
        assert!(p.extracts("a/b/c.py") && !p.stores("a/b/c.py"));
        assert!(p.extracts("a/b/__init__.py") && p.stores("a/b/__init__.py"));
        assert!(!p.imports_from_store("a/b/__init__.py"));
        assert!(!p.extracts("a/bc.py") && p.stores("a/bc.py") && p.imports_from_store("a/bc.py"));
        assert!(!p.extracts("a/__init__.py") && p.stores("a-1.0.dist-info/RECORD"));
    }

    #[test]
    fn module_unit_moves_only_that_module_out_of_the_store() {
        let p = unit("pkg", "pkg.__main__");
        assert!(p.extracts("pkg/__main__.py") && !p.stores("pkg/__main__.py"));
        assert!(!p.imports_from_store("pkg/__main__.py"));
        assert!(p.extracts("pkg/core.py") && p.stores("pkg/core.py"));
        assert!(p.imports_from_store("pkg/core.py"));
        let deep = unit("pkg", "pkg.sub.tool");
        assert!(!deep.stores("pkg/sub/tool.py") && deep.extracts("pkg/sub/tool.py"));
        assert!(deep.stores("pkg/sub/other.py") && deep.stores("pkg/data.txt"));
    }

    #[test]
    fn whole_and_zip() {
        let whole = Placement::whole();
        assert!(whole.extracts("x/y.py") && !whole.stores("x/y.py"));
        let tests = Placement::Whole {
            tests: vec!["x/tests".into()],
            parts: vec!["x/sub".into()],
        };
        assert!(tests.extracts("x/sub/m.py") && !tests.stores("x/sub/m.py"));
        assert!(tests.extracts("x/y.py") && !tests.stores("x/y.py"));
        assert!(!tests.extracts("x/tests/t.py") && tests.stores("x/tests/t.py"));
        assert!(tests.imports_from_store("x/tests/t.py") && !tests.imports_from_store("x/y.py"));
        assert!(tests.extracts("x/tests.py") && tests.extracts("x/testsuite/t.py"));
        assert!(!Placement::Zip.extracts("x/y.py") && Placement::Zip.stores("x/y.py"));
    }
}
