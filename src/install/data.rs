//! Where each wheel member lands in the install root, including the `.data` directory
//! (PEP 427, "Installing a wheel": `{distribution}-{version}.data/{scheme}/…`).
//!
//! pybundle installs every wheel into a site-packages-shaped root, exactly like
//! `pip install --target ROOT`, and these rules mirror what that command leaves in `ROOT`:
//!
//! - members outside `.data` go to the root as they are (pip: purelib or platlib of the target);
//! - `.data/purelib/X` and `.data/platlib/X` go to `X` (both libraries are the target directory);
//! - `.data/scripts/X` goes to `bin/X` and is made executable (pip's `--target` home scheme puts
//!   scripts in `bin/`); the script is copied byte for byte: pip would rewrite a `#!python`
//!   shebang to its interpreter, but a bundle has no fixed interpreter path, and keeping the bytes
//!   keeps the `RECORD` hash meaningful;
//! - `.data/data/X` goes to `X` (with `--target` the data scheme is the target directory itself);
//! - `.data/headers/X` goes to `include/{name}/X`, `{name}` being the project name from `METADATA`.
//!
//! Like pip, any top-level directory whose name ends in `.data` is taken as the data directory,
//! and a scheme other than the five above is an error. Every resulting path is re-checked with
//! [`enclosed_relative`]; collisions between members are detected by the caller.

use crate::fsutil::enclosed_relative;

/// Which part of the wheel a member came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// A member outside `.data`, installed at its own path.
    Root,
    /// `.data/purelib/…`.
    Purelib,
    /// `.data/platlib/…`.
    Platlib,
    /// `.data/scripts/…`, installed under `bin/` and made executable.
    Scripts,
    /// `.data/data/…`.
    Data,
    /// `.data/headers/…`, installed under `include/{name}/`.
    Headers,
}

impl Scheme {
    /// Whether files of this scheme are importable library code (and so count for `top_level`).
    pub fn is_library(self) -> bool {
        matches!(self, Self::Root | Self::Purelib | Self::Platlib)
    }
}

/// Where one member goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// The destination, relative to the install root, `/`-separated and enclosed.
    pub dest: String,
    /// The scheme the member belongs to.
    pub scheme: Scheme,
}

/// Maps an archive member (already normalised by [`enclosed_relative`]) to its place in the root.
/// `project` is the `METADATA` name, used for headers. Errors are lowercase reasons.
pub fn place_member(member: &str, project: &str) -> Result<Placement, String> {
    let (top, rest) = match member.split_once('/') {
        Some((top, rest)) if top.ends_with(".data") => (top, rest),
        _ => {
            return Ok(Placement {
                dest: member.to_string(),
                scheme: Scheme::Root,
            });
        }
    };
    let (scheme_name, sub) = rest
        .split_once('/')
        .ok_or_else(|| format!("`{member}` is directly in `{top}`, not in a scheme directory"))?;
    let (scheme, dest) = match scheme_name {
        "purelib" => (Scheme::Purelib, sub.to_string()),
        "platlib" => (Scheme::Platlib, sub.to_string()),
        "data" => (Scheme::Data, sub.to_string()),
        "scripts" => (Scheme::Scripts, format!("bin/{sub}")),
        "headers" => (Scheme::Headers, format!("include/{project}/{sub}")),
        other => {
            return Err(format!(
                "`{member}` uses the unknown `.data` scheme `{other}` (expected purelib, platlib, scripts, data or headers)"
            ));
        }
    };
    let dest = enclosed_relative(&dest)
        .ok_or_else(|| format!("`{member}` would be installed outside the root (as `{dest}`)"))?;
    Ok(Placement { dest, scheme })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(member: &str) -> (String, Scheme) {
        let p = place_member(member, "Foo").expect(member);
        (p.dest, p.scheme)
    }

    #[test]
    fn maps_each_scheme() {
        assert_eq!(
            place("foo/__init__.py"),
            ("foo/__init__.py".into(), Scheme::Root)
        );
        assert_eq!(
            place("foo-1.0.dist-info/METADATA"),
            ("foo-1.0.dist-info/METADATA".into(), Scheme::Root)
        );
        assert_eq!(
            place("foo-1.0.data/purelib/foo/a.py"),
            ("foo/a.py".into(), Scheme::Purelib)
        );
        assert_eq!(
            place("foo-1.0.data/platlib/_foo.so"),
            ("_foo.so".into(), Scheme::Platlib)
        );
        assert_eq!(
            place("foo-1.0.data/scripts/tool"),
            ("bin/tool".into(), Scheme::Scripts)
        );
        assert_eq!(
            place("foo-1.0.data/data/share/x.txt"),
            ("share/x.txt".into(), Scheme::Data)
        );
        assert_eq!(
            place("foo-1.0.data/headers/foo.h"),
            ("include/Foo/foo.h".into(), Scheme::Headers)
        );
        // A file named like the data dir but at top level is an ordinary member.
        assert_eq!(place("foo-1.0.data"), ("foo-1.0.data".into(), Scheme::Root));
        assert!(Scheme::Platlib.is_library());
        assert!(!Scheme::Scripts.is_library());
    }

    #[test]
    fn rejects_unknown_or_missing_scheme() {
        let err = place_member("foo-1.0.data/weird/x", "Foo").expect_err("unknown");
        assert!(err.contains("`weird`"), "{err}");
        let err = place_member("foo-1.0.data/x", "Foo").expect_err("no scheme");
        assert!(err.contains("scheme directory"), "{err}");
        let err = place_member("foo-1.0.data/headers/x.h", "..").expect_err("escaping name");
        assert!(err.contains("outside"), "{err}");
    }
}
