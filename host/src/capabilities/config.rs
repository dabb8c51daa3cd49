//! `b2connect:provider/config`: the tenant id and the tenant's settings,
//! read-only. This is how a plugin learns whom it serves; tenant identity
//! never comes from request data (DESIGN key decision 2).

use std::collections::BTreeMap;
use std::sync::Arc;
use wasmtime::component::{HasSelf, Linker};
use wit::b2connect::provider::config::Host;

/// Bindings of this interface alone, so the module needs nothing of the
/// host's other bindings (wasmtime `wasi-config` does the same).
mod wit {
    wasmtime::component::bindgen!({
        path: "../wit/1.1.0",
        interfaces: "import b2connect:provider/config@1.1.0;",
        imports: { default: async | trappable },
    });
}

/// What the operator granted: the binding's tenant and settings, shared by
/// every instance of the same binding.
#[derive(Clone, Debug)]
pub struct Grant {
    pub tenant: String,
    pub settings: Arc<BTreeMap<String, String>>,
}

/// One instance's view of its grant.
pub struct State {
    tenant: String,
    settings: Arc<BTreeMap<String, String>>,
}

impl State {
    pub fn new(grant: &Grant) -> Self {
        Self { tenant: grant.tenant.clone(), settings: grant.settings.clone() }
    }
}

impl Host for State {
    async fn tenant_id(&mut self) -> wasmtime::Result<String> {
        Ok(self.tenant.clone())
    }

    async fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        Ok(self.settings.get(&key).cloned())
    }

    async fn get_all(&mut self) -> wasmtime::Result<Vec<(String, String)>> {
        Ok(self.settings.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
    }
}

/// Adds `config` to `linker`; `get` finds this capability's state in the
/// Store data.
pub fn add_to_linker<T: Send + 'static>(linker: &mut Linker<T>, get: fn(&mut T) -> &mut State) -> wasmtime::Result<()> {
    wit::b2connect::provider::config::add_to_linker::<T, HasSelf<State>>(linker, get)
}
