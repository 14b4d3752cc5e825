//! Command-line tools bundled by console script: `black` and `httpie`.

use crate::harness::Case;

#[test]
fn black_formats_and_checks() {
    let Some(mut case) = Case::new(
        4,
        "black",
        "`-c black`: `--version`, `--check` on an unformatted file (exit 1), `black -q -` on stdin",
    ) else {
        return;
    };
    let bundle = case.bundle("black.pyz", &["-c", "black", "black"]);
    let slim = case.slim(&bundle);

    let version = slim.run_ok(&["--version"]);
    assert!(version.contains("black"), "{version}");

    std::fs::write(
        slim.run.join("ugly.py"),
        "x = {  'a':37,'b':42,\n'c':927}\n",
    )
    .unwrap();
    let out = slim.run(&["--check", "ugly.py"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        crate::common::describe(&out)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("would reformat"),
        "{}",
        crate::common::describe(&out)
    );

    let out = slim.run_stdin(&["-q", "-"], "def f(a,):\n  return {  'a':37,'b':42}\n");
    assert!(out.status.success(), "{}", crate::common::describe(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "def f(\n    a,\n):\n    return {\"a\": 37, \"b\": 42}\n"
    );
}

#[test]
fn httpie_version() {
    let Some(mut case) = Case::new(5, "httpie", "`-c http`: `--version`") else {
        return;
    };
    let bundle = case.bundle("http.pyz", &["-c", "http", "httpie"]);
    let slim = case.slim(&bundle);
    let out = slim.run_ok(&["--version"]);
    let line = out.trim();
    assert!(
        line.split('.').count() >= 2 && line.chars().all(|c| c.is_ascii_digit() || c == '.'),
        "`http --version` printed {out:?}"
    );
}
