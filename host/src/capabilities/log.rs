//! `b2connect:provider/log`: plugin log records into the host's tracing,
//! tagged with tenant and plugin by the host (the guest cannot forge them).

use crate::bindings::b2connect::provider::log::{Host, Level, add_to_linker as add};
use crate::state::PluginState;
use wasmtime::component::{HasSelf, Linker};

/// Longest message kept; a chatty or hostile plugin cannot flood the log
/// with megabyte lines.
const MAX_MESSAGE: usize = 4096;

/// Who is logging: fixed by the host when the instance is created.
pub struct LogState {
    pub tenant: String,
    pub plugin: String,
}

impl Host for LogState {
    async fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        let mut message = message;
        if message.len() > MAX_MESSAGE {
            let mut cut = MAX_MESSAGE;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        let (tenant, plugin) = (&self.tenant, &self.plugin);
        match level {
            Level::Trace => tracing::trace!(target: "plugin", %tenant, %plugin, "{message}"),
            Level::Debug => tracing::debug!(target: "plugin", %tenant, %plugin, "{message}"),
            Level::Info => tracing::info!(target: "plugin", %tenant, %plugin, "{message}"),
            Level::Warn => tracing::warn!(target: "plugin", %tenant, %plugin, "{message}"),
            Level::Error => tracing::error!(target: "plugin", %tenant, %plugin, "{message}"),
        }
        Ok(())
    }
}

pub fn add_to_linker(linker: &mut Linker<PluginState>) -> wasmtime::Result<()> {
    add::<PluginState, HasSelf<LogState>>(linker, |s| &mut s.log)
}
