//! Integration tests across crates: one test binary (faster to link, shared
//! helpers in `util.rs`), one module per area.

mod util;

mod concurrency;
mod http_products;
mod trap;
mod wit_ops;
