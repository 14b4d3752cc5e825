//! The core integration suite (offline): one test binary, one module per thing a user does.
//!
//! - `build`: bundles of the fixture application, every entry-point style and build flag;
//! - `reproduce`, `bytecode_cache`: the same inputs give the same bytes, rebuilds reuse bytecode;
//! - `inspect`: `info`, `verify`, the SBOM, `diff`;
//! - `runtime`: what a bundle does when it runs (extraction cache, signals, damaged bundles);
//! - `compat`: zip or extract, namespace packages;
//! - `flat`: bundles of more than 65,535 files (the site store, Zip64 inner archives); `store`:
//!   the bundle's own importer of zip-safe code on every CPython;
//! - `units`: distributions extracted in part, one package subtree on its first import;
//! - `venv`: `--venv` bundles, `pybundle venv`, the environment pre-seeded by `extract`;
//! - `config`: `[tool.pybundle]` and `--config`;
//! - `cli`: help, completions, what a build prints;
//! - `errors`: every failure names its cause, exits 1 and leaves nothing behind; `interrupted`:
//!   SIGINT/SIGTERM during a build, `-o` naming something that is not a regular file, a full disk;
//! - `fuzz`: random bit flips and truncations of a bundle: the same output or the damage
//!   paragraph, never a hang, a crash or a traceback;
//! - `readers`: hostile bundles against every reader (full index, Zip64 sizes, inflation,
//!   inner member names), `verify` naming every damaged member;
//! - `install`: the install stage against pip; `uv`: the uv resolver; `python`: the bootstrap's
//!   own unit tests under every CPython;
//! - `docs`: the README quotes the container recipes of `examples/` word for word;
//! - `architecture`: the module graph of `src/` has no cycle, no file is too long.

#[path = "../common/mod.rs"]
mod common;

mod architecture;
mod build;
mod bytecode_cache;
mod cli;
mod compat;
mod config;
mod cross;
mod docs;
mod errors;
mod flat;
mod fuzz;
mod inspect;
mod install;
mod interrupted;
mod launch;
mod lock;
mod output;
mod parts;
mod python;
mod readers;
mod reproduce;
mod runtime;
mod store;
mod units;
mod uv;
mod venv;
