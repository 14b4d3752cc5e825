//! The Jupyter family, which finds its data under `sys.prefix` (`share/jupyter`): bundled, the
//! build chooses `--venv` by itself, and the first start (empty cache, fresh HOME) builds the
//! environment that every start then runs in.
//!
//! See: #22

use crate::common::describe;
use crate::harness::Case;

/// A two-cell notebook, one markdown and one code cell with its output.
const NOTEBOOK: &str = r##"{"cells": [
 {"cell_type": "markdown", "id": "a1", "metadata": {}, "source": ["# Hello from a bundle"]},
 {"cell_type": "code", "execution_count": 1, "id": "b2", "metadata": {},
  "outputs": [{"name": "stdout", "output_type": "stream", "text": ["42\n"]}],
  "source": ["print(6 * 7)"]}],
 "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
  "language_info": {"name": "python"}},
 "nbformat": 4, "nbformat_minor": 5}
"##;

#[test]
fn nbconvert_writes_html_from_a_first_start() {
    let Some(mut case) = Case::new(
        31,
        "nbconvert",
        "`-c jupyter-nbconvert` (chosen `--venv`: templates under `share/jupyter`): `--to html` of a notebook, first start on an empty cache, then again",
    ) else {
        return;
    };
    let out = case
        .pybundle()
        .arg("--python")
        .arg(&case.python)
        .args([
            "-o",
            "nbconvert.pyz",
            "-c",
            "jupyter-nbconvert",
            "nbconvert",
        ])
        .output()
        .expect("pybundle runs");
    assert!(out.status.success(), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("venv: runs in a virtual environment") && err.contains("`share/jupyter`"),
        "{err}"
    );
    let bundle = case.work().join("nbconvert.pyz");
    case.record_version(&bundle);
    let slim = case.slim(&bundle);
    std::fs::write(slim.run.join("nb.ipynb"), NOTEBOOK).unwrap();
    for start in ["first", "second"] {
        let html = slim.run.join("nb.html");
        let _ = std::fs::remove_file(&html);
        let out = slim.run(&["--to", "html", "nb.ipynb"]);
        assert!(out.status.success(), "{start} start: {}", describe(&out));
        let text = std::fs::read_to_string(&html).expect("nb.html written");
        assert!(text.contains("Hello from a bundle"), "{start} start");
        assert!(
            text.contains("<!DOCTYPE html>"),
            "{start} start: the lab template"
        );
        let venvs = slim.home.join(".cache/pybundle/v1/venvs");
        let envs: Vec<_> = std::fs::read_dir(&venvs).expect("venvs").collect();
        assert_eq!(envs.len(), 1, "{start} start: one environment");
    }
}
