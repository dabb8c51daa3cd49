//! `Context`: whom this instance serves and the tenant's settings (the
//! contract's `config` interface), plus the way out to the granted socket.
//!
//! One rule for a bad setting, the same in every provider: a value that
//! does not parse is an `invalid-input` error naming the key and the value's
//! expected type, never a silent fallback to the default. A setting that is
//! absent takes the default the provider names (`setting_or`) or is an
//! `invalid-input` naming the key when it is required (`require`).

use std::str::FromStr;

use crate::bindings::b2connect::provider::types::ProviderError;
use crate::host;
use crate::socket::Connection;

/// What a provider instance knows of its tenant. Handed to
/// `Provider::new` once per instance.
#[derive(Debug, Clone)]
pub struct Context {
    tenant: String,
}

impl Context {
    /// The context of the current instance, read from the host.
    pub fn current() -> Self {
        Self { tenant: host::tenant_id() }
    }

    /// The id of the tenant this instance serves.
    pub fn tenant_id(&self) -> &str {
        &self.tenant
    }

    /// One raw setting, `None` when unset.
    pub fn get(&self, key: &str) -> Option<String> {
        host::setting(key)
    }

    /// Every setting of the binding, sorted by key.
    pub fn settings(&self) -> Vec<(String, String)> {
        host::settings()
    }

    /// A typed setting: `None` when unset; surrounding whitespace is
    /// ignored; a value that does not parse is `invalid-input` naming the
    /// key.
    pub fn setting<T>(&self, key: &str) -> Result<Option<T>, ProviderError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        match host::setting(key) {
            None => Ok(None),
            Some(raw) => raw.trim().parse().map(Some).map_err(|e| {
                ProviderError::invalid_input(format!(
                    "setting `{key}` = {raw:?} is not a valid {}: {e}",
                    short_type_name::<T>()
                ))
            }),
        }
    }

    /// A typed setting with a default for when it is unset. A value that
    /// is set but does not parse is still an error (see the module doc).
    pub fn setting_or<T>(&self, key: &str, default: T) -> Result<T, ProviderError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        Ok(self.setting(key)?.unwrap_or(default))
    }

    /// A setting the provider cannot work without.
    pub fn require<T>(&self, key: &str) -> Result<T, ProviderError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        self.setting(key)?
            .ok_or_else(|| ProviderError::invalid_input(format!("setting `{key}` is required but not set")))
    }

    /// The endpoint ("host:port") the operator granted this tenant, if any.
    pub fn granted_endpoint(&self) -> Option<String> {
        host::granted_endpoint()
    }

    /// Connects to the granted endpoint. No grant is `unavailable` (an
    /// operator's set-up, not the caller's mistake); socket failures map
    /// as `From<SocketError>` says.
    pub fn connect(&self) -> Result<Connection, ProviderError> {
        let endpoint = self
            .granted_endpoint()
            .ok_or_else(|| ProviderError::unavailable("no socket endpoint is granted to this tenant"))?;
        Ok(Connection::open(&endpoint)?)
    }
}

/// `u64` rather than `core::primitive::u64` in error messages.
fn short_type_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    match full.rsplit_once("::") {
        Some((_, last)) if !full.contains('<') => last,
        _ => full,
    }
}
