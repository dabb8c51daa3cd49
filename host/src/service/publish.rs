//! Publishing a component: the checks an upload passes before the registry
//! holds it, in the order that fails cheapest first. Used by the admin
//! API's `PUT …/versions/{version}` and by start-up (the bundled mock-erp).

use super::{Result, ServiceError};
use crate::engine::PluginEngine;
use crate::runtime::host_contract;
use b2c_registry::{PublishOutcome, Registry};
use std::sync::Arc;

/// One upload: `name@version` with its bytes, and the digest the caller
/// claims they hash to (`X-Content-Sha256`), if any.
pub struct Upload<'a> {
    pub name: &'a str,
    pub version: &'a str,
    pub bytes: &'a [u8],
    pub claimed_sha256: Option<&'a str>,
    pub actor: &'a str,
    /// Built into this host (the bundled mock-erp): compiled in-process
    /// without the compile sandbox's extra compile, which guards against
    /// uploads, not against the host's own bytes.
    pub trusted: bool,
}

/// Checks a name and a version before the body is read, so a bad path
/// costs no upload.
pub fn check_coordinates(name: &str, version: &str) -> Result<()> {
    if !b2c_registry::valid_plugin_name(name) {
        return Err(ServiceError::Invalid(format!(
            "plugin name {name:?} is not valid: use lowercase letters, digits and '-', starting with a letter"
        )));
    }
    match semver::Version::parse(version) {
        Ok(v) if v.to_string() == version => Ok(()),
        _ => Err(ServiceError::Invalid(format!("version {version:?} is not strict semver (MAJOR.MINOR.PATCH)"))),
    }
}

/// Publishes `upload`: coordinates, claimed digest, component structure
/// (`b2c_registry::inspect`, within `max_bytes`), the host contract, and a
/// compile and link in this engine (first in the sandbox when one is set),
/// so what the registry holds, the host can run; the compile also warms
/// the cache for the first bind. Nothing is recorded unless every check
/// passes.
pub async fn publish(
    registry: &Registry,
    engine: &Arc<PluginEngine>,
    max_bytes: usize,
    upload: Upload<'_>,
) -> Result<PublishOutcome> {
    check_coordinates(upload.name, upload.version)?;
    let digest = crate::util::sha256_hex(upload.bytes);
    if let Some(claimed) = upload.claimed_sha256 {
        let claimed = claimed.trim().to_ascii_lowercase();
        if claimed != digest {
            return Err(ServiceError::DigestMismatch(format!(
                "X-Content-Sha256 is {claimed} but the body hashes to {digest}"
            )));
        }
    }
    let contract = host_contract();
    let info = b2c_registry::inspect(upload.bytes, max_bytes, &contract.package).map_err(b2c_registry::Error::from)?;
    contract.check(&info).map_err(b2c_registry::Error::from)?;
    engine
        .load_upload(&digest, upload.bytes)
        .await
        .map_err(|e| ServiceError::InvalidComponent(format!("the component does not load in this host: {e}")))?;
    Ok(registry.publish(upload.name, upload.version, upload.bytes, &info, upload.actor)?)
}
