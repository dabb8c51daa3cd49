//! The synthetic data set: every record is a pure function of
//! (seed, index), so ten million products cost no memory and the same tenant
//! configuration always yields the same data.

use crate::types::{ActivityKind, Address, Attribute, Category, Contact, Customer, Money, Product, ProductDetails};

/// 2026-01-01T00:00:00Z in ms: the "now" of the data set, fixed so that
/// modified-at filters select the same records on every run.
pub const EPOCH_MS: i64 = 1_767_225_600_000;
const DAY_MS: i64 = 86_400_000;

/// splitmix64: a tiny, well-mixed hash; enough to make neighbouring indices
/// look unrelated.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// FNV-1a, used to derive a default seed from the tenant id so that two
/// tenants see different (but each stable) data.
pub fn fnv1a(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn pick<'a>(h: u64, shift: u32, items: &[&'a str]) -> &'a str {
    items[((h >> shift) % items.len() as u64) as usize]
}

/// A root category with its children, the nouns used for product names in
/// it, and its sales unit.
struct RootCategory {
    name: &'static str,
    code: &'static str,
    unit: &'static str,
    children: [&'static str; 4],
    nouns: [&'static str; 6],
}

const ROOTS: [RootCategory; 6] = [
    RootCategory {
        name: "Fasteners",
        code: "FAS",
        unit: "pcs",
        children: ["Bolts", "Nuts", "Screws", "Washers"],
        nouns: ["Hex Bolt", "Lock Nut", "Wood Screw", "Flat Washer", "Threaded Rod", "Anchor"],
    },
    RootCategory {
        name: "Tools",
        code: "TOL",
        unit: "pcs",
        children: ["Hand Tools", "Power Tools", "Measuring", "Tool Storage"],
        nouns: ["Torque Wrench", "Cordless Drill", "Caliper", "Socket Set", "Angle Grinder", "Tool Case"],
    },
    RootCategory {
        name: "Electrical",
        code: "ELE",
        unit: "pcs",
        children: ["Cables", "Switches", "Lighting", "Fuses"],
        nouns: ["Power Cable", "Rocker Switch", "LED Panel", "Fuse Holder", "Junction Box", "Terminal Block"],
    },
    RootCategory {
        name: "Plumbing",
        code: "PLU",
        unit: "pcs",
        children: ["Pipes", "Valves", "Fittings", "Seals"],
        nouns: ["Copper Pipe", "Ball Valve", "Elbow Fitting", "O-Ring", "Pipe Clamp", "Check Valve"],
    },
    RootCategory {
        name: "Safety",
        code: "SAF",
        unit: "pcs",
        children: ["Gloves", "Eyewear", "Helmets", "Footwear"],
        nouns: ["Work Gloves", "Safety Glasses", "Hard Hat", "Safety Boots", "Ear Defender", "Hi-Vis Vest"],
    },
    RootCategory {
        name: "Raw Materials",
        code: "RAW",
        unit: "kg",
        children: ["Steel", "Aluminium", "Plastics", "Wood"],
        nouns: ["Steel Sheet", "Aluminium Profile", "PVC Granulate", "Beech Plank", "Brass Bar", "Copper Wire"],
    },
];

const ADJECTIVES: [&str; 8] =
    ["Heavy-Duty", "Compact", "Premium", "Standard", "Industrial", "Professional", "Lightweight", "Reinforced"];
const MATERIALS: [&str; 6] = ["Steel", "Stainless", "Galvanised", "Brass", "Nylon", "Aluminium"];
const COLORS: [&str; 6] = ["Black", "Silver", "Blue", "Red", "Yellow", "Natural"];
const ORIGINS: [&str; 5] = ["DE", "AT", "CH", "PL", "IT"];

/// Number of leaf categories; products are spread over these.
const LEAVES: u64 = (ROOTS.len() * 4) as u64;

/// Leaf category of a product, as (root index, child index).
fn leaf(idx_hash: u64) -> (usize, usize) {
    let l = (idx_hash % LEAVES) as usize;
    (l / 4, l % 4)
}

fn root_id(r: usize) -> String {
    format!("CAT-{:02}", r + 1)
}

fn leaf_id(r: usize, c: usize) -> String {
    format!("CAT-{:02}-{:02}", r + 1, c + 1)
}

/// The whole category tree, parents before children.
pub fn categories() -> Vec<Category> {
    let mut out = Vec::with_capacity(ROOTS.len() * 5);
    for (r, root) in ROOTS.iter().enumerate() {
        out.push(Category {
            id: root_id(r),
            name: root.name.to_string(),
            parent_id: None,
            path: root.name.to_string(),
        });
        for (c, child) in root.children.iter().enumerate() {
            out.push(Category {
                id: leaf_id(r, c),
                name: child.to_string(),
                parent_id: Some(root_id(r)),
                path: format!("{} / {}", root.name, child),
            });
        }
    }
    out
}

/// Does category `cat` (a root or leaf id) contain leaf (r, c)?
pub fn category_matches(cat: &str, r: usize, c: usize) -> bool {
    cat == root_id(r) || cat == leaf_id(r, c)
}

/// Category names from the root down for a category id, if it exists.
pub fn category_path(cat: &str) -> Option<Vec<String>> {
    categories().into_iter().find(|c| c.id == cat).map(|c| c.path.split(" / ").map(str::to_string).collect())
}

/// Parameters of one tenant's data set.
#[derive(Clone, Debug)]
pub struct DataSet {
    pub seed: u64,
    pub products: u64,
    pub customers: u64,
    pub contacts_per_customer: u64,
    pub currency: String,
}

/// Cheap per-product facts, computed without building strings, so filters
/// can reject most records of a scan before any allocation.
pub struct ProductFacts {
    pub hash: u64,
    pub root: usize,
    pub child: usize,
    pub active: bool,
    pub modified_at: i64,
}

pub fn product_id(idx: u64) -> String {
    format!("P{idx:08}")
}

/// Index of a generated id like "P00000042" (exact format only: "P42" is
/// not the same product).
fn parse_index(id: &str, prefix: &str, digits: usize) -> Option<u64> {
    let rest = id.strip_prefix(prefix)?;
    if rest.len() != digits || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    rest.parse().ok()
}

impl DataSet {
    pub fn product_index(&self, id: &str) -> Option<u64> {
        parse_index(id, "P", 8).filter(|&i| i >= 1 && i <= self.products)
    }

    pub fn customer_index(&self, id: &str) -> Option<u64> {
        parse_index(id, "CU", 7).filter(|&i| i >= 1 && i <= self.customers)
    }

    pub fn contact_index(&self, id: &str) -> Option<u64> {
        parse_index(id, "CT", 8).filter(|&i| i >= 1 && i <= self.customers * self.contacts_per_customer)
    }

    fn h(&self, kind: u64, idx: u64) -> u64 {
        mix(self.seed ^ kind.wrapping_mul(0x1000_0000_0000_0001) ^ mix(idx))
    }

    pub fn product_facts(&self, idx: u64) -> ProductFacts {
        let hash = self.h(1, idx);
        let (root, child) = leaf(hash);
        ProductFacts {
            hash,
            root,
            child,
            active: !(hash >> 8).is_multiple_of(20),
            modified_at: EPOCH_MS - ((hash >> 16) % (365 * DAY_MS as u64)) as i64,
        }
    }

    pub fn product(&self, idx: u64) -> Product {
        let f = self.product_facts(idx);
        let root = &ROOTS[f.root];
        let h = f.hash;
        let noun = pick(h, 24, &root.nouns);
        let size = 4 + (h >> 40) % 60;
        let name = format!(
            "{} {} {} {}",
            pick(h, 32, &ADJECTIVES),
            pick(h, 36, &MATERIALS),
            noun,
            if root.unit == "kg" { format!("{size} mm") } else { format!("M{size}") }
        );
        Product {
            id: product_id(idx),
            sku: format!("{}-{:07}", root.code, idx),
            description: format!(
                "{name} for {} applications, {} finish.",
                root.children[f.child].to_lowercase(),
                pick(h, 44, &COLORS).to_lowercase()
            ),
            name,
            category_id: leaf_id(f.root, f.child),
            price: Money { amount_minor: 49 + ((h >> 12) % 250_000) as i64, currency: self.currency.clone() },
            stock: ((h >> 48) % 5_000) as i64,
            unit: root.unit.to_string(),
            active: f.active,
            modified_at: f.modified_at,
        }
    }

    pub fn details(&self, p: Product) -> ProductDetails {
        let h = mix(fnv1a(&p.id) ^ self.seed);
        let category_path = category_path(&p.category_id).unwrap_or_default();
        ProductDetails {
            long_description: format!(
                "{} The {} is stocked in {} and ships within {} working days. Sold per {}.",
                p.description,
                p.name,
                category_path.join(" / "),
                1 + h % 5,
                p.unit
            ),
            attributes: vec![
                Attribute { name: "Material".into(), value: pick(h, 8, &MATERIALS).into() },
                Attribute { name: "Colour".into(), value: pick(h, 16, &COLORS).into() },
                Attribute { name: "Weight".into(), value: format!("{} g", 5 + (h >> 24) % 5_000) },
                Attribute { name: "Country of origin".into(), value: pick(h, 40, &ORIGINS).into() },
                Attribute { name: "EAN".into(), value: format!("40{:011}", (h >> 20) % 100_000_000_000) },
            ],
            images: vec![
                format!("https://media.example.com/products/{}/main.jpg", p.id),
                format!("https://media.example.com/products/{}/detail-1.jpg", p.id),
            ],
            category_path,
            product: p,
        }
    }

    pub fn customer_modified(&self, idx: u64) -> i64 {
        EPOCH_MS - ((self.h(2, idx) >> 16) % (365 * DAY_MS as u64)) as i64
    }

    pub fn customer(&self, idx: u64) -> Customer {
        const PREFIX: [&str; 8] = ["Nord", "Süd", "Rhein", "Alpen", "Hansa", "Main", "Elb", "Donau"];
        const TRADE: [&str; 6] = ["Bau", "Technik", "Handel", "Metall", "Haustechnik", "Industriebedarf"];
        const FORM: [&str; 4] = ["GmbH", "AG", "GmbH & Co. KG", "e.K."];
        const CITIES: [(&str, &str, &str); 8] = [
            ("Hamburg", "20095", "DE"),
            ("München", "80331", "DE"),
            ("Köln", "50667", "DE"),
            ("Wien", "1010", "AT"),
            ("Zürich", "8001", "CH"),
            ("Stuttgart", "70173", "DE"),
            ("Leipzig", "04109", "DE"),
            ("Graz", "8010", "AT"),
        ];
        const STREETS: [&str; 6] =
            ["Hauptstraße", "Industriestraße", "Bahnhofstraße", "Gewerbering", "Hafenweg", "Lindenallee"];
        let h = self.h(2, idx);
        let name = format!("{}{} {}", pick(h, 8, &PREFIX), pick(h, 12, &TRADE).to_lowercase(), pick(h, 16, &FORM));
        let (city, zip, country) = CITIES[((h >> 20) % CITIES.len() as u64) as usize];
        let domain: String = name
            .split_whitespace()
            .next()
            .unwrap_or("kunde")
            .to_lowercase()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect();
        Customer {
            id: format!("CU{idx:07}"),
            number: format!("{}", 100_000 + idx),
            email: format!("einkauf@{domain}-{idx}.example"),
            phone: format!("+49 {} {}", 30 + (h >> 24) % 900, 100_000 + (h >> 32) % 900_000),
            address: Address {
                street: format!("{} {}", pick(h, 28, &STREETS), 1 + (h >> 36) % 180),
                postal_code: zip.to_string(),
                city: city.to_string(),
                country: country.to_string(),
            },
            credit_limit: Money {
                amount_minor: (5 + ((h >> 40) % 96) as i64) * 100_000,
                currency: self.currency.clone(),
            },
            active: !(h >> 4).is_multiple_of(25),
            modified_at: self.customer_modified(idx),
            name,
        }
    }

    pub fn contact(&self, idx: u64) -> Contact {
        const FIRST: [&str; 10] = ["Anna", "Lukas", "Marie", "Jonas", "Sophie", "Felix", "Laura", "Paul", "Lea", "Max"];
        const LAST: [&str; 10] =
            ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Hoffmann", "Koch"];
        const ROLES: [&str; 5] = ["Purchasing", "Managing Director", "Accounting", "Logistics", "Technical Lead"];
        let h = self.h(3, idx);
        let customer = (idx - 1) / self.contacts_per_customer + 1;
        let first = pick(h, 8, &FIRST);
        let last = pick(h, 16, &LAST);
        Contact {
            id: format!("CT{idx:08}"),
            customer_id: format!("CU{customer:07}"),
            email: format!("{}.{}@cu{customer}.example", first.to_lowercase(), last.to_lowercase().replace('ü', "ue")),
            phone: format!("+49 {} {}", 30 + (h >> 24) % 900, 100_000 + (h >> 32) % 900_000),
            role: pick(h, 40, &ROLES).to_string(),
            modified_at: EPOCH_MS - ((h >> 20) % (365 * DAY_MS as u64)) as i64,
            first_name: first.to_string(),
            last_name: last.to_string(),
        }
    }

    /// Generated activities of a customer: (kind, subject, occurred-at,
    /// contact index), newest first.
    pub fn activities(&self, customer: u64) -> Vec<(ActivityKind, String, i64, Option<u64>)> {
        let h = self.h(4, customer);
        let n = h % 9;
        let mut out: Vec<_> = (0..n)
            .map(|i| {
                let a = mix(h ^ i);
                let (kind, subject) = match a % 4 {
                    0 => (ActivityKind::Call, "Follow-up call on open quote"),
                    1 => (ActivityKind::Email, "Price list requested"),
                    2 => (ActivityKind::Meeting, "Annual framework agreement review"),
                    _ => (ActivityKind::Note, "Prefers delivery before 10 am"),
                };
                let contact = (self.contacts_per_customer > 0)
                    .then(|| (customer - 1) * self.contacts_per_customer + 1 + (a >> 8) % self.contacts_per_customer);
                (kind, subject.to_string(), EPOCH_MS - ((a >> 16) % (180 * DAY_MS as u64)) as i64, contact)
            })
            .collect();
        // Newest first.
        out.sort_by_key(|a| std::cmp::Reverse(a.2));
        out
    }
}

#[cfg(test)]
mod tests {
    //! The data set's own rules, natively (`cd plugins && cargo test`).
    use super::*;

    fn set(products: u64) -> DataSet {
        DataSet { seed: 7, products, customers: 10, contacts_per_customer: 2, currency: "EUR".into() }
    }

    #[test]
    fn ids_round_trip_and_only_the_exact_format_is_a_product() {
        let d = set(1000);
        for i in [1, 42, 1000] {
            assert_eq!(d.product_index(&product_id(i)), Some(i));
        }
        for bad in ["P42", "P00001001", "P0000000x", "", "p00000001", "P00000000"] {
            assert_eq!(d.product_index(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn categories_come_parents_first_and_every_path_ends_in_its_name() {
        let cats = categories();
        assert_eq!(cats.len(), ROOTS.len() * 5);
        for (i, c) in cats.iter().enumerate() {
            if let Some(p) = &c.parent_id {
                assert!(cats[..i].iter().any(|x| &x.id == p), "{} before its parent {p}", c.id);
            }
            let path = category_path(&c.id).unwrap();
            assert_eq!(path.last(), Some(&c.name));
            assert_eq!(path.len(), if c.parent_id.is_some() { 2 } else { 1 });
        }
        assert_eq!(category_path("CAT-99"), None);
    }

    #[test]
    fn products_are_the_same_for_the_same_seed_and_differ_between_seeds() {
        let (a, b) = (set(10), DataSet { seed: 8, ..set(10) });
        assert_eq!(a.product(3).name, a.product(3).name);
        assert_eq!(a.product(3).id, "P00000003");
        assert!((1..=10).any(|i| a.product(i).name != b.product(i).name));
    }
}
