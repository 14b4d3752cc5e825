//! The container suite (`cargo test --features e2e --test e2e containers`): bundles run in a real
//! engine, the way production images run them. The suite installs `docker.io` and `debootstrap`
//! from the distribution's packages when they are missing (as root, with apt-get), starts
//! `dockerd` itself when no engine answers, and makes its base images without a registry
//! (containers/images.sh: debootstrap + `docker import`, cached by tag and as tarballs under
//! `target/containers/`):
//!
//! - `debian`: minimal Debian bookworm with Debian's python3 (`/usr/bin/python3`, dist-packages,
//!   no pip, ensurepip disabled);
//! - `python.org`: a python.org-style image (a CPython copied under `/usr/local`, no
//!   `/usr/bin/python3`).
//!
//! Bundles that need the package index are built on the host and copied in; the images are built
//! from the recipes of `examples/` with `docker build`, and every container runs with
//! `--network none`. Each image's scenario table (row, image, result, timing) is printed on the
//! terminal (past the test harness's capture) and written to `target/e2e-containers.md`. Where
//! no engine can start, the tests print the reason and pass; nothing else is skipped.

/// Returns `Err(message)` from the enclosing row unless `cond` holds.
macro_rules! check {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

mod bundles;
mod scenarios;
mod tools;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::common::{python, repo_root, which};
use crate::harness::target_dir;

/// The base images, tagged by what they hold (a new tag makes images.sh build them anew).
pub const DEBIAN: &str = "pybundle-e2e/debian:bookworm-v1";
const DEBIAN_PIP: &str = "pybundle-e2e/debian-pip:bookworm-v1";
pub const PYORG: &str = "pybundle-e2e/python-org:3.11-v1";

/// One base image of the table.
#[derive(Clone, Copy)]
pub struct Base {
    /// The name in the table.
    pub name: &'static str,
    /// The image tag.
    pub tag: &'static str,
    /// The image the build-in-the-image recipe builds on (one with pip).
    pub build_tag: &'static str,
}

pub const BASES: [Base; 2] = [
    Base {
        name: "debian",
        tag: DEBIAN,
        build_tag: DEBIAN_PIP,
    },
    Base {
        name: "python.org",
        tag: PYORG,
        build_tag: PYORG,
    },
];

/// The container suite on Debian's python3.
#[test]
fn containers_debian() {
    scenarios::run_table(BASES[0]);
}

/// The container suite on a python.org-style image.
#[test]
fn containers_python_org() {
    scenarios::run_table(BASES[1]);
}

/// Writes `text` to the terminal, past the test harness's output capture.
pub fn say(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
    let _ = err.flush();
}

/// The cache of the suite's images and tools: `target/containers`.
pub fn cache_dir() -> PathBuf {
    let dir = target_dir().join("containers");
    std::fs::create_dir_all(&dir).expect("create target/containers");
    dir
}

/// A container engine that answers.
pub struct Engine {
    docker: PathBuf,
    names: AtomicU32,
}

/// Returns the engine, or why none can start (after installing the tools and starting
/// `dockerd` when needed). Computed once per run.
pub fn engine() -> Result<&'static Engine, String> {
    static ENGINE: OnceLock<Result<Engine, String>> = OnceLock::new();
    ENGINE
        .get_or_init(start_engine)
        .as_ref()
        .map_err(Clone::clone)
}

/// Makes the suite's base images once per run; a failure here fails the tests (an engine that
/// runs is no reason to skip).
pub fn images(engine: &Engine) -> Result<(), String> {
    static IMAGES: OnceLock<Result<(), String>> = OnceLock::new();
    IMAGES.get_or_init(|| make_images(engine)).clone()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Installs what is missing of `docker.io` and `debootstrap` from the distribution's packages.
fn install_tools() -> Result<(), String> {
    let mut missing = Vec::new();
    if which("dockerd").is_none() && !Path::new("/usr/sbin/dockerd").exists() {
        missing.push("docker.io");
    }
    if which("debootstrap").is_none() && !Path::new("/usr/sbin/debootstrap").exists() {
        missing.push("debootstrap");
    }
    if missing.is_empty() {
        return Ok(());
    }
    if !is_root() || which("apt-get").is_none() {
        return Err(format!(
            "{} missing, and this is not root with apt-get to install them",
            missing.join(" and ")
        ));
    }
    say(&format!(
        "containers: apt-get install {}\n",
        missing.join(" ")
    ));
    let script = format!(
        "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq {} >/dev/null",
        missing.join(" ")
    );
    let out = Command::new("sh")
        .args(["-c", &script])
        .output()
        .map_err(|e| format!("cannot run apt-get: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "apt-get install {} failed: {}",
            missing.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

/// Finds the Docker client, and starts `dockerd` in the background when no engine answers.
fn start_engine() -> Result<Engine, String> {
    install_tools()?;
    // The distribution's client first: it matches the daemon the suite may start.
    let docker = ["/usr/bin/docker"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .or_else(|| which("docker"))
        .ok_or("no docker client")?;
    let engine = Engine {
        docker,
        names: AtomicU32::new(0),
    };
    if engine.answers() {
        return Ok(engine);
    }
    let dockerd = which("dockerd").unwrap_or_else(|| PathBuf::from("/usr/sbin/dockerd"));
    if !is_root() {
        return Err("no engine answers `docker info`, and dockerd needs root".into());
    }
    let log = cache_dir().join("dockerd.log");
    let file = std::fs::File::create(&log).map_err(|e| format!("create {log:?}: {e}"))?;
    say("containers: starting dockerd\n");
    {
        use std::os::unix::process::CommandExt;
        Command::new(&dockerd)
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(file.try_clone().map_err(|e| e.to_string())?)
            .stderr(file)
            .spawn()
            .map_err(|e| format!("cannot start {dockerd:?}: {e}"))?;
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if engine.answers() {
            return Ok(engine);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let tail: String = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .rev()
        .take(8)
        .collect::<Vec<_>>()
        .join("\n");
    Err(format!(
        "dockerd did not start within 60 s (log {}):\n{tail}",
        log.display()
    ))
}

/// Makes the base images (containers/images.sh), when their tags are missing.
fn make_images(engine: &Engine) -> Result<(), String> {
    let python =
        python(11).ok_or("CPython 3.11 not found (the python.org-style image copies it)")?;
    let prefix = python
        .parent()
        .and_then(Path::parent)
        .ok_or("CPython 3.11's installation prefix")?;
    let started = Instant::now();
    let out = Command::new("bash")
        .arg(repo_root().join("tests/e2e/containers/images.sh"))
        .arg(cache_dir())
        .arg(prefix)
        .args([DEBIAN, DEBIAN_PIP, PYORG])
        .env("DOCKER", &engine.docker)
        .output()
        .map_err(|e| format!("cannot run images.sh: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "making the base images failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    say(&format!(
        "containers: base images ready in {:.0} s\n{}",
        started.elapsed().as_secs_f64(),
        String::from_utf8_lossy(&out.stdout)
    ));
    Ok(())
}

/// What a bounded `docker` call did.
pub struct Ran {
    /// The exit code (`None`: killed at the time limit or by a signal).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Ran {
    /// Returns stdout and stderr for a failure message.
    pub fn show(&self) -> String {
        format!(
            "exit {:?} after {:.1} s\n--- stdout\n{}\n--- stderr\n{}",
            self.code,
            self.elapsed.as_secs_f64(),
            self.stdout,
            self.stderr
        )
    }
}

impl Engine {
    fn answers(&self) -> bool {
        Command::new(&self.docker)
            .args(["info", "--format", "{{.ServerVersion}}"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Returns a fresh container name of this run.
    pub fn name(&self) -> String {
        format!(
            "pybundle-e2e-{}-{}",
            std::process::id(),
            self.names.fetch_add(1, Ordering::SeqCst)
        )
    }

    /// Runs `docker ARGS` (classic builder), feeding `stdin`, killing it after `limit`.
    pub fn docker(&self, args: &[&str], stdin: Option<&str>, limit: Duration) -> Ran {
        let started = Instant::now();
        let mut child = Command::new(&self.docker)
            .args(args)
            .env("DOCKER_BUILDKIT", "0")
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run docker");
        if let Some(input) = stdin {
            let mut pipe = child.stdin.take().expect("piped stdin");
            let input = input.to_string();
            std::thread::spawn(move || {
                let _ = pipe.write_all(input.as_bytes());
            });
        }
        let id = child.id();
        let waiter = std::thread::spawn(move || child.wait_with_output());
        let deadline = started + limit;
        while !waiter.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if !waiter.is_finished() {
            let _ = Command::new("kill").arg(id.to_string()).status();
        }
        let output: Option<Output> = waiter.join().ok().and_then(Result::ok);
        let elapsed = started.elapsed();
        match output {
            Some(o) => Ran {
                code: if elapsed >= limit {
                    None
                } else {
                    o.status.code()
                },
                stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
                elapsed,
            },
            None => Ran {
                code: None,
                stdout: String::new(),
                stderr: "docker did not finish".into(),
                elapsed,
            },
        }
    }

    /// Runs `docker ARGS` and returns stdout, or the failure.
    pub fn ok(&self, args: &[&str], limit: Duration) -> Result<String, String> {
        let ran = self.docker(args, None, limit);
        if ran.code == Some(0) {
            Ok(ran.stdout)
        } else {
            Err(format!("docker {}: {}", args.join(" "), ran.show()))
        }
    }

    /// Removes container `name` (whatever its state).
    pub fn remove(&self, name: &str) {
        let _ = self.docker(&["rm", "-f", name], None, Duration::from_secs(30));
    }

    /// Returns an image's size in bytes.
    pub fn image_size(&self, tag: &str) -> Result<u64, String> {
        let out = self.ok(
            &["image", "inspect", "-f", "{{.Size}}", tag],
            Duration::from_secs(30),
        )?;
        out.trim()
            .parse()
            .map_err(|e| format!("image size of {tag}: {e}"))
    }
}

/// Removes a container when dropped.
pub struct Container<'a> {
    pub engine: &'a Engine,
    pub name: String,
}

impl Drop for Container<'_> {
    fn drop(&mut self) {
        self.engine.remove(&self.name);
    }
}
