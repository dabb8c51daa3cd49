//! `b2connect-provider`: the SDK for B2Connect provider plugins.
//!
//! A provider is a WebAssembly component that exports some of the
//! contract's `erp-provider`, `crm-provider` and `pim-provider` interfaces
//! and `lifecycle` (contract `b2connect:provider@1.1.0`, the WIT in
//! `wit/`). With this crate a provider is a type and the traits it serves:
//!
//! ```ignore
//! use b2connect_provider::{Context, Cursor, ErpProvider, Provider, ProviderError, types::*};
//!
//! struct Shop { products: Vec<Product> }
//!
//! impl Provider for Shop {
//!     fn new(ctx: &Context) -> Result<Self, ProviderError> {
//!         let n: usize = ctx.setting_or("productCount", 3)?;
//!         Ok(Shop { products: (0..n).map(demo_product).collect() })
//!     }
//! }
//!
//! impl ErpProvider for Shop {
//!     fn get_product(&mut self, id: String) -> Result<Product, ProviderError> {
//!         self.products.iter().find(|p| p.id == id).cloned()
//!             .ok_or_else(|| ProviderError::not_found(format!("no product {id}")))
//!     }
//!     fn stream_products(&mut self, f: ProductFilter) -> Result<Cursor<Product>, ProviderError> {
//!         let hits: Vec<_> = self.products.iter().filter(|p| f.matches(p)).cloned().collect();
//!         Ok(Cursor::from_iter(hits))
//!     }
//! }
//!
//! b2connect_provider::export_provider!(Shop: erp);
//! ```
//!
//! Tour:
//! - `bindings`: the contract's bindings, generated once here for every
//!   world; a provider never calls `wit_bindgen::generate!`.
//! - `provider`: `Provider::new(&Context)`, called once per instance,
//!   `Provider::shutdown` before the host drops it, and what a trap does
//!   to state; `lifecycle` answers the contract's `lifecycle` interface
//!   with them (a bad setting refuses the bind).
//! - `erp_provider`, `crm_provider`, `pim_provider`: one trait per exported
//!   interface. Every method defaults to `unsupported`; batch operations
//!   default to their single-record twins; filters have `matches`.
//! - `cursor`: `Cursor<T>` from an iterator or a paged back end, honouring
//!   `max` for the author.
//! - `config` (`Context`: typed settings, one rule for bad values), `log`
//!   (`info!` and friends), `socket` (the granted endpoint), `error`
//!   (`ProviderError` constructors, `From<SocketError>`), `batch` (helpers
//!   that keep order and tally results).
//! - `host`: the one place that calls the host: the contract's imports in
//!   a component, the fake host natively.
//! - `testing` (feature `testing`): the fake host for `cargo test`.
//!
//! `export_provider!(MyProvider: erp, pim)` picks the world from the kinds
//! (always in the order erp, crm, pim) and exports exactly those
//! interfaces; the host learns what a plugin serves from its exports.

#[doc(hidden)]
pub mod bindings;

/// The guest's allocator (feature `allocator`, on by default): size
/// classes over talc, see `alloc.rs` for why.
#[cfg(any(test, all(feature = "allocator", target_family = "wasm", not(target_feature = "atomics"))))]
mod alloc;
#[cfg(all(feature = "allocator", target_family = "wasm", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: alloc::Allocator<talc::wasm::WasmDynamicTalc> =
    alloc::Allocator::new(talc::wasm::new_wasm_dynamic_allocator());

pub mod batch;
pub mod config;
pub mod crm_provider;
pub mod cursor;
pub mod erp_provider;
pub mod error;
mod host;
mod lifecycle;
pub mod log;
pub mod pim_provider;
pub mod provider;
pub mod socket;
#[cfg(all(feature = "testing", not(target_arch = "wasm32")))]
pub mod testing;

pub use batch::Synced;
pub use config::Context;
pub use crm_provider::CrmProvider;
pub use cursor::Cursor;
pub use erp_provider::ErpProvider;
pub use error::Result;
pub use pim_provider::PimProvider;
pub use provider::{Exports, Provider};
pub use socket::{Connection, SocketError};
pub use types::ProviderError;

/// The contract's records (`Product`, `Customer`, `ProviderError`, ...).
pub mod types {
    pub use crate::bindings::b2connect::provider::types::*;
}

/// The contract version these bindings were generated from.
pub const CONTRACT: &str = "b2connect:provider@1.1.0";

/// Case-insensitive substring test, the contract's rule for
/// `name-contains` and `search`.
pub fn contains_ci(haystack: &str, needle: &str) -> bool {
    if needle.is_ascii() && haystack.is_ascii() {
        let n = needle.len();
        n == 0 || haystack.as_bytes().windows(n).any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
    } else {
        haystack.to_lowercase().contains(&needle.to_lowercase())
    }
}

include!(concat!(env!("OUT_DIR"), "/sections.rs"));

/// Exports `$provider` as a component serving the listed kinds, in the
/// order `erp`, `crm`, `pim` (e.g. `export_provider!(Shop: erp, pim)`).
/// `$provider` must implement `Provider` and the trait of every kind
/// listed; the component exports exactly those interfaces.
#[macro_export]
macro_rules! export_provider {
    ($p:ty: erp) => { $crate::__export_kinds!($p, erp_plugin, [erp]); };
    ($p:ty: crm) => { $crate::__export_kinds!($p, crm_plugin, [crm]); };
    ($p:ty: pim) => { $crate::__export_kinds!($p, pim_plugin, [pim]); };
    ($p:ty: erp, crm) => { $crate::__export_kinds!($p, erp_crm_plugin, [erp crm]); };
    ($p:ty: erp, pim) => { $crate::__export_kinds!($p, erp_pim_plugin, [erp pim]); };
    ($p:ty: crm, pim) => { $crate::__export_kinds!($p, crm_pim_plugin, [crm pim]); };
    ($p:ty: erp, crm, pim) => { $crate::__export_kinds!($p, full_provider, [erp crm pim]); };
    ($p:ty: $($other:tt)*) => {
        compile_error!("export_provider!: list the kinds as `erp`, `crm`, `pim`, in that order, e.g. `export_provider!(MyProvider: erp, pim)`");
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __export_kinds {
    ($p:ty, $world:ident, [$($kind:ident)*]) => {
        const _: () = {
            type B2cExports = $crate::Exports<$p>;
            // Natively there is no component to export from, and the
            // contract's export names (`ns:pkg/iface@1.1.0#fn`) are not
            // symbols a native linker accepts: a plugin crate with an
            // `rlib` beside its `cdylib` still builds and tests natively.
            $(#[cfg(target_arch = "wasm32")] $crate::__export_kind!($kind);)*
            #[cfg(target_arch = "wasm32")]
            $crate::__export_kind!(lifecycle);
            $crate::__paste_section!($world);
        };
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __export_kind {
    (erp) => {
        $crate::__export_b2connect_provider_erp_provider_1_1_0_cabi!(
            B2cExports with_types_in $crate::bindings::exports::b2connect::provider::erp_provider);
    };
    (crm) => {
        $crate::__export_b2connect_provider_crm_provider_1_1_0_cabi!(
            B2cExports with_types_in $crate::bindings::exports::b2connect::provider::crm_provider);
    };
    (pim) => {
        $crate::__export_b2connect_provider_pim_provider_1_1_0_cabi!(
            B2cExports with_types_in $crate::bindings::exports::b2connect::provider::pim_provider);
    };
    (lifecycle) => {
        $crate::__export_b2connect_provider_lifecycle_1_1_0_cabi!(
            B2cExports with_types_in $crate::bindings::exports::b2connect::provider::lifecycle);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __paste_section {
    (erp_plugin) => {
        $crate::__b2c_section_erp_plugin!();
    };
    (crm_plugin) => {
        $crate::__b2c_section_crm_plugin!();
    };
    (pim_plugin) => {
        $crate::__b2c_section_pim_plugin!();
    };
    (erp_crm_plugin) => {
        $crate::__b2c_section_erp_crm_plugin!();
    };
    (erp_pim_plugin) => {
        $crate::__b2c_section_erp_pim_plugin!();
    };
    (crm_pim_plugin) => {
        $crate::__b2c_section_crm_pim_plugin!();
    };
    (full_provider) => {
        $crate::__b2c_section_full_provider!();
    };
}
