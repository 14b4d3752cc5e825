//! Top-level import names of a distribution: `top_level.txt` when it has one, else derived from
//! its library files. The run time extracts a distribution on the first import of one of these
//! names, and `pybundle info` lists them.

use std::collections::BTreeSet;

use crate::name::is_identifier;

/// The names listed in a `top_level.txt`, sorted and unique.
pub(crate) fn top_level_from_text(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// Whether a file is importable code by its extension.
fn is_code_file(name: &str) -> bool {
    [".py", ".so", ".pyd"].iter().any(|ext| name.ends_with(ext))
}

/// Derives top-level importable names from library file paths: a top-level `name.py`,
/// `name.*.so` or `name.*.pyd` gives `name`, and a top-level directory whose name is an
/// identifier and that holds code files gives its name. `.dist-info`, `.data` and other
/// non-identifier directories never qualify. Sorted and unique.
pub fn derive_top_level<'a>(files: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut names = BTreeSet::new();
    for path in files {
        let Some(last) = path.rsplit('/').next() else {
            continue;
        };
        if !is_code_file(last) {
            continue;
        }
        let candidate = match path.split_once('/') {
            Some((top, _)) => top,
            None => last.split('.').next().unwrap_or(""),
        };
        if is_identifier(candidate) && candidate != "__pycache__" {
            names.insert(candidate.to_string());
        }
    }
    names.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derives_top_level_names() {
        let files = [
            "foo/__init__.py",
            "foo/sub/x.py",
            "bar.py",
            "_native.cpython-311-x86_64-linux-gnu.so",
            "win.cp311-win_amd64.pyd",
            "data/readme.txt",
            "foo-1.0.dist-info/RECORD",
            "foo-1.0.data/purelib/x.py",
            "__pycache__/bar.cpython-311.pyc",
            "not-ident/x.py",
        ];
        assert_eq!(derive_top_level(files), ["_native", "bar", "foo", "win"]);
    }
}
