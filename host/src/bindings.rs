//! Host-side bindings of the provider interfaces, generated from `wit/`
//! (the single source of truth for host and guests), and the contract's
//! name and version, read from the same WIT package at build time.
//!
//! Only the exports are generated here: each capability generates the
//! interface it implements in its own module (`capabilities/`), so these
//! bindings and the capabilities do not depend on each other. The host
//! never instantiates a provider world as a whole: `engine.rs` looks each
//! provider interface up on its own, so a component of any subset world
//! (`erp-plugin`, `crm-pim-plugin`, …) loads and the host learns which
//! kinds it serves.

wasmtime::component::bindgen!({
    path: "../wit",
    interfaces: "
        export b2connect:provider/erp-provider@1.0.0;
        export b2connect:provider/crm-provider@1.0.0;
        export b2connect:provider/pim-provider@1.0.0;
    ",
    exports: { default: async },
    additional_derives: [PartialEq],
});

pub use b2connect::provider::types;
pub use exports::b2connect::provider::{crm_provider, erp_provider, pim_provider};

// `CONTRACT_PACKAGE` (the WIT package, without version, whose interfaces
// make a provider) and `CONTRACT_VERSION` (the contract version this host
// implements), from the `package` line of `wit/` (`build.rs`).
include!(concat!(env!("OUT_DIR"), "/contract.rs"));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contract_constants_are_the_wit_package() {
        let mut resolve = wit_parser::Resolve::default();
        let (pkg, _) = resolve.push_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../wit")).expect("wit/ parses");
        let name = &resolve.packages[pkg].name;
        assert_eq!(format!("{}:{}", name.namespace, name.name), CONTRACT_PACKAGE);
        assert_eq!(name.version.as_ref().map(ToString::to_string).as_deref(), Some(CONTRACT_VERSION));
    }
}
