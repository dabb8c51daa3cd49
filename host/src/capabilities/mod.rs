//! What the host grants a plugin: one module per WIT interface of the
//! contract a plugin may import. Each module is cut like wasmtime's
//! `wasi-config`: it owns its bindings, its `Grant` (what the operator
//! granted), its `State` (`State::new(&Grant)`) and a generic
//! `add_to_linker(linker, fn(&mut T) -> &mut State)`, so it knows nothing
//! of the Store data it lives in.
//!
//! The list at the bottom of this file is the only place the capabilities
//! are enumerated: the linker, the contract check (`runtime::host_contract`)
//! and the Store data (`state::PluginState`) all read it. Adding a
//! capability is its module, its interface in the contract (a new release
//! in `wit/<version>/`), and one line there.
//!
//! Each `bindgen!` names the contract version (`…@1.1.0`): wit-parser finds
//! a versioned package only by its version, and a mismatch with
//! `wit/1.1.0/` fails the build, so the bindings cannot drift from the
//! contract. A 1.0.0 plugin imports `…@1.0.0`: wasmtime's linker matches
//! names semver-compatibly (same major), and 1.1.0 left these interfaces
//! as they were, so it links.
//!
//! WASI comes from `wasmtime-wasi`, with network access switched off: the
//! only way out of the sandbox is `socket`.

use wasmtime::component::Linker;

/// Store data that holds the capabilities: how their host functions find
/// their state (`wasmtime_wasi::WasiView` plays the same part for WASI).
pub trait CapabilitiesView: Send + 'static {
    fn capabilities(&mut self) -> &mut Capabilities;
}

/// Declares the capability modules and derives from the one list the
/// per-instance state, the grants it is built from, the linker set-up and
/// the interface names.
macro_rules! capabilities {
    ($($name:ident: $interface:literal),* $(,)?) => {
        $(pub mod $name;)*

        /// Each capability's state in one instance.
        pub struct Capabilities {
            $(pub $name: $name::State,)*
        }

        /// What the operator granted one instance, per capability.
        #[derive(Clone, Debug)]
        pub struct Grants {
            $(pub $name: $name::Grant,)*
        }

        impl Capabilities {
            pub fn new(grants: &Grants) -> Self {
                Self { $($name: $name::State::new(&grants.$name),)* }
            }

            /// Adds every capability's host functions to `linker`.
            pub fn add_to_linker<T: CapabilitiesView>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
                $($name::add_to_linker(linker, |t: &mut T| &mut t.capabilities().$name)?;)*
                Ok(())
            }
        }

        /// The contract interfaces the capabilities implement, by name
        /// inside the contract package.
        pub const INTERFACES: &[&str] = &[$($interface),*];
    };
}

capabilities! {
    log: "log",
    config: "config",
    socket: "socket",
}
