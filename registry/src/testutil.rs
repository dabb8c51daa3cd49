//! Helpers shared by the modules' unit tests (kept out of any one module's
//! tests so no module imports another's tests).

use crate::{ComponentInfo, HostContract, ProviderKind};
use semver::Version;

/// A host at contract 1.0.0.
pub(crate) fn host() -> HostContract {
    HostContract {
        package: "b2connect:provider".into(),
        version: Version::parse("1.0.0").unwrap(),
        host_interfaces: vec!["log".into()],
        other_prefixes: vec![],
    }
}

/// What `inspect` would report of a component at `contract` exporting
/// `exports`.
pub(crate) fn info(contract: &str, exports: &[ProviderKind]) -> ComponentInfo {
    ComponentInfo { contract_version: contract.into(), exports: exports.to_vec(), imports: vec![] }
}
