//! Entry points: the `entry_points.txt` file of a `.dist-info` directory (an INI file of
//! `[group]` sections with `name = module:attr [extras]` lines) and the `module:attr` targets
//! that the CLI's `-e MODULE:FUNC` also uses.
//!
//! The syntax follows the entry points specification (PyPA) as `importlib.metadata` reads it:
//! `#` and `;` start comment lines, keys and values are split at the first `=`, whitespace around
//! them is insignificant, and a value is `module(.sub)*` optionally followed by `:attr(.attr)*`
//! and an `[extras]` list that pybundle ignores.

use std::collections::BTreeMap;

use crate::name::{EntryTarget, parse_entry_target};

/// The entry points of one distribution: group → name → raw value (as written, trimmed).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct EntryPoints {
    /// Every group (`console_scripts`, `gui_scripts`, plugin groups…) with its entries.
    pub groups: BTreeMap<String, BTreeMap<String, String>>,
}

/// Why an entry point (target or file) is invalid. The message names the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryPointError {
    /// A line of `entry_points.txt` that is neither a section, a comment nor `name = value`.
    #[error("line {line} of `entry_points.txt` is not `[group]` or `name = value`: `{text}`")]
    BadLine {
        /// 1-based line number.
        line: usize,
        /// The line as written.
        text: String,
    },
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
