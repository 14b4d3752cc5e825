//! The two email-header files of a `.dist-info` directory that the installer reads: `WHEEL`
//! (PEP 427: `Wheel-Version`, `Root-Is-Purelib`, `Tag`) and `METADATA` (core metadata: only the
//! fields pybundle reports, namely name, version, `Requires-Python`, license and summary).
//!
//! Both use RFC 822 style headers: `Key: value` lines, continuation lines starting with a space or
//! tab, and the headers end at the first blank line (what follows in `METADATA` is the long
//! description, which is ignored).

/// Splits email-style headers into `(key, value)` pairs in order. Continuation lines are appended
/// to the previous value after a newline; lines that are neither a header nor a continuation are
/// ignored, as Python's `email` parser does for malformed lines.
pub fn parse_headers(text: &str) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = headers.last_mut() {
                value.push('\n');
                value.push_str(line.trim());
            }
            continue;
        }
        if let Some((key, value)) = line.split_once(':') {
            headers.push((key.trim().to_string(), value.trim().to_string()));
        }
    }
    headers
}

/// The first value of header `key` (case-insensitive).
fn first<'a>(headers: &'a [(String, String)], key: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.as_str())
}

/// All values of header `key` (case-insensitive), in order.
fn all<'a>(headers: &'a [(String, String)], key: &str) -> impl Iterator<Item = &'a str> {
    headers
        .iter()
        .filter(move |(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.as_str())
}

/// The parsed `WHEEL` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WheelInfo {
    /// `Wheel-Version`, e.g. `1.0`.
    pub wheel_version: String,
    /// `Root-Is-Purelib: true` (case-insensitive); false when absent.
    pub root_is_purelib: bool,
    /// Every `Tag:` line.
    pub tags: Vec<String>,
}

/// Parses `WHEEL`. Fails (with a reason, lowercase) when `Wheel-Version` is missing, malformed,
/// or has a major version other than 1, which this installer does not understand.
pub fn parse_wheel(text: &str) -> Result<WheelInfo, String> {
    let headers = parse_headers(text);
    let version = first(&headers, "Wheel-Version").ok_or("it has no `Wheel-Version`")?;
    let major = version
        .split('.')
        .next()
        .and_then(|m| m.trim().parse::<u64>().ok())
        .ok_or_else(|| format!("`Wheel-Version: {version}` is not a version number"))?;
    if major != 1 {
        return Err(format!(
            "`Wheel-Version: {version}` is not supported (only 1.x is)"
        ));
    }
    Ok(WheelInfo {
        wheel_version: version.to_string(),
        root_is_purelib: root_is_purelib(&headers),
        tags: all(&headers, "Tag").map(str::to_string).collect(),
    })
}

/// Reads `WHEEL` of an installed distribution (a `--site-packages` tree), which pybundle does not
/// unpack and so does not judge: returns `Root-Is-Purelib` and the `Tag` lines, whatever
/// `Wheel-Version` says.
pub fn read_installed_wheel(text: &str) -> (bool, Vec<String>) {
    let headers = parse_headers(text);
    (
        root_is_purelib(&headers),
        all(&headers, "Tag").map(str::to_string).collect(),
    )
}

/// Returns `Root-Is-Purelib`: true if and only if it says `true` (case-insensitive). The wheel
/// spec requires the header; without it the distribution is taken as platform-specific, the
/// safe side (it is then extracted at run time, never imported from the zip).
fn root_is_purelib(headers: &[(String, String)]) -> bool {
    first(headers, "Root-Is-Purelib").is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// The `METADATA` fields pybundle uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    /// `Name`, as written.
    pub name: String,
    /// `Version`, as written.
    pub version: String,
    /// `Requires-Python`.
    pub requires_python: Option<String>,
    /// `License-Expression`, else the first line of `License`, else the last segment of the first
    /// `License :: …` classifier.
    pub license: Option<String>,
    /// `Summary`.
    pub summary: Option<String>,
    /// Every `Requires-Dist` value.
    pub requires_dist: Vec<String>,
}

/// Parses `METADATA`. Fails (with a lowercase reason) when `Name` or `Version` is missing.
pub fn parse_metadata(text: &str) -> Result<Metadata, String> {
    let headers = parse_headers(text);
    let non_empty = |key: &str| {
        first(&headers, key)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let name = non_empty("Name").ok_or("it has no `Name`")?;
    let version = non_empty("Version").ok_or("it has no `Version`")?;
    let license = non_empty("License-Expression")
        .or_else(|| {
            first(&headers, "License")
                .and_then(|v| v.lines().next())
                .map(str::trim)
                .filter(|v| !v.is_empty() && *v != "UNKNOWN")
                .map(str::to_string)
        })
        .or_else(|| {
            all(&headers, "Classifier")
                .find(|c| c.starts_with("License ::"))
                .and_then(|c| c.rsplit("::").next())
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        });
    Ok(Metadata {
        name,
        version,
        requires_python: non_empty("Requires-Python"),
        license,
        summary: non_empty("Summary"),
        requires_dist: all(&headers, "Requires-Dist").map(str::to_string).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_wheel_file() {
        let w = parse_wheel(
            "Wheel-Version: 1.0\nGenerator: bdist_wheel (0.41)\nRoot-Is-Purelib: True\nTag: py2-none-any\nTag: py3-none-any\n",
        )
        .expect("valid");
        assert!(w.root_is_purelib);
        assert_eq!(w.tags, ["py2-none-any", "py3-none-any"]);
        let w = parse_wheel("Wheel-Version: 1.9\nRoot-Is-Purelib: false\n").expect("valid");
        assert!(!w.root_is_purelib);
        assert!(
            parse_wheel("Wheel-Version: 2.0\n")
                .expect_err("v2")
                .contains("2.0")
        );
        assert!(parse_wheel("Generator: x\n").is_err());
        assert!(parse_wheel("Wheel-Version: x.y\n").is_err());
    }

    #[test]
    fn parses_metadata_fields() {
        let text = "Metadata-Version: 2.1\nName: Foo.Bar\nVersion: 1.0\nSummary: Does foo\nRequires-Python: >=3.8\nLicense: MIT License\n        Copyright (c) someone\nRequires-Dist: six (>=1)\nRequires-Dist: attrs\n\nLicense: not a header\n";
        let m = parse_metadata(text).expect("valid");
        assert_eq!(m.name, "Foo.Bar");
        assert_eq!(m.version, "1.0");
        assert_eq!(m.summary.as_deref(), Some("Does foo"));
        assert_eq!(m.requires_python.as_deref(), Some(">=3.8"));
        assert_eq!(m.license.as_deref(), Some("MIT License"));
        assert_eq!(m.requires_dist, ["six (>=1)", "attrs"]);
    }

    #[test]
    fn license_precedence() {
        let m = parse_metadata("Name: a\nVersion: 1\nLicense: BSD\nLicense-Expression: MIT\n")
            .expect("valid");
        assert_eq!(m.license.as_deref(), Some("MIT"));
        let m = parse_metadata(
            "Name: a\nVersion: 1\nLicense: UNKNOWN\nClassifier: Topic :: X\nClassifier: License :: OSI Approved :: Apache Software License\n",
        )
        .expect("valid");
        assert_eq!(m.license.as_deref(), Some("Apache Software License"));
        let m = parse_metadata("Name: a\nVersion: 1\n").expect("valid");
        assert_eq!(m.license, None);
        assert_eq!(m.summary, None);
    }

    #[test]
    fn metadata_requires_name_and_version() {
        assert!(
            parse_metadata("Version: 1\n")
                .expect_err("no name")
                .contains("Name")
        );
        assert!(
            parse_metadata("Name: a\nVersion:\n")
                .expect_err("no version")
                .contains("Version")
        );
    }
}
