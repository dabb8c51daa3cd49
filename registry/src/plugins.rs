//! Plugins and their versions: publish (immutable), read, yank, resolve.
//!
//! The rules live here (valid names, canonical semver, immutability, which
//! version a requirement resolves to, which audit entry a change writes);
//! rows are read and written through [`PluginRows`], files through
//! [`Artifacts`].

use crate::artifacts::Artifacts;
use crate::audit::AuditEvent;
use crate::inspect::{ComponentInfo, HostContract};
use crate::{Error, ProviderKind, Result, now_ms, sha256_hex};
use semver::{Version, VersionReq};
use std::collections::HashSet;

/// Plugin names: lowercase ASCII letters, digits and '-', starting with a
/// letter, at most 64 characters. They appear in URLs and file names.
pub fn valid_plugin_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// One published version.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct VersionRecord {
    pub name: String,
    pub version: String,
    pub sha256: String,
    pub size: u64,
    pub contract_version: String,
    pub exports: Vec<ProviderKind>,
    pub imports: Vec<String>,
    pub yanked: bool,
    /// Milliseconds since the Unix epoch.
    pub published_at: i64,
    pub published_by: String,
}

/// A plugin with its versions, newest first.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PluginSummary {
    pub name: String,
    pub versions: Vec<String>,
    pub latest: Option<String>,
    /// The yanked ones among `versions`.
    pub yanked: Vec<String>,
}

/// Whether a publish stored something new.
#[derive(Clone, Debug, PartialEq)]
pub enum PublishOutcome {
    /// A new version was stored.
    Created(VersionRecord),
    /// The same name, version and bytes were already stored.
    Unchanged(VersionRecord),
}

impl PublishOutcome {
    pub fn record(&self) -> &VersionRecord {
        match self {
            PublishOutcome::Created(r) | PublishOutcome::Unchanged(r) => r,
        }
    }
}

/// How plugin and version rows are stored. Each change method is one
/// transaction that includes its audit entry.
pub(crate) trait PluginRows {
    /// One version, if published.
    fn version(&self, name: &str, version: &str) -> Result<Option<VersionRecord>>;
    /// All versions of a plugin, in any order.
    fn versions(&self, name: &str) -> Result<Vec<VersionRecord>>;
    /// Every plugin name, sorted.
    fn plugin_names(&self) -> Result<Vec<String>>;
    /// Stores `record` (creating its plugin if new) with `audit`, unless
    /// `name@version` is already stored (a concurrent publish won): then
    /// writes nothing and returns the stored sha256.
    fn insert_version(&self, record: &VersionRecord, audit: &AuditEvent) -> Result<Option<String>>;
    /// Sets the yanked flag and writes `audit`; false (and nothing written)
    /// when the version is not published.
    fn set_yanked(&self, name: &str, version: &str, yanked: bool, audit: &AuditEvent) -> Result<bool>;
    /// Whether any version names this digest.
    fn digest_in_use(&self, sha256: &str) -> Result<bool>;
    /// Digests of every published version.
    fn referenced_digests(&self) -> Result<HashSet<String>>;
}

pub(crate) fn publish(
    rows: &dyn PluginRows,
    artifacts: &Artifacts,
    name: &str,
    version: &str,
    bytes: &[u8],
    info: &ComponentInfo,
    actor: &str,
) -> Result<PublishOutcome> {
    if !valid_plugin_name(name) {
        return Err(Error::InvalidInput(format!(
            "plugin name {name:?} is not valid: use lowercase letters, digits and '-', starting with a letter, at most 64 characters"
        )));
    }
    let parsed = Version::parse(version).map_err(|e| {
        Error::InvalidInput(format!("version {version:?} is not strict semver (MAJOR.MINOR.PATCH): {e}"))
    })?;
    if parsed.to_string() != version {
        return Err(Error::InvalidInput(format!("version {version:?} is not in canonical form ({parsed})")));
    }
    let sha = sha256_hex(bytes);
    if let Some(existing) = rows.version(name, version)? {
        return if existing.sha256 == sha {
            Ok(PublishOutcome::Unchanged(existing))
        } else {
            Err(Error::Conflict(format!(
                "{name}@{version} is already published with sha256 {}; versions are immutable, publish a new version",
                existing.sha256
            )))
        };
    }
    // The file goes first: a row must never name a missing file.
    let wrote = artifacts.put(&sha, bytes)?;
    let record = VersionRecord {
        name: name.to_string(),
        version: version.to_string(),
        sha256: sha.clone(),
        size: bytes.len() as u64,
        contract_version: info.contract_version.clone(),
        exports: info.exports.clone(),
        imports: info.imports.clone(),
        yanked: false,
        published_at: now_ms(),
        published_by: actor.to_string(),
    };
    let audit =
        AuditEvent::new(actor, "publish", &format!("{name}@{version}"), &format!("sha256={sha} size={}", record.size));
    // Only a file this publish added may be removed, and only if no row
    // (another version with the same bytes) names it.
    let remove_unreferenced = || {
        if wrote && !rows.digest_in_use(&sha).unwrap_or(true) {
            artifacts.remove(&sha);
        }
    };
    match rows.insert_version(&record, &audit) {
        Ok(None) => Ok(PublishOutcome::Created(record)),
        Ok(Some(other)) if other == sha => Ok(PublishOutcome::Unchanged(
            rows.version(name, version)?.ok_or_else(|| Error::Corrupt("version vanished".into()))?,
        )),
        Ok(Some(other)) => {
            remove_unreferenced();
            Err(Error::Conflict(format!("{name}@{version} is already published with sha256 {other}")))
        }
        Err(e) => {
            remove_unreferenced();
            Err(e)
        }
    }
}

/// All versions of a plugin, newest (by semver) first.
pub(crate) fn versions(rows: &dyn PluginRows, name: &str) -> Result<Vec<VersionRecord>> {
    let mut out = rows.versions(name)?;
    out.sort_by_key(|v| std::cmp::Reverse(semver_of(&v.version)));
    Ok(out)
}

pub(crate) fn plugins(rows: &dyn PluginRows) -> Result<Vec<PluginSummary>> {
    rows.plugin_names()?
        .into_iter()
        .map(|name| {
            let versions = versions(rows, &name)?;
            Ok(PluginSummary {
                latest: versions.iter().find(|v| !v.yanked).map(|v| v.version.clone()),
                yanked: versions.iter().filter(|v| v.yanked).map(|v| v.version.clone()).collect(),
                versions: versions.into_iter().map(|v| v.version).collect(),
                name,
            })
        })
        .collect()
}

pub(crate) fn set_yanked(
    rows: &dyn PluginRows,
    name: &str,
    version: &str,
    yanked: bool,
    actor: &str,
) -> Result<VersionRecord> {
    let audit = AuditEvent::new(actor, if yanked { "yank" } else { "unyank" }, &format!("{name}@{version}"), "");
    if !rows.set_yanked(name, version, yanked, &audit)? {
        return Err(Error::NotFound(format!("{name}@{version} is not published")));
    }
    rows.version(name, version)?.ok_or_else(|| Error::Corrupt("version vanished".into()))
}

pub(crate) fn resolve(
    rows: &dyn PluginRows,
    name: &str,
    req: &VersionReq,
    kind: ProviderKind,
    host: &HostContract,
) -> Result<VersionRecord> {
    let versions = versions(rows, name)?;
    if versions.is_empty() {
        return Err(Error::NotFound(format!("plugin {name} is not published")));
    }
    versions
        .into_iter()
        .filter(|v| !v.yanked)
        .filter(|v| semver_of(&v.version).is_some_and(|s| req.matches(&s)))
        .filter(|v| v.exports.contains(&kind))
        .find(|v| Version::parse(&v.contract_version).is_ok_and(|c| host.accepts(&c)))
        .ok_or_else(|| {
            Error::NotFound(format!(
                "no version of {name} matches {req}, exports {}, is not yanked and is compatible with this host ({})",
                kind.interface(),
                host.supported()
            ))
        })
}

fn semver_of(v: &str) -> Option<Version> {
    Version::parse(v).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Registry;
    use crate::testutil::{host, info};

    #[test]
    fn plugin_names() {
        for ok in ["mock-erp", "enventa-bridge", "a", "erp2"] {
            assert!(valid_plugin_name(ok), "{ok}");
        }
        for bad in ["", "Mock", "-x", "x-", "a_b", "a/b", "../x", "é", &"a".repeat(65)] {
            assert!(!valid_plugin_name(bad), "{bad}");
        }
    }

    #[test]
    fn resolution_picks_highest_compatible_non_yanked_version() {
        use ProviderKind::*;
        let dir = tempfile::tempdir().unwrap();
        let r = Registry::open(dir.path()).unwrap();
        // (version, contract, exports, yanked); bytes differ per version.
        let published: [(&str, &str, &[ProviderKind], bool); 9] = [
            ("0.9.0", "1.0.0", &[Erp], false),
            ("1.0.0", "1.0.0", &[Erp, Crm], false),
            ("1.2.0", "1.0.0", &[Erp], false),
            ("1.3.0-beta.1", "1.0.0", &[Erp], false),
            ("1.4.0", "1.0.0", &[Erp], true),
            ("1.5.0", "1.1.0", &[Erp], false),
            ("1.6.0", "1.0.0", &[Crm], false),
            ("2.0.0", "1.0.0", &[Erp], false),
            ("3.0.0", "2.0.0", &[Erp], false),
        ];
        for (v, c, kinds, yanked) in published {
            r.publish("p", v, v.as_bytes(), &info(c, kinds), "t").unwrap();
            if yanked {
                r.set_yanked("p", v, true, "t").unwrap();
            }
        }
        // (requirement, kind, expected version or None)
        let cases: [(&str, ProviderKind, Option<&str>); 11] = [
            ("^1", Erp, Some("1.2.0")), // 1.4.0 yanked, 1.5.0 needs contract 1.1
            ("*", Erp, Some("2.0.0")),  // 3.0.0 needs contract 2
            ("~1.0", Erp, Some("1.0.0")),
            ("<1", Erp, Some("0.9.0")),
            ("^1", Crm, Some("1.6.0")),
            ("=1.4.0", Erp, None), // yanked
            ("=1.5.0", Erp, None), // incompatible contract
            (">=1.3.0-beta.1, <1.4", Erp, Some("1.3.0-beta.1")),
            ("^1", Pim, None), // nothing exports pim
            (">=4", Erp, None),
            ("=1.0.0", Erp, Some("1.0.0")),
        ];
        for (req, kind, want) in cases {
            let got = r.resolve("p", &VersionReq::parse(req).unwrap(), kind, &host()).ok().map(|v| v.version);
            assert_eq!(got.as_deref(), want, "{req} for {kind}");
        }
        assert!(matches!(r.resolve("nope", &VersionReq::STAR, Erp, &host()), Err(Error::NotFound(_))));
    }

    #[test]
    fn publish_is_immutable_and_validates_names() {
        let dir = tempfile::tempdir().unwrap();
        let r = Registry::open(dir.path()).unwrap();
        let i = info("1.0.0", &[ProviderKind::Erp]);
        assert!(matches!(r.publish("p", "1.0.0", b"a", &i, "t").unwrap(), PublishOutcome::Created(_)));
        assert!(matches!(r.publish("p", "1.0.0", b"a", &i, "t").unwrap(), PublishOutcome::Unchanged(_)));
        assert!(matches!(r.publish("p", "1.0.0", b"b", &i, "t"), Err(Error::Conflict(_))));
        assert!(matches!(r.publish("P", "1.0.0", b"a", &i, "t"), Err(Error::InvalidInput(_))));
        assert!(matches!(r.publish("p", "1.0", b"a", &i, "t"), Err(Error::InvalidInput(_))));
        assert!(matches!(r.publish("p", "v1.0.0", b"a", &i, "t"), Err(Error::InvalidInput(_))));
        // The conflicting bytes were not kept.
        assert_eq!(r.artifact(&sha256_hex(b"a")).unwrap(), b"a");
        assert!(matches!(r.artifact(&sha256_hex(b"b")), Err(Error::NotFound(_))));
        // Same bytes under two versions share one artifact.
        r.publish("p", "1.0.1", b"a", &i, "t").unwrap();
        assert_eq!(r.versions("p").unwrap().len(), 2);
    }

    #[test]
    fn orphan_artifacts_are_swept_at_open() {
        let dir = tempfile::tempdir().unwrap();
        {
            let r = Registry::open(dir.path()).unwrap();
            r.publish("p", "1.0.0", b"kept", &info("1.0.0", &[ProviderKind::Erp]), "t").unwrap();
            // A crash between writing the file and committing its row.
            r.artifacts.put(&sha256_hex(b"orphan"), b"orphan").unwrap();
            std::fs::write(dir.path().join("artifacts").join(".tmp-1-2"), b"half").unwrap();
        }
        let r = Registry::open(dir.path()).unwrap();
        assert!(r.artifact(&sha256_hex(b"kept")).is_ok());
        assert!(matches!(r.artifact(&sha256_hex(b"orphan")), Err(Error::NotFound(_))));
        assert!(!dir.path().join("artifacts").join(".tmp-1-2").exists());
    }
}
