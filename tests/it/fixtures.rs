//! Components made on the fly for registry tests: real, valid components
//! (wit-component's dummy module behind a WIT world) with whatever contract
//! version, imports and exports a test needs. Their functions trap if ever
//! called; the registry only reads them.

use wit_component::{ComponentEncoder, StringEncoding};
use wit_parser::{ManglingAndAbi, Resolve};

pub fn component(wit: &str, world: &str) -> Vec<u8> {
    let mut resolve = Resolve::default();
    let pkg = resolve.push_str("fixture.wit", wit).expect("fixture WIT parses");
    let world = resolve.select_world(&[pkg], Some(world)).expect("fixture world");
    let mut module = wit_component::dummy_module(&resolve, world, ManglingAndAbi::Standard32);
    wit_component::embed_component_metadata(&mut module, &resolve, world, StringEncoding::UTF8).expect("metadata");
    ComponentEncoder::default().module(&module).expect("module").validate(true).encode().expect("component")
}

/// A provider exporting `erp-provider` of contract `version`, importing
/// `log`, plus whatever `extra` adds to the world (e.g. another import).
pub fn provider(version: &str, extra_world_items: &str, extra_packages: &str) -> Vec<u8> {
    let wit = format!(
        r#"
package b2connect:provider@{version};

interface log {{
    log: func(message: string);
}}

interface erp-provider {{
    get-product: func(id: string) -> string;
}}

interface admin {{
    drop-all-tables: func();
}}

world fixture {{
    import log;
    export erp-provider;
    {extra_world_items}
}}
{extra_packages}
"#
    );
    component(&wit, "fixture")
}

/// A component that exports nothing of the provider contract.
pub fn not_a_provider() -> Vec<u8> {
    component(
        "package acme:tools@1.0.0;\ninterface calc { add: func(a: u32, b: u32) -> u32; }\nworld w { export calc; }\n",
        "w",
    )
}
