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

/// One record met by a scan: generated from its index (and not
/// overwritten), or written.
#[derive(Clone, Copy)]
enum Row<'a> {
    Generated(u64),
    Written(&'a Record),
}

/// A generated article's values, the one place they are derived from the
/// index (for the record and for its direct encoding).
struct Article {
    id: String,
    modified_at: i64,
    sku: String,
    name: String,
    description: String,
    group: &'static str,
    group_name: &'static str,
    price_minor: String,
    stock: String,
    active: &'static str,
}

impl Article {
    /// The fields in key order (as a `BTreeMap` holds and prost encodes them).
    fn fields(&self) -> [(&str, &str); 10] {
        [
            ("active", self.active),
            ("currency", "EUR"),
            ("description", &self.description),
            ("group", self.group),
            ("group_name", self.group_name),
            ("name", &self.name),
            ("price_minor", &self.price_minor),
            ("sku", &self.sku),
            ("stock", &self.stock),
            ("unit", "Stk"),
        ]
    }
}

fn article(i: u64) -> Article {
    let h = mix(i ^ 0xA57);
    let (group, group_name) = GROUPS[(h % GROUPS.len() as u64) as usize];
    let noun = NOUNS[((h >> 8) % NOUNS.len() as u64) as usize];
    let size = 3 + (h >> 16) % 40;
    Article {
        id: article_id(i),
        modified_at: EPOCH_MS - ((h >> 20) % (365 * DAY_MS as u64)) as i64,
        sku: format!("{group}-{i:07}"),
        name: format!("{noun} {size} mm"),
        description: format!("{noun} {size} mm, {group_name}"),
        group,
        group_name,
        price_minor: (99 + (h >> 24) % 50_000).to_string(),
        stock: ((h >> 40) % 2_000).to_string(),
        active: if (h >> 50).is_multiple_of(25) { "false" } else { "true" },
    }
}

/// Appends length-delimited field `tag` holding `bytes`.
fn delimited(tag: u32, bytes: &[u8], out: &mut Vec<u8>) {
    use enventa_proto::prost::encoding::{WireType, encode_key, encode_varint};
    encode_key(tag, WireType::LengthDelimited, out);
    encode_varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

/// `a` as the bytes of its `Record` message, the same bytes prost writes
/// for [`Store::generated_article`] (a test holds them equal).
fn encode_article(a: &Article, out: &mut Vec<u8>) {
    use enventa_proto::prost::encoding::{self, WireType};
    delimited(1, a.id.as_bytes(), out);
    encoding::uint64::encode(2, &1, out);
    encoding::int64::encode(3, &a.modified_at, out);
    for (k, v) in a.fields() {
        // Keys 1 and 2 take one byte each; no field is empty, so none is
        // left out as a default.
        let entry = 2
            + encoding::encoded_len_varint(k.len() as u64)
            + k.len()
            + encoding::encoded_len_varint(v.len() as u64)
            + v.len();
        encoding::encode_key(4, WireType::LengthDelimited, out);
        encoding::encode_varint(entry as u64, out);
        delimited(1, k.as_bytes(), out);
        delimited(2, v.as_bytes(), out);
    }
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
        let a = article(i);
        let f = a.fields().into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Record { id: a.id, row_version: 1, modified_at: a.modified_at, fields: f }
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

    /// The index of `id` among the generated records of `entity`, if it is one.
    fn generated_index(&self, entity: Entity, id: &str) -> Option<u64> {
        match entity {
            Entity::Article => index_of(id, 'A', 7, self.articles),
            Entity::Customer => index_of(id, 'K', 6, self.customers),
            Entity::Contact => index_of(id, 'C', 7, self.customers * CONTACTS_PER_CUSTOMER),
            Entity::ArticleGroup => TREE.iter().position(|(code, _, _)| id == *code).map(|p| p as u64 + 1),
            _ => None,
        }
    }

    fn generated(&self, entity: Entity, id: &str) -> Option<Record> {
        self.generated_index(entity, id).map(|i| self.generated_at(entity, i))
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

    /// The generated record of `entity` at index `i` (1-based).
    fn generated_at(&self, entity: Entity, i: u64) -> Record {
        match entity {
            Entity::Customer => self.generated_customer(i),
            Entity::Contact => self.generated_contact(i),
            Entity::ArticleGroup => self.generated_group(i),
            _ => self.generated_article(i),
        }
    }

    /// Walks the records of `entity` in id order after `after` (exclusive),
    /// handing each to `take`, which answers whether it took it, until
    /// `limit` were taken. Answers the id of the last record walked when
    /// more follow. Generated ids sort before written extras because both
    /// use fixed-width ids with the same prefix.
    fn walk<'a>(
        &'a self,
        entity: Entity,
        after: &str,
        limit: usize,
        take: &mut dyn FnMut(Row<'a>) -> bool,
    ) -> Option<String> {
        let written = self.written.get(&(entity as i32)).filter(|w| !w.is_empty());
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
        let mut last = None;
        let mut extras = written
            .map(|w| w.range::<String, _>((std::ops::Bound::Excluded(after.to_string()), std::ops::Bound::Unbounded)))
            .into_iter()
            .flatten()
            // Only an index check: building the generated twin of every
            // written record after `after` made each page cost O(written).
            .filter(|(id, _)| self.generated_index(entity, id).is_none())
            .peekable();
        let (mut taken, mut scanned) = (0usize, 0usize);
        while taken < limit && scanned < 5_000_000 {
            let next_gen = (i <= n).then_some(i);
            // Its id, needed only when there are written records (to order
            // the extras and to find its written twin); with an extra left
            // there are, so `gen_id` is then `None` only past the last.
            let gen_id = next_gen.filter(|_| written.is_some()).map(|g| Self::id_of(entity, g));
            let take_extra = match (&gen_id, extras.peek()) {
                (Some(g), Some((e, _))) => *e < g,
                (None, Some(_)) => true,
                (_, None) => false,
            };
            let row = if take_extra {
                let Some((_, r)) = extras.next() else { break };
                Row::Written(r)
            } else if let Some(g) = next_gen {
                i += 1;
                // A written record replaces its generated twin.
                match written.zip(gen_id).and_then(|(w, id)| w.get(&id)) {
                    Some(r) => Row::Written(r),
                    None => Row::Generated(g),
                }
            } else {
                break;
            };
            scanned += 1;
            last = Some(row);
            if take(row) {
                taken += 1;
            }
        }
        let more = i <= n || extras.peek().is_some();
        more.then(|| match last {
            Some(Row::Generated(g)) => Self::id_of(entity, g),
            Some(Row::Written(r)) => r.id.clone(),
            None => after.to_string(),
        })
    }

    /// Records in id order after `after` (exclusive), at most `limit`
    /// matching `keep`, and the id to continue after when more follow.
    pub fn scan(
        &self,
        entity: Entity,
        after: &str,
        limit: usize,
        keep: &dyn Fn(&Record) -> bool,
    ) -> (Vec<Record>, Option<String>) {
        let mut out = Vec::new();
        let last = self.walk(entity, after, limit, &mut |row| {
            let rec = match row {
                Row::Generated(i) => self.generated_at(entity, i),
                Row::Written(r) => r.clone(),
            };
            let keep = keep(&rec);
            if keep {
                out.push(rec);
            }
            keep
        });
        (out, last)
    }

    /// What [`Store::scan`] answers for a query without conditions (every
    /// record newer than `since`), appended to `out` already encoded as a
    /// Page's `records` fields (key, length, message). Generated articles
    /// are written straight to bytes: a stream of a million articles would
    /// otherwise spend most of the simulator's CPU building and dropping
    /// field maps, on the cores the host under test runs on.
    pub fn scan_encoded(
        &self,
        entity: Entity,
        after: &str,
        limit: usize,
        since: u64,
        out: &mut Vec<u8>,
    ) -> Option<String> {
        use enventa_proto::prost::Message;
        let mut one = Vec::with_capacity(512);
        self.walk(entity, after, limit, &mut |row| {
            let row_version = match row {
                Row::Generated(_) => 1,
                Row::Written(r) => r.row_version,
            };
            if row_version <= since {
                return false;
            }
            one.clear();
            match row {
                Row::Generated(i) if entity == Entity::Article => encode_article(&article(i), &mut one),
                Row::Generated(i) => self.generated_at(entity, i).encode_raw(&mut one),
                Row::Written(r) => r.encode_raw(&mut one),
            }
            delimited(1, &one, out);
            true
        })
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

#[cfg(test)]
mod tests {
    use super::*;
    use enventa_proto::prost::Message;
    use enventa_proto::v1::Page;

    #[test]
    fn a_generated_article_encodes_to_the_bytes_prost_writes_for_it() {
        let store = Store::new(2_000_000, 10);
        for i in (1..=3_000).chain([999_999, 1_000_000, 1_999_999]) {
            let mut direct = Vec::new();
            encode_article(&article(i), &mut direct);
            assert_eq!(direct, store.generated_article(i).encode_to_vec(), "article {i}");
        }
    }

    /// A store whose articles include overwritten generated ones and
    /// written extras past the generated range, and a written customer.
    fn written_store() -> (Store, u64) {
        let mut store = Store::new(40, 12);
        let rec = |id: &str, name: &str| Record {
            id: id.into(),
            fields: [("name".to_string(), name.to_string()), ("group".to_string(), "300".to_string())].into(),
            ..Default::default()
        };
        for (id, name) in
            [("A0000003", "renamed"), ("A0000040", "last renamed"), ("A0000077", "extra"), ("A0000041", "x")]
        {
            store.upsert(Entity::Article, rec(id, name), 5, true).unwrap();
        }
        let (_, _, middle) = store.upsert(Entity::Customer, rec("K000002", "renamed"), 6, true).unwrap();
        store.upsert(Entity::Article, rec("A0000010", "newest"), 7, true).unwrap();
        (store, middle)
    }

    #[test]
    fn scan_encoded_answers_the_bytes_of_scan_page_by_page() {
        let (store, middle) = written_store();
        for entity in [Entity::Article, Entity::Customer, Entity::Contact, Entity::ArticleGroup] {
            for limit in [1, 7, 100] {
                for since in [0, 1, middle] {
                    let keep = |r: &Record| r.row_version > since;
                    let (mut after, mut seen) = (String::new(), Vec::new());
                    loop {
                        let (records, last) = store.scan(entity, &after, limit, &keep);
                        seen.extend(records.iter().map(|r| r.id.clone()));
                        let mut direct = Vec::new();
                        let direct_last = store.scan_encoded(entity, &after, limit, since, &mut direct);
                        let what = format!("{entity:?} limit {limit} since {since} after {after:?}");
                        assert_eq!(direct, Page { records, continuation: String::new() }.encode_to_vec(), "{what}");
                        assert_eq!(direct_last, last, "{what}");
                        match last {
                            Some(l) => after = l,
                            None => break,
                        }
                    }
                    // The pages together are the whole scan, in order.
                    let (all, _) = store.scan(entity, "", usize::MAX, &keep);
                    assert_eq!(seen, all.iter().map(|r| r.id.clone()).collect::<Vec<_>>());
                }
            }
        }
    }

    #[test]
    fn a_scan_walks_written_records_in_id_order() {
        let (store, middle) = written_store();
        let (all, last) = store.scan(Entity::Article, "", 100, &|_| true);
        let ids: Vec<&str> = all.iter().map(|r| r.id.as_str()).collect();
        let mut want: Vec<String> = (1..=40).map(article_id).collect();
        want.extend(["A0000041".to_string(), "A0000077".to_string()]);
        assert_eq!(ids, want);
        assert_eq!(last, None);
        assert_eq!(all[2].fields["name"], "renamed");
        assert_eq!(all[2].fields["group_name"], "Elektro");
        // Newer than the customer write: only A0000010.
        let (newer, _) = store.scan(Entity::Article, "", 100, &|r| r.row_version > middle);
        assert_eq!(newer.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["A0000010"]);
        // A page ending on an extra continues after it.
        let (page, last) = store.scan(Entity::Article, "A0000040", 1, &|_| true);
        assert_eq!((page[0].id.as_str(), last.as_deref()), ("A0000041", Some("A0000041")));
    }
}
