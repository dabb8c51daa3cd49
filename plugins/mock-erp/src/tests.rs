//! The provider's answers, natively on the SDK's fake host
//! (`cd plugins && cargo test -p mock-erp`).

use super::*;
use b2connect_provider::log::Level;
use b2connect_provider::testing::FakeHost;
use b2connect_provider::types::{CatalogFilter, CustomerFilter, OrderLineRequest, ProductFilter};

fn mock(settings: &[(&str, &str)]) -> (b2connect_provider::testing::Installed, MockErp) {
    let host = settings.iter().fold(FakeHost::new("acme"), |h, (k, v)| h.setting(k, v)).install();
    let erp = MockErp::new(&Context::current()).expect("valid settings");
    (host, erp)
}

fn all_products() -> ProductFilter {
    ProductFilter { modified_since: None, category_id: None, name_contains: None, active_only: false }
}

fn all_catalog() -> CatalogFilter {
    CatalogFilter { modified_since: None, category_id: None, search: None }
}

/// Pulls a cursor to its end, `max` at a time, checking every batch's size.
fn drain<T>(c: &Cursor<T>, max: u32) -> Vec<T> {
    let mut all = Vec::new();
    loop {
        let batch = c.next_batch(max).unwrap();
        assert!(batch.len() <= max as usize);
        if batch.is_empty() {
            return all;
        }
        all.extend(batch);
    }
}

fn ids<'a>(items: impl IntoIterator<Item = &'a Product>) -> Vec<String> {
    items.into_iter().map(|p| p.id.clone()).collect()
}

fn order(customer: &str, product: &str, ext: Option<&str>) -> OrderRequest {
    OrderRequest {
        customer_id: customer.into(),
        lines: vec![OrderLineRequest { product_id: product.into(), quantity: 2 }],
        external_ref: ext.map(Into::into),
        note: None,
    }
}

#[test]
fn settings_size_the_data_set_and_the_instance_says_so() {
    let (host, mut erp) = mock(&[("productCount", "50"), ("customerCount", "7")]);
    assert_eq!(erp.get_product("P00000050".into()).unwrap().id, "P00000050");
    assert_eq!(
        erp.get_product("P00000051".into()),
        Err(ProviderError::NotFound("product P00000051 does not exist".into()))
    );
    assert_eq!(erp.get_customer("CU0000007".into()).unwrap().number, "100007");
    assert!(erp.get_customer("CU0000008".into()).is_err());
    let logs = host.logs();
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0], (Level::Info, "mock-erp ready for tenant acme: 50 products, 7 customers".into()));
}

#[test]
fn the_seed_defaults_to_the_tenant_and_can_be_set() {
    let (_h, mut a) = mock(&[]);
    let by_tenant = a.get_product("P00000001".into()).unwrap();
    let (_h, mut b) = mock(&[("seed", &data::fnv1a("acme").to_string())]);
    assert_eq!(b.get_product("P00000001".into()).unwrap(), by_tenant);
    let (_h, mut c) = mock(&[("seed", " 1 ")]);
    assert_ne!(c.get_product("P00000001".into()).unwrap(), by_tenant);
}

#[test]
fn a_setting_that_does_not_parse_is_invalid_input_naming_the_key() {
    for (key, value) in [("productCount", "many"), ("contactsPerCustomer", "-1"), ("streamFailAfter", "x")] {
        let _host = FakeHost::new("acme").setting(key, value).install();
        let Err(ProviderError::InvalidInput(m)) = MockErp::new(&Context::current()) else {
            panic!("{key}={value} was accepted")
        };
        assert!(m.contains(key), "{m}");
    }
}

#[test]
fn product_streams_are_complete_ordered_filtered_and_batched() {
    let (_h, mut erp) = mock(&[("productCount", "300")]);
    let all = drain(&erp.stream_products(all_products()).unwrap(), 7);
    assert_eq!(ids(&all), (1..=300).map(data::product_id).collect::<Vec<_>>());
    // A filter keeps exactly the products it matches, in the same order.
    let cat = all[0].category_id[..6].to_string(); // a root category: its children match
    let filter = ProductFilter { category_id: Some(cat.clone()), active_only: true, ..all_products() };
    let picked = drain(&erp.stream_products(filter).unwrap(), 1000);
    let expected: Vec<_> = all.iter().filter(|p| p.active && p.category_id.starts_with(&cat)).collect();
    assert!(!expected.is_empty());
    assert_eq!(ids(&picked), ids(expected));
    // A leaf category, a name fragment in another case.
    let leaf = all[0].category_id.clone();
    let word = all[0].name.split(' ').nth(2).unwrap().to_uppercase();
    let filter = ProductFilter { category_id: Some(leaf.clone()), name_contains: Some(word.clone()), ..all_products() };
    let picked = drain(&erp.stream_products(filter).unwrap(), 1000);
    let expected: Vec<_> =
        all.iter().filter(|p| p.category_id == leaf && p.name.to_uppercase().contains(&word)).collect();
    assert_eq!(ids(&picked), ids(expected));
    // Not a category prefix: "CAT-0" is no category at all.
    let none = ProductFilter { category_id: Some("CAT-0".into()), ..all_products() };
    assert!(drain(&erp.stream_products(none).unwrap(), 10).is_empty());
}

#[test]
fn a_cursor_hands_out_at_most_ten_thousand_per_pull() {
    let (_h, mut erp) = mock(&[("productCount", "10001")]);
    let c = erp.stream_products(all_products()).unwrap();
    assert_eq!(c.next_batch(u32::MAX).unwrap().len(), 10_000);
    assert_eq!(ids(&c.next_batch(u32::MAX).unwrap()), ["P00010001"]);
    assert!(c.next_batch(5).unwrap().is_empty());
}

#[test]
fn stream_fail_after_fails_product_and_catalog_streams_once_n_are_out() {
    let (_h, mut erp) = mock(&[("productCount", "100"), ("streamFailAfter", "5")]);
    let c = erp.stream_products(all_products()).unwrap();
    assert_eq!(c.next_batch(3).unwrap().len(), 3);
    assert_eq!(c.next_batch(3).unwrap().len(), 3);
    assert_eq!(c.next_batch(3), Err(ProviderError::Internal("injected stream failure after 5 records".into())));
    let c = erp.stream_catalog(all_catalog()).unwrap();
    assert_eq!(c.next_batch(10).unwrap().len(), 10);
    assert!(matches!(c.next_batch(10), Err(ProviderError::Internal(m)) if m.contains("after 5")));
    // Customers are not affected.
    let filter = CustomerFilter { modified_since: None, country: None, name_contains: None };
    assert_eq!(drain(&erp.stream_customers(filter).unwrap(), 3).len(), 10_000);
}

#[test]
fn catalog_pages_walk_the_same_entries_as_the_catalog_stream() {
    let (_h, mut erp) = mock(&[("productCount", "250")]);
    let mut extra = erp.get_product("P00000001".into()).unwrap();
    (extra.id, extra.name) = ("ZZ-EXTRA".into(), "Stepped Extra".into());
    assert_eq!(erp.sync_products(vec![extra]).unwrap().created, 1);
    let filter = CatalogFilter { search: Some("ste".into()), ..all_catalog() };
    let streamed = drain(&erp.stream_catalog(filter.clone()).unwrap(), 17);
    let (mut paged, mut token, mut pages) = (Vec::new(), None, 0);
    loop {
        let page = erp.get_catalog(filter.clone(), 10, token).unwrap();
        assert!(page.items.len() <= 10);
        pages += 1;
        paged.extend(page.items);
        match page.continuation {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    assert_eq!(paged, streamed);
    assert_eq!(pages, streamed.len().div_ceil(10), "the last page carries no token");
    assert!(streamed.iter().all(|d| {
        let p = &d.product;
        p.name.to_lowercase().contains("ste") || p.sku.to_lowercase().contains("ste")
    }));
    assert_eq!(streamed.last().unwrap().product.id, "ZZ-EXTRA");
    assert_eq!(streamed[0], erp.get_product_details(streamed[0].product.id.clone()).unwrap());
    // Tokens: what the provider issued is opaque but fixed; others are refused.
    let page = erp.get_catalog(all_catalog(), 1, None).unwrap();
    assert_eq!(page.continuation.as_deref(), Some("g.2"));
    let page = erp.get_catalog(all_catalog(), 1, Some("g.250".into())).unwrap();
    assert_eq!(page.continuation.as_deref(), Some("g.251"));
    let page = erp.get_catalog(all_catalog(), 1, Some("x.".into())).unwrap();
    assert_eq!((page.items[0].product.id.as_str(), page.continuation), ("ZZ-EXTRA", None));
    for bad in ["g.0", "y.1", "x.5", "x.zz"] {
        let e = erp.get_catalog(all_catalog(), 5, Some(bad.into())).unwrap_err();
        assert_eq!(e, ProviderError::InvalidInput(format!("continuation token {bad:?} is not valid")));
    }
    for size in [0, 1001] {
        assert!(matches!(erp.get_catalog(all_catalog(), size, None), Err(ProviderError::InvalidInput(_))));
    }
}

#[test]
fn syncs_replace_and_add_records_and_open_streams_see_them() {
    let (_h, mut erp) = mock(&[("productCount", "20"), ("customerCount", "5")]);
    let open = erp.stream_products(all_products()).unwrap();
    assert_eq!(open.next_batch(2).unwrap().len(), 2);
    let mut p = erp.get_product("P00000010".into()).unwrap();
    let same = p.clone();
    p.stock = 123_456;
    let mut extra = p.clone();
    extra.id = "A-EXTRA".into();
    let mut bad = p.clone();
    bad.price.currency = "euro".into();
    let r = erp.sync_products(vec![same, p, extra.clone(), bad]).unwrap();
    assert_eq!((r.received, r.created, r.updated, r.unchanged, r.failed), (4, 1, 1, 1, 1));
    assert_eq!((r.failures[0].index, r.failures[0].id.as_str()), (3, "P00000010"));
    assert!(matches!(&r.failures[0].error, ProviderError::InvalidInput(m) if m.contains("ISO 4217")));
    // The cursor opened before the sync sees the new stock and the extra at the end.
    let rest = drain(&open, 100);
    assert_eq!(rest[7].stock, 123_456);
    assert_eq!(rest.last(), Some(&extra));
    assert_eq!(rest.len(), 19);
    // Batch gets: request order, unknown ids `None`, the cap on ids.
    let got = erp.get_products(vec!["A-EXTRA".into(), "P00000099".into(), "P00000010".into()]).unwrap();
    assert_eq!(
        got.iter().map(|p| p.as_ref().map(|p| p.stock)).collect::<Vec<_>>(),
        [Some(123_456), None, Some(123_456)]
    );
    let too_many = vec![String::new(); MAX_IDS + 1];
    assert_eq!(
        erp.get_products(too_many),
        Err(ProviderError::InvalidInput("at most 10000 ids per call, got 10001".into()))
    );
    // Customers: a bad e-mail fails alone.
    let mut c = erp.get_customer("CU0000002".into()).unwrap();
    c.email = "nobody".into();
    let r = erp.sync_customers(vec![c]).unwrap();
    assert_eq!((r.received, r.failed), (1, 1));
}

#[test]
fn orders_price_their_lines_refuse_reused_refs_and_show_as_activities() {
    let (_h, mut erp) = mock(&[("productCount", "100"), ("customerCount", "50")]);
    let customer = (1..=50).map(|i| format!("CU{i:07}")).find(|id| erp.get_customer(id.clone()).unwrap().active);
    let customer = customer.unwrap();
    let product = erp.stream_products(ProductFilter { active_only: true, ..all_products() }).unwrap();
    let product = product.next_batch(1).unwrap().remove(0);
    let o = erp.create_order(order(&customer, &product.id, Some("ext-1"))).unwrap();
    assert_eq!(o.id, "SO-00000001");
    assert_eq!(o.total.amount_minor, 2 * product.price.amount_minor);
    assert_eq!(o.created_at, data::EPOCH_MS + 1_000);
    let r = erp
        .create_orders(vec![
            order(&customer, &product.id, Some("ext-1")),
            order(&customer, "P99999999", None),
            order("CU9999999", &product.id, None),
            order(&customer, &product.id, None),
        ])
        .unwrap();
    assert_eq!((r.succeeded, r.failed), (1, 3));
    assert_eq!(
        r.items[0],
        Err(ProviderError::Conflict("external reference ext-1 already used by order SO-00000001".into()))
    );
    assert_eq!(r.items[1], Err(ProviderError::InvalidInput("line 0: unknown product P99999999".into())));
    assert_eq!(r.items[2], Err(ProviderError::InvalidInput("unknown customer CU9999999".into())));
    assert_eq!(r.items[3].as_ref().unwrap().id, "SO-00000002");
    // Both orders are the customer's newest activities, newest first.
    let acts = erp.get_activities(customer.clone(), 3).unwrap();
    assert_eq!(acts[0].id, "AC-SO-00000002");
    assert_eq!(acts[1].id, "AC-SO-00000001");
    assert!(acts.len() <= 3);
    let batch = erp.get_activities_batch(vec![customer.clone(), "CU9999999".into()], 1).unwrap();
    assert_eq!(batch[0].as_ref().unwrap().len(), 1);
    assert_eq!(batch[1], None);
    assert_eq!(
        erp.get_activities("CU9999999".into(), 5),
        Err(ProviderError::NotFound("customer CU9999999 does not exist".into()))
    );
}

#[test]
fn contacts_belong_to_their_customers() {
    let (_h, mut erp) = mock(&[("customerCount", "4"), ("contactsPerCustomer", "2")]);
    assert_eq!(erp.get_contact("CT00000003".into()).unwrap().customer_id, "CU0000002");
    assert_eq!(
        erp.get_contact("CT00000009".into()),
        Err(ProviderError::NotFound("contact CT00000009 does not exist".into()))
    );
    let got = erp.get_contacts(vec!["CT00000008".into(), "CT00000009".into()]).unwrap();
    assert_eq!(got.iter().map(Option::is_some).collect::<Vec<_>>(), [true, false]);
}

#[test]
fn customer_streams_filter_by_country_and_name() {
    let (_h, mut erp) = mock(&[("customerCount", "200")]);
    let every = CustomerFilter { modified_since: None, country: None, name_contains: None };
    let all = drain(&erp.stream_customers(every.clone()).unwrap(), 33);
    assert_eq!(all.len(), 200);
    let filter = CustomerFilter { country: Some("at".into()), name_contains: Some("GMBH".into()), ..every };
    let picked = drain(&erp.stream_customers(filter).unwrap(), 1000);
    let expected: Vec<_> =
        all.into_iter().filter(|c| c.address.country == "AT" && c.name.to_lowercase().contains("gmbh")).collect();
    assert!(!expected.is_empty());
    assert_eq!(picked, expected);
}

#[test]
fn fault_injection_answers_each_variant_only_when_on() {
    let (_h, mut erp) = mock(&[("faultInjection", "on")]);
    assert_eq!(
        erp.get_product("FAULT-UNSUPPORTED".into()),
        Err(ProviderError::Unsupported("injected fault for FAULT-UNSUPPORTED".into()))
    );
    assert!(matches!(erp.get_product("FAULT-CONFLICT".into()), Err(ProviderError::Conflict(_))));
    let (_h, mut erp) = mock(&[("faultInjection", "On")]);
    assert_eq!(
        erp.get_product("FAULT-CONFLICT".into()),
        Err(ProviderError::NotFound("product FAULT-CONFLICT does not exist".into()))
    );
}

#[test]
#[should_panic(expected = "trapOnProductId hit for P00000013")]
fn trap_on_product_id_traps() {
    let (_h, mut erp) = mock(&[("trapOnProductId", "P00000013")]);
    let _ = erp.get_product("P00000013".into());
}

#[test]
fn the_settings_probe_lists_keys_only_and_the_marker_is_unpatched() {
    let (_h, mut erp) = mock(&[("productCount", "5"), ("secret", "s3cr3t")]);
    let p = erp.get_product("MOCK-ERP-SETTINGS".into()).unwrap();
    assert_eq!((p.id.as_str(), p.description.as_str()), ("MOCK-ERP-SETTINGS", "productCount,secret"));
    assert_eq!(p.sku, erp.get_product("P00000001".into()).unwrap().sku);
    assert_eq!(variant(), None);
    assert_eq!(&VARIANT, b"MOCK-ERP-VARIANT:--------");
}

#[test]
fn categories_come_from_the_data_set() {
    let (_h, mut erp) = mock(&[]);
    assert_eq!(erp.get_categories().unwrap(), data::categories());
}
