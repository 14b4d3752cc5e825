//! Text and document tools run on real input files in the slim setting: pygments with a lexer
//! plugin from a local project (entry points), docutils (stylesheets and include files read by
//! path), Python-Markdown (extensions named through entry points), mkdocs (a site built with a
//! theme and the search plugin), Babel (message catalogs, locale data) and cookiecutter (a
//! template rendered offline, with a hook run by the host interpreter).

use crate::common::{describe, run_ok, stdout};
use crate::harness::{Case, write_tree};

const SHOUT_FILES: &[(&str, &str)] = &[
    (
        "pyproject.toml",
        "[build-system]\nrequires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"\n\n\
         [project]\nname = \"shoutlexer\"\nversion = \"0.2.0\"\ndependencies = [\"pygments\"]\n\n\
         [project.entry-points.\"pygments.lexers\"]\nshout = \"shoutlexer:ShoutLexer\"\n\n\
         [tool.setuptools]\npy-modules = [\"shoutlexer\"]\n",
    ),
    (
        "shoutlexer.py",
        "from pygments.lexer import RegexLexer\n\
         from pygments.token import Keyword, Name, Text\n\n\n\
         class ShoutLexer(RegexLexer):\n    \
         name = \"Shout\"\n    aliases = [\"shout\"]\n    filenames = [\"*.shout\"]\n    \
         tokens = {\"root\": [(r\"[A-Z]+!\", Keyword), (r\"\\s+\", Text), (r\"\\S+\", Name)]}\n",
    ),
];

#[test]
fn pygments_highlights_with_a_plugin() {
    let Some(mut case) = Case::new(
        19,
        "Pygments",
        "`-c pygmentize`: a Python file to a full HTML page (monokai style); a lexer plugin of a local project found through its entry point by name and by file name",
    ) else {
        return;
    };
    let project = case.work().join("shoutlexer");
    write_tree(&project, SHOUT_FILES);
    let bundle = case.bundle(
        "pygmentize.pyz",
        &[
            "-c",
            "pygmentize",
            "pygments",
            project.to_str().expect("utf-8 path"),
        ],
    );
    let slim = case.slim(&bundle);
    write_tree(
        &slim.run,
        &[
            ("a.py", "def f(x):\n    return x + 1\n"),
            ("a.shout", "HEY! you there\n"),
        ],
    );
    slim.run_ok(&[
        "-f",
        "html",
        "-O",
        "full,style=monokai",
        "-o",
        "a.html",
        "a.py",
    ]);
    let html = std::fs::read_to_string(slim.run.join("a.html")).unwrap();
    assert!(
        html.contains("<span class=\"k\">def</span>")
            && html.contains("body { background: #272822"),
        "{html}"
    );
    let raw = slim.run_ok(&["-f", "raw", "-l", "shout", "a.shout"]);
    assert!(
        raw.contains("Token.Keyword\t'HEY!'") && raw.contains("Token.Name\t'you'"),
        "{raw}"
    );
    assert_eq!(slim.run_ok(&["-N", "a.shout"]), "shout\n");
}

const RST: &str = "\
Report
======

.. include:: <isonum.txt>

Some *emphasis*, a ``literal`` and |copy| 2026.

- one
- two

.. note:: Rendered by a bundled docutils.
";

#[test]
fn docutils_renders_rst() {
    let Some(mut case) = Case::new(
        20,
        "docutils",
        "`-c rst2html`: a reStructuredText file with a standard include (`<isonum.txt>`) and a note to HTML with the embedded stylesheet",
    ) else {
        return;
    };
    let bundle = case.bundle("rst2html.pyz", &["-c", "rst2html", "docutils"]);
    let slim = case.slim(&bundle);
    write_tree(&slim.run, &[("report.rst", RST)]);
    slim.run_ok(&["report.rst", "report.html"]);
    let html = std::fs::read_to_string(slim.run.join("report.html")).unwrap();
    for needle in [
        "<h1 class=\"title\">Report</h1>",
        "<em>emphasis</em>",
        "\u{a9} 2026",
        "class=\"admonition note\"",
        "Rendered by a bundled docutils.",
        // The default stylesheet, read from the package's directory and embedded.
        "font-family",
    ] {
        assert!(html.contains(needle), "no `{needle}` in:\n{html}");
    }
}

#[test]
fn markdown_with_extensions() {
    let Some(mut case) = Case::new(
        21,
        "Markdown",
        "`-m markdown -x toc -x tables` (extensions looked up through entry points) on a file",
    ) else {
        return;
    };
    let bundle = case.bundle("markdown.pyz", &["-m", "markdown", "markdown"]);
    let slim = case.slim(&bundle);
    write_tree(
        &slim.run,
        &[(
            "a.md",
            "[TOC]\n\n# Intro\n\nSome *text*.\n\n## Details\n\n| a | b |\n|---|---|\n| 1 | 2 |\n",
        )],
    );
    let html = slim.run_ok(&["-x", "toc", "-x", "tables", "a.md"]);
    for needle in [
        "<div class=\"toc\">",
        "<li><a href=\"#details\">Details</a></li>",
        "<h2 id=\"details\">Details</h2>",
        "<p>Some <em>text</em>.</p>",
        "<td>2</td>",
    ] {
        assert!(html.contains(needle), "no `{needle}` in:\n{html}");
    }
}

#[test]
fn mkdocs_builds_a_site() {
    let Some(mut case) = Case::new(
        22,
        "mkdocs",
        "`-c mkdocs`: `build --strict` of a two-page site (theme templates and assets from the package, search plugin through its entry point)",
    ) else {
        return;
    };
    let bundle = case.bundle("mkdocs.pyz", &["-c", "mkdocs", "mkdocs"]);
    let slim = case.slim(&bundle);
    write_tree(
        &slim.run,
        &[
            (
                "mkdocs.yml",
                "site_name: Bundled Docs\nnav:\n  - Home: index.md\n  - Guide: guide.md\n",
            ),
            (
                "docs/index.md",
                "# Welcome\n\nBuilt by a *bundled* mkdocs.\n",
            ),
            ("docs/guide.md", "# Guide\n\nSee [home](index.md).\n"),
        ],
    );
    let out = slim.run(&["build", "--strict"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Documentation built"),
        "{}",
        describe(&out)
    );
    let site = slim.run.join("site");
    let index = std::fs::read_to_string(site.join("index.html")).unwrap();
    assert!(
        index.contains("Built by a <em>bundled</em> mkdocs") && index.contains("Bundled Docs"),
        "{index}"
    );
    let guide = std::fs::read_to_string(site.join("guide/index.html")).unwrap();
    assert!(guide.contains("<a href=\"../\">home</a>"), "{guide}");
    assert!(site.join("css/bootstrap.min.css").is_file());
    let search = std::fs::read_to_string(site.join("search/search_index.json")).unwrap();
    assert!(search.contains("Built by a bundled mkdocs"), "{search}");
}

const APP_PY: &str = "\
from gettext import gettext as _, ngettext
print(_(\"Hello, world\"))
print(ngettext(\"%(n)d file\", \"%(n)d files\", 2) % {\"n\": 2})
";

#[test]
fn babel_message_catalogs() {
    let Some(mut case) = Case::new(
        23,
        "babel",
        "`-c pybabel`: `extract` from a source file, `init` a German catalog, `compile` it to a `.mo` that gettext reads; `--list-locales` (locale data read by path)",
    ) else {
        return;
    };
    let bundle = case.bundle("pybabel.pyz", &["-c", "pybabel", "babel"]);
    let slim = case.slim(&bundle);
    write_tree(&slim.run, &[("app.py", APP_PY)]);
    slim.run_ok(&["extract", "-o", "messages.pot", "app.py"]);
    let pot = std::fs::read_to_string(slim.run.join("messages.pot")).unwrap();
    assert!(
        pot.contains("msgid \"Hello, world\"") && pot.contains("msgid_plural \"%(n)d files\""),
        "{pot}"
    );
    slim.run_ok(&["init", "-i", "messages.pot", "-d", "locales", "-l", "de"]);
    let po_path = slim.run.join("locales/de/LC_MESSAGES/messages.po");
    let po = std::fs::read_to_string(&po_path).unwrap();
    assert!(po.contains("Language: de\\n"), "{po}");
    let po = po
        .replace(
            "msgid \"Hello, world\"\nmsgstr \"\"",
            "msgid \"Hello, world\"\nmsgstr \"Hallo, Welt\"",
        )
        .replace("msgstr[0] \"\"", "msgstr[0] \"%(n)d Datei\"")
        .replace("msgstr[1] \"\"", "msgstr[1] \"%(n)d Dateien\"");
    std::fs::write(&po_path, po).unwrap();
    let out = slim.run(&["compile", "-d", "locales", "--statistics"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("2 of 2 messages (100%) translated"),
        "{}",
        describe(&out)
    );
    let check = run_ok(case.build_python().arg("-c").arg(format!(
        "import gettext\nt = gettext.GNUTranslations(open({:?}, 'rb'))\n\
         print(t.gettext('Hello, world'), '|', t.ngettext('%(n)d file', '%(n)d files', 2) % {{'n': 2}})",
        slim.run
            .join("locales/de/LC_MESSAGES/messages.mo")
            .display()
            .to_string()
    )));
    assert_eq!(stdout(&check), "Hallo, Welt | 2 Dateien\n");
    let locales = slim.run_ok(&["--list-locales"]);
    assert!(
        locales.lines().count() > 500
            && locales
                .lines()
                .any(|l| l.starts_with("de_CH ") && l.contains("German (Switzerland)")),
        "{locales}"
    );
}

const TEMPLATE: &[(&str, &str)] = &[
    (
        "tpl/cookiecutter.json",
        "{\"project_name\": \"My Tool\", \"project_slug\": \"{{ cookiecutter.project_name.lower().replace(' ', '_') }}\", \
         \"version\": \"0.1.0\", \"license\": [\"MIT\", \"BSD-3-Clause\"]}\n",
    ),
    (
        "tpl/{{cookiecutter.project_slug}}/README.md",
        "# {{ cookiecutter.project_name }}\n\nVersion {{ cookiecutter.version }}, {{ cookiecutter.license }} licensed.\n",
    ),
    (
        "tpl/{{cookiecutter.project_slug}}/src/__init__.py",
        "NAME = \"{{ cookiecutter.project_slug }}\"\n",
    ),
    (
        "tpl/hooks/post_gen_project.py",
        "import os\nwith open(\"GENERATED.txt\", \"w\") as f:\n    \
         f.write(\"{{ cookiecutter.project_slug }} in \" + os.path.basename(os.getcwd()) + \"\\n\")\n",
    ),
];

#[test]
fn cookiecutter_renders_a_template() {
    let Some(mut case) = Case::new(
        24,
        "cookiecutter",
        "`-c cookiecutter --no-input` on a local template with extra context; Jinja2 renders names and files, a post-generation hook runs",
    ) else {
        return;
    };
    let bundle = case.bundle("cookiecutter.pyz", &["-c", "cookiecutter", "cookiecutter"]);
    let slim = case.slim(&bundle);
    write_tree(&slim.run, TEMPLATE);
    slim.run_ok(&[
        "--no-input",
        "tpl",
        "project_name=Bundled App",
        "license=BSD-3-Clause",
        "-o",
        "out",
    ]);
    let project = slim.run.join("out/bundled_app");
    assert_eq!(
        std::fs::read_to_string(project.join("README.md")).unwrap(),
        "# Bundled App\n\nVersion 0.1.0, BSD-3-Clause licensed.\n"
    );
    assert_eq!(
        std::fs::read_to_string(project.join("src/__init__.py")).unwrap(),
        "NAME = \"bundled_app\"\n"
    );
    assert_eq!(
        std::fs::read_to_string(project.join("GENERATED.txt")).unwrap(),
        "bundled_app in bundled_app\n"
    );
}
