//! Support for the end-to-end cases: a per-case [`Case`] (its own temp dir, pip talking to the
//! package index with a download cache shared by every case), the "slim" run setting (the bundle
//! alone in an empty directory, a bare `--without-pip` venv first on PATH, a fresh HOME, no
//! PYBUNDLE_ROOT), a [`Server`] guard that always kills its process group, a bounded HTTP GET,
//! and the compatibility record behind `target/e2e-compat.md`.

use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::common::{describe, python, run_ok};

/// Returns the cargo target directory (the parent of `CARGO_TARGET_TMPDIR`).
pub fn target_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).to_path_buf()
}

/// The directory shared by every case of a run: pip's download cache and the compatibility rows.
fn suite_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("e2e");
    std::fs::create_dir_all(&dir).expect("create the e2e suite directory");
    dir
}

/// One end-to-end case: a temp dir, the interpreter, and the compatibility row it reports.
pub struct Case {
    /// Temporary root of the case; removed on drop.
    pub temp: tempfile::TempDir,
    /// The build interpreter (CPython 3.11 with pip).
    pub python: PathBuf,
    row: Row,
}

impl Case {
    /// Starts case `id` (its position in the table) for `package`, or `None` (skipped) when
    /// CPython 3.11 is missing; fails instead under `PYBUNDLE_TEST_REQUIRE_TOOLS=1`.
    pub fn new(id: u32, package: &str, ran: &str) -> Option<Case> {
        let Some(python) = python(11) else {
            if crate::common::require_tools() {
                panic!("required tool missing: CPython 3.11");
            }
            eprintln!("skipping: CPython 3.11 not found");
            return None;
        };
        let temp = tempfile::Builder::new()
            .prefix("pybundle-e2e-")
            .tempdir()
            .expect("tempdir");
        for dir in ["home", "work"] {
            std::fs::create_dir_all(temp.path().join(dir)).expect("create case dirs");
        }
        Some(Case {
            temp,
            python,
            row: Row {
                id,
                package: package.to_string(),
                version: "?".to_string(),
                ran: ran.to_string(),
                started: Instant::now(),
            },
        })
    }

    /// Returns the case's temp root.
    pub fn root(&self) -> &Path {
        self.temp.path()
    }

    /// Returns the build working directory (`<root>/work`).
    pub fn work(&self) -> PathBuf {
        self.root().join("work")
    }

    fn isolate(&self, cmd: &mut Command) {
        cmd.env("HOME", self.root().join("home"))
            .env("PIP_CACHE_DIR", suite_dir().join("pip-cache"))
            .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
            .env("PIP_NO_INPUT", "1")
            .env_remove("PIP_FIND_LINKS")
            .env_remove("PIP_NO_INDEX")
            .env_remove("PYTHONPATH")
            .env_remove("PYBUNDLE_ROOT")
            .env_remove("PYBUNDLE_VERBOSE")
            .env_remove("XDG_CACHE_HOME")
            .current_dir(self.work());
    }

    /// Returns a `pybundle` command run in the work directory, with pip on the package index.
    pub fn pybundle(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_pybundle"));
        self.isolate(&mut cmd);
        cmd
    }

    /// Returns a command running the build interpreter (`python ARGS`) in the work directory.
    pub fn build_python(&self) -> Command {
        let mut cmd = Command::new(&self.python);
        self.isolate(&mut cmd);
        cmd
    }

    /// Runs `pybundle --python <3.11> -o <name> ARGS` in the work directory, records the bundled
    /// version of the case's package, and returns the bundle's path.
    pub fn bundle(&mut self, name: &str, args: &[&str]) -> PathBuf {
        let python = self.python.clone();
        self.bundle_for(&python, name, args)
    }

    /// Like [`Case::bundle`], for the interpreter `python` instead of the case's 3.11.
    pub fn bundle_for(&mut self, python: &Path, name: &str, args: &[&str]) -> PathBuf {
        let out = self.work().join(name);
        let mut cmd = self.pybundle();
        cmd.arg("--python")
            .arg(python)
            .arg("-o")
            .arg(&out)
            .args(args);
        run_ok(&mut cmd);
        self.record_version(&out);
        out
    }

    /// Reads the version of the case's package from `pybundle info --json` of `bundle`.
    pub fn record_version(&mut self, bundle: &Path) {
        let out = run_ok(self.pybundle().args(["info", "--json"]).arg(bundle));
        let manifest: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("`info --json` prints JSON");
        let dists = manifest["distributions"]
            .as_array()
            .expect("the manifest lists distributions");
        let mut versions = Vec::new();
        for package in self.row.package.split(" + ") {
            let want = normalize(package);
            let version = dists
                .iter()
                .find(|d| d["name"].as_str().map(normalize).as_deref() == Some(want.as_str()))
                .and_then(|d| d["version"].as_str())
                .unwrap_or_else(|| panic!("`{package}` is not in the bundle's manifest"));
            versions.push(version.to_string());
        }
        self.row.version = versions.join(" + ");
    }

    /// Copies `bundle` alone into an empty directory and returns the slim run setting for it.
    pub fn slim(&self, bundle: &Path) -> Slim {
        self.slim_with(bundle, &self.python, "slim")
    }

    /// Like [`Case::slim`], with a bare venv of `python` first on PATH, under `<root>/<name>`.
    pub fn slim_with(&self, bundle: &Path, python: &Path, name: &str) -> Slim {
        let dir = self.root().join(name);
        let run = dir.join("run");
        let home = dir.join("home");
        std::fs::create_dir_all(&run).expect("create the slim run dir");
        std::fs::create_dir_all(&home).expect("create the slim home");
        let name = bundle.file_name().expect("bundle file name");
        let copy = run.join(name);
        // `cp` writes the copy in a child process, so no thread of this process that forks
        // meanwhile can hold it open for writing (which makes exec fail with ETXTBSY).
        run_ok(Command::new("cp").arg(bundle).arg(&copy));
        let venv = dir.join("venv");
        run_ok(
            Command::new(python)
                .args(["-m", "venv", "--without-pip"])
                .arg(&venv),
        );
        Slim {
            bundle: copy,
            run,
            home,
            bin: venv.join("bin"),
            envs: Vec::new(),
        }
    }
}

impl Drop for Case {
    fn drop(&mut self) {
        let result = if std::thread::panicking() {
            "fail"
        } else {
            "pass"
        };
        self.row.write(result);
    }
}

/// The slim run setting of one bundle.
pub struct Slim {
    /// The bundle, alone in `run`.
    pub bundle: PathBuf,
    /// The (otherwise empty) working directory.
    pub run: PathBuf,
    /// The fresh HOME (the default extraction cache lives under it).
    pub home: PathBuf,
    /// The bare venv's `bin`, first on PATH.
    pub bin: PathBuf,
    /// Variables set on top of the cleared environment (see [`Slim::env`]).
    envs: Vec<(String, OsString)>,
}

impl Slim {
    /// Sets `key` to `value` for every later run of the bundle (e.g. `PYBUNDLE_ROOT`).
    pub fn env(mut self, key: &str, value: impl AsRef<OsStr>) -> Slim {
        self.envs
            .push((key.to_string(), value.as_ref().to_os_string()));
        self
    }

    /// Returns a command that executes the bundle (through its shebang) with `args`, in a
    /// cleared environment: PATH = venv bin + system dirs, fresh HOME, no PYBUNDLE_ROOT, plus the
    /// variables given to [`Slim::env`].
    pub fn cmd(&self, args: &[&str]) -> Command {
        self.cmd_in(args, false)
    }

    /// Like [`Slim::cmd`]; with `offline`, in a new network namespace without any interface up
    /// (`unshare -n`) when the machine allows one, which proves the run needs no network.
    fn cmd_in(&self, args: &[&str], offline: bool) -> Command {
        let mut cmd = if offline && can_unshare_net() {
            let mut cmd = Command::new("unshare");
            cmd.args(["-n", "--"]).arg(&self.bundle);
            cmd
        } else {
            Command::new(&self.bundle)
        };
        cmd.args(args)
            .env_clear()
            .env("PATH", format!("{}:/usr/bin:/bin", self.bin.display()))
            .env("HOME", &self.home)
            .env("LANG", "C.UTF-8")
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .current_dir(&self.run);
        cmd
    }

    /// Runs the bundle with `args` and returns its output (stdin empty), without network.
    pub fn run(&self, args: &[&str]) -> Output {
        spawn_retry(
            self.cmd_in(args, true)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped()),
        )
        .wait_with_output()
        .expect("wait for the bundle")
    }

    /// Runs the bundle with `args`, feeding `input` on stdin, without network.
    pub fn run_stdin(&self, args: &[&str], input: &str) -> Output {
        let mut child = spawn_retry(
            self.cmd_in(args, true)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped()),
        );
        let mut stdin = child.stdin.take().expect("stdin is piped");
        let input = input.to_string();
        let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
        let out = child.wait_with_output().expect("wait for the bundle");
        writer
            .join()
            .expect("stdin writer thread")
            .expect("write stdin");
        out
    }

    /// Runs the bundle with `args` and asserts it succeeded; returns stdout.
    pub fn run_ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "bundle failed: {args:?}\n{}",
            describe(&out)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Starts the bundle with `args` as a server in its own process group, output to files.
    pub fn serve(&self, args: &[&str]) -> Server {
        use std::os::unix::process::CommandExt;
        let log = self.run.parent().unwrap_or(&self.run).join("server.log");
        let file = std::fs::File::create(&log).expect("create the server log");
        let child = spawn_retry(
            self.cmd(args)
                .process_group(0)
                .stdin(Stdio::null())
                .stdout(file.try_clone().expect("dup the log"))
                .stderr(file),
        );
        Server {
            child,
            log,
            stopped: false,
        }
    }
}

/// True when `unshare -n` works here (root, or user namespaces allowed).
fn can_unshare_net() -> bool {
    static OK: OnceLock<bool> = OnceLock::new();
    *OK.get_or_init(|| {
        Command::new("unshare")
            .args(["-n", "true"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// Spawns `cmd`, retrying while the freshly copied executable is still "busy" (another test
/// thread forked while the copy's write handle was open).
fn spawn_retry(cmd: &mut Command) -> Child {
    let mut tries = 0;
    loop {
        match cmd.spawn() {
            Ok(child) => return child,
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && tries < 50 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => panic!("cannot start {cmd:?}: {e}"),
        }
    }
}

/// A running server; its whole process group is terminated on [`Server::stop`] or drop.
pub struct Server {
    child: Child,
    log: PathBuf,
    stopped: bool,
}

impl Server {
    /// Returns the server's combined stdout and stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// GETs `path` from `127.0.0.1:port`, retrying until a response arrives or `limit`
    /// passes; fails early (with the server log) if the server exits.
    pub fn get(&mut self, port: u16, path: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "the server exited ({status}) before answering\n{}",
                    self.log()
                );
            }
            match http_get(port, path) {
                Ok(response) => return response,
                Err(e) if Instant::now() >= deadline => {
                    panic!(
                        "no answer on port {port} within {limit:?}: {e}\n--- server log\n{}",
                        self.log()
                    );
                }
                Err(_) => std::thread::sleep(Duration::from_millis(250)),
            }
        }
    }

    /// Asserts `response` is a 200 whose body contains `needle`; shows the server log if not.
    pub fn assert_served(&self, response: &str, needle: &str) {
        let ok = response
            .lines()
            .next()
            .is_some_and(|l| l.starts_with("HTTP/1.") && l.contains(" 200"));
        assert!(
            ok && response.contains(needle),
            "expected a 200 response containing `{needle}`:\n{response}\n--- server log\n{}",
            self.log()
        );
    }

    /// Sends SIGTERM to the process group, waits (bounded) for the leader, SIGKILLs whatever is
    /// left, and returns the leader's exit status and whether the group was already empty.
    pub fn stop(&mut self) -> (Option<ExitStatus>, bool) {
        self.stopped = true;
        let pgid = self.child.id();
        signal_group("TERM", pgid);
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut status = None;
        while Instant::now() < deadline {
            if let Ok(Some(s)) = self.child.try_wait() {
                status = Some(s);
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // Workers may take a moment to follow their master.
        let mut group_gone = false;
        while Instant::now() < deadline {
            if !group_alive(pgid) {
                group_gone = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        if !group_gone {
            signal_group("KILL", pgid);
        }
        if status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        (status, group_gone)
    }

    /// Stops the server and asserts it shut down cleanly on SIGTERM, leaving no process.
    pub fn stop_clean(&mut self) {
        let (status, group_gone) = self.stop();
        assert!(
            status.is_some(),
            "the server ignored SIGTERM\n{}",
            self.log()
        );
        assert!(
            group_gone,
            "processes were left behind after SIGTERM\n{}",
            self.log()
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if !self.stopped {
            self.stop();
        }
    }
}

fn signal_group(signal: &str, pgid: u32) {
    let _ = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg("--")
        .arg(format!("-{pgid}"))
        .stderr(Stdio::null())
        .status();
}

/// True while any process of group `pgid` exists (zombies of the reaped leader excluded).
fn group_alive(pgid: u32) -> bool {
    Command::new("kill")
        .args(["-0", "--"])
        .arg(format!("-{pgid}"))
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Returns a TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind port 0")
        .port()
}

/// One HTTP/1.0 GET with connect and read timeouts; returns the whole response.
fn http_get(port: u16, path: &str) -> std::io::Result<String> {
    let addr = ([127, 0, 0, 1], port).into();
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(20)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )?;
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf)?;
    if buf.is_empty() {
        return Err(std::io::Error::other("empty response"));
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// Writes `files` (relative path, content) under `dir`.
pub fn write_tree(dir: &Path, files: &[(&str, &str)]) {
    for (rel, content) in files {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("create dirs");
        std::fs::write(&path, content).expect("write a file");
    }
}

fn normalize(name: &str) -> String {
    name.to_ascii_lowercase().replace(['_', '.'], "-")
}

/// One row of the compatibility table.
struct Row {
    id: u32,
    package: String,
    version: String,
    ran: String,
    started: Instant,
}

static TABLE: Mutex<()> = Mutex::new(());

impl Row {
    /// Stores this row (one file per case) and regenerates `target/e2e-compat.md` from every
    /// row stored so far, so partial runs keep the other cases' latest results.
    fn write(&self, result: &str) {
        let _guard = TABLE.lock().unwrap_or_else(|e| e.into_inner());
        let rows = suite_dir().join("compat");
        if std::fs::create_dir_all(&rows).is_err() {
            return;
        }
        let line = format!(
            "| {} | {} | {} | {} ({:.0}s) |",
            self.package,
            self.version,
            self.ran,
            result,
            self.started.elapsed().as_secs_f64()
        );
        let _ = std::fs::write(rows.join(format!("{:02}.md", self.id)), line);
        let mut names: Vec<PathBuf> = std::fs::read_dir(&rows)
            .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        names.sort();
        let mut table = String::from(
            "| package | version | what ran (slim: bare venv, fresh HOME, bundle alone) | result |\n|---|---|---|---|\n",
        );
        for name in names {
            if let Ok(text) = std::fs::read_to_string(&name) {
                table.push_str(text.trim_end());
                table.push('\n');
            }
        }
        let _ = std::fs::write(target_dir().join("e2e-compat.md"), table);
    }
}
