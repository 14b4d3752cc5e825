//! The Jupyter family, which finds its data under `sys.prefix` (`share/jupyter`): bundled, the
//! build chooses `--venv` by itself, and the first start (empty cache, fresh HOME) builds the
//! environment that every start then runs in.
//!
//! See: #22

use std::time::Duration;

use crate::common::describe;
use crate::harness::{Case, free_port};

/// How long a server may take to answer its first request (the first start builds the
/// environment).
const FIRST_ANSWER: Duration = Duration::from_secs(120);

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

#[test]
fn jupyter_server_answers_api_status_with_a_token() {
    let Some(mut case) = Case::new(
        32,
        "jupyter-server",
        "`-c jupyter-server` (chosen `--venv`: config under `etc/jupyter`): `GET /api/status` with a token, first start on an empty cache, then again",
    ) else {
        return;
    };
    let bundle = case.bundle("server.pyz", &["-c", "jupyter-server", "jupyter-server"]);
    let slim = case.slim(&bundle);
    for start in ["first", "second"] {
        let port = free_port();
        let port_arg = format!("--port={port}");
        let mut server = slim.serve(&[
            &port_arg,
            "--ip=127.0.0.1",
            "--no-browser",
            "--allow-root",
            "--IdentityProvider.token=e2e-token",
        ]);
        let response = server.get(port, "/api/status?token=e2e-token", FIRST_ANSWER);
        server.assert_served(&response, "\"started\"");
        let refused = server.get(port, "/api/status", FIRST_ANSWER);
        assert!(
            refused.starts_with("HTTP/1.1 403") || refused.starts_with("HTTP/1.0 403"),
            "{start} start: without the token\n{refused}"
        );
        server.stop();
    }
    let venvs = slim.home.join(".cache/pybundle/v1/venvs");
    assert_eq!(std::fs::read_dir(&venvs).expect("venvs").count(), 1);
}

/// A notebook of two cells, the second reading what the first defined.
const TWO_CELLS: &str = r##"{"cells": [
 {"cell_type": "code", "execution_count": null, "id": "c1", "metadata": {}, "outputs": [],
  "source": ["x = 6 * 7"]},
 {"cell_type": "code", "execution_count": null, "id": "c2", "metadata": {}, "outputs": [],
  "source": ["import sys\nprint('answer', x, sys.prefix == sys.base_prefix)"]}],
 "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
  "language_info": {"name": "python"}},
 "nbformat": 4, "nbformat_minor": 5}
"##;

#[test]
fn papermill_executes_a_notebook_through_ipykernel() {
    let Some(mut case) = Case::new(
        33,
        "papermill + ipykernel",
        "`-c papermill papermill ipykernel` (chosen `--venv`: the kernelspec under `share/jupyter`): a two-cell notebook executed by a `python -m ipykernel_launcher` kernel of the environment, first start on an empty cache, then again",
    ) else {
        return;
    };
    let bundle = case.bundle("pm.pyz", &["-c", "papermill", "papermill", "ipykernel"]);
    let slim = case.slim(&bundle);
    std::fs::write(slim.run.join("in.ipynb"), TWO_CELLS).unwrap();
    for start in ["first", "second"] {
        let out_nb = slim.run.join("out.ipynb");
        let _ = std::fs::remove_file(&out_nb);
        // The kernel talks to papermill over 127.0.0.1: with the network, not `unshare -n`.
        let out = slim
            .cmd(&["in.ipynb", "out.ipynb"])
            .stdin(std::process::Stdio::null())
            .output()
            .expect("the bundle runs");
        assert!(out.status.success(), "{start} start: {}", describe(&out));
        let text = std::fs::read_to_string(&out_nb).expect("out.ipynb written");
        assert!(text.contains("answer 42 False"), "{start} start: {text}");
    }
}

#[test]
fn jupyterlab_serves_lab_and_its_static_assets() {
    let Some(mut case) = Case::new(
        34,
        "jupyterlab",
        "`-c jupyter-lab` (chosen `--venv`: assets under `share/jupyter/lab`): `/lab` names JupyterLab and a static asset of `share/jupyter/lab/static` returns 200, first start on an empty cache, then again",
    ) else {
        return;
    };
    let bundle = case.bundle("lab.pyz", &["-c", "jupyter-lab", "jupyterlab"]);
    let slim = case.slim(&bundle);
    for start in ["first", "second"] {
        let port = free_port();
        let port_arg = format!("--port={port}");
        let mut server = slim.serve(&[
            &port_arg,
            "--ip=127.0.0.1",
            "--no-browser",
            "--allow-root",
            "--IdentityProvider.token=e2e-token",
        ]);
        let page = server.get(port, "/lab?token=e2e-token", FIRST_ANSWER);
        server.assert_served(&page, "JupyterLab");
        // The page loads the lab's bundle from `share/jupyter/lab/static`, served by the
        // environment's prefix.
        let at = page
            .find("/static/lab/")
            .unwrap_or_else(|| panic!("{start} start: no static asset in the page\n{page}"));
        let asset: String = page[at..]
            .chars()
            .take_while(|c| !matches!(c, '"' | '\'' | '?' | ' ' | '<' | '>'))
            .collect();
        let response = server.get(port, &asset, FIRST_ANSWER);
        assert!(
            response.starts_with("HTTP/1.1 200") || response.starts_with("HTTP/1.0 200"),
            "{start} start: {asset}\n{}",
            response.lines().next().unwrap_or_default()
        );
        server.stop();
    }
}
