//! The contract's bindings, generated once here from `wit/` (contract
//! 1.1.0, `wit/1.1.0/` in the repository) so no provider runs `wit_bindgen::generate!` itself.
//!
//! `full-provider` is generated first and owns the shared interfaces
//! (`types`, `log`, `config`, `socket`); every other world maps them to it
//! with `with`, so a `Product` is one Rust type whichever world a plugin
//! picks. Each world gets its own export macro (`pub_export_macro`): with
//! it, wit-bindgen puts only the world's *imports* in this crate's custom
//! section and the exports in the macro's expansion, so a plugin's
//! component exports exactly the interfaces of the world it named in
//! `export_provider!`, never all three.

#![allow(unsafe_code, clippy::all, missing_docs)]

wit_bindgen::generate!({
    world: "full-provider",
    path: "wit",
    pub_export_macro: true,
    export_macro_name: "__export_full_provider",
    default_bindings_module: "b2connect_provider::bindings",
    additional_derives: [PartialEq, Clone],
});
