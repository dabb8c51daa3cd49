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

/// Writes [`CONTRACT_WIT`] into `dir` as `b2connect-provider@VERSION.wit`
/// (creating `dir`), through a temporary file and a rename so a reader
/// never sees half a package. Returns the file's path.
pub fn write_contract(dir: &std::path::Path) -> std::io::Result<std::path::PathBuf> {
    std::fs::create_dir_all(dir)?;
    let file = dir.join(format!("b2connect-provider@{CONTRACT_VERSION}.wit"));
    let tmp = dir.join(format!(".b2connect-provider@{CONTRACT_VERSION}.wit.tmp"));
    std::fs::write(&tmp, CONTRACT_WIT)?;
    std::fs::rename(&tmp, &file)?;
    Ok(file)
}

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

    #[test]
    fn the_served_contract_is_the_same_package_in_one_document() {
        let mut dir = wit_parser::Resolve::default();
        let (from_dir, _) = dir.push_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../wit")).unwrap();
        let mut one = wit_parser::Resolve::default();
        let from_text = one.push_str("b2connect-provider.wit", CONTRACT_WIT).expect("CONTRACT_WIT parses");
        let names = |r: &wit_parser::Resolve, p: wit_parser::PackageId| {
            let pkg = &r.packages[p];
            let mut i: Vec<_> = pkg.interfaces.keys().cloned().collect();
            let mut w: Vec<_> = pkg.worlds.keys().cloned().collect();
            i.sort();
            w.sort();
            (pkg.name.to_string(), i, w)
        };
        let (name, interfaces, worlds) = names(&one, from_text);
        assert_eq!((name.clone(), interfaces.clone(), worlds.clone()), names(&dir, from_dir));
        assert_eq!(name, format!("{CONTRACT_PACKAGE}@{CONTRACT_VERSION}"));
        assert_eq!(interfaces.len(), 7, "{interfaces:?}");
        assert_eq!(worlds.len(), 8, "{worlds:?}");
        // The docs travel too: authors read them.
        assert!(CONTRACT_WIT.contains("Released versions are never edited"));
    }
}
