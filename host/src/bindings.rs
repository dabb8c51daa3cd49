//! Host-side bindings of the provider interfaces, generated from the newest
//! contract release, `wit/1.1.0/` (the single source of truth for host and
//! guests), and the contract's name and version, read from the same WIT
//! package at build time.
//!
//! One set of bindings serves every 1.x plugin: wasmtime looks exports up
//! semver-compatibly (`erp-provider@1.1.0` finds a 1.0.0 plugin's
//! `erp-provider@1.0.0`), and a minor release only adds. `lifecycle`, new
//! in 1.1.0, is simply absent from a 1.0.0 plugin, which then gets no
//! lifecycle calls.
//!
//! Only the exports are generated here: each capability generates the
//! interface it implements in its own module (`capabilities/`), so these
//! bindings and the capabilities do not depend on each other. The host
//! never instantiates a provider world as a whole: `engine.rs` looks each
//! provider interface up on its own, so a component of any subset world
//! (`erp-plugin`, `crm-pim-plugin`, …) loads and the host learns which
//! kinds it serves.

wasmtime::component::bindgen!({
    path: "../wit/1.1.0",
    interfaces: "
        export b2connect:provider/erp-provider@1.1.0;
        export b2connect:provider/crm-provider@1.1.0;
        export b2connect:provider/pim-provider@1.1.0;
        export b2connect:provider/lifecycle@1.1.0;
    ",
    exports: { default: async },
    additional_derives: [PartialEq],
});

pub use b2connect::provider::types;
pub use exports::b2connect::provider::{crm_provider, erp_provider, lifecycle, pim_provider};

// `CONTRACT_PACKAGE` (the WIT package, without version, whose interfaces
// make a provider) and `CONTRACT_VERSION` (the contract version this host
// implements), from the `package` line of the newest `wit/<version>/`
// (`build.rs`).
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
    use sha2::{Digest, Sha256};

    fn release(version: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit").join(version)
    }

    /// The released contracts, file by file. Plugins were built against
    /// these bytes; a change is a new version in a new directory (and a new
    /// block here), never an edit. This test fails on any edit, even of a
    /// comment, and on a file added to or removed from a release.
    const RELEASED: &[(&str, &[(&str, &str)])] = &[
        (
            "1.0.0",
            &[
                ("host.wit", "aa29d3c7e8be1241d422d3611bf5bd0a2e5715cfed3b32ce49b88dc85ff36644"),
                ("providers.wit", "0ad7f0a4f15aabc518b794452dfc3d00196142834942ce9daff93b372a860595"),
                ("types.wit", "1e033de4c79e00a5a3de7ff06a3e5f5e913d3180e8a1c379e5ba0fd0dbf87eef"),
                ("worlds.wit", "8aa5167ad1052ace84de0348ac0fe928d1b8dfeac8ee71f919011596239c46b1"),
            ],
        ),
        (
            "1.1.0",
            &[
                ("host.wit", "aa29d3c7e8be1241d422d3611bf5bd0a2e5715cfed3b32ce49b88dc85ff36644"),
                ("lifecycle.wit", "e227a19ffca00c4e6c6581dea10cb19a8e8277bb283e91c8167527652c9c5014"),
                ("providers.wit", "0ad7f0a4f15aabc518b794452dfc3d00196142834942ce9daff93b372a860595"),
                ("types.wit", "1e033de4c79e00a5a3de7ff06a3e5f5e913d3180e8a1c379e5ba0fd0dbf87eef"),
                ("worlds.wit", "a7f17aa5d136170e81448400d87eb8eb99c23bfaf8eacf33daae9ef5f98b88ae"),
            ],
        ),
    ];

    #[test]
    fn released_contracts_are_never_edited() {
        let dirs: Vec<String> = std::fs::read_dir(release(""))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        assert_eq!(dirs.len(), RELEASED.len(), "wit/ holds {dirs:?}: a new release gets its block in RELEASED");
        for (version, files) in RELEASED {
            let mut found: Vec<String> = std::fs::read_dir(release(version))
                .unwrap_or_else(|e| panic!("wit/{version}: {e}"))
                .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
                .collect();
            found.sort();
            assert_eq!(found, files.iter().map(|(f, _)| f.to_string()).collect::<Vec<_>>(), "files of wit/{version}");
            for (file, sha) in *files {
                let bytes = std::fs::read(release(version).join(file)).unwrap();
                let got = format!("{:x}", Sha256::digest(&bytes));
                assert_eq!(&got, sha, "wit/{version}/{file} was edited after its release");
            }
        }
        // The host implements the newest release.
        assert_eq!(RELEASED.last().unwrap().0, CONTRACT_VERSION);
    }

    /// A minor release only adds (what lets one set of bindings serve
    /// every 1.x plugin): every interface of 1.0.0 is in 1.1.0 with the
    /// same functions, parameters and results, and every world keeps its
    /// imports and exports.
    #[test]
    fn the_minor_release_only_adds() {
        let mut old = wit_parser::Resolve::default();
        let (old_pkg, _) = old.push_dir(release("1.0.0")).unwrap();
        let mut new = wit_parser::Resolve::default();
        let (new_pkg, _) = new.push_dir(release("1.1.0")).unwrap();
        // Function types, spelled by name so two resolves compare.
        let sig = |r: &wit_parser::Resolve, f: &wit_parser::Function| {
            let ty = |t: &wit_parser::Type| match t {
                wit_parser::Type::Id(id) => format!("{:?}:{:?}", r.types[*id].name, r.types[*id].kind.as_str()),
                other => format!("{other:?}"),
            };
            let params: Vec<String> = f.params.iter().map(|p| format!("{}: {}", p.name, ty(&p.ty))).collect();
            format!("{}({}) -> {:?}", f.name, params.join(", "), f.result.as_ref().map(ty))
        };
        for (name, &id) in &old.packages[old_pkg].interfaces {
            let new_id = *new.packages[new_pkg].interfaces.get(name).unwrap_or_else(|| panic!("1.1.0 lost {name}"));
            let (a, b) = (&old.interfaces[id], &new.interfaces[new_id]);
            for (fname, f) in &a.functions {
                let g = b.functions.get(fname).unwrap_or_else(|| panic!("1.1.0 lost {name}.{fname}"));
                assert_eq!(sig(&old, f), sig(&new, g), "{name}.{fname} changed");
            }
            let types = |r: &wit_parser::Resolve, i: &wit_parser::Interface| {
                i.types.iter().map(|(n, t)| format!("{n}={:?}", r.types[*t].kind.as_str())).collect::<Vec<_>>()
            };
            assert_eq!(types(&old, a), types(&new, b), "the types of {name} changed");
        }
        for (name, &id) in &old.packages[old_pkg].worlds {
            let new_id = *new.packages[new_pkg].worlds.get(name).unwrap_or_else(|| panic!("1.1.0 lost world {name}"));
            let keys = |r: &wit_parser::Resolve, w: wit_parser::WorldId, imports: bool| {
                let w = &r.worlds[w];
                let items = if imports { &w.imports } else { &w.exports };
                items.keys().map(|k| r.name_world_key(k)).collect::<std::collections::BTreeSet<_>>()
            };
            for imports in [true, false] {
                let (a, b) = (keys(&old, id, imports), keys(&new, new_id, imports));
                let a: std::collections::BTreeSet<_> = a.iter().map(|k| k.replace("@1.0.0", "@1.1.0")).collect();
                assert!(a.is_subset(&b), "world {name} lost {:?}", a.difference(&b).collect::<Vec<_>>());
            }
            // What 1.1.0 adds to a world is the lifecycle export, nothing else.
            let added: Vec<String> = keys(&new, new_id, false)
                .into_iter()
                .filter(|k| !keys(&old, id, false).contains(&k.replace("@1.1.0", "@1.0.0")))
                .collect();
            if name != "host-imports" {
                assert_eq!(added, vec!["b2connect:provider/lifecycle@1.1.0".to_string()], "world {name}");
            }
        }
    }

    #[test]
    fn the_contract_constants_are_the_wit_package() {
        let mut resolve = wit_parser::Resolve::default();
        let (pkg, _) = resolve.push_dir(release("1.1.0")).expect("wit/1.1.0 parses");
        let name = &resolve.packages[pkg].name;
        assert_eq!(format!("{}:{}", name.namespace, name.name), CONTRACT_PACKAGE);
        assert_eq!(name.version.as_ref().map(ToString::to_string).as_deref(), Some(CONTRACT_VERSION));
    }

    #[test]
    fn the_served_contract_is_the_same_package_in_one_document() {
        let mut dir = wit_parser::Resolve::default();
        let (from_dir, _) = dir.push_dir(release(CONTRACT_VERSION)).unwrap();
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
        assert_eq!(interfaces.len(), 8, "{interfaces:?}");
        assert!(interfaces.contains(&"lifecycle".to_string()), "{interfaces:?}");
        assert_eq!(worlds.len(), 8, "{worlds:?}");
        // The docs travel too: authors read them.
        assert!(CONTRACT_WIT.contains("Released versions are never edited"));
    }
}
