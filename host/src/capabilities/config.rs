//! `b2connect:provider/config`: the tenant id and the tenant's settings,
//! read-only. This is how a plugin learns whom it serves; tenant identity
//! never comes from request data (DESIGN key decision 2).

use crate::bindings::b2connect::provider::config::{Host, add_to_linker as add};
use crate::state::PluginState;
use std::collections::BTreeMap;
use std::sync::Arc;
use wasmtime::component::{HasSelf, Linker};

/// The binding's settings, shared by every instance of the same binding.
pub struct ConfigState {
    pub tenant: String,
    pub settings: Arc<BTreeMap<String, String>>,
}

impl Host for ConfigState {
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

pub fn add_to_linker(linker: &mut Linker<PluginState>) -> wasmtime::Result<()> {
    add::<PluginState, HasSelf<ConfigState>>(linker, |s| &mut s.config)
}
