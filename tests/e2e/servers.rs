//! Web servers bundled with their applications, started in the slim setting, fetched over HTTP
//! on 127.0.0.1 and stopped with SIGTERM: the Django seed workflow (`pip install --target` +
//! `--site-packages`), Twisted from a wheelhouse, gunicorn serving a Flask app, uvicorn
//! serving a Starlette app from spawned worker processes, and a Streamlit app's health check.

use std::time::Duration;

use crate::common::{copy_tree, repo_root, run_ok};
use crate::harness::{Case, free_port, write_tree};

/// How long a server may take to answer its first request (first run extracts native code).
const FIRST_ANSWER: Duration = Duration::from_secs(90);

/// The Django seed workflow, exactly as users type it.
#[test]
fn django_gunicorn_seed_workflow() {
    let Some(mut case) = Case::new(
        1,
        "Django + gunicorn",
        "`pip install . -r requirements.txt --target dist/`, `--site-packages dist -e myapp.main:main`; gunicorn serves a template",
    ) else {
        return;
    };
    let project = case.work().join("djangoapp");
    copy_tree(&repo_root().join("fixtures/projects/djangoseed"), &project);
    run_ok(
        case.build_python()
            .current_dir(&project)
            .args(["-m", "pip", "install", "-q", ".", "-r", "requirements.txt"])
            .args(["--target", "dist/"]),
    );
    let dist = project.join("dist");
    assert!(
        dist.join("myapp/templates/myapp/index.html").is_file(),
        "MANIFEST.in did not bring the template into the install"
    );
    let bundle = project.join("myapp.pyz");
    run_ok(
        case.pybundle()
            .current_dir(&project)
            .arg("--python")
            .arg(&case.python)
            .args(["--site-packages", "dist", "--compressed"])
            .args(["-p", "/usr/bin/env python3", "-o", "myapp.pyz"])
            .args(["-e", "myapp.main:main"]),
    );
    case.record_version(&bundle);

    let slim = case.slim(&bundle);
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let mut server = slim.serve(&["-b", &bind, "-w", "2", "myapp.wsgi"]);
    let response = server.get(port, "/?who=e2e", FIRST_ANSWER);
    server.assert_served(&response, "<h1>Hello, e2e!</h1>");
    server.assert_served(&response, "<li>ZIPAPP</li><li>GUNICORN</li>");
    server.stop_clean();
}

/// Twisted resolved from a local wheelhouse (`--find-links W --no-index`), run as `-m twisted`.
#[test]
fn twisted_web_from_wheelhouse() {
    let Some(mut case) = Case::new(
        2,
        "Twisted",
        "`pip wheel` into a wheelhouse, `--find-links W --no-index -m twisted`; `web --listen tcp:PORT --path DIR` serves a file",
    ) else {
        return;
    };
    let wheels = case.work().join("wheelhouse");
    run_ok(
        case.build_python()
            .args(["-m", "pip", "wheel", "-q", "--wheel-dir"])
            .arg(&wheels)
            .arg("Twisted"),
    );
    let bundle = case.bundle(
        "twisted.pyz",
        &[
            "--find-links",
            wheels.to_str().expect("utf-8 path"),
            "--no-index",
            "Twisted",
            "-m",
            "twisted",
        ],
    );

    let slim = case.slim(&bundle);
    let www = case.root().join("www");
    write_tree(&www, &[("hello.txt", "served by a bundled twisted\n")]);
    let port = free_port();
    let listen = format!("tcp:{port}:interface=127.0.0.1");
    let mut server = slim.serve(&[
        "web",
        "--listen",
        &listen,
        "--path",
        www.to_str().expect("utf-8 path"),
    ]);
    let response = server.get(port, "/hello.txt", FIRST_ANSWER);
    server.assert_served(&response, "served by a bundled twisted");
    server.stop_clean();
}

const FLASK_FILES: &[(&str, &str)] = &[
    (
        "pyproject.toml",
        "[build-system]\nrequires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"\n\n\
         [project]\nname = \"flaskapp\"\nversion = \"0.3.0\"\ndependencies = [\"flask\"]\n\n\
         [tool.setuptools]\npackages = [\"flaskapp\"]\n\n\
         [tool.setuptools.package-data]\nflaskapp = [\"templates/*.html\"]\n",
    ),
    (
        "flaskapp/__init__.py",
        "from flask import Flask, render_template\n\n\
         app = Flask(__name__)\n\n\n\
         @app.route(\"/hello/<name>\")\n\
         def hello(name):\n    \
         return render_template(\"hello.html\", name=name, n=len(name))\n",
    ),
    (
        "flaskapp/templates/hello.html",
        "<p>Flask says hello to {{ name }} ({{ n }} letters)</p>\n",
    ),
];

/// gunicorn (`-c gunicorn`) serving a Flask application with templates from a local project.
#[test]
fn gunicorn_flask_templates() {
    let Some(mut case) = Case::new(
        3,
        "Flask + gunicorn",
        "a local project with templates, `-c gunicorn`; `-b 127.0.0.1:PORT flaskapp:app` serves a template",
    ) else {
        return;
    };
    let project = case.work().join("flaskproj");
    write_tree(&project, FLASK_FILES);
    let bundle = case.bundle(
        "flask.pyz",
        &[
            "-c",
            "gunicorn",
            "gunicorn",
            project.to_str().expect("utf-8 path"),
        ],
    );

    let slim = case.slim(&bundle);
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let mut server = slim.serve(&["-b", &bind, "flaskapp:app"]);
    let response = server.get(port, "/hello/pybundle", FIRST_ANSWER);
    server.assert_served(&response, "<p>Flask says hello to pybundle (8 letters)</p>");
    server.stop_clean();
}

const STARLETTE_FILES: &[(&str, &str)] = &[
    (
        "pyproject.toml",
        "[build-system]\nrequires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"\n\n\
         [project]\nname = \"starapp\"\nversion = \"0.1.0\"\ndependencies = [\"starlette\", \"uvicorn\"]\n\n\
         [tool.setuptools]\npackages = [\"starapp\"]\n",
    ),
    (
        "starapp/__init__.py",
        "from starlette.applications import Starlette\n\
         from starlette.responses import JSONResponse\n\
         from starlette.routing import Route\n\n\n\
         async def square(request):\n    \
         n = request.path_params[\"n\"]\n    \
         return JSONResponse({\"n\": n, \"square\": n * n})\n\n\n\
         app = Starlette(routes=[Route(\"/square/{n:int}\", square)])\n",
    ),
];

/// uvicorn (`-c uvicorn`) serving a Starlette application with two worker processes, which
/// uvicorn starts with `multiprocessing`'s spawn method: each worker imports the bundle anew.
#[test]
fn uvicorn_starlette_workers() {
    let Some(mut case) = Case::new(
        25,
        "starlette + uvicorn",
        "a local ASGI project, `-c uvicorn`; `starapp:app --workers 2` (spawned worker processes) answers JSON",
    ) else {
        return;
    };
    let project = case.work().join("starproj");
    write_tree(&project, STARLETTE_FILES);
    let bundle = case.bundle(
        "uvicorn.pyz",
        &["-c", "uvicorn", project.to_str().expect("utf-8 path")],
    );

    let slim = case.slim(&bundle);
    let port = free_port();
    let port_arg = port.to_string();
    let mut server = slim.serve(&[
        "starapp:app",
        "--host",
        "127.0.0.1",
        "--port",
        &port_arg,
        "--workers",
        "2",
    ]);
    let response = server.get(port, "/square/12", FIRST_ANSWER);
    server.assert_served(&response, "{\"n\":12,\"square\":144}");
    let response = server.get(port, "/square/7", FIRST_ANSWER);
    server.assert_served(&response, "{\"n\":7,\"square\":49}");
    // The first worker may answer both requests while the second is still importing (seconds on
    // a loaded machine): wait for it before stopping.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while server.log().matches("Started server process").count() < 2
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    server.stop_clean();
    let log = server.log();
    assert_eq!(
        log.matches("Started server process").count(),
        2,
        "two workers should have started:\n{log}"
    );
}

/// Streamlit bundled with no flags, run as users type it: `./streamlit.pyz run app.py
/// --server.port PORT`. Streamlit refuses `--server.port` in development mode, which it assumes
/// unless `site-packages` is in its `__file__`. With no flags the analysis chooses `--venv`
/// (pydeck's data under `etc/jupyter`); the `--no-venv` bundle runs from the store and
/// extracted entries, whose code sits under a `site-packages` directory too.
#[test]
fn streamlit_health_on_first_start() {
    let Some(mut case) = Case::new(
        35,
        "streamlit",
        "`-c streamlit streamlit` (and with `--no-venv`); `run app.py --server.port PORT --server.headless true` answers `/_stcore/health` from a first start",
    ) else {
        return;
    };
    for (name, extra) in [
        ("streamlit.pyz", None),
        ("streamlit-nv.pyz", Some("--no-venv")),
    ] {
        let mut args = vec!["-c", "streamlit", "streamlit"];
        args.extend(extra);
        let bundle = case.bundle(name, &args);
        let slim = case.slim_with(&bundle, &case.python, name);
        write_tree(
            &slim.run,
            &[(
                "app.py",
                "import streamlit as st\n\nst.write(\"hello from a bundle\")\n",
            )],
        );
        let port = free_port();
        let port_arg = port.to_string();
        let mut server = slim.serve(&[
            "run",
            "app.py",
            "--server.port",
            &port_arg,
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
        ]);
        let response = server.get(port, "/_stcore/health", FIRST_ANSWER);
        server.assert_served(&response, "ok");
        server.stop_clean();
    }
}
