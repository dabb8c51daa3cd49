//! Binding a tenant: resolve each kind's version range to a pin, load the
//! pinned components, then commit and activate. Used by the admin API's
//! `PUT /admin/v1/tenants/{tenant}`, its rollback, and start-up (the demo
//! tenant).

use super::{Ctx, Result, ServiceError};
use crate::runtime::host_contract;
use b2c_registry::{BindingRecord, BindingRequest};

/// Binds `tenant` as `request` says. The plan, the load and the plugins'
/// own check of their settings (`lifecycle.init` on a trial instance,
/// contract 1.1) come before the commit: a request that cannot resolve, a
/// config the limits reject, a plugin that cannot load, or one that
/// refuses its settings changes nothing (no row, no actor).
pub async fn bind(ctx: Ctx<'_>, tenant: &str, request: &BindingRequest, actor: &str) -> Result<BindingRecord> {
    ctx.runtime.settings_for(&request.config).map_err(|e| ServiceError::Invalid(format!("config: {e}")))?;
    let pins = ctx.registry.plan_binding(tenant, request, &host_contract())?;
    ctx.runtime
        .check_binding(tenant, &request.config, request.socket.as_deref(), &pins)
        .await
        .map_err(|e| ServiceError::Invalid(format!("the binding cannot be activated: {e}")))?;
    let binding = ctx.registry.commit_binding(tenant, request, &pins, actor)?;
    activate(ctx, &binding).await?;
    Ok(binding)
}

/// Returns `tenant` to its previous binding.
pub async fn rollback(ctx: Ctx<'_>, tenant: &str, actor: &str) -> Result<BindingRecord> {
    let binding = ctx.registry.rollback(tenant, actor)?;
    activate(ctx, &binding).await?;
    Ok(binding)
}

/// Makes a committed binding live. Another plugin or config may answer
/// differently, so the tenant's cached answers go.
async fn activate(ctx: Ctx<'_>, binding: &BindingRecord) -> Result<()> {
    ctx.runtime
        .activate(binding)
        .await
        .map_err(|e| ServiceError::Internal(format!("activating {}: {e}", binding.tenant)))?;
    ctx.cache.invalidate_tenant(&binding.tenant);
    Ok(())
}
