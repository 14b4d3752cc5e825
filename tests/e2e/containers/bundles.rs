//! The container suite's bundles, built once per run on the host (the only place that reaches
//! the package index), and the images built from them with the recipes of `examples/`:
//! `examples/Dockerfile` (a bundle built elsewhere, pre-seeded) for the seed's Django/gunicorn
//! app, black and numpy; `examples/Dockerfile.build` (the bundle built in the image) for the
//! fixture application with its C extension, offline from a wheelhouse in the build context.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use super::{Base, Engine};
use crate::common::{copy_tree, python, repo_root, run_ok};

/// The host-built bundles and the fixture application's build context.
pub struct Bundles {
    /// The seed's Django app served by gunicorn (`-e myapp.main:main`).
    pub app: PathBuf,
    /// black (`-c black`), native code compiled with mypyc.
    pub black: PathBuf,
    /// numpy, a bundle that behaves like `python`.
    pub numpy: PathBuf,
    /// markupsafe (behaves like `python`): native speedups with a pure-Python fallback.
    pub markupsafe: PathBuf,
    /// black built with `--venv`, for `examples/Dockerfile.venv`.
    pub black_venv: PathBuf,
    /// fixtures/projects/myapp with `wheels/` (its dependencies and the build backend).
    pub myapp: PathBuf,
    /// The pybundle binary, stripped (the recipes copy it from their build context).
    pub pybundle: PathBuf,
    dir: PathBuf,
}

/// Returns the bundles, building them the first time (shared by both images' tables).
pub fn bundles() -> Result<&'static Bundles, String> {
    static BUNDLES: OnceLock<Result<Bundles, String>> = OnceLock::new();
    BUNDLES
        .get_or_init(|| {
            std::panic::catch_unwind(build).map_err(|e| {
                e.downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "building the bundles panicked".into())
            })
        })
        .as_ref()
        .map_err(Clone::clone)
}

fn build() -> Bundles {
    let py = python(11).expect("CPython 3.11");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("containers");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("home")).unwrap();
    let pip_cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("e2e/pip-cache");
    let isolate = |cmd: &mut Command| {
        cmd.env("HOME", dir.join("home"))
            .env("PIP_CACHE_DIR", &pip_cache)
            .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
            .env("PIP_NO_INPUT", "1")
            .env_remove("PIP_FIND_LINKS")
            .env_remove("PIP_NO_INDEX")
            .env_remove("PYTHONPATH")
            .env_remove("PYBUNDLE_ROOT")
            .env_remove("XDG_CACHE_HOME")
            .current_dir(&dir);
    };
    let pybundle = |args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_pybundle"));
        isolate(&mut cmd);
        cmd.arg("--python").arg(&py).args(args);
        run_ok(&mut cmd);
    };
    let pip = |args: &[&str], cwd: &Path| {
        let mut cmd = Command::new(&py);
        isolate(&mut cmd);
        cmd.args(["-m", "pip"]).args(args).current_dir(cwd);
        run_ok(&mut cmd);
    };

    // The seed's Django app, exactly as the servers case builds it.
    let seed = dir.join("djangoseed");
    copy_tree(&repo_root().join("fixtures/projects/djangoseed"), &seed);
    pip(
        &[
            "install",
            "-q",
            ".",
            "-r",
            "requirements.txt",
            "--target",
            "dist/",
        ],
        &seed,
    );
    let app = dir.join("app.pyz");
    pybundle(&[
        "--site-packages",
        seed.join("dist").to_str().unwrap(),
        "--compressed",
        "-e",
        "myapp.main:main",
        "-o",
        app.to_str().unwrap(),
    ]);
    let black = dir.join("black.pyz");
    pybundle(&["-o", black.to_str().unwrap(), "-c", "black", "black"]);
    let numpy = dir.join("numpy.pyz");
    pybundle(&["-o", numpy.to_str().unwrap(), "numpy"]);
    let markupsafe = dir.join("markupsafe.pyz");
    pybundle(&["-o", markupsafe.to_str().unwrap(), "markupsafe"]);
    let black_venv = dir.join("black-venv.pyz");
    pybundle(&[
        "--venv",
        "-o",
        black_venv.to_str().unwrap(),
        "-c",
        "black",
        "black",
    ]);

    // The fixture application with a wheelhouse: its two dependencies (one a C extension) and
    // the build backend, so that `pybundle .` in the image runs offline.
    let myapp = dir.join("myapp");
    let fixtures = repo_root().join("fixtures");
    copy_tree(&fixtures.join("projects/myapp"), &myapp);
    // Copies: pip builds a source tree in place (build/, *.egg-info).
    copy_tree(&fixtures.join("projects/puredep"), &dir.join("puredep"));
    copy_tree(&fixtures.join("native"), &dir.join("native"));
    let wheels = myapp.join("wheels");
    pip(
        &[
            "download",
            "-q",
            "--no-deps",
            "--only-binary=:all:",
            "-d",
            wheels.to_str().unwrap(),
            "setuptools>=70.1",
        ],
        &dir,
    );
    pip(
        &[
            "wheel",
            "-q",
            "--no-index",
            "-f",
            wheels.to_str().unwrap(),
            "-w",
            wheels.to_str().unwrap(),
            dir.join("puredep").to_str().unwrap(),
            dir.join("native").to_str().unwrap(),
        ],
        &dir,
    );

    let pybundle_bin = dir.join("pybundle");
    let stripped = Command::new("strip")
        .arg("-o")
        .arg(&pybundle_bin)
        .arg(env!("CARGO_BIN_EXE_pybundle"))
        .status()
        .is_ok_and(|s| s.success());
    if !stripped {
        std::fs::copy(env!("CARGO_BIN_EXE_pybundle"), &pybundle_bin).unwrap();
    }
    Bundles {
        app,
        black,
        numpy,
        markupsafe,
        black_venv,
        myapp,
        pybundle: pybundle_bin,
        dir,
    }
}

impl Bundles {
    /// Builds `examples/Dockerfile` (`examples/Dockerfile.venv` for a `name` ending in
    /// `-venv`) for `bundle` on `base`: a context with `app.pyz` and `pybundle`; returns the
    /// image tag.
    pub fn prebuilt_image(
        &self,
        engine: &Engine,
        base: Base,
        bundle: &Path,
        name: &str,
    ) -> Result<String, String> {
        let context = self.dir.join(format!("ctx-{name}-{}", base.name));
        let _ = std::fs::remove_dir_all(&context);
        std::fs::create_dir_all(&context).map_err(|e| e.to_string())?;
        std::fs::copy(bundle, context.join("app.pyz")).map_err(|e| e.to_string())?;
        std::fs::copy(&self.pybundle, context.join("pybundle")).map_err(|e| e.to_string())?;
        let tag = format!("pybundle-e2e/{name}:{}", base.name.replace('.', "-"));
        let recipe = if name.ends_with("-venv") {
            "examples/Dockerfile.venv"
        } else {
            "examples/Dockerfile"
        };
        let dockerfile = repo_root().join(recipe);
        engine.ok(
            &[
                "build",
                "-q",
                "--network",
                "none",
                "-f",
                dockerfile.to_str().unwrap(),
                "--build-arg",
                &format!("BASE={}", base.tag),
                "-t",
                &tag,
                context.to_str().unwrap(),
            ],
            Duration::from_secs(300),
        )?;
        Ok(tag)
    }

    /// Builds `examples/Dockerfile.build` for the fixture application on `base` (its build stage
    /// on `base.build_tag`, offline from the context's wheelhouse); returns the image tag.
    pub fn built_image(&self, engine: &Engine, base: Base) -> Result<String, String> {
        let context = self.dir.join(format!("ctx-myapp-{}", base.name));
        let _ = std::fs::remove_dir_all(&context);
        copy_tree(&self.myapp, &context);
        std::fs::copy(&self.pybundle, context.join("pybundle")).map_err(|e| e.to_string())?;
        let tag = format!("pybundle-e2e/myapp-built:{}", base.name.replace('.', "-"));
        let dockerfile = repo_root().join("examples/Dockerfile.build");
        engine.ok(
            &[
                "build",
                "-q",
                "--network",
                "none",
                "-f",
                dockerfile.to_str().unwrap(),
                "--build-arg",
                &format!("BASE={}", base.tag),
                "--build-arg",
                &format!("BUILD_BASE={}", base.build_tag),
                "--build-arg",
                "PYBUNDLE_ARGS=--no-index -f wheels",
                "-t",
                &tag,
                context.to_str().unwrap(),
            ],
            Duration::from_secs(600),
        )?;
        Ok(tag)
    }

    /// The directory of host files mounted into containers (`black` formats files there).
    pub fn scratch(&self, name: &str) -> PathBuf {
        let dir = self.dir.join("scratch").join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
