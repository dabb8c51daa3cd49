//! Reading a component's contract from its bytes, without running it.
//!
//! A provider component exports `b2connect:provider/<kind>-provider@X.Y.Z`
//! and imports `b2connect:provider/{log,config,socket}@X.Y.Z` plus WASI.
//! From the export names we learn the provider kinds and the contract
//! version; from the import names, whether this host can link it.

use crate::ProviderKind;
use semver::Version;
use wasmparser::{Encoding, Parser, Payload};

/// Why bytes are not an acceptable component. The message says which case.
#[derive(Debug, thiserror::Error)]
pub enum InvalidComponent {
    #[error("the body is empty")]
    Empty,
    #[error("the body is {size} bytes, over the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("the body is a precompiled native artifact ({0}); upload the .wasm component, the host compiles it itself")]
    Precompiled(&'static str),
    #[error("the body is not WebAssembly (no \\0asm header)")]
    NotWasm,
    #[error(
        "the body is a core WebAssembly module, not a component; build with `cargo build --target wasm32-wasip2` or `cargo component build`"
    )]
    CoreModule,
    #[error("the component is malformed: {0}")]
    Malformed(String),
    #[error("the component exports none of erp-provider, crm-provider, pim-provider of package b2connect:provider")]
    NoProvider,
    #[error("the component's b2connect:provider imports and exports disagree on the contract version ({0})")]
    MixedContract(String),
}

/// Why a well-formed component does not fit this host.
#[derive(Debug, thiserror::Error)]
pub enum Incompatible {
    #[error("the component targets contract {found}; this host supports {supported}")]
    ContractVersion { found: String, supported: String },
    #[error("the component imports {import}, which this host does not provide (it provides {provided})")]
    ForbiddenImport { import: String, provided: String },
}

/// What a component says about itself.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ComponentInfo {
    /// Version of the `b2connect:provider` package it was built against.
    pub contract_version: String,
    /// Provider kinds it exports, in erp, crm, pim order.
    pub exports: Vec<ProviderKind>,
    /// Every top-level import name.
    pub imports: Vec<String>,
}

/// The contract a host implements; components are checked against it.
#[derive(Clone, Debug)]
pub struct HostContract {
    /// The WIT package, e.g. "b2connect:provider".
    pub package: String,
    /// The package version the host was generated from.
    pub version: Version,
    /// Interfaces of `package` the host provides to plugins.
    pub host_interfaces: Vec<String>,
    /// Import name prefixes (other packages) the host provides, e.g. "wasi:".
    pub other_prefixes: Vec<String>,
}

impl HostContract {
    /// "1.0.0 (1.x with minor ≤ 0)"-style description for error messages.
    pub fn supported(&self) -> String {
        format!(
            "{}@{}.0.0 through {}@{} (same major, minor ≤ {})",
            self.package, self.version.major, self.package, self.version, self.version.minor
        )
    }

    /// Same major, and not newer than the host (a newer minor may use
    /// functions this host does not have).
    pub fn accepts(&self, v: &Version) -> bool {
        v.major == self.version.major && v.pre.is_empty() && v.minor <= self.version.minor
    }

    /// Checks a component against this host: contract version, then imports.
    pub fn check(&self, info: &ComponentInfo) -> Result<(), Incompatible> {
        let v = Version::parse(&info.contract_version).map_err(|_| Incompatible::ContractVersion {
            found: info.contract_version.clone(),
            supported: self.supported(),
        })?;
        if !self.accepts(&v) {
            return Err(Incompatible::ContractVersion {
                found: info.contract_version.clone(),
                supported: self.supported(),
            });
        }
        for import in &info.imports {
            let ours = split_name(import).filter(|(pkg, _, _)| *pkg == self.package);
            let ok = match ours {
                Some((_, iface, _)) => self.host_interfaces.iter().any(|h| h == iface),
                None => self.other_prefixes.iter().any(|p| import.starts_with(p.as_str())),
            };
            if !ok {
                let mut provided: Vec<String> =
                    self.host_interfaces.iter().map(|i| format!("{}/{i}", self.package)).collect();
                provided.extend(self.other_prefixes.iter().map(|p| format!("{p}*")));
                return Err(Incompatible::ForbiddenImport { import: import.clone(), provided: provided.join(", ") });
            }
        }
        Ok(())
    }
}

/// Splits "ns:pkg/iface@1.2.3" into ("ns:pkg", "iface", Some("1.2.3")).
fn split_name(name: &str) -> Option<(&str, &str, Option<&str>)> {
    let (pkg, rest) = name.split_once('/')?;
    Some(match rest.split_once('@') {
        Some((iface, v)) => (pkg, iface, Some(v)),
        None => (pkg, rest, None),
    })
}

/// Reads and validates a component. `limit` caps the size in bytes.
pub fn inspect(bytes: &[u8], limit: usize, package: &str) -> Result<ComponentInfo, InvalidComponent> {
    if bytes.is_empty() {
        return Err(InvalidComponent::Empty);
    }
    if bytes.len() > limit {
        return Err(InvalidComponent::TooLarge { size: bytes.len(), limit });
    }
    if bytes.starts_with(b"\x7fELF") {
        return Err(InvalidComponent::Precompiled("ELF"));
    }
    if bytes.starts_with(b"\xcf\xfa\xed\xfe") || bytes.starts_with(b"MZ") {
        return Err(InvalidComponent::Precompiled("native executable"));
    }
    if !bytes.starts_with(b"\0asm") || bytes.len() < 8 {
        return Err(InvalidComponent::NotWasm);
    }
    let malformed = |e: wasmparser::BinaryReaderError| InvalidComponent::Malformed(e.to_string());

    let mut depth = 0usize;
    let mut imports = Vec::new();
    let mut export_names = Vec::new();
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.map_err(malformed)? {
            Payload::Version { encoding, .. } => {
                if depth == 0 && encoding == Encoding::Module {
                    return Err(InvalidComponent::CoreModule);
                }
                depth += 1;
            }
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(r) if depth == 1 => {
                for i in r {
                    imports.push(i.map_err(malformed)?.name.name.to_string());
                }
            }
            Payload::ComponentExportSection(r) if depth == 1 => {
                for e in r {
                    export_names.push(e.map_err(malformed)?.name.name.to_string());
                }
            }
            _ => {}
        }
    }
    // Full validation: a component that parses but is not valid would only
    // fail later, at compile time, with a less helpful message.
    wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::default())
        .validate_all(bytes)
        .map_err(malformed)?;

    let mut versions = std::collections::BTreeSet::new();
    let mut exports = Vec::new();
    for name in &export_names {
        if let Some((pkg, iface, v)) = split_name(name).filter(|(p, _, _)| *p == package) {
            if let Some(kind) = ProviderKind::ALL.into_iter().find(|k| k.interface() == iface) {
                exports.push(kind);
                versions.insert(v.unwrap_or("").to_string());
            }
            let _ = pkg;
        }
    }
    if exports.is_empty() {
        return Err(InvalidComponent::NoProvider);
    }
    for name in &imports {
        if let Some((_, _, v)) = split_name(name).filter(|(p, _, _)| *p == package) {
            versions.insert(v.unwrap_or("").to_string());
        }
    }
    if versions.len() != 1 {
        return Err(InvalidComponent::MixedContract(versions.into_iter().collect::<Vec<_>>().join(", ")));
    }
    exports.sort();
    exports.dedup();
    imports.sort();
    Ok(ComponentInfo { contract_version: versions.into_iter().next().unwrap_or_default(), exports, imports })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(v: &str) -> HostContract {
        HostContract {
            package: "b2connect:provider".into(),
            version: Version::parse(v).unwrap(),
            host_interfaces: vec!["log".into(), "config".into(), "socket".into(), "types".into()],
            other_prefixes: vec!["wasi:".into()],
        }
    }

    #[test]
    fn contract_versions_table() {
        // (host, plugin, accepted)
        let cases = [
            ("1.0.0", "1.0.0", true),
            ("1.2.0", "1.0.0", true),
            ("1.2.0", "1.1.7", true),
            ("1.2.0", "1.2.0", true),
            ("1.2.0", "1.3.0", false),
            ("1.0.0", "1.0.1", true),
            ("1.0.0", "2.0.0", false),
            ("2.0.0", "1.9.0", false),
            ("1.0.0", "0.9.0", false),
            ("1.0.0", "1.0.0-rc.1", false),
        ];
        for (h, p, ok) in cases {
            assert_eq!(host(h).accepts(&Version::parse(p).unwrap()), ok, "host {h} plugin {p}");
        }
    }

    #[test]
    fn import_policy() {
        let info = |imports: &[&str]| ComponentInfo {
            contract_version: "1.0.0".into(),
            exports: vec![ProviderKind::Erp],
            imports: imports.iter().map(|s| s.to_string()).collect(),
        };
        let h = host("1.0.0");
        assert!(h.check(&info(&["wasi:io/streams@0.2.6", "b2connect:provider/log@1.0.0"])).is_ok());
        let err = h.check(&info(&["b2connect:provider/admin@1.0.0"])).unwrap_err();
        assert!(err.to_string().contains("b2connect:provider/admin@1.0.0"), "{err}");
        assert!(h.check(&info(&["evil:net/raw@1.0.0"])).is_err());
    }

    #[test]
    fn rejects_non_components() {
        let lim = 1 << 20;
        let pkg = "b2connect:provider";
        assert!(matches!(inspect(b"", lim, pkg), Err(InvalidComponent::Empty)));
        assert!(matches!(inspect(b"hello world", lim, pkg), Err(InvalidComponent::NotWasm)));
        assert!(matches!(inspect(b"\x7fELF\x02\x01\x01", lim, pkg), Err(InvalidComponent::Precompiled(_))));
        // An empty core module: magic + version 1.
        assert!(matches!(inspect(b"\0asm\x01\0\0\0", lim, pkg), Err(InvalidComponent::CoreModule)));
        // An empty component: magic + component version/layer.
        assert!(matches!(inspect(b"\0asm\x0d\0\x01\0", lim, pkg), Err(InvalidComponent::NoProvider)));
        assert!(matches!(inspect(&[0u8; 100], 10, pkg), Err(InvalidComponent::TooLarge { .. })));
        // Truncated component header.
        assert!(inspect(b"\0asm\x0d\0\x01\0\x07\x05", lim, pkg).is_err());
    }
}
