//! First starts of real workloads: each bundle runs in the slim setting with `PYBUNDLE_ROOT`
//! pointed at an empty directory (so the run extracts whatever it needs there), without network,
//! then once more warm. Sphinx builds a German documentation project, azure-cli loads a command
//! module offline, and `zoneinfo` on CPython 3.9–3.13 reads its zones from the bundled `tzdata`
//! with no system zone files. Each case logs the files the first start wrote. See: #14

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Instant;

use crate::common::{describe, python, stdout};
use crate::harness::{Case, Slim, write_tree};

/// Returns the number of files and of directories under `dir` (0, 0 when it is missing).
fn count_tree(dir: &Path) -> (usize, usize) {
    let (mut files, mut dirs) = (0, 0);
    let Ok(entries) = std::fs::read_dir(dir) else {
        return (0, 0);
    };
    for entry in entries.filter_map(Result::ok) {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            let (f, d) = count_tree(&entry.path());
            files += f;
            dirs += d + 1;
        } else {
            files += 1;
        }
    }
    (files, dirs)
}

/// Points the slim setting's extraction root at a new empty directory beside its run dir and
/// returns both.
fn with_empty_root(slim: Slim) -> (Slim, PathBuf) {
    let root = slim.run.parent().expect("the slim dir").join("root");
    std::fs::create_dir_all(&root).expect("create the extraction root");
    assert_eq!(
        count_tree(&root),
        (0, 0),
        "the extraction root is not empty"
    );
    (slim.env("PYBUNDLE_ROOT", &root), root)
}

/// Runs the bundle with `args`, asserts it succeeded (showing its output if not), logs the time
/// and what `root` holds afterwards under `label`, and returns the output.
fn run_logged(slim: &Slim, root: &Path, label: &str, args: &[&str]) -> Output {
    let started = Instant::now();
    let out = slim.run(args);
    let elapsed = started.elapsed();
    assert!(
        out.status.success(),
        "{label}: the bundle failed: {args:?}\n{}",
        describe(&out)
    );
    let (files, dirs) = count_tree(root);
    eprintln!(
        "{label}: {args:?} in {:.2}s; PYBUNDLE_ROOT holds {files} files in {dirs} directories",
        elapsed.as_secs_f64()
    );
    out
}

const SPHINX_PROJECT: &[(&str, &str)] = &[
    (
        "src/conf.py",
        "project = \"Gebündelte Doku\"\nauthor = \"pybundle\"\nlanguage = \"de\"\n",
    ),
    (
        "src/index.rst",
        "Willkommen\n==========\n\n\
         Ein Absatz mit *Betonung* und ``Code``.\n\n\
         .. note::\n\n   Gebaut von einem gebündelten Sphinx.\n\n\
         .. code-block:: python\n\n   def add(a, b):\n       return a + b\n\n\
         .. toctree::\n   :maxdepth: 1\n\n   anleitung\n",
    ),
    (
        "src/anleitung.rst",
        "Anleitung\n=========\n\nDie zweite Seite, mit einem Suchwort: Rheinbrücke.\n",
    ),
];

/// Asserts the HTML build of [`SPHINX_PROJECT`] in `out` is complete and German; `run` (the
/// build's output) is shown when not.
fn assert_sphinx_site(out: &Path, run: &Output) {
    let read = |name: &str| {
        std::fs::read_to_string(out.join(name)).unwrap_or_else(|e| {
            panic!(
                "`{}` was not written: {e}\n{}",
                out.join(name).display(),
                describe(run)
            )
        })
    };
    let index = read("index.html");
    for needle in [
        "lang=\"de\"",
        // The admonition's label from Sphinx's German catalog ("Note" in English).
        "<p class=\"admonition-title\">Bemerkung</p>",
        "<p>Gebaut von einem gebündelten Sphinx.</p>",
        "<em>Betonung</em>",
        // The code block, highlighted by Pygments.
        "<span class=\"k\">def</span>",
        // The toctree entry of the second page.
        "href=\"anleitung.html\">Anleitung</a>",
    ] {
        assert!(
            index.contains(needle),
            "no `{needle}` in index.html:\n{index}\n{}",
            describe(run)
        );
    }
    let guide = read("anleitung.html");
    assert!(
        guide.contains("Rheinbrücke") && guide.contains("lang=\"de\""),
        "{guide}\n{}",
        describe(run)
    );
    let search = read("searchindex.js");
    assert!(
        search.starts_with("Search.setIndex(") && search.contains("\"Anleitung\""),
        "{search}\n{}",
        describe(run)
    );
    // The German search page template and the theme's assets.
    assert!(
        read("search.html").contains("Suche"),
        "search.html is not German\n{}",
        describe(run)
    );
    assert!(
        out.join("_static/basic.css").is_file(),
        "no _static/basic.css\n{}",
        describe(run)
    );
}

#[test]
fn sphinx_builds_german_docs_on_first_start() {
    let Some(mut case) = Case::new(
        28,
        "Sphinx",
        "`-c sphinx-build`, first start on an empty `PYBUNDLE_ROOT`: `-b html` of a two-page project with `language = \"de\"` (a note labelled \"Bemerkung\", a highlighted code block, a toctree, the German search index); again warm",
    ) else {
        return;
    };
    let bundle = case.bundle("sphinx-build.pyz", &["-c", "sphinx-build", "sphinx"]);
    let (slim, root) = with_empty_root(case.slim(&bundle));
    write_tree(&slim.run, SPHINX_PROJECT);

    let run = run_logged(
        &slim,
        &root,
        "sphinx first start",
        &["-b", "html", "src", "out"],
    );
    let log = stdout(&run);
    assert!(
        log.contains("loading translations [de]") && log.contains("build succeeded"),
        "{}",
        describe(&run)
    );
    assert_sphinx_site(&slim.run.join("out"), &run);

    // Warm: a new output directory, so that every page is written again.
    let run = run_logged(
        &slim,
        &root,
        "sphinx warm",
        &["-b", "html", "src", "out-warm"],
    );
    assert!(
        stdout(&run).contains("build succeeded"),
        "{}",
        describe(&run)
    );
    assert_sphinx_site(&slim.run.join("out-warm"), &run);
}

#[test]
fn azure_cli_loads_a_command_module_offline_on_first_start() {
    let Some(mut case) = Case::new(
        29,
        "azure-cli",
        "`-m azure.cli`, first start on an empty `PYBUNDLE_ROOT`, offline with a fresh `AZURE_CONFIG_DIR`: `--version` (extracts no command module), `vm --help` (loads the vm command module), then `--version`",
    ) else {
        return;
    };
    let started = Instant::now();
    let bundle = case.bundle("az.pyz", &["-m", "azure.cli", "azure-cli"]);
    eprintln!(
        "azure-cli: the build took {:.1}s",
        started.elapsed().as_secs_f64()
    );
    // `info` names the units: azure-cli's command modules, extracted on their first import.
    let info = crate::common::run_ok(case.pybundle().arg("info").arg(&bundle));
    let info = String::from_utf8_lossy(&info.stdout).into_owned();
    assert!(
        info.contains("unit `azure/cli/command_modules` (")
            && info.contains("on import of `azure.cli.command_modules`"),
        "`pybundle info` does not list azure-cli's unit:\n{info}"
    );
    let (slim, root) = with_empty_root(case.slim(&bundle));
    let config = slim.run.parent().expect("the slim dir").join("azure");
    // No network: `unshare -n` where the machine allows it (see `Slim::run`); without it, any
    // HTTP(S) attempt goes to a closed local port and fails at once. Telemetry off. azure-cli
    // still tries one request on every start with a fresh config directory (the latest-version
    // check in `AzCli.__init__`, a HEAD with no retry); it fails and the command goes on.
    let slim = slim
        .env("AZURE_CONFIG_DIR", &config)
        .env("AZURE_CORE_COLLECT_TELEMETRY", "0")
        .env("HTTPS_PROXY", "http://127.0.0.1:9")
        .env("HTTP_PROXY", "http://127.0.0.1:9");

    // `--version` imports no command module: azure-cli's unit (`azure/cli/command_modules`,
    // 200 MB) stays in the bundle.
    let run = run_logged(
        &slim,
        &root,
        "azure-cli first start",
        &["--version", "--only-show-errors"],
    );
    assert!(stdout(&run).starts_with("azure-cli "), "{}", describe(&run));
    let dists = root.join("v1").join("dists");
    let extracted: Vec<String> = std::fs::read_dir(&dists)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        !extracted.iter().any(|n| n
            .strip_prefix("azure-cli-")
            .is_some_and(|v| v.starts_with(|c: char| c.is_ascii_digit()))),
        "`--version` extracted azure-cli: {extracted:?}\n{}",
        describe(&run)
    );

    let run = run_logged(&slim, &root, "azure-cli command module", &["vm", "--help"]);
    let help = stdout(&run);
    assert!(
        help.contains("az vm : Manage Linux or Windows virtual machines."),
        "{}",
        describe(&run)
    );
    let commands = help
        .split_once("\nCommands:\n")
        .unwrap_or_else(|| panic!("no `Commands:` section in:\n{}", describe(&run)))
        .1;
    for command in ["create", "list", "start", "delete"] {
        assert!(
            commands
                .lines()
                .any(|l| l.trim_start().starts_with(&format!("{command} "))),
            "`az vm --help` lists no `{command}` command:\n{}",
            describe(&run)
        );
    }
    assert!(
        config.join("commandIndex.json").is_file(),
        "no command index in AZURE_CONFIG_DIR\n{}",
        describe(&run)
    );

    let run = run_logged(
        &slim,
        &root,
        "azure-cli second start",
        &["--version", "--only-show-errors"],
    );
    let version = stdout(&run);
    assert!(
        version
            .lines()
            .next()
            .is_some_and(|l| l.starts_with("azure-cli ")),
        "{}",
        describe(&run)
    );
    assert!(
        version.contains(&format!("Config directory '{}'", config.display())),
        "{}",
        describe(&run)
    );
}

const TZAPP: &[(&str, &str)] = &[
    (
        "pyproject.toml",
        "[build-system]\nrequires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"\n\n\
         [project]\nname = \"tzapp\"\nversion = \"0.1.0\"\ndependencies = [\"tzdata\"]\n\n\
         [project.scripts]\ntzapp = \"tzapp:main\"\n\n\
         [tool.setuptools]\npy-modules = [\"tzapp\"]\n",
    ),
    (
        "tzapp.py",
        "import datetime\nimport sys\nimport zoneinfo\n\n\n\
         def main():\n    \
         print(\"python %d.%d\" % sys.version_info[:2], \"TZPATH\", zoneinfo.TZPATH)\n    \
         paris = zoneinfo.ZoneInfo(\"Europe/Paris\")\n    \
         for month in (1, 7):\n        \
         print(datetime.datetime(2024, month, 15, 12, tzinfo=paris).isoformat())\n    \
         zones = zoneinfo.available_timezones()\n    \
         print(\"Europe/Paris\" in zones, len(zones) > 400)\n    \
         try:\n        zoneinfo.ZoneInfo(\"Nowhere/Atlantis\")\n    \
         except zoneinfo.ZoneInfoNotFoundError:\n        print(\"not found: Nowhere/Atlantis\")\n",
    ),
];

#[test]
fn zoneinfo_reads_the_bundled_tzdata_on_first_start() {
    let Some(mut case) = Case::new(
        30,
        "tzdata",
        "`-c tzapp` (a local project depending on tzdata) on CPython 3.9–3.13, first start on an empty `PYBUNDLE_ROOT` with `PYTHONTZPATH=` empty: `zoneinfo` finds Europe/Paris (UTC offsets in winter and summer) and lists it in `available_timezones()`",
    ) else {
        return;
    };
    let project = case.work().join("tzapp");
    write_tree(&project, TZAPP);
    let project = project.to_str().expect("utf-8 path").to_string();
    let mut ran = Vec::new();
    for minor in 9..=13 {
        let Some(py) = python(minor) else {
            if crate::common::require_tools() {
                panic!("required tool missing: CPython 3.{minor}");
            }
            eprintln!("skipping CPython 3.{minor}: not found");
            continue;
        };
        let bundle = case.bundle_for(
            &py,
            &format!("tzapp-3.{minor}.pyz"),
            &["-c", "tzapp", &project],
        );
        let (slim, root) =
            with_empty_root(case.slim_with(&bundle, &py, &format!("slim-3.{minor}")));
        // An empty PYTHONTZPATH leaves zoneinfo no system zone directory: only tzdata.
        let slim = slim.env("PYTHONTZPATH", "");
        let label = format!("tzapp on 3.{minor} first start");
        let run = run_logged(&slim, &root, &label, &[]);
        let out = stdout(&run);
        assert_eq!(
            out,
            format!(
                "python 3.{minor} TZPATH ()\n\
                 2024-01-15T12:00:00+01:00\n2024-07-15T12:00:00+02:00\n\
                 True True\nnot found: Nowhere/Atlantis\n"
            ),
            "CPython 3.{minor}\n{}",
            describe(&run)
        );
        let run = run_logged(&slim, &root, &format!("tzapp on 3.{minor} warm"), &[]);
        assert_eq!(
            stdout(&run),
            out,
            "CPython 3.{minor}, warm\n{}",
            describe(&run)
        );
        ran.push(minor);
    }
    assert!(!ran.is_empty(), "no CPython 3.9–3.13 found");
}
