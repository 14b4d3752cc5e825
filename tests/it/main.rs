//! The core integration suite (offline): one test binary, one module per topic.

#[path = "../common/mod.rs"]
mod common;

mod build;
mod bytecode_cache;
mod compat;
mod cross;
mod eco;
mod errors;
mod python;
mod runtime;
mod uv;
