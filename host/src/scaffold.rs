//! `b2c-host plugin new`: writes a provider crate that builds out of the
//! box, on the provider SDK, with a unit test on the SDK's fake host and a
//! README. The SDK and the contract are vendored into the crate
//! (`vendor/b2connect-provider`, from the copies embedded in this binary),
//! so an author needs neither a clone of this repository nor a registry
//! that carries the SDK.
//!
//! The crate is written into a temporary sibling directory and renamed into
//! place, so a failure leaves nothing half-written, and an existing
//! directory is never touched.

use crate::ProviderKind;
use std::path::{Path, PathBuf};

include!(concat!(env!("OUT_DIR"), "/sdk_files.rs"));

/// Why a crate could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    #[error(
        "plugin name {0:?} is not valid: lowercase letters, digits and '-', starting with a letter and not ending with '-', 1 to 64 characters"
    )]
    Name(String),
    #[error("{0} already exists; choose another --dir or remove it")]
    Exists(PathBuf),
    #[error("writing {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

/// Whether `name` is a valid plugin name (the registry's rule).
pub fn valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    (1..=64).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[b.len() - 1] != b'-'
}

/// Writes the crate for plugin `name` serving `kinds` into `dir`. Returns
/// the files written, relative to `dir`.
pub fn new_plugin(name: &str, kinds: &[ProviderKind], dir: &Path) -> Result<Vec<String>, ScaffoldError> {
    if !valid_name(name) {
        return Err(ScaffoldError::Name(name.to_string()));
    }
    if dir.exists() {
        return Err(ScaffoldError::Exists(dir.to_path_buf()));
    }
    // export_provider! takes the kinds in the contract's order.
    let mut kinds: Vec<ProviderKind> = kinds.to_vec();
    kinds.sort();
    kinds.dedup();
    if kinds.is_empty() {
        kinds.push(ProviderKind::Erp);
    }
    let files = files(name, &kinds);
    let parent = dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ScaffoldError::Io { path, source }
    };
    std::fs::create_dir_all(parent).map_err(io(parent))?;
    let tmp = parent.join(format!(".{name}.new-{}", std::process::id()));
    let written = (|| {
        for (rel, text) in &files {
            let path = tmp.join(rel);
            let folder = path.parent().expect("a file has a parent");
            std::fs::create_dir_all(folder).map_err(io(folder))?;
            std::fs::write(&path, text).map_err(io(&path))?;
        }
        std::fs::rename(&tmp, dir).map_err(io(dir))
    })();
    if written.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    written?;
    Ok(files.into_iter().map(|(rel, _)| rel).collect())
}

/// Every file of the new crate: (path inside it, contents).
fn files(name: &str, kinds: &[ProviderKind]) -> Vec<(String, String)> {
    let krate = name.replace('-', "_");
    let ty: String = name
        .split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        })
        .collect();
    let kind_list = kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ");
    let fill = |t: &str| {
        t.replace("{name}", name)
            .replace("{crate}", &krate)
            .replace("{Type}", &ty)
            .replace("{kinds}", &kind_list)
            .replace("{first}", kinds[0].as_str())
            .replace("{contract}", crate::bindings::CONTRACT_VERSION)
    };
    let has = |k: &str| kinds.iter().any(|x| x.as_str() == k);

    let mut lib = fill(LIB_HEAD);
    let mut test = fill(TEST_HEAD);
    for (kind, imp, t) in [("erp", LIB_ERP, TEST_ERP), ("crm", LIB_CRM, TEST_CRM), ("pim", LIB_PIM, TEST_PIM)] {
        if has(kind) {
            lib.push_str(&fill(imp));
            test.push_str(&fill(t));
        }
    }
    lib.push_str(&fill("\nb2connect_provider::export_provider!({Type}: {kinds});\n"));

    let mut out = vec![
        ("Cargo.toml".to_string(), fill(CARGO_TOML)),
        ("README.md".to_string(), fill(README)),
        (".gitignore".to_string(), "/target\n".to_string()),
        ("src/lib.rs".to_string(), lib),
        ("tests/provider.rs".to_string(), test),
        ("vendor/b2connect-provider/wit/b2connect-provider.wit".to_string(), crate::bindings::CONTRACT_WIT.to_string()),
    ];
    for (rel, text) in SDK_FILES {
        let text = if *rel == "Cargo.toml" { vendored_manifest(text) } else { text.to_string() };
        out.push((format!("vendor/b2connect-provider/{rel}"), text));
    }
    out
}

/// The SDK's manifest without its `[workspace]` table: vendored, it is a
/// member of the plugin crate's workspace, and a second root would be an
/// error.
fn vendored_manifest(text: &str) -> String {
    let mut lines: Vec<&str> = text.lines().take_while(|l| l.trim() != "[workspace]").collect();
    while lines.last().is_some_and(|l| l.trim().is_empty() || l.trim_start().starts_with('#')) {
        lines.pop();
    }
    lines.join("\n") + "\n"
}

const CARGO_TOML: &str = r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
# cdylib: the component; rlib: so tests/ can use the provider natively.
crate-type = ["cdylib", "rlib"]

[dependencies]
b2connect-provider = { path = "vendor/b2connect-provider" }

[dev-dependencies]
b2connect-provider = { path = "vendor/b2connect-provider", features = ["testing"] }

[profile.release]
opt-level = 3
lto = true
codegen-units = 1
strip = "debuginfo"
panic = "abort"

# A crate of its own, not a member of an enclosing workspace.
[workspace]
"#;

const README: &str = r#"# {name}

A B2Connect provider plugin serving: {kinds}. Written by `b2c-host plugin
new` on the provider SDK (`vendor/b2connect-provider`, contract
`b2connect:provider@{contract}` in `vendor/b2connect-provider/wit/`).

## Build

    rustup target add wasm32-wasip2
    cargo build --release --target wasm32-wasip2
    # or, with cargo-component installed:
    cargo component build --release

The component is `target/wasm32-wasip2/release/{crate}.wasm`
(`target/wasm32-wasi/release/{crate}.wasm` with cargo-component).

## Test

    cargo test

The tests run the provider natively on the SDK's fake host
(`b2connect_provider::testing::FakeHost`): settings, log and socket
without a B2Connect host.

## Publish, bind, call

    b2c-host plugin publish target/wasm32-wasip2/release/{crate}.wasm --name {name} --version 0.1.0
    b2c-host tenant bind acme --{first} {name}@^0.1 --config productCount=10
    b2c-host tenant create-key acme

## What to know

- One instance serves one tenant, one call at a time: `&mut self` state
  needs no locks. `Provider::new` runs on the first call of an instance.
- A panic traps the instance: the host answers that call with 502 and
  starts a fresh instance (and `new`) on the next call. State that must
  survive lives in your back end, not in memory.
- Log with `b2connect_provider::info!` and friends; `print!`/`eprintln!`
  also reach the host's log (4 KiB per call and stream).
- A bad setting is `invalid-input` naming the key (`Context::setting_or`).
- Methods you do not write answer `unsupported` (HTTP 501); batch
  operations default to their single-record twins.
"#;

const LIB_HEAD: &str = r#"//! {name}: a B2Connect provider serving {kinds}, on the provider SDK.
//!
//! Settings: `productCount` (default 3), the size of the sample data.

use b2connect_provider::types::*;
use b2connect_provider::{Context, Cursor, Provider, ProviderError};

/// One tenant's provider: built once per instance by `new`.
pub struct {Type} {
    products: Vec<Product>,
}

impl Provider for {Type} {
    fn new(ctx: &Context) -> Result<Self, ProviderError> {
        let count: u32 = ctx.setting_or("productCount", 3)?;
        b2connect_provider::info!("{name} ready for {}: {count} products", ctx.tenant_id());
        Ok({Type} { products: (1..=count).map(sample_product).collect() })
    }
}

/// Sample data; replace with calls to your system (`Context::connect`
/// opens the socket the operator granted this tenant).
fn sample_product(i: u32) -> Product {
    Product {
        id: format!("P{i}"),
        sku: format!("SKU-{i}"),
        name: format!("Product {i}"),
        description: String::new(),
        category_id: "C1".into(),
        price: Money { amount_minor: 100 * i as i64, currency: "EUR".into() },
        stock: i as i64,
        unit: "pcs".into(),
        active: true,
        modified_at: 1_700_000_000_000 + i as i64,
    }
}

impl {Type} {
    fn product(&self, id: &str) -> Result<&Product, ProviderError> {
        self.products.iter().find(|p| p.id == id).ok_or_else(|| ProviderError::not_found(format!("no product {id}")))
    }
}
"#;

const LIB_ERP: &str = r#"
impl b2connect_provider::ErpProvider for {Type} {
    fn get_product(&mut self, id: String) -> Result<Product, ProviderError> {
        self.product(&id).cloned()
    }

    fn stream_products(&mut self, filter: ProductFilter) -> Result<Cursor<Product>, ProviderError> {
        let hits: Vec<Product> = self.products.iter().filter(|p| filter.matches(p)).cloned().collect();
        Ok(Cursor::from_iter(hits))
    }
}
"#;

const LIB_CRM: &str = r#"
impl b2connect_provider::CrmProvider for {Type} {
    fn get_contact(&mut self, id: String) -> Result<Contact, ProviderError> {
        match id.strip_prefix("K") {
            Some("1") => Ok(Contact {
                id,
                customer_id: "C1".into(),
                first_name: "Ada".into(),
                last_name: "Lovelace".into(),
                email: "ada@example.com".into(),
                phone: String::new(),
                role: "buyer".into(),
                modified_at: 1_700_000_000_000,
            }),
            _ => Err(ProviderError::not_found(format!("no contact {id}"))),
        }
    }
}
"#;

const LIB_PIM: &str = r#"
impl b2connect_provider::PimProvider for {Type} {
    fn get_product_details(&mut self, id: String) -> Result<ProductDetails, ProviderError> {
        let product = self.product(&id)?.clone();
        Ok(ProductDetails {
            long_description: format!("All about {}", product.name),
            attributes: vec![Attribute { name: "unit".into(), value: product.unit.clone() }],
            images: Vec::new(),
            category_path: vec!["C1".into()],
            product,
        })
    }

    fn get_categories(&mut self) -> Result<Vec<Category>, ProviderError> {
        Ok(vec![Category { id: "C1".into(), name: "Everything".into(), parent_id: None, path: "Everything".into() }])
    }
}
"#;

const TEST_HEAD: &str = r#"//! {name} on the SDK's fake host: plain `cargo test`, no B2Connect host.

use b2connect_provider::testing::FakeHost;
use b2connect_provider::{Context, Provider, ProviderError};
use {crate}::{Type};

fn provider(count: &str) -> {Type} {
    {Type}::new(&Context::current()).unwrap_or_else(|e| panic!("productCount={count}: {e:?}"))
}

#[test]
fn a_bad_setting_names_its_key() {
    let _host = FakeHost::new("acme").setting("productCount", "many").install();
    let err = {Type}::new(&Context::current()).err().unwrap();
    assert!(matches!(&err, ProviderError::InvalidInput(m) if m.contains("productCount")), "{err:?}");
}
"#;

const TEST_ERP: &str = r#"
#[test]
fn erp_serves_products_by_id_in_batches_and_as_a_stream() {
    use b2connect_provider::ErpProvider;
    let _host = FakeHost::new("acme").setting("productCount", "4").install();
    let mut p = provider("4");
    assert_eq!(p.get_product("P2".into()).unwrap().sku, "SKU-2");
    assert!(matches!(p.get_product("P9".into()), Err(ProviderError::NotFound(_))));
    let got = p.get_products(vec!["P4".into(), "nope".into()]).unwrap();
    assert_eq!(got.iter().map(Option::is_some).collect::<Vec<_>>(), [true, false]);
    let all = b2connect_provider::types::ProductFilter { modified_since: None, category_id: None, name_contains: None, active_only: false };
    let cursor = p.stream_products(all).unwrap();
    assert_eq!(cursor.next_batch(10).unwrap().len(), 4);
    assert!(cursor.next_batch(10).unwrap().is_empty());
}
"#;

const TEST_CRM: &str = r#"
#[test]
fn crm_serves_contacts() {
    use b2connect_provider::CrmProvider;
    let _host = FakeHost::new("acme").install();
    let mut p = provider("default");
    assert_eq!(p.get_contact("K1".into()).unwrap().last_name, "Lovelace");
    assert!(matches!(p.get_contact("K2".into()), Err(ProviderError::NotFound(_))));
}
"#;

const TEST_PIM: &str = r#"
#[test]
fn pim_serves_details_and_categories() {
    use b2connect_provider::PimProvider;
    let _host = FakeHost::new("acme").install();
    let mut p = provider("default");
    assert_eq!(p.get_product_details("P1".into()).unwrap().product.id, "P1");
    assert_eq!(p.get_categories().unwrap().len(), 1);
}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_registry_rule() {
        for ok in ["a", "acme-erp", "x9", "a-b-c"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", "9a", "Acme", "a_b", "a-", "-a", &"a".repeat(65)] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn the_vendored_sdk_is_no_workspace_root_and_every_kind_is_filled_in() {
        let files = files("acme-shop", &[ProviderKind::Erp, ProviderKind::Pim]);
        let get = |p: &str| &files.iter().find(|(r, _)| r == p).unwrap_or_else(|| panic!("{p}")).1;
        assert!(!get("vendor/b2connect-provider/Cargo.toml").contains("[workspace]"));
        assert!(get("vendor/b2connect-provider/Cargo.toml").contains("name = \"b2connect-provider\""));
        assert!(get("Cargo.toml").contains("name = \"acme-shop\""));
        let lib = get("src/lib.rs");
        assert!(lib.contains("pub struct AcmeShop") && lib.contains("export_provider!(AcmeShop: erp, pim)"), "{lib}");
        assert!(lib.contains("ErpProvider for AcmeShop") && lib.contains("PimProvider for AcmeShop"));
        assert!(!lib.contains("CrmProvider"));
        for hole in ["{Type}", "{name}", "{kinds}", "{crate}", "{first}", "{contract}"] {
            assert!(!files.iter().any(|(_, t)| t.contains(hole)), "{hole} left unfilled");
        }
        assert!(get("README.md").contains("--erp acme-shop@^0.1"));
        assert!(files.iter().any(|(r, _)| r == "vendor/b2connect-provider/src/lib.rs"));
    }
}
