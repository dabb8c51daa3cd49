//! Host-side bindings generated from `wit/` (the single source of truth for
//! host and guests).
//!
//! The host is generated from the `full-provider` world, but never
//! instantiates it as a whole: `engine.rs` looks each provider interface up
//! on its own, so a component of any subset world (`erp-plugin`,
//! `crm-pim-plugin`, …) loads and the host learns which kinds it serves.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "full-provider",
    imports: { default: async | trappable },
    exports: { default: async },
    additional_derives: [PartialEq],
    with: {
        "b2connect:provider/socket.connection": crate::capabilities::socket::Connection,
    },
});

pub use b2connect::provider::types;
pub use exports::b2connect::provider::{crm_provider, erp_provider, pim_provider};

/// The contract version this host implements, read from the WIT package.
pub const CONTRACT_VERSION: &str = "1.0.0";

/// The WIT package (without version) whose interfaces make a provider.
pub const CONTRACT_PACKAGE: &str = "b2connect:provider";
