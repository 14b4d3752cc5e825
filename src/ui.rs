//! Everything pybundle prints to stderr goes through here: stage progress, warnings, pip's
//! streamed output and the final error rendering. stdout is reserved for data (`info`, `--json`).
//!
//! Each build stage is a [`Progress`]: on a terminal an `indicatif` spinner or bar with counts,
//! replaced by one plain line when the stage ends; elsewhere (logs, CI) only that plain line.
//! `-q` prints neither; `-v` prints the plain lines and pip's output, without live displays.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How much the build prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Verbosity {
    /// Errors only.
    Quiet,
    /// Stage lines and a summary.
    #[default]
    Normal,
    /// Normal plus pip's streamed output.
    Verbose,
}

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

/// One build stage's live display.
pub struct Progress {
    bar: Option<ProgressBar>,
    stage: &'static str,
    started: Instant,
}

/// Starts the display of `stage` (`resolve`, `install`, `compile`, `pack`) doing `message`, with
/// `total` steps when known (a bar) or a spinner.
pub fn progress(stage: &'static str, message: &str, total: Option<u64>) -> Progress {
    let live = level() == 1 && std::io::stderr().is_terminal();
    let bar = live.then(|| {
        let bar = match total {
            Some(n) => ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr())
                .with_style(
                    ProgressStyle::with_template(
                        "{spinner} {prefix:>8} {msg} [{bar:24}] {pos}/{len} {elapsed}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                ),
            None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()).with_style(
                ProgressStyle::with_template("{spinner} {prefix:>8} {msg} {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            ),
        };
        bar.set_prefix(stage);
        bar.set_message(message.to_string());
        bar.enable_steady_tick(Duration::from_millis(100));
        bar
    });
    Progress {
        bar,
        stage,
        started: Instant::now(),
    }
}

impl Progress {
    /// Advances the bar by `n` steps.
    pub fn inc(&self, n: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
    }

    /// Ends the stage with one plain line: `<stage>: <summary> (<time>)`.
    pub fn finish(self, summary: &str) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        stage(&format!(
            "{:>8}: {summary} ({:.2}s)",
            self.stage,
            self.started.elapsed().as_secs_f64()
        ));
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        // A stage that failed leaves no half-drawn bar above the error.
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Returns `bytes` as a short human size (`812 B`, `14.2 kB`, `3.1 MB`).
pub fn size(bytes: u64) -> String {
    match bytes {
        0..1_000 => format!("{bytes} B"),
        1_000..1_000_000 => format!("{:.1} kB", bytes as f64 / 1e3),
        _ => format!("{:.1} MB", bytes as f64 / 1e6),
    }
}

/// Returns `n` and `noun`, with an `s` unless `n` is 1 (`1 wheel`, `3 wheels`).
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// Prints one line of a resolver tool's (pip's, uv's) streamed output.
pub fn tool_line(tool: &str, line: &str) {
    let _ = writeln!(std::io::stderr(), "  {tool}: {line}");
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
