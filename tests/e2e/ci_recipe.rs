//! The CI recipe of `examples/ci/`: `build-artifact.sh`, the one script both example pipelines
//! run, run for real on the fixture application (fixtures/projects/myapp and its two dependency
//! projects). Only the fixtures' build backend (setuptools) comes from the index; the build
//! itself is offline (`--no-index`, a local wheelhouse). See: #12

use std::path::Path;
use std::process::Command;

use crate::common::{describe, python, repo_root, run_ok};
use crate::require;

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "__pycache__" {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn build_artifact_script_builds_verifies_and_writes_the_sbom() {
    let python = require!(python(11), "CPython 3.11");
    let temp = tempfile::Builder::new()
        .prefix("pybundle-e2e-ci-")
        .tempdir()
        .unwrap();
    let root = temp.path();
    let fixtures = repo_root().join("fixtures");
    copy_tree(&fixtures.join("projects/myapp"), &root.join("src/myapp"));
    copy_tree(
        &fixtures.join("projects/puredep"),
        &root.join("src/puredep"),
    );
    copy_tree(&fixtures.join("native"), &root.join("src/native"));
    for dir in ["home", "cache", "extract"] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
    }
    let pip = |args: &[&str]| {
        let mut cmd = Command::new(&python);
        cmd.args(["-m", "pip"])
            .args(args)
            .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
            .env("PIP_CONFIG_FILE", "/dev/null")
            .env_remove("PIP_FIND_LINKS")
            .env_remove("PIP_NO_INDEX")
            .current_dir(root);
        cmd
    };
    // The build backend, from the index; everything after this is offline.
    run_ok(&mut pip(&[
        "download",
        "-q",
        "--no-deps",
        "--only-binary=:all:",
        "-d",
        "backend",
        "setuptools>=70.1",
    ]));
    run_ok(&mut pip(&[
        "wheel",
        "-q",
        "--no-index",
        "-f",
        "backend",
        "-w",
        "wheels",
        "src/puredep",
        "src/native",
    ]));

    let script = repo_root().join("examples/ci/build-artifact.sh");
    let py = python.display().to_string();
    let args = format!(
        "--python {py} -p {py} --no-index -f {} -f {}",
        root.join("wheels").display(),
        root.join("backend").display()
    );
    let out = run_ok(
        Command::new("bash")
            .arg(&script)
            .env("PROJECT", root.join("src/myapp"))
            .env("DIST", root.join("dist"))
            .env("PYBUNDLE", env!("CARGO_BIN_EXE_pybundle"))
            .env("PYBUNDLE_ARGS", &args)
            .env("SMOKE_ARGS", "smoke test")
            .env("SOURCE_DATE_EPOCH", "1796083200")
            .env("PIP_NO_INDEX", "1")
            .env("PIP_CONFIG_FILE", "/dev/null")
            .env("HOME", root.join("home"))
            .env("XDG_CACHE_HOME", root.join("cache"))
            .env("PYBUNDLE_ROOT", root.join("extract"))
            .env_remove("PIP_FIND_LINKS")
            .env_remove("PYTHONPATH")
            .env_remove("GITHUB_OUTPUT")
            .current_dir(root),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("argv: ['smoke', 'test']"),
        "{}",
        describe(&out)
    );
    let stem = "myapp-1.2.0-cp311-linux_x86_64";
    assert!(
        stdout.contains(&format!(
            "artifact: {}/{stem}.pyz",
            root.join("dist").display()
        )),
        "{}",
        describe(&out)
    );
    let mut files: Vec<String> = std::fs::read_dir(root.join("dist"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            format!("{stem}.cdx.json"),
            format!("{stem}.pyz"),
            format!("{stem}.pyz.sha256")
        ]
    );
    run_ok(
        Command::new("sha256sum")
            .args(["-c", &format!("{stem}.pyz.sha256")])
            .current_dir(root.join("dist")),
    );
    let sbom: serde_json::Value = serde_json::from_slice(
        &std::fs::read(root.join("dist").join(format!("{stem}.cdx.json"))).unwrap(),
    )
    .expect("the SBOM is JSON");
    assert_eq!(sbom["bomFormat"], "CycloneDX");
    let names: Vec<&str> = sbom["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    for name in ["myapp", "puredep", "spam"] {
        assert!(names.contains(&name), "{names:?}");
    }
    // Both example pipelines run this very script.
    for pipeline in ["github-actions.yml", "gitlab-ci.yml"] {
        let text = std::fs::read_to_string(repo_root().join("examples/ci").join(pipeline)).unwrap();
        assert!(
            text.contains("bash examples/ci/build-artifact.sh"),
            "{pipeline} does not run the script"
        );
    }
}
