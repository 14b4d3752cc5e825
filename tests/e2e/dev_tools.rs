//! Developer tools bundled by console script and run on real input in the slim setting: pytest
//! with a plugin found through its entry point, mypy (mypyc-compiled, typeshed read by path),
//! sqlfluff (pluggy rule plugins, dialects, a file fixed in place), tox (creates a virtual
//! environment with the host interpreter and runs a command in it) and alembic + SQLAlchemy (a
//! SQLite migration run through the user's `env.py`).

use crate::common::{describe, run_ok, stdout};
use crate::harness::{Case, write_tree};

const PYTEST_FILE: &str = "\
import pytest


@pytest.fixture
def numbers():
    return [3, 1, 2]


def test_sorted(numbers):
    assert sorted(numbers) == [1, 2, 3]


@pytest.mark.parametrize(\"a,b\", [(1, 2), (2, 4)])
def test_double(a, b):
    assert a * 2 == b


def test_fails(numbers):
    assert max(numbers) == 4
";

#[test]
fn pytest_runs_a_test_file() {
    let Some(mut case) = Case::new(
        14,
        "pytest + pytest-timeout",
        "`-c pytest`: a test file with a fixture, parametrize and one failing assert (exit 1, rewritten assert message); the plugin loads through its entry point",
    ) else {
        return;
    };
    let bundle = case.bundle("pytest.pyz", &["-c", "pytest", "pytest", "pytest-timeout"]);
    let slim = case.slim(&bundle);
    write_tree(&slim.run, &[("test_demo.py", PYTEST_FILE)]);
    let out = slim.run(&["-p", "no:cacheprovider", "--timeout=30", "test_demo.py"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let text = stdout(&out);
    for needle in [
        "plugins: timeout-",
        "timeout: 30.0s",
        "collected 4 items",
        "E       assert 3 == 4",
        "E        +  where 3 = max([3, 1, 2])",
        "FAILED test_demo.py::test_fails - assert 3 == 4",
        "1 failed, 3 passed",
    ] {
        assert!(
            text.contains(needle),
            "no `{needle}` in:\n{}",
            describe(&out)
        );
    }
}

#[test]
fn mypy_type_checks_files() {
    let Some(mut case) = Case::new(
        15,
        "mypy",
        "`-c mypy` (mypyc-compiled, typeshed stubs read by path): a file with a type error (exit 1), a clean file (exit 0)",
    ) else {
        return;
    };
    let bundle = case.bundle("mypy.pyz", &["-c", "mypy", "mypy"]);
    let slim = case.slim(&bundle);
    write_tree(
        &slim.run,
        &[
            (
                "bad.py",
                "def add(a: int, b: int) -> int:\n    return a + b\n\n\nx: str = add(1, 2)\n",
            ),
            (
                "good.py",
                "import json\nfrom pathlib import Path\n\n\ndef load(p: Path) -> dict[str, int]:\n    \
                 return dict(json.loads(p.read_text()))\n",
            ),
        ],
    );
    let out = slim.run(&["--no-incremental", "bad.py"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let text = stdout(&out);
    assert!(
        text.contains("bad.py:5: error: Incompatible types in assignment (expression has type \"int\", variable has type \"str\")")
            && text.contains("Found 1 error in 1 file"),
        "{}",
        describe(&out)
    );
    let text = slim.run_ok(&["--strict", "good.py"]);
    assert!(
        text.contains("Success: no issues found in 1 source file"),
        "{text}"
    );
}

#[test]
fn sqlfluff_lints_and_fixes() {
    let Some(mut case) = Case::new(
        16,
        "sqlfluff",
        "`-c sqlfluff`: `lint` of a messy query (exit 1, layout and capitalisation rules), `fix` rewrites it, `lint` passes",
    ) else {
        return;
    };
    let bundle = case.bundle("sqlfluff.pyz", &["-c", "sqlfluff", "sqlfluff"]);
    let slim = case.slim(&bundle);
    let query = slim.run.join("q.sql");
    std::fs::write(&query, "SELECT a,b  from t WHERE a=1\n").unwrap();

    let out = slim.run(&["lint", "--dialect", "ansi", "q.sql"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let text = stdout(&out);
    assert!(
        text.contains("== [q.sql] FAIL") && text.contains("LT01") && text.contains("CP01"),
        "{}",
        describe(&out)
    );
    slim.run_ok(&["fix", "--dialect", "ansi", "q.sql"]);
    let fixed = std::fs::read_to_string(&query).unwrap();
    assert!(
        fixed.contains("FROM t") && fixed.contains("WHERE a = 1"),
        "fixed: {fixed:?}"
    );
    slim.run_ok(&["lint", "--dialect", "ansi", "q.sql"]);
}

const TOX_INI: &str = "\
[tox]
env_list = hello, lint
skipsdist = true

[testenv:hello]
description = say hello from the env
skip_install = true
commands = python -c \"import sys; print('hello from', sys.prefix)\"

[testenv:lint]
description = lint the code
skip_install = true
deps = flake8
commands = flake8 .
";

#[test]
fn tox_lists_and_runs_an_env() {
    let Some(mut case) = Case::new(
        17,
        "tox",
        "`-c tox`: `tox l` lists the envs of a `tox.ini`; `tox run -e hello` creates a virtualenv (seeded from virtualenv's embedded wheels) and runs a command in it",
    ) else {
        return;
    };
    let bundle = case.bundle("tox.pyz", &["-c", "tox", "tox"]);
    let slim = case.slim(&bundle);
    write_tree(&slim.run, &[("tox.ini", TOX_INI)]);
    let text = slim.run_ok(&["l"]);
    assert!(
        text.contains("hello -> say hello from the env") && text.contains("lint  -> lint the code"),
        "{text}"
    );
    let text = slim.run_ok(&["run", "-e", "hello"]);
    let env = slim.run.join(".tox/hello");
    assert!(
        text.contains(&format!("hello from {}", env.display())) && text.contains("congratulations"),
        "{text}"
    );
}

const MIGRATION: &str = "\
\"\"\"create users\"\"\"
import sqlalchemy as sa
from alembic import op

revision = \"0001\"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    users = op.create_table(
        \"users\",
        sa.Column(\"id\", sa.Integer, primary_key=True),
        sa.Column(\"name\", sa.String(50), nullable=False),
    )
    op.bulk_insert(users, [{\"id\": 1, \"name\": \"ada\"}, {\"id\": 2, \"name\": \"grace\"}])


def downgrade():
    op.drop_table(\"users\")
";

#[test]
fn alembic_migrates_sqlite() {
    let Some(mut case) = Case::new(
        18,
        "alembic + SQLAlchemy",
        "`-c alembic`: `init` (templates copied from the package), a migration, `upgrade head` on SQLite, `current`; the table holds the rows",
    ) else {
        return;
    };
    let bundle = case.bundle("alembic.pyz", &["-c", "alembic", "alembic"]);
    let slim = case.slim(&bundle);
    let text = slim.run_ok(&["init", "migrations"]);
    assert!(text.contains("alembic.ini"), "{text}");
    assert!(slim.run.join("migrations/env.py").is_file(), "{text}");

    let ini_path = slim.run.join("alembic.ini");
    let ini = std::fs::read_to_string(&ini_path).unwrap();
    let ini: String = ini
        .lines()
        .map(|l| {
            if l.starts_with("sqlalchemy.url") {
                "sqlalchemy.url = sqlite:///app.db"
            } else {
                l
            }
        })
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(
        ini.contains("sqlite:///app.db"),
        "no `sqlalchemy.url` in alembic.ini"
    );
    std::fs::write(&ini_path, ini).unwrap();
    write_tree(
        &slim.run,
        &[("migrations/versions/0001_users.py", MIGRATION)],
    );

    let out = slim.run(&["upgrade", "head"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Running upgrade  -> 0001, create users"),
        "{}",
        describe(&out)
    );
    assert!(slim.run_ok(&["current"]).contains("0001 (head)"));
    let rows = run_ok(case.build_python().arg("-c").arg(format!(
        "import sqlite3; print(sqlite3.connect({:?}).execute('select name from users order by id').fetchall())",
        slim.run.join("app.db").display().to_string()
    )));
    assert_eq!(stdout(&rows), "[('ada',), ('grace',)]\n");
}
