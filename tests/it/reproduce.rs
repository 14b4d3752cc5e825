//! Tests for reproducible builds: the same inputs give the same bytes, whatever the directory,
//! and whatever the hash seed of the interpreter that compiles the bytecode.

use crate::common::{TestContext, python, python311, run_ok};

#[test]
fn reproducible_in_different_directories() {
    let python = python311();
    let build_in = |ctx: &TestContext| -> Vec<u8> {
        let wheels = ctx.fixture_wheels(&python);
        let bundle = ctx.build_app(&wheels, &["-c", "myapp"], "app.pyz");
        std::fs::read(bundle).unwrap()
    };
    let a = build_in(&TestContext::new());
    let b = build_in(&TestContext::new());
    assert!(a == b, "two builds of the same inputs differ");
}

/// CPython before 3.11 writes the elements of frozenset constants in string-hash order: the
/// compile step must not run with a random hash seed, or two builds differ.
#[test]
fn frozenset_constants_are_reproducible_before_311() {
    let Some(python) = [8, 9, 10].into_iter().find_map(python) else {
        assert!(
            !crate::common::require_tools(),
            "a CPython before 3.11 is required"
        );
        return;
    };
    let ctx = TestContext::new();
    let site = ctx.root().join("site");
    std::fs::create_dir_all(&site).unwrap();
    let words: Vec<String> = (0..40).map(|i| format!("\"word{i}\"")).collect();
    std::fs::write(
        site.join("setconst.py"),
        format!(
            "def main():\n    for w in ('word3', 'nope'):\n        print(w in {{{}}})\n",
            words.join(", ")
        ),
    )
    .unwrap();
    let build = |name: &str| -> Vec<u8> {
        let output = ctx.work().join(name);
        std::fs::create_dir_all(output.parent().unwrap()).unwrap();
        run_ok(
            ctx.pybundle()
                .arg("--site-packages")
                .arg(&site)
                .args(["-e", "setconst:main", "-o"])
                .arg(&output)
                .arg("--python")
                .arg(&python)
                .env("PYBUNDLE_NO_BUILD_CACHE", "1"),
        );
        std::fs::read(&output).unwrap()
    };
    let first = build("a/set.pyz");
    let second = build("b/set.pyz");
    assert!(
        first == second,
        "two builds with {} differ",
        python.display()
    );
}
