//! The example's logic on the SDK's fake host, natively (`cargo test`).

use b2connect_provider::testing::FakeHost;
use b2connect_provider::types::ProductFilter;
use b2connect_provider::{Context, ErpProvider, Provider, ProviderError};
use readonly_erp::Shop;

#[test]
fn serves_its_products_by_id_in_batches_and_as_a_stream() {
    let _host = FakeHost::new("acme").setting("productCount", "4").install();
    let mut shop = Shop::new(&Context::current()).unwrap();
    assert_eq!(shop.get_product("P3".into()).unwrap().price.amount_minor, 300);
    assert_eq!(shop.get_product("P5".into()), Err(ProviderError::NotFound("no product P5".into())));
    let got = shop.get_products(vec!["P4".into(), "nope".into(), "P1".into()]).unwrap();
    let ids: Vec<_> = got.iter().map(|p| p.as_ref().map(|p| p.id.as_str())).collect();
    assert_eq!(ids, vec![Some("P4"), None, Some("P1")]);

    let filter = ProductFilter {
        modified_since: Some(1_700_000_000_003),
        category_id: None,
        name_contains: None,
        active_only: true,
    };
    let cursor = shop.stream_products(filter).unwrap();
    let ids: Vec<_> = cursor.next_batch(10).unwrap().into_iter().map(|p| p.id).collect();
    assert_eq!(ids, vec!["P3", "P4"]);
    assert!(cursor.next_batch(10).unwrap().is_empty());
}

#[test]
fn a_bad_product_count_names_the_setting() {
    let _host = FakeHost::new("acme").setting("productCount", "many").install();
    let err = Shop::new(&Context::current()).err().unwrap();
    assert!(matches!(&err, ProviderError::InvalidInput(m) if m.contains("productCount")), "{err:?}");
}
