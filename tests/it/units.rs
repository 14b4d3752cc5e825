//! Extraction units: a distribution whose path use sits in one package subtree puts only that
//! subtree on disk, when it is first imported; the rest runs from the bundle. A path used only by
//! `__main__.py` extracts under `python -m` and not at import.

use std::path::{Path, PathBuf};

use crate::common::wheel_builder::WheelBuilder;
use crate::common::{TestContext, python311, run_ok, stdout};

const APP: &str = r#"import os, sys

def main():
    root = os.environ["PYBUNDLE_ROOT"]
    dists = os.path.join(root, "v1", "dists")
    import kit, kit.core, tool, tool.helpers
    print("core=%s" % kit.core.hello())
    if "themes" in sys.argv[1:]:
        import kit.themes
        print("css=%s" % kit.themes.read("basic.css"))
        print("themes=%s" % kit.themes.__file__)
        print("kit=%s" % kit.__file__)
    if "list" in sys.argv[1:]:
        import pkgutil
        print("listed=%s" % sorted(m.name for m in pkgutil.iter_modules(kit.__path__)))
    entries = sorted(os.listdir(dists)) if os.path.isdir(dists) else []
    print("entries=%s" % entries)
    for e in entries:
        files = []
        for d, _, names in os.walk(os.path.join(dists, e)):
            files += [os.path.relpath(os.path.join(d, n), os.path.join(dists, e)) for n in names]
        print("files:%s=%s" % (e.split("-")[0], sorted(f for f in files if f.endswith((".py", ".css")))))
"#;

/// Builds the wheels: `kit` (a themes subpackage that reads its files by path), `tool` (a path
/// used only by its `__main__.py`) and the app.
fn wheels(ctx: &TestContext) -> PathBuf {
    let wheels = ctx.root().join("wheels");
    std::fs::create_dir_all(&wheels).unwrap();
    WheelBuilder::new("kit", "1.0")
        .file("kit/__init__.py", "VERSION = '1.0'\n")
        .file("kit/core.py", "def hello():\n    return 'core'\n")
        .file(
            "kit/themes/__init__.py",
            "import os\nHERE = os.path.dirname(os.path.abspath(__file__))\n\ndef read(name):\n    with open(os.path.join(HERE, name)) as f:\n        return f.read()\n",
        )
        .file("kit/themes/basic.css", "body {}\n")
        .build(&wheels);
    WheelBuilder::new("tool", "2.0")
        .file("tool/__init__.py", "")
        .file("tool/helpers.py", "NAME = 'helpers'\n")
        .file(
            "tool/__main__.py",
            "import os\nhere = os.path.dirname(__file__)\nwith open(os.path.join(here, 'helpers.py')) as f:\n    print('sibling=%s' % f.read().strip())\n",
        )
        .build(&wheels);
    WheelBuilder::new("unitapp", "0.1")
        .file("unitapp/__init__.py", APP)
        .metadata("Requires-Dist", "kit")
        .metadata("Requires-Dist", "tool")
        .build(&wheels);
    wheels
}

fn build(ctx: &TestContext) -> PathBuf {
    let wheels = wheels(ctx);
    ctx.build_offline(
        &python311(),
        &wheels,
        &["-e", "unitapp:main"],
        &["unitapp"],
        "units.pyz",
    )
}

fn run(ctx: &TestContext, bundle: &Path, args: &[&str]) -> String {
    stdout(&run_ok(ctx.bundle(bundle).args(args)))
}

#[test]
fn only_the_subtree_that_uses_paths_goes_to_disk_on_its_first_import() {
    let ctx = TestContext::new();
    let bundle = build(&ctx);
    let info = stdout(&run_ok(ctx.pybundle().arg("info").arg(&bundle)));
    assert!(
        info.contains("unit `kit/themes`") && info.contains("on import of `kit.themes`"),
        "{info}"
    );
    assert!(
        info.contains("unit `tool`") && info.contains("`tool.__main__`"),
        "{info}"
    );

    // Importing the rest of the distribution writes nothing; the parent still lists `themes`.
    let out = run(&ctx, &bundle, &["list"]);
    assert!(out.contains("core=core"), "{out}");
    assert!(out.contains("listed=['core', 'themes']"), "{out}");
    assert!(out.contains("entries=[]"), "{out}");

    // The subtree alone is extracted, and reads its file by path.
    let out = run(&ctx, &bundle, &["themes"]);
    assert!(out.contains("css=body {}"), "{out}");
    let root = ctx.bundle_root().display().to_string();
    assert!(
        out.contains(&format!("themes={root}/v1/dists/kit-1.0-")),
        "{out}"
    );
    assert!(!out.contains(&format!("kit={root}")), "{out}");
    assert!(
        out.contains("files:kit=['site-packages/kit/themes/__init__.py', 'site-packages/kit/themes/basic.css']"),
        "{out}"
    );
    // A warm start finds it in the cache.
    let again = run(&ctx, &bundle, &["themes"]);
    assert!(again.contains("css=body {}"), "{again}");
}

#[test]
fn a_path_used_by_main_only_extracts_under_python_m() {
    let ctx = TestContext::new();
    let bundle = build(&ctx);
    let out = stdout(&run_ok(
        ctx.bundle(&bundle)
            .env("PYBUNDLE_ENTRY_POINT", "tool")
            .env("PYBUNDLE_VERBOSE", "1"),
    ));
    assert!(out.contains("sibling=NAME = 'helpers'"), "{out}");
    let dists = ctx.bundle_root().join("v1/dists");
    let entries: Vec<String> = std::fs::read_dir(&dists)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        entries.len() == 1 && entries[0].starts_with("tool-2.0-"),
        "{entries:?}"
    );
    // A plain start imports `kit` but neither `kit.themes` nor `tool.__main__`: nothing on disk.
    let ctx = TestContext::new();
    let bundle = build(&ctx);
    let out = run(&ctx, &bundle, &[]);
    assert!(out.contains("entries=[]"), "{out}");
}

/// Pre-seeds a cache root with `pybundle extract` and returns it.
pub(crate) fn seed(ctx: &TestContext, bundle: &Path) -> PathBuf {
    let seeded = ctx.root().join("seeded");
    run_ok(
        ctx.pybundle()
            .arg("extract")
            .arg(bundle)
            .arg("--root")
            .arg(&seeded),
    );
    seeded
}

/// Every file under `<root>/v1/dists` (and every directory, with a trailing `/`), by path
/// relative to it: its bytes and permission bits.
pub(crate) fn entry_tree(root: &Path) -> std::collections::BTreeMap<String, (Vec<u8>, u32)> {
    use std::os::unix::fs::PermissionsExt;
    let dists = root.join("v1/dists");
    walkdir::WalkDir::new(&dists)
        .min_depth(1)
        .into_iter()
        .map(|e| {
            let e = e.unwrap();
            let rel = e.path().strip_prefix(&dists).unwrap().display().to_string();
            let mode = e.metadata().unwrap().permissions().mode() & 0o7777;
            if e.file_type().is_dir() {
                (format!("{rel}/"), (Vec::new(), mode))
            } else {
                (rel, (std::fs::read(e.path()).unwrap(), mode))
            }
        })
        .collect()
}

/// The two writers of an extracted entry, `pybundle extract` (Rust, `src/commands/extract.rs`)
/// and a first start (the bootstrap's `_extract.py`), write the same tree: the same files and
/// directories with the same bytes and permissions, markers included, for a distribution with a
/// C extension (extracted whole), a package unit and a module unit.
#[test]
fn extract_writes_what_a_first_start_writes() {
    let ctx = TestContext::new();
    let wheels = wheels(&ctx);
    crate::common::build_fixture_wheels(&python311(), &wheels);
    WheelBuilder::new("cmpapp", "0.1")
        .file(
            "cmpapp/__init__.py",
            "import importlib\n\ndef main():\n    import spam, kit.themes\n    importlib.import_module('tool.__main__')\n    print('%s %s' % (spam.__name__, kit.themes.read('basic.css').strip()))\n",
        )
        .metadata("Requires-Dist", "kit")
        .metadata("Requires-Dist", "tool")
        .metadata("Requires-Dist", "spam")
        .build(&wheels);
    let bundle = ctx.build_offline(
        &python311(),
        &wheels,
        &["-e", "cmpapp:main"],
        &["cmpapp"],
        "cmp.pyz",
    );
    let seeded = seed(&ctx, &bundle);
    let out = run(&ctx, &bundle, &[]);
    assert!(out.contains("spam body {}"), "{out}");
    let (ours, boot) = (entry_tree(&seeded), entry_tree(&ctx.bundle_root()));
    for prefix in ["kit-1.0-", "tool-2.0-", "spam-0.1.0-"] {
        assert!(
            ours.keys().any(|k| k.starts_with(prefix)),
            "{prefix}: {ours:?}"
        );
    }
    assert!(ours.keys().any(|k| k.ends_with(".so")), "{:?}", ours.keys());
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        boot.keys().collect::<Vec<_>>(),
        "the two writers wrote different paths"
    );
    for (path, (bytes, mode)) in &ours {
        let (boot_bytes, boot_mode) = &boot[path];
        assert!(bytes == boot_bytes, "`{path}`: different bytes");
        assert_eq!(mode, boot_mode, "`{path}`: different permissions");
    }
}

/// A distribution extracted whole leaves the test suites nothing imports in the bundle: a first
/// start (and `pybundle extract`) writes none of their files, `pybundle info` says so, and they
/// still import, from the bundle, with their source lines in tracebacks. A suite that the
/// distribution's own code imports stays on disk with the rest.
#[test]
fn test_suites_nothing_imports_stay_in_the_bundle() {
    let ctx = TestContext::new();
    let wheels = ctx.root().join("wheels");
    std::fs::create_dir_all(&wheels).unwrap();
    WheelBuilder::new("suited", "1.0")
        .file("suited/__init__.py", "from . import core, sub\n")
        .file("suited/core.py", "VALUE = 42\n")
        .file("suited/tests/__init__.py", "")
        .file(
            "suited/tests/test_core.py",
            "from suited.core import VALUE\n\ndef check():\n    raise ValueError('checked %d' % VALUE)\n",
        )
        .file("suited/tests/data/sample.txt", "sample\n")
        .file("suited/sub/__init__.py", "from .test import helper\n")
        .file("suited/sub/test/helper.py", "NAME = 'helper'\n")
        .build(&wheels);
    WheelBuilder::new("suiteapp", "0.1")
        .file(
            "suiteapp/__init__.py",
            "import os, sys, traceback\n\ndef main():\n    import suited, suited.sub.test.helper as h\n    print('core=%s helper=%s' % (suited.core.__file__, h.__file__))\n    if sys.argv[1:] == ['tests']:\n        from suited.tests import test_core\n        print('tests=%s' % test_core.__file__)\n        try:\n            test_core.check()\n        except ValueError:\n            print(traceback.format_exc())\n",
        )
        .metadata("Requires-Dist", "suited")
        .build(&wheels);
    let bundle = ctx.build_offline(
        &python311(),
        &wheels,
        &["-e", "suiteapp:main", "--extract", "suited"],
        &["suiteapp"],
        "suites.pyz",
    );
    let info = stdout(&run_ok(ctx.pybundle().arg("info").arg(&bundle)));
    assert!(
        info.contains("test suites left in the bundle, not written to the cache (")
            && info.contains("): suited/tests\n"),
        "{info}"
    );
    let out = run(&ctx, &bundle, &["tests"]);
    let root = ctx.bundle_root().display().to_string();
    let dists = format!("{root}/v1/dists/suited-1.0-");
    assert!(out.contains(&format!("core={dists}")), "{out}");
    assert!(
        out.contains("/site-packages/suited/sub/test/helper.py"),
        "{out}"
    );
    let stored = format!(
        "{}/site-packages/suited/tests/test_core.py",
        bundle.display()
    );
    assert!(out.contains(&format!("tests={stored}")), "{out}");
    assert!(
        out.contains(&format!("File \"{stored}\", line 4, in check"))
            && out.contains("raise ValueError('checked %d' % VALUE)")
            && out.contains("ValueError: checked 42"),
        "{out}"
    );
    let written: Vec<String> = entry_tree(&ctx.bundle_root()).into_keys().collect();
    assert!(
        written.iter().any(|p| p.ends_with("suited/core.py")),
        "{written:?}"
    );
    assert!(
        !written.iter().any(|p| p.contains("suited/tests")),
        "{written:?}"
    );
    let seeded = seed(&ctx, &bundle);
    assert_eq!(
        entry_tree(&seeded).into_keys().collect::<Vec<_>>(),
        written,
        "`pybundle extract` writes what a first start writes"
    );
}
