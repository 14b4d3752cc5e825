//! Wheel file names (PEP 427, "File name convention"):
//! `{distribution}-{version}(-{build tag})?-{python tag}-{abi tag}-{platform tag}.whl`.
//!
//! Each of the three tag fields may be a compressed tag set joined with `.` (`py2.py3`), and
//! [`WheelFilename::tags`] expands them into the full `python-abi-platform` triples.

use std::fmt;
use std::str::FromStr;

/// A parsed wheel file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WheelFilename {
    /// The distribution name as written in the file name (escaped: `-` never appears).
    pub name: String,
    /// The version as written in the file name.
    pub version: String,
    /// The optional build tag (starts with a digit).
    pub build: Option<String>,
    /// Python tags, e.g. `["py2", "py3"]` for `py2.py3`.
    pub python_tags: Vec<String>,
    /// ABI tags, e.g. `["cp311"]` or `["none"]`.
    pub abi_tags: Vec<String>,
    /// Platform tags, e.g. `["manylinux_2_17_x86_64", "manylinux2014_x86_64"]`.
    pub platform_tags: Vec<String>,
}

/// Why a string is not a wheel file name. The message names the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a valid wheel file name: {reason}")]
pub struct FilenameError {
    /// The string that failed to parse.
    pub input: String,
    /// What is wrong with it.
    pub reason: String,
}

impl WheelFilename {
    /// Every `python-abi-platform` tag triple this file name claims, in file-name order.
    pub fn tags(&self) -> Vec<String> {
        let mut out = Vec::new();
        for py in &self.python_tags {
            for abi in &self.abi_tags {
                for plat in &self.platform_tags {
                    out.push(format!("{py}-{abi}-{plat}"));
                }
            }
        }
        out
    }
}

impl FromStr for WheelFilename {
    type Err = FilenameError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let fail = |reason: &str| FilenameError {
            input: input.to_string(),
            reason: reason.to_string(),
        };
        let stem = input
            .strip_suffix(".whl")
            .ok_or_else(|| fail("it does not end with `.whl`"))?;
        if stem.contains('/') || stem.contains('\\') {
            return Err(fail("it contains a path separator"));
        }
        let parts: Vec<&str> = stem.split('-').collect();
        let (name, version, build, py, abi, plat) = match parts.as_slice() {
            [name, version, py, abi, plat] => (*name, *version, None, *py, *abi, *plat),
            [name, version, build, py, abi, plat] => {
                (*name, *version, Some(*build), *py, *abi, *plat)
            }
            _ => {
                return Err(fail(
                    "expected `{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl`",
                ));
            }
        };
        if name.is_empty() {
            return Err(fail("the distribution name is empty"));
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.'))
        {
            return Err(fail(
                "the distribution name has characters other than letters, digits, `_` and `.`",
            ));
        }
        if version.is_empty() {
            return Err(fail("the version is empty"));
        }
        if let Some(build) = build
            && !build.starts_with(|c: char| c.is_ascii_digit())
        {
            return Err(fail("the build tag does not start with a digit"));
        }
        let split_tags = |field: &str, what: &str| -> Result<Vec<String>, FilenameError> {
            let tags: Vec<String> = field.split('.').map(str::to_string).collect();
            if tags
                .iter()
                .any(|t| t.is_empty() || !t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
            {
                return Err(fail(&format!("the {what} tag `{field}` is malformed")));
            }
            Ok(tags)
        };
        Ok(WheelFilename {
            name: name.to_string(),
            version: version.to_string(),
            build: build.map(str::to_string),
            python_tags: split_tags(py, "python")?,
            abi_tags: split_tags(abi, "abi")?,
            platform_tags: split_tags(plat, "platform")?,
        })
    }
}

impl fmt::Display for WheelFilename {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.name, self.version)?;
        if let Some(build) = &self.build {
            write!(f, "-{build}")?;
        }
        write!(
            f,
            "-{}-{}-{}.whl",
            self.python_tags.join("."),
            self.abi_tags.join("."),
            self.platform_tags.join(".")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_simple_name() {
        let w: WheelFilename = "six-1.17.0-py2.py3-none-any.whl".parse().expect("valid");
        assert_eq!(w.name, "six");
        assert_eq!(w.version, "1.17.0");
        assert_eq!(w.build, None);
        assert_eq!(w.python_tags, ["py2", "py3"]);
        assert_eq!(w.tags(), ["py2-none-any", "py3-none-any"]);
        assert_eq!(w.to_string(), "six-1.17.0-py2.py3-none-any.whl");
    }

    #[test]
    fn parses_build_tag_and_platform_set() {
        let input = "foo_bar-2.0.1-1abc-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl";
        let w: WheelFilename = input.parse().expect("valid");
        assert_eq!(w.name, "foo_bar");
        assert_eq!(w.build.as_deref(), Some("1abc"));
        assert_eq!(
            w.tags(),
            [
                "cp311-cp311-manylinux_2_17_x86_64",
                "cp311-cp311-manylinux2014_x86_64"
            ]
        );
        assert_eq!(w.to_string(), input);
    }

    #[test]
    fn rejects_bad_names_and_names_the_input() {
        for bad in [
            "foo-1.0-py3-none-any.zip",
            "foo-py3-none-any.whl",
            "foo-1.0-x-y-py3-none-any.whl",
            "foo-1.0-abc-py3-none-any.whl",
            "-1.0-py3-none-any.whl",
            "foo-1.0-py3--any.whl",
            "foo-1.0-py3-none-a..b.whl",
            "dir/foo-1.0-py3-none-any.whl",
        ] {
            let err = bad.parse::<WheelFilename>().expect_err(bad);
            assert!(err.to_string().contains(&format!("`{bad}`")), "{err}");
        }
    }
}
