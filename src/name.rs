//! Python names, shared by the build side, the read side and the configuration: PEP 503
//! distribution names ([`normalize_name`]) and `module(.sub)*(:attr(.attr)*)?` targets
//! ([`parse_entry_target`], used by `-e MODULE:FUNC`, `-m MODULE` and `entry_points.txt`).
//!
//! A leaf: pure string functions, no I/O, nothing of the crate imported.

use std::fmt;

/// PEP 503 normalisation: lowercase, every run of `-`, `_` and `.` replaced by one `-`.
pub fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_run = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_run {
                out.push('-');
            }
            in_run = true;
        } else {
            out.extend(c.to_lowercase());
            in_run = false;
        }
    }
    out
}

/// A callable or module to run: `module` with an optional dotted `attr`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EntryTarget {
    /// The dotted module path, e.g. `pkg.cli`.
    pub module: String,
    /// The dotted attribute path inside the module, e.g. `main` or `Cli.run`.
    pub attr: Option<String>,
}

impl fmt::Display for EntryTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.attr {
            Some(attr) => write!(f, "{}:{attr}", self.module),
            None => f.write_str(&self.module),
        }
    }
}

/// A target that is not `module(.sub)*(:attr(.attr)*)?`. The message names the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a valid entry point (expected `module` or `module:function`): {reason}")]
pub struct BadTarget {
    /// The rejected text.
    pub input: String,
    /// What is wrong with it.
    pub reason: String,
}

/// Whether `s` is a Python identifier (ASCII rules, plus non-ASCII letters and digits as PEP 3131
/// allows; the exact Unicode XID tables are not needed to reject what matters).
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c == '_' || c.is_alphabetic() => {}
        _ => return false,
    }
    chars.all(|c| c == '_' || c.is_alphanumeric())
}

/// Whether `s` is a non-empty dotted sequence of identifiers.
fn is_dotted(s: &str) -> bool {
    !s.is_empty() && s.split('.').all(is_identifier)
}

/// Parses and validates `module(.sub)*(:attr(.attr)*)?`; whitespace around the whole and around
/// `:` is allowed. Extras (`[…]`) are not accepted here: `EntryPoints::console_script` strips
/// them first.
pub fn parse_entry_target(s: &str) -> Result<EntryTarget, BadTarget> {
    let fail = |reason: &str| BadTarget {
        input: s.to_string(),
        reason: reason.to_string(),
    };
    let trimmed = s.trim();
    if trimmed.is_empty() {
        return Err(fail("it is empty"));
    }
    let (module, attr) = match trimmed.split_once(':') {
        Some((module, attr)) => (module.trim(), Some(attr.trim())),
        None => (trimmed, None),
    };
    if !is_dotted(module) {
        return Err(fail(&format!(
            "`{module}` is not a dotted module name made of Python identifiers"
        )));
    }
    if let Some(attr) = attr
        && !is_dotted(attr)
    {
        return Err(fail(&format!(
            "`{attr}` is not a dotted attribute name made of Python identifiers"
        )));
    }
    Ok(EntryTarget {
        module: module.to_string(),
        attr: attr.map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_names() {
        assert_eq!(normalize_name("Foo.Bar"), "foo-bar");
        assert_eq!(normalize_name("foo__bar-._baz"), "foo-bar-baz");
        assert_eq!(normalize_name("zope.interface"), "zope-interface");
        assert_eq!(normalize_name("six"), "six");
    }

    #[test]
    fn parses_targets() {
        let t = parse_entry_target("pkg.cli:main").expect("valid");
        assert_eq!(t.module, "pkg.cli");
        assert_eq!(t.attr.as_deref(), Some("main"));
        assert_eq!(t.to_string(), "pkg.cli:main");
        let t = parse_entry_target(" pkg : Cli.run ").expect("valid");
        assert_eq!(
            (t.module.as_str(), t.attr.as_deref()),
            ("pkg", Some("Cli.run"))
        );
        let t = parse_entry_target("_private.mod").expect("valid");
        assert_eq!(t.attr, None);
        assert_eq!(t.to_string(), "_private.mod");
        assert!(parse_entry_target("café:main").is_ok());
    }

    #[test]
    fn rejects_bad_targets() {
        for bad in [
            "", ":main", "pkg:", "pkg..x:m", "1pkg:m", "pkg:m-n", "pkg:a:b", "pk g:m", "pkg.:m",
        ] {
            let err = parse_entry_target(bad).expect_err(bad);
            assert!(err.to_string().contains(&format!("`{bad}`")), "{err}");
        }
    }
}
