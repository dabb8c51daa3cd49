//! What the host grants a plugin: one module per WIT interface the plugin
//! may import (`log`, `config`, `socket`), each with its state, its view and
//! `add_to_linker`. WASI comes from `wasmtime-wasi`, with network access
//! switched off: the only way out of the sandbox is `socket`.

pub mod config;
pub mod log;
pub mod socket;
