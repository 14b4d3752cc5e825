//! The end-to-end suite (`cargo test --features e2e --test e2e`, needs the package index): real
//! packages from the index are bundled with the pybundle binary and run in a "slim" setting (the
//! bundle alone in an empty directory, a bare `--without-pip` CPython 3.11 venv first on PATH, a
//! fresh HOME, no PYBUNDLE_ROOT; no network: `unshare -n` where the machine allows it, except for
//! servers). Every case asserts real output and records a row of the
//! compatibility table written to `target/e2e-compat.md`. The `containers` group runs bundles
//! in a real container engine (see its module) and writes `target/e2e-containers.md`.

#[path = "../common/mod.rs"]
mod common;

mod harness;

mod ci_recipe;
mod cli_tools;
mod containers;
mod cross;
mod dev_tools;
mod doc_tools;
mod first_start;
mod jupyter;
mod launch;
mod libraries;
mod lock;
mod servers;
