//! Entry points: the `entry_points.txt` file of a `.dist-info` directory (an INI file of
//! `[group]` sections with `name = module:attr [extras]` lines) and the `module:attr` targets
//! that the CLI's `-e MODULE:FUNC` also uses.
//!
//! The syntax follows the entry points specification (PyPA) as `importlib.metadata` reads it:
//! `#` and `;` start comment lines, keys and values are split at the first `=`, whitespace around
//! them is insignificant, and a value is `module(.sub)*` optionally followed by `:attr(.attr)*`
//! and an `[extras]` list that pybundle ignores.

use std::collections::BTreeMap;
use std::fmt;

/// The entry points of one distribution: group → name → raw value (as written, trimmed).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct EntryPoints {
    /// Every group (`console_scripts`, `gui_scripts`, plugin groups…) with its entries.
    pub groups: BTreeMap<String, BTreeMap<String, String>>,
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

/// Why an entry point (target or file) is invalid. The message names the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryPointError {
    /// A target that is not `module(.sub)*(:attr(.attr)*)?`.
    #[error(
        "`{input}` is not a valid entry point (expected `module` or `module:function`): {reason}"
    )]
    BadTarget {
        /// The rejected text.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A line of `entry_points.txt` that is neither a section, a comment nor `name = value`.
    #[error("line {line} of `entry_points.txt` is not `[group]` or `name = value`: `{text}`")]
    BadLine {
        /// 1-based line number.
        line: usize,
        /// The line as written.
        text: String,
    },
}

/// Whether `s` is a Python identifier (ASCII rules, plus non-ASCII letters and digits as PEP 3131
/// allows; the exact Unicode XID tables are not needed to reject what matters).
fn is_identifier(s: &str) -> bool {
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
/// `:` is allowed. Extras (`[…]`) are not accepted here: [`EntryPoints::console_script`] strips
/// them first.
pub fn parse_entry_target(s: &str) -> Result<EntryTarget, EntryPointError> {
    let fail = |reason: &str| EntryPointError::BadTarget {
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

/// Removes a trailing `[extras]` list from an entry point value.
fn strip_extras(value: &str) -> &str {
    let value = value.trim();
    match value.find('[') {
        Some(i) if value.ends_with(']') => value[..i].trim_end(),
        _ => value,
    }
}

/// Parses the text of `entry_points.txt`. Entries before any section header are an error, as
/// are lines without `=`; a repeated name in a group keeps the last value.
pub fn parse_entry_points(text: &str) -> Result<EntryPoints, EntryPointError> {
    let mut groups: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let bad = || EntryPointError::BadLine {
            line: i + 1,
            text: raw.to_string(),
        };
        if let Some(inner) = line.strip_prefix('[') {
            let name = inner.strip_suffix(']').ok_or_else(bad)?.trim();
            if name.is_empty() {
                return Err(bad());
            }
            groups.entry(name.to_string()).or_default();
            current = Some(name.to_string());
            continue;
        }
        let (key, value) = line.split_once('=').ok_or_else(bad)?;
        let group = current.as_ref().ok_or_else(bad)?;
        let key = key.trim();
        if key.is_empty() {
            return Err(bad());
        }
        groups
            .entry(group.clone())
            .or_default()
            .insert(key.to_string(), value.trim().to_string());
    }
    Ok(EntryPoints { groups })
}

impl EntryPoints {
    /// The target of console script `name` (extras stripped), or `None` when there is no such
    /// script or its value is not a valid target.
    pub fn console_script(&self, name: &str) -> Option<EntryTarget> {
        self.entry("console_scripts", name)
    }

    /// The target of entry `name` in `group` (extras stripped), or `None` when absent or invalid.
    pub fn entry(&self, group: &str, name: &str) -> Option<EntryTarget> {
        let value = self.groups.get(group)?.get(name)?;
        parse_entry_target(strip_extras(value)).ok()
    }

    /// Whether there are no entries at all.
    pub fn is_empty(&self) -> bool {
        self.groups.values().all(BTreeMap::is_empty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn parses_entry_points_file() {
        let text = "# comment\n[console_scripts]\nfoo = foo.cli:main\nbar=bar [extra1, extra2]\n; other comment\nbaz = baz.cli:App.run [x]\nbad = not valid!\n\n[foo.plugins]\n  p1 = foo.plugins.one\n";
        let eps = parse_entry_points(text).expect("valid");
        assert_eq!(eps.groups.len(), 2);
        assert_eq!(eps.groups["console_scripts"]["bar"], "bar [extra1, extra2]");
        assert_eq!(
            eps.console_script("foo"),
            Some(EntryTarget {
                module: "foo.cli".into(),
                attr: Some("main".into())
            })
        );
        assert_eq!(
            eps.console_script("bar"),
            Some(EntryTarget {
                module: "bar".into(),
                attr: None
            })
        );
        assert_eq!(
            eps.console_script("baz").and_then(|t| t.attr),
            Some("App.run".to_string())
        );
        assert_eq!(eps.console_script("bad"), None);
        assert_eq!(eps.console_script("missing"), None);
        assert_eq!(
            eps.entry("foo.plugins", "p1").map(|t| t.module),
            Some("foo.plugins.one".into())
        );
        assert!(!eps.is_empty());
        assert!(EntryPoints::default().is_empty());
    }

    #[test]
    fn rejects_bad_entry_point_lines() {
        for (text, line) in [
            ("x = y\n", 1),
            ("[a]\nnovalue\n", 2),
            ("[a\n", 1),
            ("[]\n", 1),
            ("[a]\n = v\n", 2),
        ] {
            match parse_entry_points(text) {
                Err(EntryPointError::BadLine { line: l, .. }) => assert_eq!(l, line, "{text:?}"),
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }
}
