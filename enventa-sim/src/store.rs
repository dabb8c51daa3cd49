//! The simulated ERP data: articles and customers generated from their
//! index (1 000 000 articles cost no memory), plus everything written by
//! upserts and orders, with row versions for delta reads.

use enventa_proto::v1::{Entity, Record};
use std::collections::{BTreeMap, HashMap};

/// 2026-01-01T00:00:00Z in ms: the data set's fixed "now".
const EPOCH_MS: i64 = 1_767_225_600_000;
const DAY_MS: i64 = 86_400_000;

fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The article group tree: (code, name, parent code), ordered by code as
/// the protocol orders records. Articles belong to the leaves.
const TREE: [(&str, &str, &str); 8] = [
    ("1", "Technik", ""),
    ("100", "Befestigungstechnik", "1"),
    ("2", "Haus und Betrieb", ""),
    ("200", "Werkzeuge", "1"),
    ("300", "Elektro", "1"),
    ("400", "Sanitär", "2"),
    ("500", "Arbeitsschutz", "2"),
    ("600", "Rohstoffe", "2"),
];
/// The leaf groups articles are spread over.
const GROUPS: [(&str, &str); 6] = [
    ("100", "Befestigungstechnik"),
    ("200", "Werkzeuge"),
    ("300", "Elektro"),
    ("400", "Sanitär"),
    ("500", "Arbeitsschutz"),
    ("600", "Rohstoffe"),
];

/// A group's path: names from the root, joined by " / " (spec §3.7).
fn group_path(code: &str) -> String {
    let mut names = Vec::new();
    let mut at = code;
    while let Some((_, name, parent)) = TREE.iter().find(|(c, _, _)| *c == at) {
        names.push(*name);
        at = parent;
    }
    names.reverse();
    names.join(" / ")
}
const NOUNS: [&str; 8] = ["Sechskantschraube", "Mutter", "Dübel", "Bohrer", "Kabel", "Kugelhahn", "Handschuh", "Blech"];

pub fn article_id(i: u64) -> String {
    format!("A{i:07}")
}

pub fn customer_id(i: u64) -> String {
    format!("K{i:06}")
}

/// Contacts per customer in the synthetic data set.
pub const CONTACTS_PER_CUSTOMER: u64 = 2;

pub fn contact_id(i: u64) -> String {
    format!("C{i:07}")
}

fn index_of(id: &str, prefix: char, digits: usize, max: u64) -> Option<u64> {
    let rest = id.strip_prefix(prefix)?;
    if rest.len() != digits || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    rest.parse().ok().filter(|&i| i >= 1 && i <= max)
}

pub struct Store {
    pub articles: u64,
    pub customers: u64,
    /// Written records by entity and id (replace generated ones).
    written: HashMap<i32, BTreeMap<String, Record>>,
    /// Highest row version handed out; generated records have version 1.
    row_version: u64,
    orders: Vec<(Record, Vec<Record>)>,
}

impl Store {
    pub fn new(articles: u64, customers: u64) -> Self {
        Self { articles, customers, written: HashMap::new(), row_version: 1, orders: Vec::new() }
    }

    fn generated_article(&self, i: u64) -> Record {
        let h = mix(i ^ 0xA57);
        let (group, group_name) = GROUPS[(h % GROUPS.len() as u64) as usize];
        let noun = NOUNS[((h >> 8) % NOUNS.len() as u64) as usize];
        let size = 3 + (h >> 16) % 40;
        let mut f = BTreeMap::new();
        f.insert("sku".into(), format!("{group}-{i:07}"));
        f.insert("name".into(), format!("{noun} {size} mm"));
        f.insert("description".into(), format!("{noun} {size} mm, {group_name}"));
        f.insert("group".into(), group.into());
        f.insert("group_name".into(), group_name.into());
        f.insert("price_minor".into(), (99 + (h >> 24) % 50_000).to_string());
        f.insert("currency".into(), "EUR".into());
        f.insert("stock".into(), ((h >> 40) % 2_000).to_string());
        f.insert("unit".into(), "Stk".into());
        f.insert("active".into(), (!(h >> 50).is_multiple_of(25)).to_string());
        Record {
            id: article_id(i),
            row_version: 1,
            modified_at: EPOCH_MS - ((h >> 20) % (365 * DAY_MS as u64)) as i64,
            fields: f,
        }
    }

    fn generated_customer(&self, i: u64) -> Record {
        let h = mix(i ^ 0xC05);
        const CITIES: [(&str, &str); 4] =
            [("Hamburg", "20095"), ("Köln", "50667"), ("München", "80331"), ("Leipzig", "04109")];
        let (city, zip) = CITIES[(h % 4) as usize];
        let mut f = BTreeMap::new();
        f.insert("number".into(), format!("{}", 10_000 + i));
        f.insert("name".into(), format!("Kunde {i} GmbH"));
        f.insert("email".into(), format!("einkauf@kunde{i}.example"));
        f.insert("phone".into(), format!("+49 40 {}", 100_000 + (h >> 8) % 900_000));
        f.insert("street".into(), format!("Industriestraße {}", 1 + (h >> 20) % 150));
        f.insert("postal_code".into(), zip.into());
        f.insert("city".into(), city.into());
        f.insert("country".into(), "DE".into());
        f.insert("credit_limit_minor".into(), ((10 + (h >> 30) % 90) * 100_000).to_string());
        f.insert("currency".into(), "EUR".into());
        f.insert("active".into(), "true".into());
        Record {
            id: customer_id(i),
            row_version: 1,
            modified_at: EPOCH_MS - ((h >> 24) % (365 * DAY_MS as u64)) as i64,
            fields: f,
        }
    }

    fn generated_contact(&self, i: u64) -> Record {
        const FIRST: [&str; 6] = ["Anna", "Jonas", "Marie", "Felix", "Lea", "Paul"];
        const LAST: [&str; 6] = ["Schmidt", "Weber", "Becker", "Wagner", "Koch", "Richter"];
        const ROLES: [&str; 3] = ["Einkauf", "Geschäftsführung", "Buchhaltung"];
        let h = mix(i ^ 0xC0C);
        let customer = (i - 1) / CONTACTS_PER_CUSTOMER + 1;
        let (first, last) = (FIRST[(h % 6) as usize], LAST[((h >> 8) % 6) as usize]);
        let mut f = BTreeMap::new();
        f.insert("customer_id".into(), customer_id(customer));
        f.insert("first_name".into(), first.into());
        f.insert("last_name".into(), last.into());
        f.insert("email".into(), format!("{}.{}@kunde{customer}.example", first.to_lowercase(), last.to_lowercase()));
        f.insert("phone".into(), format!("+49 40 {}", 200_000 + (h >> 16) % 700_000));
        f.insert("role".into(), ROLES[((h >> 32) % 3) as usize].into());
        Record {
            id: contact_id(i),
            row_version: 1,
            modified_at: EPOCH_MS - ((h >> 24) % (365 * DAY_MS as u64)) as i64,
            fields: f,
        }
    }

    fn generated_group(&self, i: u64) -> Record {
        let (code, name, parent) = TREE[(i - 1) as usize];
        let mut f = BTreeMap::new();
        f.insert("name".into(), name.into());
        f.insert("parent_id".into(), parent.into());
        f.insert("path".into(), group_path(code));
        Record { id: code.into(), row_version: 1, modified_at: EPOCH_MS, fields: f }
    }

    fn generated(&self, entity: Entity, id: &str) -> Option<Record> {
        match entity {
            Entity::Article => index_of(id, 'A', 7, self.articles).map(|i| self.generated_article(i)),
            Entity::Customer => index_of(id, 'K', 6, self.customers).map(|i| self.generated_customer(i)),
            Entity::Contact => {
                index_of(id, 'C', 7, self.customers * CONTACTS_PER_CUSTOMER).map(|i| self.generated_contact(i))
            }
            Entity::ArticleGroup => {
                TREE.iter().position(|(code, _, _)| id == *code).map(|p| self.generated_group(p as u64 + 1))
            }
            _ => None,
        }
    }

    pub fn get(&self, entity: Entity, id: &str) -> Option<Record> {
        self.written.get(&(entity as i32)).and_then(|m| m.get(id)).cloned().or_else(|| self.generated(entity, id))
    }

    fn count(&self, entity: Entity) -> u64 {
        match entity {
            Entity::Article => self.articles,
            Entity::Customer => self.customers,
            Entity::Contact => self.customers * CONTACTS_PER_CUSTOMER,
            Entity::ArticleGroup => TREE.len() as u64,
            _ => 0,
        }
    }

    fn id_of(entity: Entity, i: u64) -> String {
        match entity {
            Entity::Customer => customer_id(i),
            Entity::Contact => contact_id(i),
            Entity::ArticleGroup => TREE[(i - 1) as usize].0.to_string(),
            _ => article_id(i),
        }
    }

    /// Records in id order after `after` (exclusive), at most `limit`
    /// matching `keep`. Generated ids sort before written extras because
    /// both use fixed-width ids with the same prefix.
    pub fn scan(
        &self,
        entity: Entity,
        after: &str,
        limit: usize,
        keep: &dyn Fn(&Record) -> bool,
    ) -> (Vec<Record>, Option<String>) {
        let mut out = Vec::new();
        let written = self.written.get(&(entity as i32));
        // Merge generated ids (in order) with written ones (BTreeMap order).
        let n = self.count(entity);
        let pos = match entity {
            Entity::Article => index_of(after, 'A', 7, u64::MAX),
            Entity::Customer => index_of(after, 'K', 6, u64::MAX),
            Entity::Contact => index_of(after, 'C', 7, u64::MAX),
            Entity::ArticleGroup => TREE.iter().position(|(code, _, _)| after == *code).map(|p| p as u64 + 1),
            _ => Some(n),
        };
        let start = pos.map(|i| i + 1).unwrap_or(if after.is_empty() { 1 } else { n + 1 });
        let mut i = start;
        let mut last = after.to_string();
        let mut extras = written
            .map(|w| w.range::<String, _>((std::ops::Bound::Excluded(after.to_string()), std::ops::Bound::Unbounded)))
            .into_iter()
            .flatten()
            .filter(|(id, _)| self.generated(entity, id).is_none())
            .peekable();
        let mut scanned = 0usize;
        while out.len() < limit && scanned < 5_000_000 {
            let next_gen = (i <= n).then(|| Self::id_of(entity, i));
            let take_extra = match (&next_gen, extras.peek()) {
                (Some(g), Some((e, _))) => *e < g,
                (None, Some(_)) => true,
                (_, None) => false,
            };
            let rec = if take_extra {
                extras.next().map(|(_, r)| r.clone())
            } else if let Some(g) = next_gen {
                i += 1;
                self.get(entity, &g)
            } else {
                break;
            };
            let Some(rec) = rec else { break };
            scanned += 1;
            last = rec.id.clone();
            if keep(&rec) {
                out.push(rec);
            }
        }
        let more = i <= n || extras.peek().is_some();
        (out, more.then_some(last))
    }

    /// Inserts or merges one record (fields not sent keep their stored
    /// value); returns (created, unchanged, row version). Derived fields
    /// (an article's `group_name`) are set from their source.
    /// `merge` false replaces all fields (a deliberately broken variant).
    pub fn upsert(
        &mut self,
        entity: Entity,
        rec: Record,
        now_ms: i64,
        merge: bool,
    ) -> Result<(bool, bool, u64), String> {
        let existing = self.get(entity, &rec.id);
        let mut fields = existing.as_ref().filter(|_| merge).map(|e| e.fields.clone()).unwrap_or_default();
        fields.extend(rec.fields);
        if entity == Entity::Article {
            let group = fields.get("group").cloned().unwrap_or_default();
            let name = TREE.iter().find(|(code, _, _)| *code == group).map(|(_, n, _)| *n);
            match name {
                Some(n) => fields.insert("group_name".into(), n.into()),
                None if group.is_empty() => fields.insert("group_name".into(), String::new()),
                None => return Err(format!("article group {group:?} does not exist")),
            };
        }
        if let Some(e) = &existing
            && e.fields == fields
        {
            return Ok((false, true, e.row_version));
        }
        self.row_version += 1;
        let rec = Record { id: rec.id, row_version: self.row_version, modified_at: now_ms, fields };
        let created = existing.is_none();
        self.written.entry(entity as i32).or_default().insert(rec.id.clone(), rec);
        Ok((created, false, self.row_version))
    }

    pub fn next_row_version(&mut self) -> u64 {
        self.row_version += 1;
        self.row_version
    }

    pub fn orders(&mut self) -> &mut Vec<(Record, Vec<Record>)> {
        &mut self.orders
    }
}
