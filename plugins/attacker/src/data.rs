//! The plausible, well-formed data set that every operation not used by the
//! active mode serves, so that the host's tests can tell an attack apart from
//! normal service. Products, customers and contacts have ids "A1".."A50".

use crate::b2connect::provider::types::{
    Activity, ActivityKind, Address, Attribute, Category, Contact, Customer, Money, Product, ProductDetails,
};
use crate::settings;

/// Number of products, customers and contacts ("A1".."A50").
pub const RECORDS: u32 = 50;

/// 2026-01-01T00:00:00Z in milliseconds since the epoch.
const BASE_MS: i64 = 1_767_225_600_000;

/// The categories: (id, name, parent, path).
const CATEGORIES: [(&str, &str, Option<&str>, &str); 4] = [
    ("C1", "Tools", None, "Tools"),
    ("C2", "Hand tools", Some("C1"), "Tools / Hand tools"),
    ("C3", "Power tools", Some("C1"), "Tools / Power tools"),
    ("C4", "Fasteners", None, "Fasteners"),
];

/// The index 1..=50 of a known id "A1".."A50", none otherwise.
pub fn index_of(id: &str) -> Option<u32> {
    let n: u32 = id.strip_prefix('A')?.parse().ok()?;
    // Reject "A01" and the like: only the canonical spelling is known.
    ((1..=RECORDS).contains(&n) && format!("A{n}") == id).then_some(n)
}

/// A record timestamp. Under `over-limit` every record alternates between
/// `i64::MIN` and `i64::MAX`, neither of which is representable as RFC 3339.
pub fn stamp(i: u32) -> i64 {
    if settings().mode == crate::Mode::OverLimit {
        if i.is_multiple_of(2) { i64::MIN } else { i64::MAX }
    } else {
        BASE_MS + i64::from(i) * 3_600_000
    }
}

pub fn eur(amount_minor: i64) -> Money {
    Money { amount_minor, currency: "EUR".to_string() }
}

fn category_of(i: u32) -> &'static (&'static str, &'static str, Option<&'static str>, &'static str) {
    // Products live in the leaf categories C2, C3 and C4.
    &CATEGORIES[1 + (i as usize % 3)]
}

pub fn unit_price(i: u32) -> i64 {
    1000 + i64::from(i) * 10
}

/// Product number `i` (1..=50) of the data set.
pub fn product(i: u32) -> Product {
    Product {
        id: format!("A{i}"),
        sku: format!("SKU-{i:04}"),
        name: format!("Product {i}"),
        description: format!("Sturdy product number {i} for everyday use."),
        category_id: category_of(i).0.to_string(),
        price: eur(unit_price(i)),
        stock: i64::from(i) * 3,
        unit: "pcs".to_string(),
        active: !i.is_multiple_of(7),
        modified_at: stamp(i),
    }
}

/// The product with `id`, or a plausible made-up one carrying `id`.
pub fn product_for(id: &str) -> Product {
    match index_of(id) {
        Some(i) => product(i),
        None => Product { id: id.to_string(), ..product(1) },
    }
}

/// Customer number `i` (1..=50) of the data set.
pub fn customer(i: u32) -> Customer {
    let country = ["DE", "AT", "CH"][i as usize % 3];
    Customer {
        id: format!("A{i}"),
        number: format!("K{}", 10_000 + i),
        name: format!("Customer {i} GmbH"),
        email: format!("info@customer{i}.example"),
        phone: format!("+49 30 {:07}", 1_000_000 + i),
        address: Address {
            street: format!("Hauptstrasse {i}"),
            postal_code: format!("{}", 10_000 + i * 7),
            city: ["Berlin", "Wien", "Zuerich"][i as usize % 3].to_string(),
            country: country.to_string(),
        },
        credit_limit: eur(1_000_000 + i64::from(i) * 50_000),
        active: !i.is_multiple_of(11),
        modified_at: stamp(i),
    }
}

pub fn customer_for(id: &str) -> Customer {
    match index_of(id) {
        Some(i) => customer(i),
        None => Customer { id: id.to_string(), ..customer(1) },
    }
}

/// Contact number `i` (1..=50); works for customer "A{i}".
pub fn contact(i: u32) -> Contact {
    Contact {
        id: format!("A{i}"),
        customer_id: format!("A{i}"),
        first_name: ["Anna", "Ben", "Clara", "David"][i as usize % 4].to_string(),
        last_name: format!("Muster{i}"),
        email: format!("contact{i}@customer{i}.example"),
        phone: format!("+49 30 {:07}", 2_000_000 + i),
        role: ["Purchasing", "Accounting", "Management"][i as usize % 3].to_string(),
        modified_at: stamp(i),
    }
}

pub fn contact_for(id: &str) -> Contact {
    match index_of(id) {
        Some(i) => contact(i),
        None => Contact { id: id.to_string(), ..contact(1) },
    }
}

/// Activity `k` of customer `customer_id`; `k` = 0 is the newest.
pub fn activity(customer_id: &str, k: u32) -> Activity {
    let kinds =
        [ActivityKind::Call, ActivityKind::Email, ActivityKind::Meeting, ActivityKind::Note, ActivityKind::Order];
    let seq = index_of(customer_id).unwrap_or(0);
    Activity {
        id: format!("ACT-{customer_id}-{k}"),
        customer_id: customer_id.to_string(),
        contact_id: index_of(customer_id).map(|i| format!("A{i}")),
        kind: kinds[k as usize % kinds.len()],
        subject: format!("Follow-up {k} with {customer_id}"),
        // Newest first: occurred-at decreases with k.
        occurred_at: match settings().mode {
            crate::Mode::OverLimit => stamp(k),
            _ => BASE_MS + i64::from(seq) * 86_400_000 - i64::from(k) * 3_600_000,
        },
    }
}

/// Activities a known customer has (newest first).
pub const ACTIVITIES_PER_CUSTOMER: u32 = 3;

/// The normal activity list of `customer_id`: none for an unknown customer.
pub fn activities(customer_id: &str, limit: u32) -> Option<Vec<Activity>> {
    index_of(customer_id)?;
    Some((0..ACTIVITIES_PER_CUSTOMER.min(limit)).map(|k| activity(customer_id, k)).collect())
}

/// The category tree, parents before children.
pub fn categories() -> Vec<Category> {
    CATEGORIES
        .iter()
        .map(|(id, name, parent, path)| Category {
            id: id.to_string(),
            name: name.to_string(),
            parent_id: parent.map(str::to_string),
            path: path.to_string(),
        })
        .collect()
}

/// Product `i` with its PIM content.
pub fn details(i: u32) -> ProductDetails {
    let product = product(i);
    let category = category_of(i);
    ProductDetails {
        long_description: format!("{} is made of hardened steel and ships in a reusable case.", product.name),
        attributes: vec![
            Attribute { name: "Material".to_string(), value: "Steel".to_string() },
            Attribute { name: "Weight".to_string(), value: format!("{} g", 100 + i * 5) },
        ],
        images: vec![format!("https://img.example/A{i}/main.jpg")],
        category_path: category.3.split(" / ").map(str::to_string).collect(),
        product,
    }
}

/// Whether product `i` passes a catalog / product filter.
pub fn product_matches(
    i: u32,
    modified_since: Option<i64>,
    category_id: Option<&str>,
    text: Option<&str>,
    active_only: bool,
) -> bool {
    let p = product(i);
    let category = category_of(i);
    if modified_since.is_some_and(|t| p.modified_at < t) {
        return false;
    }
    if let Some(c) = category_id
        && category.0 != c
        && category.2 != Some(c)
    {
        return false;
    }
    if let Some(t) = text {
        let t = t.to_lowercase();
        if !p.name.to_lowercase().contains(&t) && !p.sku.to_lowercase().contains(&t) {
            return false;
        }
    }
    !active_only || p.active
}

/// Whether customer `i` passes a customer filter.
pub fn customer_matches(
    i: u32,
    modified_since: Option<i64>,
    name_contains: Option<&str>,
    country: Option<&str>,
) -> bool {
    let c = customer(i);
    if modified_since.is_some_and(|t| c.modified_at < t) {
        return false;
    }
    if name_contains.is_some_and(|n| !c.name.to_lowercase().contains(&n.to_lowercase())) {
        return false;
    }
    country.is_none_or(|k| c.address.country.eq_ignore_ascii_case(k))
}
