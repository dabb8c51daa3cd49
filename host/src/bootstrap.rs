//! The embedded default: on an empty data dir, publish the bundled mock-erp
//! and bind a `demo` tenant to it, so `b2c-host serve` works out of the box.
//! Also settles the admin token and the demo key (from the environment, or
//! generated and printed).

use crate::bundled;
use crate::service::{self, Ctx, ServiceError, publish};
use crate::util::new_secret;
use b2c_registry::{BindingRequest, KindRequest};

/// The tenant the embedded default creates.
pub const DEMO_TENANT: &str = "demo";
/// Actor name of changes the host makes by itself.
pub const SYSTEM_ACTOR: &str = "system:bootstrap";
/// Label of demo keys the host generated (rotated at every start).
const AUTOGEN_LABEL: &str = "demo-autogen";

/// What start-up decided, for the banner.
#[derive(Debug)]
pub struct Bootstrap {
    pub admin_token: String,
    pub admin_token_generated: bool,
    /// A demo key to print (only when the host generated it now).
    pub demo_key: Option<String>,
    /// Whether the demo tenant exists.
    pub demo_tenant: bool,
    /// Whether this start published mock-erp and created the demo tenant.
    pub seeded: bool,
    /// Why seeding failed, if it did. Start-up goes on without the demo
    /// (as with any tenant whose plugin cannot load): the operator API still
    /// works to find out why and to fix it.
    pub seed_error: Option<String>,
}

/// Settles the admin token and, on an empty registry, publishes and binds
/// through the same workflows as the admin API (`service/`), so the demo
/// tenant is live when this returns.
pub async fn embedded_default(
    ctx: Ctx<'_>,
    admin_token: Option<String>,
    demo_key: Option<String>,
    seed_demo: bool,
) -> Result<Bootstrap, ServiceError> {
    let registry = ctx.registry;
    let (admin_token, admin_token_generated) = match admin_token {
        Some(t) if !t.trim().is_empty() => (t, false),
        _ => (new_secret("b2cadm"), true),
    };
    let empty = registry.plugins()?.is_empty() && registry.tenants()?.is_empty();
    let mut seeded = false;
    let mut seed_error = None;
    if empty && seed_demo {
        match seed(ctx).await {
            Ok(()) => seeded = true,
            Err(e) => {
                tracing::error!("the embedded default (mock-erp + demo tenant) could not be set up: {e}");
                seed_error = Some(e.to_string());
            }
        }
    }
    let demo_tenant = registry.tenant(DEMO_TENANT)?.is_some();
    let mut printed_key = None;
    if demo_tenant {
        match demo_key {
            Some(k) => match registry.add_api_key(DEMO_TENANT, &k, "demo-env", SYSTEM_ACTOR) {
                Ok(_) | Err(b2c_registry::Error::Conflict(_)) => {}
                Err(e) => return Err(e.into()),
            },
            None => {
                // Rotate: the previous generated key was printed once and is
                // gone from view; a fresh one keeps the printed curl line true.
                for k in registry.api_keys(DEMO_TENANT)? {
                    if k.label == AUTOGEN_LABEL && k.revoked_at.is_none() {
                        registry.revoke_api_key(DEMO_TENANT, &k.id, SYSTEM_ACTOR)?;
                    }
                }
                let k = new_secret("b2c");
                match registry.add_api_key(DEMO_TENANT, &k, AUTOGEN_LABEL, SYSTEM_ACTOR) {
                    Ok(_) => printed_key = Some(k),
                    // At the tenant's key cap: serve anyway, without a
                    // printed key (the operator revokes one to get it back).
                    Err(b2c_registry::Error::Conflict(m)) => tracing::warn!("no demo key generated: {m}"),
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
    Ok(Bootstrap { admin_token, admin_token_generated, demo_key: printed_key, demo_tenant, seeded, seed_error })
}

/// Publishes the bundled mock-erp and binds the demo tenant to it, through
/// the admin API's workflows (so the demo is live when this returns).
async fn seed(ctx: Ctx<'_>) -> Result<(), ServiceError> {
    let upload = publish::Upload {
        name: "mock-erp",
        version: bundled::MOCK_ERP_VERSION,
        bytes: bundled::MOCK_ERP,
        claimed_sha256: None,
        actor: SYSTEM_ACTOR,
        trusted: true,
        conformance: None,
    };
    publish::publish(ctx.registry, ctx.runtime, usize::MAX, upload).await?;
    let kind = || Some(KindRequest { plugin: "mock-erp".into(), version: "^1".into() });
    let request = BindingRequest { erp: kind(), crm: kind(), pim: kind(), ..Default::default() };
    service::bind::bind(ctx, DEMO_TENANT, &request, SYSTEM_ACTOR).await?;
    Ok(())
}
