//! Runs the bootstrap's own Python test suite (`tests/python`, stdlib unittest) under every
//! CPython 3.8–3.13 found on the machine.

use crate::common::{describe, python, repo_root};

#[test]
fn bootstrap_unittests_on_every_python() {
    let mut ran = Vec::new();
    for minor in 8..=13 {
        let Some(interp) = python(minor) else {
            assert!(
                !crate::common::require_tools() || minor != 11,
                "CPython 3.11 is required"
            );
            continue;
        };
        let out = std::process::Command::new(&interp)
            .args([
                "-m",
                "unittest",
                "discover",
                "-s",
                "tests/python",
                "-t",
                ".",
            ])
            .current_dir(repo_root())
            .env_remove("PYBUNDLE_ROOT")
            .env_remove("PYBUNDLE_VERBOSE")
            .output()
            .expect("python runs");
        assert!(
            out.status.success(),
            "bootstrap tests failed on {}\n{}",
            interp.display(),
            describe(&out)
        );
        ran.push(minor);
    }
    assert!(!ran.is_empty(), "no CPython 3.8–3.13 found");
    eprintln!("bootstrap unittests passed on 3.{ran:?}");
}
