//! Everything pybundle prints to stderr goes through here: stage lines, warnings, pip's streamed
//! output and the final error rendering. stdout is reserved for data (`info`, `--json`).

use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};

use crate::config::Verbosity;

static LEVEL: AtomicU8 = AtomicU8::new(1);

/// Sets how much is printed from now on.
pub fn set_verbosity(verbosity: Verbosity) {
    let level = match verbosity {
        Verbosity::Quiet => 0,
        Verbosity::Normal => 1,
        Verbosity::Verbose => 2,
    };
    LEVEL.store(level, Ordering::Relaxed);
}

fn level() -> u8 {
    LEVEL.load(Ordering::Relaxed)
}

/// Returns true if and only if verbose output was asked for.
pub fn is_verbose() -> bool {
    level() >= 2
}

/// Prints a stage line (hidden under `-q`).
pub fn stage(message: &str) {
    if level() >= 1 {
        let _ = writeln!(std::io::stderr(), "{message}");
    }
}

/// Prints a detail line (only under `-v`).
pub fn detail(message: &str) {
    if level() >= 2 {
        let _ = writeln!(std::io::stderr(), "  {message}");
    }
}

/// Prints one line of pip's streamed output.
pub fn pip_line(line: &str) {
    let _ = writeln!(std::io::stderr(), "  pip: {line}");
}

/// Prints a warning (hidden under `-q`).
pub fn warn(message: &str) {
    if level() >= 1 {
        let _ = writeln!(std::io::stderr(), "warning: {message}");
    }
}

/// Renders an error chain as `error: …` with `caused by:` lines; `hint:` lines inside any message
/// are moved to the end.
pub fn render_error(err: &anyhow::Error) -> String {
    let mut lines = Vec::new();
    let mut hints = Vec::new();
    for (i, cause) in err.chain().enumerate() {
        let text = cause.to_string();
        let mut first = true;
        for line in text.lines() {
            if let Some(hint) = line.strip_prefix("hint: ") {
                hints.push(hint.to_string());
            } else if first {
                lines.push(if i == 0 {
                    format!("error: {line}")
                } else {
                    format!("  caused by: {line}")
                });
                first = false;
            } else {
                lines.push(format!("  {line}"));
            }
        }
    }
    for hint in hints {
        lines.push(format!("hint: {hint}"));
    }
    lines.join("\n")
}

/// Prints an error chain to stderr.
pub fn print_error(err: &anyhow::Error) {
    let _ = writeln!(std::io::stderr(), "{}", render_error(err));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_with_cause_and_hint() {
        let err = anyhow::anyhow!("`x` is bad\nhint: fix `x`").context("cannot build `app.pyz`");
        assert_eq!(
            render_error(&err),
            "error: cannot build `app.pyz`\n  caused by: `x` is bad\nhint: fix `x`"
        );
    }
}
