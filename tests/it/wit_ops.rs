//! Every WIT operation, called through the host's typed actor API against
//! the built mock-erp component, with values checked.

use crate::util::*;
use b2c_host::ProviderKind::{Crm, Erp, Pim};
use b2c_host::actor::CallError;
use b2c_host::bindings::types::*;

fn not_found(r: Result<impl std::fmt::Debug, CallError>) {
    match r {
        Err(CallError::Provider(ProviderError::NotFound(m))) => assert!(!m.is_empty()),
        other => panic!("expected not-found, got {other:?}"),
    }
}

fn order(customer: &str, lines: &[(&str, u32)], ext: Option<&str>) -> OrderRequest {
    OrderRequest {
        customer_id: customer.into(),
        lines: lines.iter().map(|(p, q)| OrderLineRequest { product_id: p.to_string(), quantity: *q }).collect(),
        external_ref: ext.map(str::to_string),
        note: Some("test order".into()),
    }
}

#[tokio::test]
async fn erp_reads_round_trip_ids_and_report_not_found() {
    let h = TestHost::start().await;
    h.add_tenant("acme", &[("productCount", "5000"), ("customerCount", "300")]).await;
    let erp = h.provider("acme", Erp);

    let p = erp.get_product(pid(42)).await.unwrap();
    assert_eq!(p.id, "P00000042");
    assert!(p.sku.ends_with("-0000042"), "{}", p.sku);
    assert_eq!(p.price.currency, "EUR");
    assert!(p.price.amount_minor > 0 && !p.name.is_empty() && p.category_id.starts_with("CAT-"));
    // Deterministic: the same id gives the same record.
    assert_eq!(erp.get_product(pid(42)).await.unwrap(), p);
    not_found(erp.get_product(pid(5001)).await);
    not_found(erp.get_product("P42".into()).await);

    let ids: Vec<String> = (1..=100).map(|i| if i % 10 == 0 { format!("missing-{i}") } else { pid(i * 37) }).collect();
    let got = erp.get_products(ids.clone()).await.unwrap();
    assert_eq!(got.len(), 100);
    for (id, p) in ids.iter().zip(&got) {
        match p {
            Some(p) => assert_eq!(&p.id, id),
            None => assert!(id.starts_with("missing-")),
        }
    }
    assert_eq!(got.iter().filter(|p| p.is_none()).count(), 10);

    let c = erp.get_customer("CU0000007".into()).await.unwrap();
    assert_eq!(c.id, "CU0000007");
    assert_eq!(c.number, "100007");
    assert!(c.email.contains('@') && !c.address.city.is_empty() && c.address.country.len() == 2);
    not_found(erp.get_customer("CU0000301".into()).await);
    let cs = erp.get_customers(vec!["CU0000003".into(), "x".into(), "CU0000300".into()]).await.unwrap();
    assert_eq!(
        cs.iter().map(|c| c.as_ref().map(|c| c.id.as_str())).collect::<Vec<_>>(),
        vec![Some("CU0000003"), None, Some("CU0000300")]
    );
}

/// Counts of the deterministic data sets below (seeded by the tenant id).
const FILTERED_PRODUCTS: usize = 60;
const CUSTOMERS_IN_AT: usize = 76;
const CATALOG_LEAF: usize = 94;

#[tokio::test]
async fn erp_streams_are_complete_ordered_and_filtered() {
    let h = TestHost::start().await;
    h.add_tenant("acme", &[("productCount", "5000"), ("customerCount", "300")]).await;
    let erp = h.provider("acme", Erp);

    let all = ProductFilter { modified_since: None, category_id: None, name_contains: None, active_only: false };
    let cur = erp.open_products(all).await.unwrap();
    let (mut ids, mut sizes) = (Vec::new(), Vec::new());
    loop {
        let batch = erp.next_products(cur, 777).await.unwrap();
        if batch.is_empty() {
            break;
        }
        sizes.push(batch.len());
        ids.extend(batch.into_iter().map(|p| p.id));
    }
    // Full batches of what was asked for, then the rest: 6 × 777 + 338.
    assert_eq!(sizes, [777, 777, 777, 777, 777, 777, 338]);
    erp.close_cursor(cur).await.unwrap();
    assert_eq!(ids, (1..=5000).map(pid).collect::<Vec<_>>());
    // A closed cursor is gone.
    assert!(matches!(erp.next_products(cur, 10).await, Err(CallError::CursorGone)));

    let since = 1_767_225_600_000 - 30 * 86_400_000;
    let f = ProductFilter {
        modified_since: Some(since),
        category_id: Some("CAT-02".into()),
        name_contains: None,
        active_only: true,
    };
    let cur = erp.open_products(f).await.unwrap();
    let mut n = 0;
    let mut last = String::new();
    loop {
        let batch = erp.next_products(cur, 1000).await.unwrap();
        if batch.is_empty() {
            break;
        }
        for p in batch {
            assert!(p.modified_at >= since && p.active && p.category_id.starts_with("CAT-02-"), "{p:?}");
            assert!(p.id > last);
            last = p.id;
            n += 1;
        }
    }
    // 30 of 365 days × 1/6 of the categories × 95 % active ≈ 65 of 5000;
    // the data set is deterministic, so the count is exact.
    assert_eq!(n, FILTERED_PRODUCTS, "filtered stream");

    let cf = CustomerFilter { modified_since: None, name_contains: None, country: Some("AT".into()) };
    let cur = erp.open_customers(cf).await.unwrap();
    let mut at = Vec::new();
    loop {
        let batch = erp.next_customers(cur, 100).await.unwrap();
        if batch.is_empty() {
            break;
        }
        at.extend(batch);
    }
    assert_eq!(at.len(), CUSTOMERS_IN_AT, "customers in AT of 300");
    assert!(at.iter().all(|c| c.address.country == "AT"));
    assert!(at.windows(2).all(|w| w[0].id < w[1].id));
}

#[tokio::test]
async fn erp_orders_and_sync_keep_state_in_the_instance() {
    let h = TestHost::start().await;
    h.add_tenant("acme", &[("productCount", "5000"), ("customerCount", "300")]).await;
    let erp = h.provider("acme", Erp);
    let crm = h.provider("acme", Crm);

    // Find an active customer and two orderable products.
    let customer = "CU0000001".to_string();
    let products = erp.get_products((1..=50).map(pid).collect()).await.unwrap();
    let active: Vec<Product> = products.into_iter().flatten().filter(|p| p.active).take(2).collect();
    let c = erp.get_customer(customer.clone()).await.unwrap();
    assert!(c.active, "fixture customer must be active");

    let o =
        erp.create_order(order(&customer, &[(&active[0].id, 3), (&active[1].id, 1)], Some("basket-1"))).await.unwrap();
    assert_eq!(o.id, "SO-00000001");
    assert_eq!(o.customer_id, customer);
    assert_eq!(o.lines.len(), 2);
    assert_eq!(o.lines[0].line_total.amount_minor, active[0].price.amount_minor * 3);
    assert_eq!(o.total.amount_minor, active[0].price.amount_minor * 3 + active[1].price.amount_minor);
    assert_eq!(o.external_ref.as_deref(), Some("basket-1"));
    // The same external reference again is a conflict in the ERP.
    match erp.create_order(order(&customer, &[(&active[0].id, 1)], Some("basket-1"))).await {
        Err(CallError::Provider(ProviderError::Conflict(m))) => assert!(m.contains("SO-00000001"), "{m}"),
        other => panic!("expected conflict, got {other:?}"),
    }
    match erp.create_order(order(&customer, &[], None)).await {
        Err(CallError::Provider(ProviderError::InvalidInput(_))) => {}
        other => panic!("expected invalid-input, got {other:?}"),
    }

    let batch = erp
        .create_orders(vec![
            order(&customer, &[(&active[1].id, 2)], None),
            order("CU9999999", &[(&active[1].id, 2)], None),
            order(&customer, &[(&active[0].id, 0)], None),
        ])
        .await
        .unwrap();
    assert_eq!((batch.succeeded, batch.failed, batch.items.len()), (1, 2, 3));
    assert_eq!(batch.items[0].as_ref().unwrap().id, "SO-00000002");
    assert!(matches!(batch.items[1], Err(ProviderError::InvalidInput(_))));

    // Orders are read back as CRM activities of the customer, newest first
    // (one artifact serving ERP and CRM shares one instance).
    let acts = crm.get_activities(customer.clone(), 50).await.unwrap();
    assert!(acts.len() >= 2, "at least the two orders: {acts:?}");
    assert!(acts.iter().all(|a| a.customer_id == customer));
    assert!(acts.windows(2).all(|w| w[0].occurred_at >= w[1].occurred_at));
    let order_acts: Vec<&str> = acts.iter().filter(|a| a.kind == ActivityKind::Order).map(|a| a.id.as_str()).collect();
    assert_eq!(order_acts, vec!["AC-SO-00000002", "AC-SO-00000001"]);

    // Sync: create, unchanged, update, per-item failure.
    let mut newp = erp.get_product(pid(1)).await.unwrap();
    newp.id = "EXT-0001".into();
    newp.name = "Synced Product".into();
    let mut changed = erp.get_product(pid(2)).await.unwrap();
    changed.stock += 1;
    let same = erp.get_product(pid(3)).await.unwrap();
    let mut bad = same.clone();
    bad.id = "EXT-BAD".into();
    bad.price.currency = "euro".into();
    let r = erp.sync_products(vec![newp.clone(), changed.clone(), same, bad]).await.unwrap();
    assert_eq!((r.received, r.created, r.updated, r.unchanged, r.failed), (4, 1, 1, 1, 1));
    assert_eq!(r.failures[0].index, 3);
    assert_eq!(r.failures[0].id, "EXT-BAD");
    assert_eq!(erp.get_product("EXT-0001".into()).await.unwrap().name, "Synced Product");
    assert_eq!(erp.get_product(pid(2)).await.unwrap().stock, changed.stock);
    let again = erp.sync_products(vec![newp]).await.unwrap();
    assert_eq!((again.created, again.unchanged), (0, 1));

    let mut cust = erp.get_customer("CU0000010".into()).await.unwrap();
    cust.name = "Renamed GmbH".into();
    let r = erp.sync_customers(vec![cust]).await.unwrap();
    assert_eq!((r.updated, r.failed), (1, 0));
    assert_eq!(erp.get_customer("CU0000010".into()).await.unwrap().name, "Renamed GmbH");

    let mut p9 = erp.get_product(pid(9)).await.unwrap();
    p9.name = "Bulk Renamed".into();
    let mut newc = erp.get_customer("CU0000011".into()).await.unwrap();
    newc.id = "EXT-C1".into();
    let b = erp.bulk_sync(BulkSyncRequest { products: vec![p9], customers: vec![newc] }).await.unwrap();
    assert_eq!((b.products.updated, b.customers.created), (1, 1));
    assert_eq!(erp.get_customer("EXT-C1".into()).await.unwrap().id, "EXT-C1");

    // The synced extra product streams after the generated ones.
    let cur = erp
        .open_products(ProductFilter {
            modified_since: None,
            category_id: None,
            name_contains: Some("synced product".into()),
            active_only: false,
        })
        .await
        .unwrap();
    let found = erp.next_products(cur, 10_000).await.unwrap();
    assert_eq!(found.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), vec!["EXT-0001"]);
}

#[tokio::test]
async fn crm_operations() {
    let h = TestHost::start().await;
    h.add_tenant("acme", &[("customerCount", "100"), ("contactsPerCustomer", "3")]).await;
    let crm = h.provider("acme", Crm);

    let c = crm.get_contact("CT00000004".into()).await.unwrap();
    assert_eq!(c.id, "CT00000004");
    assert_eq!(c.customer_id, "CU0000002", "contacts 4..6 belong to customer 2");
    assert!(c.email.contains('@') && !c.first_name.is_empty());
    not_found(crm.get_contact("CT00000301".into()).await);
    let cs = crm.get_contacts(vec!["CT00000300".into(), "nope".into()]).await.unwrap();
    assert_eq!(cs[0].as_ref().unwrap().customer_id, "CU0000100");
    assert!(cs[1].is_none());

    let acts = crm.get_activities("CU0000005".into(), 3).await.unwrap();
    assert_eq!(acts.len(), 3, "the limit, of more activities: {acts:?}");
    assert!(acts.iter().all(|a| a.customer_id == "CU0000005"));
    not_found(crm.get_activities("CU0000101".into(), 3).await);
    let batch =
        crm.get_activities_batch(vec!["CU0000005".into(), "CU9".into(), "CU0000006".into()], 100).await.unwrap();
    assert_eq!(batch.len(), 3);
    assert!(batch[1].is_none());
    // Without the limit of 3: more activities, and the limited answer is
    // their newest three.
    let all5 = batch[0].as_ref().unwrap();
    assert!(all5.len() > 3, "{all5:?}");
    let ids = |v: &[Activity]| v.iter().map(|a| a.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&all5[..3]), ids(&acts));
    let six = batch[2].as_ref().unwrap();
    assert!(!six.is_empty());
    assert!(six.iter().all(|a| a.customer_id == "CU0000006"));
}

#[tokio::test]
async fn pim_operations_and_catalog_paging() {
    let h = TestHost::start().await;
    h.add_tenant("acme", &[("productCount", "2500")]).await;
    let pim = h.provider("acme", Pim);

    let cats = pim.get_categories().await.unwrap();
    assert_eq!(cats.len(), 30);
    for (i, c) in cats.iter().enumerate() {
        if let Some(parent) = &c.parent_id {
            assert!(cats[..i].iter().any(|p| &p.id == parent), "parent of {} comes first", c.id);
            assert!(c.path.contains(" / "));
        }
    }

    let d = pim.get_product_details(pid(7)).await.unwrap();
    assert_eq!(d.product.id, "P00000007");
    assert_eq!(d.category_path.len(), 2);
    assert!(d.attributes.iter().any(|a| a.name == "EAN"));
    assert!(d.images[0].contains("P00000007"));
    not_found(pim.get_product_details(pid(2501)).await);

    let all = CatalogFilter { category_id: None, modified_since: None, search: None };
    let mut token = None;
    let mut ids = Vec::new();
    let mut pages = 0;
    loop {
        let page = pim.get_catalog(all.clone(), 1000, token.clone()).await.unwrap();
        pages += 1;
        ids.extend(page.items.into_iter().map(|d| d.product.id));
        match page.continuation {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(ids, (1..=2500).map(pid).collect::<Vec<_>>());
    match pim.get_catalog(all.clone(), 10, Some("garbage".into())).await {
        Err(CallError::Provider(ProviderError::InvalidInput(m))) => assert!(m.contains("garbage")),
        other => panic!("expected invalid-input, got {other:?}"),
    }

    let f = CatalogFilter { category_id: Some("CAT-03-02".into()), modified_since: None, search: None };
    let cur = pim.open_catalog(f).await.unwrap();
    let mut n = 0;
    loop {
        let b = pim.next_catalog(cur, 64).await.unwrap();
        if b.is_empty() {
            break;
        }
        assert!(b.len() <= 64, "a batch of {} for 64", b.len());
        assert!(b.iter().all(|d| d.product.category_id == "CAT-03-02"));
        n += b.len();
    }
    // One leaf of 24: about 104 of 2500 (exact: the data are deterministic).
    assert_eq!(n, CATALOG_LEAF, "catalog stream of one leaf");
}
