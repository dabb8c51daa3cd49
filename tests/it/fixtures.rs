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

/// A real ERP provider component (the contract's `erp-plugin` world, every
/// function a trap) plus `extra` core instances, each of its own core
/// module with one linear memory of `pages` × 64 KiB, or none. Nothing uses
/// the extra instances, but instantiating the component creates them, so
/// they give an instance a chosen shape: several memories, many core
/// instances. Returns the component and how many core instances it
/// instantiates of its own (the extras not included).
pub fn provider_with_extra_instances(extra: u32, pages: Option<u64>) -> (Vec<u8>, u32) {
    let mut resolve = Resolve::default();
    let wit = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit/1.0.0");
    let (pkg, _) = resolve.push_dir(&wit).expect("the contract's WIT parses");
    let world = resolve.select_world(&[pkg], Some("erp-plugin")).expect("erp-plugin world");
    let mut module = wit_component::dummy_module(&resolve, world, ManglingAndAbi::Standard32);
    wit_component::embed_component_metadata(&mut module, &resolve, world, StringEncoding::UTF8).expect("metadata");
    let mut out =
        ComponentEncoder::default().module(&module).expect("module").validate(true).encode().expect("component");

    // Core modules and core instances the component defines at its top
    // level (parse_all also walks into the nested core modules, which have
    // neither kind of section).
    let (mut modules, mut instances) = (0u32, 0u32);
    for payload in wasmparser::Parser::new(0).parse_all(&out) {
        match payload.expect("component parses") {
            wasmparser::Payload::ModuleSection { .. } => modules += 1,
            // Only instantiations count: a bag of exports is no instance.
            wasmparser::Payload::InstanceSection(s) => {
                for i in s {
                    if matches!(i.expect("core instance"), wasmparser::Instance::Instantiate { .. }) {
                        instances += 1;
                    }
                }
            }
            _ => {}
        }
    }
    let mut m = wasm_encoder::Module::new();
    if let Some(pages) = pages {
        let mut mems = wasm_encoder::MemorySection::new();
        mems.memory(wasm_encoder::MemoryType {
            minimum: pages,
            maximum: None,
            memory64: false,
            shared: false,
            page_size_log2: None,
        });
        m.section(&mems);
    }
    let core = m.finish();
    for _ in 0..extra {
        // Component section 1: a core module; it gets index `modules`.
        out.push(1);
        uleb(core.len() as u64, &mut out);
        out.extend_from_slice(&core);
        // Component section 2: one core instance of it, no imports.
        let mut body = Vec::new();
        uleb(1, &mut body);
        body.push(0x00);
        uleb(u64::from(modules), &mut body);
        uleb(0, &mut body);
        out.push(2);
        uleb(body.len() as u64, &mut out);
        out.extend_from_slice(&body);
        modules += 1;
    }
    wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
        .validate_all(&out)
        .expect("the shaped component is valid");
    (out, instances)
}

fn uleb(mut n: u64, out: &mut Vec<u8>) {
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}
