//! The embedded default: on an empty data dir, publish the bundled mock-erp
//! and bind a `demo` tenant to it, so `b2c-host serve` works out of the box.
//! Also settles the admin token and the demo key (from the environment, or
//! generated and printed).

use crate::bundled;
use crate::runtime::host_contract;
use crate::util::new_secret;
use b2c_registry::{BindingRequest, KindRequest, Registry};

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
}

pub fn embedded_default(
    registry: &Registry,
    admin_token: Option<String>,
    demo_key: Option<String>,
    seed_demo: bool,
) -> Result<Bootstrap, b2c_registry::Error> {
    let (admin_token, admin_token_generated) = match admin_token {
        Some(t) if !t.trim().is_empty() => (t, false),
        _ => (new_secret("b2cadm"), true),
    };
    let empty = registry.plugins()?.is_empty() && registry.tenants()?.is_empty();
    let mut seeded = false;
    if empty && seed_demo {
        let contract = host_contract();
        let info = b2c_registry::inspect(bundled::MOCK_ERP, usize::MAX, &contract.package)?;
        contract.check(&info)?;
        registry.publish("mock-erp", bundled::MOCK_ERP_VERSION, bundled::MOCK_ERP, &info, SYSTEM_ACTOR)?;
        let kind = || Some(KindRequest { plugin: "mock-erp".into(), version: "^1".into() });
        let request = BindingRequest { erp: kind(), crm: kind(), pim: kind(), ..Default::default() };
        registry.bind(DEMO_TENANT, &request, &contract, SYSTEM_ACTOR)?;
        seeded = true;
    }
    let demo_tenant = registry.tenant(DEMO_TENANT)?.is_some();
    let mut printed_key = None;
    if demo_tenant {
        match demo_key {
            Some(k) => match registry.add_api_key(DEMO_TENANT, &k, "demo-env", SYSTEM_ACTOR) {
                Ok(_) | Err(b2c_registry::Error::Conflict(_)) => {}
                Err(e) => return Err(e),
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
                registry.add_api_key(DEMO_TENANT, &k, AUTOGEN_LABEL, SYSTEM_ACTOR)?;
                printed_key = Some(k);
            }
        }
    }
    Ok(Bootstrap { admin_token, admin_token_generated, demo_key: printed_key, demo_tenant, seeded })
}
