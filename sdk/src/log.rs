//! The contract's `log` interface as macros: `info!("{n} products")`.
//! Records reach the host's log with the tenant and plugin attached by the
//! host (a plugin cannot forge them). The host bounds what it keeps per
//! call; a provider should still log per call, not per record.

pub use crate::host::Level;

/// Emits one record at `level`. The macros below are the usual way in.
pub fn log(level: Level, message: &str) {
    crate::host::log(level, message)
}

/// Logs at `error`.
#[macro_export]
macro_rules! error {
    ($($arg:tt)*) => { $crate::log::log($crate::log::Level::Error, &format!($($arg)*)) };
}
/// Logs at `warn`.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => { $crate::log::log($crate::log::Level::Warn, &format!($($arg)*)) };
}
/// Logs at `info`.
#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => { $crate::log::log($crate::log::Level::Info, &format!($($arg)*)) };
}
/// Logs at `debug`.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => { $crate::log::log($crate::log::Level::Debug, &format!($($arg)*)) };
}
/// Logs at `trace`.
#[macro_export]
macro_rules! trace {
    ($($arg:tt)*) => { $crate::log::log($crate::log::Level::Trace, &format!($($arg)*)) };
}
