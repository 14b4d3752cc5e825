//! The bundle's output file: the placeholders of `-o` (`{name}`, `{version}`, `{python}`,
//! `{platform}`, `{build_id}`, `{date}`), the directories the expanded path needs, and the
//! `--checksum` file next to it.
//!
//! Input: the `-o` value, parsed by [`OutputTemplate::parse`] in `config` before any slow stage
//! (an unknown placeholder is an error naming it), then the facts of the built bundle
//! ([`Facts`]); output: the final path ([`OutputName::path`]). `{build_id}` is known only once
//! the content is hashed, so the name recorded in the bytecode (what tracebacks show) keeps it as
//! written ([`OutputName::provisional`]). This module does not write the bundle: `pack` does,
//! through [`create_parents`] and its atomic writer. A leaf: it imports only other leaves
//! (`layout`, `fsutil`); which distribution names the bundle is worked out by `pipeline`.

use std::path::{Path, PathBuf};

/// How many characters of the build id `{build_id}` gives.
pub const SHORT_BUILD_ID: usize = 12;

/// A placeholder of `-o`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholder {
    /// `{name}`: the distribution that provides the entry point, or the local project.
    Name,
    /// `{version}`: that distribution's version.
    Version,
    /// `{python}`: the target interpreter as a wheel tag, e.g. `cp311`.
    Python,
    /// `{platform}`: the target platform as a wheel tag (`linux_x86_64`), `any` for a bundle
    /// without native code.
    Platform,
    /// `{build_id}`: the first [`SHORT_BUILD_ID`] characters of the build id.
    BuildId,
    /// `{date}`: `YYYYMMDD` (UTC) of `SOURCE_DATE_EPOCH`, else of the build.
    Date,
}

impl Placeholder {
    /// Every placeholder, in the order the documentation lists them.
    pub const ALL: [Placeholder; 6] = [
        Placeholder::Name,
        Placeholder::Version,
        Placeholder::Python,
        Placeholder::Platform,
        Placeholder::BuildId,
        Placeholder::Date,
    ];

    /// Returns the name written between the braces.
    pub fn as_str(self) -> &'static str {
        match self {
            Placeholder::Name => "name",
            Placeholder::Version => "version",
            Placeholder::Python => "python",
            Placeholder::Platform => "platform",
            Placeholder::BuildId => "build_id",
            Placeholder::Date => "date",
        }
    }

    fn from_name(name: &str) -> Option<Placeholder> {
        Placeholder::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

/// The output cannot be named or written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error(
        "unknown placeholder `{{{name}}}` in the output `{template}`\nhint: the placeholders are {{name}}, {{version}}, {{python}}, {{platform}}, {{build_id}} and {{date}}; write `{{{{` or `}}}}` for a literal brace"
    )]
    UnknownPlaceholder { name: String, template: String },
    #[error(
        "unmatched `{brace}` in the output `{template}`\nhint: placeholders look like `{{version}}`; write `{{{{` or `}}}}` for a literal brace"
    )]
    Unmatched { brace: char, template: String },
    #[error(
        "the output `{template}` uses `{{{placeholder}}}`, but {why}\nhint: pass the entry point of your application with -e, -c or -m (its distribution names the file), bundle a local project directory, or write the name into -o"
    )]
    NoProject {
        template: String,
        placeholder: &'static str,
        why: String,
    },
    #[error("cannot create the directory `{}` for the output", path.display())]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the output `{}` is {what}, not a regular file\nhint: {hint}",
        path.display()
    )]
    NotAFile {
        path: PathBuf,
        what: &'static str,
        hint: &'static str,
    },
    #[error("cannot write the checksum file `{}`", path.display())]
    Checksum {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Field(Placeholder),
}

/// A parsed `-o` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputTemplate {
    raw: PathBuf,
    /// `None` for a path that is not UTF-8: it is taken literally.
    pieces: Option<Vec<Piece>>,
}

impl OutputTemplate {
    /// Returns the template of `path`; `{{` and `}}` stand for literal braces.
    pub fn parse(path: &Path) -> Result<OutputTemplate, OutputError> {
        let Some(text) = path.to_str() else {
            return Ok(OutputTemplate {
                raw: path.to_path_buf(),
                pieces: None,
            });
        };
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    literal.push('}');
                }
                '{' => {
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some('{') | None => {
                                return Err(OutputError::Unmatched {
                                    brace: '{',
                                    template: text.to_string(),
                                });
                            }
                            Some(c) => name.push(c),
                        }
                    }
                    let field = Placeholder::from_name(&name).ok_or_else(|| {
                        OutputError::UnknownPlaceholder {
                            name,
                            template: text.to_string(),
                        }
                    })?;
                    if !literal.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut literal)));
                    }
                    pieces.push(Piece::Field(field));
                }
                '}' => {
                    return Err(OutputError::Unmatched {
                        brace: '}',
                        template: text.to_string(),
                    });
                }
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            pieces.push(Piece::Text(literal));
        }
        Ok(OutputTemplate {
            raw: path.to_path_buf(),
            pieces: Some(pieces),
        })
    }

    /// Returns the output path when the template has no placeholder (the path is known before
    /// any stage runs), else `None`.
    pub fn literal(&self) -> Option<&Path> {
        match &self.pieces {
            Some(pieces) if pieces.iter().any(|p| matches!(p, Piece::Field(_))) => None,
            _ => Some(&self.raw),
        }
    }

    /// Returns true if and only if the template uses `placeholder`.
    pub fn uses(&self, placeholder: Placeholder) -> bool {
        self.pieces
            .iter()
            .flatten()
            .any(|p| *p == Piece::Field(placeholder))
    }

    /// Returns the value as the user wrote it.
    pub fn raw(&self) -> &Path {
        &self.raw
    }

    /// Returns the deepest directory of the template that exists: the place where the
    /// bundle's directory is created (or written to) at the end of the build.
    pub fn existing_ancestor(&self) -> PathBuf {
        let mut dir = self.raw.parent();
        while let Some(d) = dir {
            if d.as_os_str().is_empty() {
                break;
            }
            if d.exists() {
                return d.to_path_buf();
            }
            dir = d.parent();
        }
        PathBuf::from(".")
    }

    fn expand(&self, value: impl Fn(Placeholder) -> String) -> PathBuf {
        let Some(pieces) = &self.pieces else {
            return self.raw.clone();
        };
        let mut out = String::new();
        for piece in pieces {
            match piece {
                Piece::Text(text) => out.push_str(text),
                // A value never adds a directory level or ends the path.
                Piece::Field(field) => out.push_str(&value(*field).replace(['/', '\0'], "_")),
            }
        }
        PathBuf::from(out)
    }
}

/// What the placeholders are filled with, taken from the built bundle.
#[derive(Debug, Clone)]
pub struct Facts {
    /// The name and version of the distribution that names the bundle, or why there is none.
    pub project: Result<(String, String), String>,
    /// `{python}`, e.g. `cp311`.
    pub python: String,
    /// `{platform}`, e.g. `linux_x86_64` or `any`.
    pub platform: String,
    /// `{date}`, e.g. `20261130`.
    pub date: String,
}

/// A template with its values: every placeholder but `{build_id}` is known.
#[derive(Debug, Clone)]
pub struct OutputName {
    template: OutputTemplate,
    facts: Facts,
}

impl OutputName {
    /// Returns the name of the bundle described by `facts`; fails when the template uses
    /// `{name}` or `{version}` and no distribution names the bundle.
    pub fn new(template: OutputTemplate, facts: Facts) -> Result<OutputName, OutputError> {
        if let Err(why) = &facts.project {
            for placeholder in [Placeholder::Name, Placeholder::Version] {
                if template.uses(placeholder) {
                    return Err(OutputError::NoProject {
                        template: template.raw.display().to_string(),
                        placeholder: placeholder.as_str(),
                        why: why.clone(),
                    });
                }
            }
        }
        Ok(OutputName { template, facts })
    }

    /// Returns the output path for the build id `build_id`.
    pub fn path(&self, build_id: &str) -> PathBuf {
        self.expand(Some(build_id))
    }

    /// Returns the output path with `{build_id}` left as written (the id hashes the bytecode,
    /// which records the bundle's file name).
    pub fn provisional(&self) -> PathBuf {
        self.expand(None)
    }

    fn expand(&self, build_id: Option<&str>) -> PathBuf {
        let facts = &self.facts;
        self.template.expand(|field| match field {
            Placeholder::Name => facts
                .project
                .as_ref()
                .map_or_else(|_| String::new(), |p| p.0.clone()),
            Placeholder::Version => facts
                .project
                .as_ref()
                .map_or_else(|_| String::new(), |p| p.1.clone()),
            Placeholder::Python => facts.python.clone(),
            Placeholder::Platform => facts.platform.clone(),
            Placeholder::Date => facts.date.clone(),
            Placeholder::BuildId => build_id.map_or_else(
                || "{build_id}".to_string(),
                |id| id.chars().take(SHORT_BUILD_ID).collect(),
            ),
        })
    }
}

/// Returns `{python}` for an interpreter: the wheel tag's implementation abbreviation and the
/// version without a dot (`cpython`, 3.11 → `cp311`).
pub fn python_tag(implementation: &str, major: u32, minor: u32) -> String {
    let abbr = match implementation {
        "cpython" => "cp",
        "pypy" => "pp",
        "graalpy" => "gp",
        "ironpython" => "ip",
        "jython" => "jy",
        other => other,
    };
    format!("{abbr}{major}{minor}")
}

/// Returns `{platform}`: `any` for a bundle without native code, else the first `--platform`
/// tag of a cross-target build, else the interpreter's `sysconfig` platform as a wheel tag
/// (`linux-x86_64` → `linux_x86_64`).
pub fn platform_tag(
    native: bool,
    cross_platform: Option<&str>,
    sysconfig_platform: &str,
) -> String {
    if !native {
        return "any".to_string();
    }
    cross_platform.map_or_else(
        || sysconfig_platform.replace(['-', '.'], "_"),
        str::to_string,
    )
}

/// Returns `{date}`: `YYYYMMDD` (UTC) of `source_date_epoch` when set, else of now.
pub fn date_stamp(source_date_epoch: Option<u64>) -> String {
    let epoch = source_date_epoch.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    });
    let (year, month, day, ..) = crate::layout::civil_from_epoch(epoch);
    format!("{year:04}{month:02}{day:02}")
}

/// Fails when `output` exists as anything but a regular file: a directory, a symbolic link
/// (refused rather than followed: the bundle is renamed into place, which would replace the link
/// itself, and in a shared directory a link may point anywhere), a FIFO, a socket or a device.
/// The build writes a new file and renames it over `output`, so without this check `-o
/// /dev/full` would turn the device into a regular file.
pub fn check_target(output: &Path) -> Result<(), OutputError> {
    use std::os::unix::fs::FileTypeExt;
    let Ok(meta) = std::fs::symlink_metadata(output) else {
        return Ok(());
    };
    let kind = meta.file_type();
    let (what, hint) = if kind.is_file() {
        return Ok(());
    } else if kind.is_dir() {
        (
            "a directory",
            "give the bundle's file name, e.g. `-o DIR/app.pyz`",
        )
    } else if kind.is_symlink() {
        (
            "a symbolic link",
            "give the path the link points to (`readlink -f`), or remove the link",
        )
    } else if kind.is_fifo() {
        ("a FIFO", "give the path of a regular file")
    } else if kind.is_socket() {
        ("a socket", "give the path of a regular file")
    } else if kind.is_block_device() || kind.is_char_device() {
        ("a device", "give the path of a regular file")
    } else {
        ("of an unknown kind", "give the path of a regular file")
    };
    Err(OutputError::NotAFile {
        path: output.to_path_buf(),
        what,
        hint,
    })
}

/// Creates the missing parent directories of `output` and returns those it created, deepest
/// last, so that a failed write can remove them again ([`remove_created`]).
pub fn create_parents(output: &Path) -> Result<Vec<PathBuf>, OutputError> {
    let mut missing = Vec::new();
    let mut dir = output.parent();
    while let Some(d) = dir {
        if d.as_os_str().is_empty() || d.exists() {
            break;
        }
        missing.push(d.to_path_buf());
        dir = d.parent();
    }
    missing.reverse();
    let mut created = Vec::new();
    for dir in missing {
        if let Err(source) = fs_err::create_dir(&dir) {
            remove_created(&created);
            return Err(OutputError::CreateDir { path: dir, source });
        }
        created.push(dir);
    }
    Ok(created)
}

/// Removes the directories [`create_parents`] created, deepest first, if they are still
/// empty.
pub fn remove_created(created: &[PathBuf]) {
    for dir in created.iter().rev() {
        let _ = fs_err::remove_dir(dir);
    }
}

/// Returns the checksum file of `bundle`: `<bundle>.sha256`.
pub fn checksum_path(bundle: &Path) -> PathBuf {
    let mut name = bundle.file_name().unwrap_or_default().to_os_string();
    name.push(".sha256");
    bundle.with_file_name(name)
}

/// Returns the line `sha256sum` prints for a file named `name` with digest `hex`:
/// `<hex>  <name>`, with GNU's escaping (a leading `\`, then `\\` and `\n`) for a name that holds
/// a backslash or a newline.
pub fn checksum_line(hex: &str, name: &str) -> String {
    if name.contains(['\\', '\n']) {
        let escaped = name.replace('\\', "\\\\").replace('\n', "\\n");
        format!("\\{hex}  {escaped}\n")
    } else {
        format!("{hex}  {name}\n")
    }
}

/// Writes `<bundle>.sha256` in the format `sha256sum -c` reads (the file name without its
/// directory, so the check runs next to the bundle), through a temporary file renamed into
/// place. Returns the checksum file's path.
pub fn write_checksum(bundle: &Path) -> Result<PathBuf, OutputError> {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    let target = checksum_path(bundle);
    let fail = |source: std::io::Error| OutputError::Checksum {
        path: target.clone(),
        source,
    };
    let (hex, _) = crate::fsutil::sha256_file(bundle).map_err(fail)?;
    let name = bundle.file_name().unwrap_or_default().to_string_lossy();
    let dir = bundle
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut temp = tempfile::Builder::new()
        .prefix(&format!(".{name}.sha256."))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(fail)?;
    temp.write_all(checksum_line(&hex, &name).as_bytes())
        .and_then(|()| temp.as_file().sync_all())
        .and_then(|()| {
            temp.as_file()
                .set_permissions(std::fs::Permissions::from_mode(0o644))
        })
        .map_err(fail)?;
    temp.persist(&target).map_err(|e| fail(e.error))?;
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(s: &str) -> OutputTemplate {
        OutputTemplate::parse(Path::new(s)).unwrap()
    }

    fn facts() -> Facts {
        Facts {
            project: Ok(("myapp".into(), "1.2.0".into())),
            python: "cp311".into(),
            platform: "linux_x86_64".into(),
            date: "20261130".into(),
        }
    }

    #[test]
    fn expands_every_placeholder() {
        let t = template("dist/{name}-{version}-{python}-{platform}-{date}-{build_id}.pyz");
        let name = OutputName::new(t, facts()).unwrap();
        assert_eq!(
            name.path("0123456789abcdef0123"),
            PathBuf::from("dist/myapp-1.2.0-cp311-linux_x86_64-20261130-0123456789ab.pyz")
        );
        assert_eq!(
            name.provisional(),
            PathBuf::from("dist/myapp-1.2.0-cp311-linux_x86_64-20261130-{build_id}.pyz")
        );
    }

    #[test]
    fn plain_paths_and_escaped_braces_are_literal() {
        let name = OutputName::new(template("/tmp/app.pyz"), facts()).unwrap();
        assert_eq!(name.path("abc"), PathBuf::from("/tmp/app.pyz"));
        let name = OutputName::new(template("a{{b}}-{version}.pyz"), facts()).unwrap();
        assert_eq!(name.path("abc"), PathBuf::from("a{b}-1.2.0.pyz"));
    }

    #[test]
    fn values_never_add_a_directory() {
        let mut f = facts();
        f.project = Ok(("a/b".into(), "1".into()));
        let name = OutputName::new(template("{name}.pyz"), f).unwrap();
        assert_eq!(name.path("x"), PathBuf::from("a_b.pyz"));
    }

    #[test]
    fn unknown_and_unmatched_placeholders_are_errors() {
        let err = OutputTemplate::parse(Path::new("dist/{nmae}.pyz")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown placeholder `{nmae}` in the output `dist/{nmae}.pyz`\nhint: the placeholders are {name}, {version}, {python}, {platform}, {build_id} and {date}; write `{{` or `}}` for a literal brace"
        );
        for bad in ["a{name", "a}b", "{na{me}}"] {
            let err = OutputTemplate::parse(Path::new(bad)).unwrap_err();
            assert!(matches!(err, OutputError::Unmatched { .. }), "{bad}: {err}");
        }
        assert!(template("{version}/x").uses(Placeholder::Version));
        assert!(!template("{version}/x").uses(Placeholder::Name));
    }

    #[test]
    fn a_name_without_a_project_is_an_error_only_when_used() {
        let mut f = facts();
        f.project = Err("the bundle has no entry point".into());
        assert!(OutputName::new(template("{python}.pyz"), f.clone()).is_ok());
        let err = OutputName::new(template("{version}.pyz"), f).unwrap_err();
        assert!(
            err.to_string().starts_with(
                "the output `{version}.pyz` uses `{version}`, but the bundle has no entry point"
            ),
            "{err}"
        );
    }

    #[test]
    fn tags() {
        assert_eq!(python_tag("cpython", 3, 11), "cp311");
        assert_eq!(python_tag("pypy", 3, 10), "pp310");
        assert_eq!(platform_tag(false, None, "linux-x86_64"), "any");
        assert_eq!(platform_tag(true, None, "linux-x86_64"), "linux_x86_64");
        assert_eq!(
            platform_tag(true, None, "macosx-11.0-arm64"),
            "macosx_11_0_arm64"
        );
        assert_eq!(
            platform_tag(true, Some("manylinux2014_x86_64"), "linux-x86_64"),
            "manylinux2014_x86_64"
        );
        assert_eq!(date_stamp(Some(0)), "19700101");
        assert_eq!(date_stamp(Some(1_796_083_200)), "20261201");
        assert_eq!(date_stamp(None).len(), 8);
    }

    #[test]
    fn checksum_file_reads_like_sha256sum() {
        let dir = tempfile::tempdir().unwrap();
        let bundle = dir.path().join("app.pyz");
        fs_err::write(&bundle, b"abc").unwrap();
        let file = write_checksum(&bundle).unwrap();
        assert_eq!(file, dir.path().join("app.pyz.sha256"));
        assert_eq!(
            fs_err::read_to_string(&file).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  app.pyz\n"
        );
        assert_eq!(checksum_line("00", "a\\b\nc"), "\\00  a\\\\b\\nc\n");
        let names: Vec<_> = fs_err::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }

    #[test]
    fn parents_are_created_and_removed_again() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("a/b/app.pyz");
        let created = create_parents(&out).unwrap();
        assert_eq!(created, [dir.path().join("a"), dir.path().join("a/b")]);
        assert!(dir.path().join("a/b").is_dir());
        remove_created(&created);
        assert!(!dir.path().join("a").exists());
        let t = template(&format!("{}/x/{{version}}/app.pyz", dir.path().display()));
        assert_eq!(t.existing_ancestor(), dir.path());
    }
}
