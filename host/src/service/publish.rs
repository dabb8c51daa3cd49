//! Publishing a component: the checks an upload passes before the registry
//! holds it, in the order that fails cheapest first. Used by the admin
//! API's `PUT …/versions/{version}` and by start-up (the bundled mock-erp).

use super::{Result, ServiceError};
use crate::runtime::Runtime;
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
    /// Run the provider conformance check (`plugin check`'s rules, reads
    /// only, no settings, no socket) and refuse a component that fails a
    /// rule: `serve --require-conformance`, within this deadline
    /// (`--conformance-timeout-secs`).
    pub conformance: Option<std::time::Duration>,
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
    runtime: &Runtime,
    max_bytes: usize,
    upload: Upload<'_>,
) -> Result<PublishOutcome> {
    let engine = runtime.engine();
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
    let component = engine
        .load_upload(&digest, upload.bytes)
        .await
        .map_err(|e| ServiceError::InvalidComponent(format!("the component does not load in this host: {e}")))?;
    if let Some(deadline) = upload.conformance {
        conform(runtime, component, upload.name, upload.version, deadline).await?;
    }
    Ok(registry.publish(upload.name, upload.version, upload.bytes, &info, upload.actor)?)
}

/// Longest counter-example quoted per failed rule in the refusal (it holds
/// plugin data: sanitized like any plugin text).
const DETAIL_CHARS: usize = 300;

/// The conformance check on the compiled upload, in the serving engine
/// and under the serving host's limits (call timeout, CPU budget, memory:
/// what a binding without `limits.*` gets).
/// Rules that write are not run (publish has no back end to write to); a
/// provider whose back end is unreachable without a binding has its rules
/// skipped, not failed (see `CheckOptions::skip_if_unavailable`).
async fn conform(
    runtime: &Runtime,
    component: Arc<crate::engine::PluginComponent>,
    name: &str,
    version: &str,
    deadline: std::time::Duration,
) -> Result<()> {
    use crate::conformance::{CheckOptions, Outcome, check_component};
    let opts = CheckOptions { skip_if_unavailable: true, deadline, ..CheckOptions::default() };
    // No room for the checked instance is the host's limit (503), not a
    // verdict on the upload; nothing is recorded.
    let results = check_component(runtime.engine().clone(), component, runtime.settings().clone(), &opts).await?;
    let failed: Vec<String> = results
        .iter()
        .filter_map(|r| match &r.outcome {
            Outcome::Fail(d) => Some(format!("{}: {}", r.rule, crate::untrusted::sanitize_to(d, DETAIL_CHARS))),
            _ => None,
        })
        .collect();
    let passed = results.iter().filter(|r| matches!(r.outcome, Outcome::Pass(_))).count();
    tracing::info!(plugin = name, version, passed, failed = failed.len(), rules = results.len(), "conformance check");
    if failed.is_empty() {
        return Ok(());
    }
    Err(ServiceError::Nonconformant(format!(
        "{} of {} conformance rules failed (b2c-host plugin check shows them all): {}",
        failed.len(),
        results.len(),
        failed.join("; ")
    )))
}
