//! Bytecode compilation with the target interpreter. Every `.py` of the bundle is compiled to an
//! `unchecked-hash` `.pyc` (no timestamps, so builds stay reproducible, and no source check at
//! import). Where the `.pyc` goes depends on how the module is imported at run time:
//!
//! - from the zip: zipimport ignores `__pycache__` and only reads the legacy `module.pyc` next to
//!   `module.py`, so that is where it goes;
//! - from the extraction cache: the normal path finder reads `__pycache__/module.<cache_tag>.pyc`.
//!
//! Files that do not compile (Python 2 test data, templates named `.py`) are left as source only,
//! as pip's own compile step does.
//!
//! [`compile_cached`] first looks every source up in the build cache ([`cache`]) and
//! sends only the misses to the interpreter.

use std::collections::{BTreeSet, HashMap};

use crate::layout::placement::{Placement, holds_code, in_tests};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub mod cache;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::python::Interpreter;
use cache::{Cached, Identity, PycCache};

/// The compile script, run as `python -I -c COMPILE_SCRIPT` with a JSON request on stdin.
const COMPILE_SCRIPT: &str = include_str!("compile.py");

/// One source to compile.
#[derive(Debug, Clone, Serialize)]
pub struct Job {
    /// The `.py` file on disk.
    pub source: PathBuf,
    /// Where the `.pyc` is written.
    pub target: PathBuf,
    /// The file name recorded in the code objects (shown in tracebacks).
    pub dfile: String,
}

#[derive(Serialize)]
struct Request<'a> {
    jobs: Vec<(&'a Path, &'a Path, &'a str)>,
    attrs: Vec<(&'a Path, &'a str)>,
}

#[derive(Deserialize)]
struct Answer {
    failed: Vec<(String, String)>,
    attrs: Vec<Option<bool>>,
}

/// What compiling produced.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Sources that did not compile, with the reason.
    pub failed: Vec<(String, String)>,
    /// Answers to the attribute checks, in request order: `Some(true)` defined, `Some(false)` not
    /// defined at module level, `None` cannot tell.
    pub attrs: Vec<Option<bool>>,
    /// Sources whose result came from the build cache.
    pub cached: usize,
    /// Sources the interpreter compiled.
    pub compiled: usize,
    /// Bytecode taken from the build cache, by job target: these are not written to disk. Each
    /// is the cache entry's file and where the `.pyc` starts in it ([`cache::PAYLOAD_OFFSET`]),
    /// so the pack stage reads it from there instead of holding it.
    pub pycs: HashMap<PathBuf, (PathBuf, u64)>,
}

/// Compiling could not run.
#[derive(Debug, thiserror::Error)]
pub enum BytecodeError {
    #[error(
        "cannot run `{python}` to compile bytecode: {source}\nhint: check that the interpreter still exists and is executable"
    )]
    Spawn {
        python: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "compiling bytecode with `{python}` failed ({status}):\n{stderr}\nhint: this is likely a pybundle bug; please report it with the lines above"
    )]
    Failed {
        python: String,
        status: String,
        stderr: String,
    },
}

/// What the build cache answered for one job.
enum Lookup {
    /// The `.pyc`, in the cache entry at this path (checked when looked up).
    Hit(PathBuf),
    /// The source is known not to compile, for this reason.
    Failed(String),
    /// To compile; the key to store the result under (`None` when the source was unreadable).
    Miss(Option<String>),
}

/// Like [`compile`], with the build cache `cache`: the sources are hashed and looked up in
/// parallel, only misses are compiled, and their results (`.pyc` or failure) are stored. Hits
/// are returned in [`Outcome::pycs`] instead of being written to their targets (creating
/// thousands of small files costs more than the rest of a warm build's compile stage). Without a
/// cache (or when the interpreter's magic number is unknown) every job is compiled. The bytes are
/// the same either way.
pub fn compile_cached(
    interp: &Interpreter,
    jobs: &[Job],
    attrs: &[(PathBuf, String)],
    workers: usize,
    cache: Option<&PycCache>,
) -> Result<Outcome, BytecodeError> {
    let Some((cache, identity)) =
        cache.and_then(|c| Some((c, Identity::new(interp, COMPILE_SCRIPT)?)))
    else {
        let mut outcome = compile(interp, jobs, attrs, workers)?;
        outcome.compiled = jobs.len();
        return Ok(outcome);
    };
    let looked: Vec<Lookup> = jobs
        .par_iter()
        .map(|job| lookup(cache, &identity, job))
        .collect();
    let misses: Vec<Job> = jobs
        .iter()
        .zip(&looked)
        .filter(|(_, l)| matches!(l, Lookup::Miss(_)))
        .map(|(job, _)| job.clone())
        .collect();
    let compiled = if misses.is_empty() && attrs.is_empty() {
        Outcome::default()
    } else {
        compile(interp, &misses, attrs, workers)?
    };
    let failed: HashMap<String, String> = compiled.failed.into_iter().collect();
    jobs.par_iter().zip(&looked).for_each(|(job, l)| {
        if let Lookup::Miss(Some(key)) = l {
            store(cache, &identity, job, key, &failed);
        }
    });
    let mut outcome = Outcome {
        attrs: compiled.attrs,
        cached: jobs.len() - misses.len(),
        compiled: misses.len(),
        ..Outcome::default()
    };
    for (job, l) in jobs.iter().zip(looked) {
        let source = job.source.display().to_string();
        match l {
            Lookup::Failed(why) => outcome.failed.push((source, why)),
            Lookup::Miss(_) => {
                if let Some(why) = failed.get(&source) {
                    outcome.failed.push((source, why.clone()));
                }
            }
            Lookup::Hit(entry) => {
                outcome
                    .pycs
                    .insert(job.target.clone(), (entry, cache::PAYLOAD_OFFSET));
            }
        }
    }
    Ok(outcome)
}

fn lookup(cache: &PycCache, identity: &Identity, job: &Job) -> Lookup {
    let Ok(source) = std::fs::read(&job.source) else {
        return Lookup::Miss(None);
    };
    let key = identity.key(&job.dfile, &source);
    match cache.get(&key, identity.magic()) {
        Some(Cached::Pyc(_)) => Lookup::Hit(cache.entry_path(&key)),
        Some(Cached::Failed(why)) => Lookup::Failed(why),
        None => Lookup::Miss(Some(key)),
    }
}

/// Stores the result of the compiled `job` under `key`: its failure when `failed` names its
/// source, else the `.pyc` it wrote (when that looks like one of this interpreter's).
fn store(
    cache: &PycCache,
    identity: &Identity,
    job: &Job,
    key: &str,
    failed: &HashMap<String, String>,
) {
    let cached = match failed.get(&job.source.display().to_string()) {
        Some(why) => Cached::Failed(why.clone()),
        None => match std::fs::read(&job.target) {
            Ok(bytes) if cache::looks_like_pyc(&bytes, identity.magic()) => Cached::Pyc(bytes),
            _ => return,
        },
    };
    cache.put(key, &cached);
}

/// Compiles `jobs` with `interp`, spread over up to `workers` processes, and checks `attrs`
/// (pairs of module source and top-level name) in the first of them.
pub fn compile(
    interp: &Interpreter,
    jobs: &[Job],
    attrs: &[(PathBuf, String)],
    workers: usize,
) -> Result<Outcome, BytecodeError> {
    let workers = workers.clamp(1, 8).min(jobs.len().div_ceil(200).max(1));
    let chunk = jobs.len().div_ceil(workers).max(1);
    let mut chunks: Vec<&[Job]> = jobs.chunks(chunk).collect();
    if chunks.is_empty() {
        chunks.push(&[]);
    }
    let results: Vec<Result<Answer, BytecodeError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .iter()
            .enumerate()
            .map(|(i, part)| {
                let request = Request {
                    jobs: part
                        .iter()
                        .map(|j| (j.source.as_path(), j.target.as_path(), j.dfile.as_str()))
                        .collect(),
                    attrs: if i == 0 {
                        attrs
                            .iter()
                            .map(|(p, n)| (p.as_path(), n.as_str()))
                            .collect()
                    } else {
                        Vec::new()
                    },
                };
                let body = serde_json::to_vec(&request).expect("a request serialises");
                scope.spawn(move || run_one(interp, &body))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("compile thread does not panic"))
            .collect()
    });
    let mut outcome = Outcome::default();
    for (i, result) in results.into_iter().enumerate() {
        let answer = result?;
        outcome.failed.extend(answer.failed);
        if i == 0 {
            outcome.attrs = answer.attrs;
        }
    }
    Ok(outcome)
}

fn run_one(interp: &Interpreter, body: &[u8]) -> Result<Answer, BytecodeError> {
    use std::io::Write;
    let python = interp.executable.display().to_string();
    let mut cmd = Command::new(&interp.executable);
    // Not `-I`: it ignores PYTHONHASHSEED, and before 3.11 frozenset constants are written in
    // hash order (see compile.py). The other PYTHON* variables are removed instead.
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PYTHON") {
            cmd.env_remove(key);
        }
    }
    let mut child = crate::interrupt::own_group(&mut cmd)
        .args(["-S", "-s", "-c", COMPILE_SCRIPT])
        .env("PYTHONHASHSEED", "0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| BytecodeError::Spawn {
            python: python.clone(),
            source,
        })?;
    let _on_signal = crate::interrupt::child(child.id());
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let body = body.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&body));
    let output = child
        .wait_with_output()
        .map_err(|source| BytecodeError::Spawn {
            python: python.clone(),
            source,
        })?;
    let _ = writer.join();
    let failed = |status: String| BytecodeError::Failed {
        python: python.clone(),
        status,
        stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
    };
    if !output.status.success() {
        return Err(failed(output.status.to_string()));
    }
    serde_json::from_slice(&output.stdout)
        .map_err(|err| failed(format!("unreadable answer: {err}")))
}

/// Where the compiled files of a build go: the compile jobs, then which results belong to the
/// run-time package and to each distribution.
#[derive(Debug, Default)]
pub struct Plan {
    /// Every source to compile, run-time package first.
    pub jobs: Vec<Job>,
    /// The run-time package's bytecode: (archive path, job target).
    pub runtime: Vec<(String, PathBuf)>,
}

/// The compile stage's output: the plan that was carried out and what it produced.
#[derive(Debug, Default)]
pub struct Compiled {
    /// The plan; empty when there was no interpreter to compile with.
    pub plan: Plan,
    /// The failures, the attribute checks' answers and the bytecode taken from the cache.
    pub outcome: Outcome,
    /// The build cache used, if any: its directory and the first error writing to it.
    pub cache: Option<(PathBuf, Option<String>)>,
    /// Details for `-v` about the build cache (turned off, damaged entries).
    pub notes: Vec<String>,
    /// Warnings about the build cache (it cannot be used).
    pub warnings: Vec<String>,
}

impl Compiled {
    /// Returns the output of a build that compiles nothing (no interpreter of the target's
    /// version): the bundle ships sources only.
    pub fn nothing() -> Compiled {
        Compiled::default()
    }

    /// Returns the number of modules compiled or taken from the cache.
    pub fn modules(&self) -> usize {
        self.plan.jobs.len()
    }
}

/// Carries out `plan` with `compiler`, through the build cache the environment selects
/// ([`PycCache::from_env`]), and answers the attribute checks `attrs` (file, name). Prints
/// nothing: what the user should hear is in [`Compiled::notes`] and [`Compiled::warnings`].
pub fn compile_all(
    compiler: &Interpreter,
    plan: Plan,
    attrs: &[(PathBuf, String)],
) -> Result<Compiled, BytecodeError> {
    let workers = std::thread::available_parallelism().map_or(2, usize::from);
    let selected = PycCache::from_env();
    let cache = selected.cache;
    let outcome = compile_cached(compiler, &plan.jobs, attrs, workers, cache.as_ref())?;
    let mut notes: Vec<String> = selected.note.into_iter().collect();
    notes.extend(cache.iter().flat_map(PycCache::notes));
    let cache = cache.map(|c| (c.dir().to_path_buf(), c.write_error()));
    Ok(Compiled {
        plan,
        outcome,
        cache,
        notes,
        warnings: selected.warning.into_iter().collect(),
    })
}

/// One distribution's sources, as [`plan`] needs them.
#[derive(Debug)]
pub struct Sources<'a> {
    /// The distribution's staging root.
    pub root: &'a Path,
    /// Its files, `/`-paths relative to `root`.
    pub files: &'a [String],
    /// Where its files go: modules imported from the bundle get the legacy `module.pyc` next
    /// to `module.py` (and a `dfile` under the bundle's name), extracted ones `__pycache__`.
    pub placement: &'a Placement,
    /// Filled by [`plan`] with the distribution's bytecode: (path relative to `root`, job
    /// target).
    pub pycs: &'a mut Vec<(String, PathBuf)>,
}

/// Returns the compile jobs for the run-time package `runtime` (archive path, sources already on
/// disk under `runtime_dir`) and for `dists` (each one's bytecode goes to its `pycs`); results
/// are written under `runtime_dir` and `pyc_dir`. `bundle_name` prefixes the file names recorded in zip-imported code objects.
/// Sources that an extension module shadows, metadata and scripts get no bytecode.
pub fn plan(
    runtime: &[&str],
    runtime_dir: &Path,
    dists: Vec<Sources<'_>>,
    pyc_dir: &Path,
    cache_tag: &str,
    bundle_name: &str,
) -> Plan {
    let mut out = Plan::default();
    for path in runtime {
        let disk = runtime_dir.join(path);
        let pyc = pyc_path(path, cache_tag, true);
        out.jobs.push(Job {
            source: disk,
            target: runtime_dir.join(&pyc),
            dfile: format!("{bundle_name}/{path}"),
        });
        out.runtime.push((pyc.clone(), runtime_dir.join(&pyc)));
    }
    for (i, dist) in dists.into_iter().enumerate() {
        let mut pycs = Vec::new();
        let shadowed = shadowed_sources(dist.files);
        for file in dist
            .files
            .iter()
            .filter(|f| compiles(f) && !shadowed.contains(f.as_str()))
        {
            let legacy = dist.placement.imports_from_store(file);
            let pyc = pyc_path(file, cache_tag, legacy);
            let target = pyc_dir.join(i.to_string()).join(&pyc);
            let dfile = if legacy {
                format!("{bundle_name}/{file}")
            } else {
                file.clone()
            };
            out.jobs.push(Job {
                source: dist.root.join(file),
                target: target.clone(),
                dfile,
            });
            pycs.push((pyc, target));
        }
        *dist.pycs = pycs;
    }
    out
}

/// The `.py` files that an extension module of the same name in the same directory shadows
/// (mypyc-compiled packages such as black ship both): the import system picks the extension, so
/// their bytecode would never run. Their source is still shipped (tracebacks, `inspect`).
fn shadowed_sources(files: &[String]) -> BTreeSet<&str> {
    let stems: BTreeSet<(&str, &str)> = files
        .iter()
        .filter(|f| f.ends_with(".so") || f.ends_with(".pyd"))
        .map(|f| {
            let (dir, name) = f.rsplit_once('/').unwrap_or(("", f));
            (dir, name.split('.').next().unwrap_or(name))
        })
        .collect();
    files
        .iter()
        .filter(|f| {
            f.ends_with(".py") && {
                let (dir, name) = f.rsplit_once('/').unwrap_or(("", f));
                stems.contains(&(dir, &name[..name.len() - 3]))
            }
        })
        .map(String::as_str)
        .collect()
}

/// Returns true if and only if `file` is a Python source that gets bytecode. The test suites
/// that distributions ship (sources under a directory named `tests` or `test`, at any depth)
/// get none: they are rarely imported, and importing them still works (compiled at run time).
fn compiles(file: &str) -> bool {
    let top = file.split('/').next().unwrap_or(file);
    file.ends_with(".py") && !in_tests(file) && holds_code(top)
}

/// Returns the archive path of the `.pyc` for `py_path` (a `/`-path ending in `.py`): legacy
/// `module.pyc` for zip imports, `__pycache__/module.<tag>.pyc` for extracted distributions.
pub fn pyc_path(py_path: &str, cache_tag: &str, legacy: bool) -> String {
    let stem = py_path.strip_suffix(".py").unwrap_or(py_path);
    if legacy {
        return format!("{stem}.pyc");
    }
    match stem.rsplit_once('/') {
        Some((dir, name)) => format!("{dir}/__pycache__/{name}.{cache_tag}.pyc"),
        None => format!("__pycache__/{stem}.{cache_tag}.pyc"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pyc_locations() {
        assert_eq!(pyc_path("pkg/mod.py", "cpython-311", true), "pkg/mod.pyc");
        assert_eq!(
            pyc_path("pkg/mod.py", "cpython-311", false),
            "pkg/__pycache__/mod.cpython-311.pyc"
        );
        assert_eq!(
            pyc_path("mod.py", "cpython-38", false),
            "__pycache__/mod.cpython-38.pyc"
        );
    }

    #[test]
    fn compiled_sources() {
        assert!(compiles("pkg/mod.py"));
        assert!(compiles("top.py"));
        assert!(!compiles("pkg-1.0.dist-info/x.py"));
        assert!(!compiles("bin/tool.py"));
        assert!(!compiles("pkg/data.txt"));
    }

    #[test]
    fn test_suites_get_no_bytecode() {
        assert!(!compiles("numpy/core/tests/test_multiarray.py"));
        assert!(!compiles("tests/__init__.py"));
        assert!(!compiles("twisted/test/test_internet.py"));
        assert!(!compiles("a/b/tests/c/d.py"));
        // Only directories count: a module named `test.py` or a `testing` package compiles.
        assert!(compiles("pkg/test.py"));
        assert!(compiles("pkg/tests.py"));
        assert!(compiles("numpy/testing/utils.py"));
        assert!(compiles("pytest/__init__.py"));
    }

    #[test]
    fn sources_shadowed_by_extensions() {
        let files: Vec<String> = [
            "black/__init__.py",
            "black/linegen.cpython-311-x86_64-linux-gnu.so",
            "black/linegen.py",
            "black/mode.py",
            "top.abi3.so",
            "top.py",
            "other/linegen.py",
        ]
        .map(String::from)
        .to_vec();
        let shadowed: Vec<&str> = shadowed_sources(&files).into_iter().collect();
        assert_eq!(shadowed, ["black/linegen.py", "top.py"]);
    }
}
