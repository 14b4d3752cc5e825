//! The bundle's own importer on real bundles: a zip-safe distribution served from the site store
//! (`_pybundle/site.data`, `site.index`) answers everything zipimport answered, on every CPython
//! 3.8–3.13 found: module attributes, `find_spec`, `reload`, `runpy`, relative imports,
//! `importlib.resources`, `pkgutil`, `importlib.metadata`, `pkg_resources`, `inspect` and
//! traceback source lines (also in threads), a namespace package with one portion in the store
//! and one extracted, multiprocessing spawn and forkserver children and
//! `PYBUNDLE_EXTEND_PYTHONPATH` children.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::wheel_builder::WheelBuilder;
use crate::common::{TestContext, describe, python, run, stderr, stdout};

/// The checks, run inside the bundle: each prints `ok NAME` or is listed on stderr (exit 1).
const STOREAPP: &str = r#"import importlib, importlib.util, inspect, os, pkgutil, runpy, subprocess, sys, traceback

FAILS = []


def check(name, got, want):
    if got == want:
        print("ok", name)
    else:
        FAILS.append("%s: got %r, want %r" % (name, got, want))


def child_f(x):
    from storeapp import sub
    return sub.f() + x


def modules(b):
    import storeapp, storeapp.sub as sub
    check("file", storeapp.__file__, b + "/storeapp/__init__.py")
    check("path", list(storeapp.__path__), [b + "/storeapp"])
    check("origin", (sub.__spec__.origin, sub.__file__), (b + "/storeapp/sub.py",) * 2)
    check("loader", (sub.__loader__ is sub.__spec__.loader, sub.__loader__.is_package("storeapp.sub")), (True, False))
    check("find_spec", importlib.util.find_spec("storeapp.helper").origin, b + "/storeapp/helper.py")
    check("relative", sub.H, "relative")
    sub.COUNT = 5
    check("reload", importlib.reload(sub).COUNT, 0)
    check("getsource", "return 42" in inspect.getsource(sub.f), True)
    try:
        sub.boom()
    except ValueError:
        check("traceback", 'raise ValueError("boom line")' in traceback.format_exc(), True)
    import nsx.zpart, nsx.epart
    check("namespace", (nsx.zpart.V, nsx.epart.V), ("zipped", "extracted"))
    runpy.run_module("storeapp", run_name="__main__", alter_sys=False)
    check("runpy", os.environ.get("STOREAPP_MAIN"), "ran")


def resources(b):
    import storeapp
    import importlib.resources as ir
    check("get_data", storeapp.__loader__.get_data(b + "/storeapp/res.txt"), b"hello")
    check("pkgutil.get_data", pkgutil.get_data("storeapp", "data/deep/x.bin"), b"\x00\x01")
    check("iter_modules", sorted(m.name for m in pkgutil.iter_modules(storeapp.__path__)), ["__main__", "helper", "sub"])
    import pathlib  # faker and others list plugins under Path(__file__).parent, which drops `/./`
    check("iter_modules_of_file", sorted(m.name for m in pkgutil.iter_modules([str(pathlib.Path(storeapp.__file__).parent)])),
          ["__main__", "helper", "sub"])
    check("walk_packages", sorted(m.name for m in pkgutil.walk_packages(storeapp.__path__, "storeapp.")),
          ["storeapp.__main__", "storeapp.helper", "storeapp.sub"])
    check("read_text", ir.read_text("storeapp", "res.txt"), "hello")
    with ir.open_binary("storeapp", "res.txt") as f:
        check("open_binary", f.read(), b"hello")
    check("is_resource", (ir.is_resource("storeapp", "res.txt"), ir.is_resource("storeapp", "data")), (True, False))
    check("contents", "res.txt" in list(ir.contents("storeapp")), True)
    if hasattr(ir, "files"):
        root = ir.files("storeapp")
        check("files", (root / "data" / "res.txt").read_text(), "deep hello")
        check("iterdir", sorted(p.name for p in (root / "data").iterdir()), ["deep", "res.txt"])
        with ir.as_file(root / "data" / "deep" / "x.bin") as p:
            with open(p, "rb") as f:
                check("as_file", f.read(), b"\x00\x01")
    import importlib.metadata as md
    check("metadata", md.version("storeapp"), "1.0.0")
    eps = md.entry_points()
    group = eps.select(group="console_scripts") if hasattr(eps, "select") else eps.get("console_scripts", ())
    check("entry_points", "storeapp" in [ep.name for ep in group], True)


def children():
    import multiprocessing as mp
    for method in ("spawn", "forkserver"):
        with mp.get_context(method).Pool(1) as pool:
            check(method, pool.apply(child_f, (1,)), 43)
    if os.environ.get("PYBUNDLE_EXTEND_PYTHONPATH"):
        out = subprocess.run([sys.executable, "-c", "import storeapp.sub, nsx.zpart; print(storeapp.sub.f())"],
                             stdout=subprocess.PIPE, universal_newlines=True)
        check("extend_pythonpath", out.stdout.strip(), "42")


def thread():
    import threading
    from storeapp import sub
    t = threading.Thread(target=sub.boom)
    t.start()
    t.join()


def pkg_resources_checks():
    try:
        import pkg_resources as pr
    except ImportError:
        print("no pkg_resources")
        return
    check("resource_string", pr.resource_string("storeapp", "res.txt"), b"hello")
    check("resource_exists", pr.resource_exists("storeapp", "data/res.txt"), True)
    check("resource_isdir", pr.resource_isdir("storeapp", "data"), True)
    check("resource_listdir", sorted(pr.resource_listdir("storeapp", "data")), ["deep", "res.txt"])
    check("distribution", pr.get_distribution("storeapp").version, "1.0.0")
    check("iter_entry_points", "storeapp" in [ep.name for ep in pr.iter_entry_points("console_scripts")], True)


def main():
    import storeapp
    b = os.path.dirname(os.path.dirname(storeapp.__file__))
    what = sys.argv[1]
    if what == "all":
        modules(b)
        resources(b)
        children()
    elif what == "thread":
        thread()
    else:
        pkg_resources_checks()
    if FAILS:
        sys.stderr.write("\n".join(FAILS) + "\n")
        return 1
    return 0
"#;

const SUB: &str = r#"from .helper import H
COUNT = 0


def f():
    return 42


def boom():
    raise ValueError("boom line")
"#;

/// A zip-safe `storeapp` (resources, a namespace portion) and an extracted `nsext` holding the
/// other portion of the namespace package `nsx`.
fn wheels(ctx: &TestContext) -> PathBuf {
    let dir = ctx.root().join("store-wheels");
    std::fs::create_dir_all(&dir).unwrap();
    WheelBuilder::new("storeapp", "1.0.0")
        .requires(["nsext"])
        .file("storeapp/__init__.py", STOREAPP)
        .file("storeapp/sub.py", SUB)
        .file("storeapp/helper.py", "H = 'relative'\n")
        .file(
            "storeapp/__main__.py",
            "import os\nos.environ['STOREAPP_MAIN'] = 'ran'\n",
        )
        .file("storeapp/res.txt", "hello")
        .file("storeapp/data/res.txt", "deep hello")
        .binary("storeapp/data/deep/x.bin", &[0, 1])
        .file("nsx/zpart.py", "V = 'zipped'\n")
        .entry_point("console_scripts", "storeapp", "storeapp:main")
        .build(&dir);
    WheelBuilder::new("nsext", "1.0.0")
        .file("nsx/epart.py", "V = 'extracted'\n")
        .binary("nsext/_fake.so", &[0u8; 64])
        .build(&dir);
    dir
}

fn bundle_run(ctx: &TestContext, py: &Path, bundle: &Path, arg: &str) -> Command {
    let mut cmd = ctx.bundle_with(py, bundle);
    cmd.arg(arg);
    cmd
}

fn has_pkg_resources(py: &Path) -> bool {
    run(Command::new(py).args(["-W", "ignore", "-c", "import pkg_resources"]))
        .status
        .success()
}

#[test]
fn the_store_answers_what_zipimport_did_on_every_python() {
    let ctx = TestContext::new();
    let w = wheels(&ctx);
    let mut ran = Vec::new();
    for minor in 8..=13 {
        let Some(py) = python(minor) else { continue };
        let name = format!("store-3{minor}.pyz");
        let bundle = ctx.build_offline(
            &py,
            &w,
            &["-q", "-e", "storeapp:main"],
            &["storeapp"],
            &name,
        );
        let listing = run(Command::new(&py).args(["-m", "zipfile", "-l"]).arg(&bundle));
        assert!(
            stdout(&listing).contains("_pybundle/site.index")
                && !stdout(&listing).contains("storeapp/sub.py"),
            "3.{minor}: the zip-safe files are in the store\n{}",
            describe(&listing)
        );
        for extend in [false, true] {
            let mut cmd = bundle_run(&ctx, &py, &bundle, "all");
            if extend {
                cmd.env("PYBUNDLE_EXTEND_PYTHONPATH", "1");
            }
            let out = run(&mut cmd);
            assert!(
                out.status.success(),
                "3.{minor} (extend {extend})\n{}",
                describe(&out)
            );
            for name in [
                "file",
                "reload",
                "namespace",
                "runpy",
                "files",
                "spawn",
                "forkserver",
                "metadata",
            ] {
                if name == "files" && minor == 8 {
                    continue;
                }
                assert!(
                    stdout(&out).contains(&format!("ok {name}\n")),
                    "3.{minor}: {name}\n{}",
                    describe(&out)
                );
            }
            assert_eq!(
                stdout(&out).contains("ok extend_pythonpath\n"),
                extend,
                "{}",
                describe(&out)
            );
        }
        // Started as `DIR/./app.pyz`: module paths are normalised, so that a path rebuilt from
        // `Path(__file__)` (which drops `/./`) is still the store's.
        let dotted = bundle.parent().unwrap().join(".").join(&name);
        let out = run(&mut bundle_run(&ctx, &py, &dotted, "all"));
        assert!(
            out.status.success() && stdout(&out).contains("ok iter_modules_of_file\n"),
            "3.{minor}: started through a `/./` path\n{}",
            describe(&out)
        );
        let out = run(&mut bundle_run(&ctx, &py, &bundle, "thread"));
        assert!(
            stderr(&out).contains("raise ValueError(\"boom line\")"),
            "3.{minor}: a thread's traceback shows the source line\n{}",
            describe(&out)
        );
        if has_pkg_resources(&py) {
            let out = run(bundle_run(&ctx, &py, &bundle, "pkg_resources")
                .env("PYBUNDLE_INHERIT_PATH", "1")
                .env("PYTHONWARNINGS", "ignore"));
            assert!(out.status.success(), "3.{minor}\n{}", describe(&out));
            assert!(
                stdout(&out).contains("ok iter_entry_points\n"),
                "3.{minor}\n{}",
                describe(&out)
            );
        }
        ran.push(minor);
    }
    assert!(!ran.is_empty(), "no CPython 3.8–3.13 found");
    eprintln!("store importer checks passed on 3.{ran:?}");
}
