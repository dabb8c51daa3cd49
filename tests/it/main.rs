//! Integration tests across crates: one test binary (faster to link, shared
//! helpers in `util.rs`), one module per area.

mod fixtures;
mod util;

mod attacks;
mod concurrency;
mod enventa;
mod hostile;
mod http_products;
mod isolation;
mod overload;
mod registry;
mod rest;
mod sdk;
mod shape;
mod socket;
mod trap;
mod uploads;
mod wit_ops;
