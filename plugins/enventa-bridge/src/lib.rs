//! enventa-bridge: the provider for enventa Trade ERP.
//!
//! It implements the provider interfaces by speaking the enventa wire
//! protocol (`proto/enventa.proto`, `docs/enventa-protocol.md`) to the
//! tenant's .NET container through the host's `socket` capability.
//!
//! - `session.rs`: connection, Hello/Login, one request at a time, reconnect.
//! - this file: the operations and the mapping between enventa records and
//!   the contract's types.
//!
//! What the ERP data can serve: every ERP operation; for CRM, contacts
//! (the ERP's customer contact persons); for PIM, product details, catalog
//! pages and streams (from articles) and categories (article groups).
//! CRM activities are not kept in the ERP tables this protocol exposes:
//! `get-activities` and `get-activities-batch` answer `unsupported`, so a
//! tenant that needs them binds CRM to another plugin.
//!
//! Settings (binding `config`): `enventaUser`, `enventaPassword`,
//! `enventaMandant`, `syncBatchSize` (records per Upsert, default 1000,
//! at most 1000; a value that does not parse is `invalid-input` naming the
//! key, by the SDK's settings rule).

// Natively (the unit tests) `export_provider!` emits no exports, so the
// operations look unused there.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code, unused_imports))]

mod session;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use b2connect_provider::cursor::Source;
use b2connect_provider::types::*;
use b2connect_provider::{Context, CrmProvider, Cursor, ErpProvider, PimProvider, Provider, export_provider, warn};
use enventa_proto::prost::Message;
use enventa_proto::v1::{self, Entity, condition, request, response};
use enventa_proto::view::{PageView, RecordRef};
use session::Session;

thread_local! {
    static SESSION: RefCell<Session> = RefCell::new(Session::new());
}

fn with_session<R>(f: impl FnOnce(&mut Session) -> Result<R, ProviderError>) -> Result<R, ProviderError> {
    SESSION.with(|s| f(&mut s.borrow_mut()))
}

fn unexpected<T>(what: &str) -> Result<T, ProviderError> {
    Err(ProviderError::Internal(format!("unexpected answer to {what}")))
}

/// What the mappings read of a record: one prost decoded (an answer to
/// GetByIds) or one read in place from a page ([`RecordRef`]).
trait Fields {
    fn id(&self) -> &str;
    fn modified_at(&self) -> i64;
    /// The value of each of `keys`, in one pass.
    fn pick<const N: usize>(&self, keys: [&str; N]) -> [Option<&str>; N];
    /// Every field by key (the last one sent wins), in key order.
    fn sorted(&self) -> BTreeMap<&str, &str>;
}

impl Fields for v1::Record {
    fn id(&self) -> &str {
        &self.id
    }
    fn modified_at(&self) -> i64 {
        self.modified_at
    }
    fn pick<const N: usize>(&self, keys: [&str; N]) -> [Option<&str>; N] {
        keys.map(|k| self.fields.get(k).map(String::as_str))
    }
    fn sorted(&self) -> BTreeMap<&str, &str> {
        self.fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
    }
}

impl Fields for RecordRef<'_> {
    fn id(&self) -> &str {
        RecordRef::id(self)
    }
    fn modified_at(&self) -> i64 {
        RecordRef::modified_at(self)
    }
    fn pick<const N: usize>(&self, keys: [&str; N]) -> [Option<&str>; N] {
        RecordRef::pick(self, keys)
    }
    fn sorted(&self) -> BTreeMap<&str, &str> {
        self.entries().collect()
    }
}

fn field<'a>(r: &'a impl Fields, k: &str) -> &'a str {
    let [v] = r.pick([k]);
    v.unwrap_or("")
}

/// An integer field (§3.8: base-10 ASCII, optional '-'); absent or empty
/// is 0, anything else is the container breaking the value rules.
fn int(v: Option<&str>) -> i64 {
    v.unwrap_or("").parse().unwrap_or(0)
}

fn num(r: &impl Fields, k: &str) -> i64 {
    let [v] = r.pick([k]);
    int(v)
}

/// Boolean field `k` of record `id` (§3.8: exactly `true` or `false`). An
/// absent field is `default`; any other spelling is logged and read as
/// `default`, never guessed (a container storing `1`/`0` is not conformant).
fn flag(id: &str, k: &str, v: Option<&str>, default: bool) -> bool {
    match v {
        Some("true") => true,
        Some("false") => false,
        None | Some("") => default,
        Some(other) => {
            warn!("{id} {k}: field {k} is {other:?}, the protocol allows true|false");
            default
        }
    }
}

fn text(v: Option<&str>) -> String {
    v.unwrap_or_default().to_string()
}

// ---- mapping -----------------------------------------------------------------

/// An article as a product (this runs once per streamed record: one pass
/// over the fields, one copy of each string the product keeps).
fn product(r: &impl Fields) -> Product {
    let [active, price, stock, group, sku, name, description, currency, unit] =
        r.pick(["active", "price_minor", "stock", "group", "sku", "name", "description", "currency", "unit"]);
    Product {
        id: r.id().to_string(),
        sku: text(sku),
        name: text(name),
        description: text(description),
        category_id: category_id(group.unwrap_or("")),
        price: Money { amount_minor: int(price), currency: text(currency) },
        stock: int(stock),
        unit: text(unit),
        active: flag(r.id(), "active", active, true),
        modified_at: r.modified_at(),
    }
}

fn article(p: &Product) -> v1::Record {
    let mut f = BTreeMap::new();
    f.insert("sku".into(), p.sku.clone());
    f.insert("name".into(), p.name.clone());
    f.insert("description".into(), p.description.clone());
    f.insert("group".into(), p.category_id.strip_prefix('G').unwrap_or(&p.category_id).to_string());
    f.insert("price_minor".into(), p.price.amount_minor.to_string());
    f.insert("currency".into(), p.price.currency.clone());
    f.insert("stock".into(), p.stock.to_string());
    f.insert("unit".into(), p.unit.clone());
    f.insert("active".into(), p.active.to_string());
    v1::Record { id: p.id.clone(), row_version: 0, modified_at: 0, fields: f }
}

/// A customer record as a customer (one pass, as for [`product`]).
fn customer(r: &impl Fields) -> Customer {
    let [active, credit, number, name, email, phone, street, postal_code, city, country, currency] = r.pick([
        "active",
        "credit_limit_minor",
        "number",
        "name",
        "email",
        "phone",
        "street",
        "postal_code",
        "city",
        "country",
        "currency",
    ]);
    Customer {
        id: r.id().to_string(),
        number: text(number),
        name: text(name),
        email: text(email),
        phone: text(phone),
        address: Address {
            street: text(street),
            postal_code: text(postal_code),
            city: text(city),
            country: text(country),
        },
        credit_limit: Money { amount_minor: int(credit), currency: text(currency) },
        active: flag(r.id(), "active", active, true),
        modified_at: r.modified_at(),
    }
}

fn customer_record(c: &Customer) -> v1::Record {
    let mut f = BTreeMap::new();
    f.insert("number".into(), c.number.clone());
    f.insert("name".into(), c.name.clone());
    f.insert("email".into(), c.email.clone());
    f.insert("phone".into(), c.phone.clone());
    f.insert("street".into(), c.address.street.clone());
    f.insert("postal_code".into(), c.address.postal_code.clone());
    f.insert("city".into(), c.address.city.clone());
    f.insert("country".into(), c.address.country.clone());
    f.insert("credit_limit_minor".into(), c.credit_limit.amount_minor.to_string());
    f.insert("currency".into(), c.credit_limit.currency.clone());
    f.insert("active".into(), c.active.to_string());
    v1::Record { id: c.id.clone(), row_version: 0, modified_at: 0, fields: f }
}

/// An article group code as B2Connect shows it (§3.7): `"G" + code`, the
/// same on every REST surface.
fn category_id(code: &str) -> String {
    format!("G{code}")
}

/// How long the group tree is reused before it is read again: groups
/// change rarely, and a code not in the tree reloads it at once.
const GROUP_TREE_TTL: std::time::Duration = std::time::Duration::from_secs(60);

/// The group tree as paths by group code, and when it was read.
type GroupPaths = Option<(std::time::Instant, HashMap<String, Vec<String>>)>;

thread_local! {
    static GROUP_PATHS: RefCell<GroupPaths> = const { RefCell::new(None) };
}

/// The path (names from the root) of an article group.
fn group_path(code: &str) -> Result<Vec<String>, ProviderError> {
    if code.is_empty() {
        return Ok(Vec::new());
    }
    let cached = GROUP_PATHS.with(|g| {
        g.borrow().as_ref().filter(|(at, _)| at.elapsed() < GROUP_TREE_TTL).and_then(|(_, m)| m.get(code).cloned())
    });
    if let Some(p) = cached {
        return Ok(p);
    }
    let mut tree = HashMap::new();
    for r in all_groups()? {
        let path = field(&r, "path").split(" / ").map(str::to_string).collect();
        tree.insert(r.id, path);
    }
    let path = tree.get(code).cloned().unwrap_or_default();
    GROUP_PATHS.with(|g| *g.borrow_mut() = Some((std::time::Instant::now(), tree)));
    Ok(path)
}

fn all_groups() -> Result<Vec<v1::Record>, ProviderError> {
    let cursor = QueryCursor::new(Entity::ArticleGroup, Vec::new());
    let mut out = Vec::new();
    loop {
        let batch = cursor.pull(1000, |r| Ok(r.to_record()))?;
        if batch.is_empty() {
            return Ok(out);
        }
        out.extend(batch);
    }
}

fn details(r: &impl Fields) -> Result<ProductDetails, ProviderError> {
    let p = product(r);
    Ok(ProductDetails {
        long_description: format!("{} ({})", p.description, field(r, "group_name")),
        attributes: r
            .sorted()
            .into_iter()
            .filter(|(k, _)| !matches!(*k, "name" | "description" | "sku" | "price_minor" | "currency"))
            .map(|(k, v)| Attribute { name: k.to_string(), value: v.to_string() })
            .collect(),
        images: Vec::new(),
        category_path: group_path(field(r, "group"))?,
        product: p,
    })
}

fn cond(field: &str, op: condition::Op) -> v1::Condition {
    v1::Condition { field: field.into(), op: Some(op) }
}

/// A `like` pattern matching values that contain `text` literally. With
/// protocol 1.1 `\`, `%` and `_` of the text are escaped (§3.2); a 1.0
/// container has no escape, so there they stay wildcards (§7).
fn contains_pattern(text: &str) -> Result<String, ProviderError> {
    let minor = with_session(|s| s.ensure())?.minor;
    Ok(like_contains(text, minor >= 1))
}

/// `%text%`, with `\`, `%` and `_` of `text` escaped when `escapes`.
fn like_contains(text: &str, escapes: bool) -> String {
    let mut p = String::from("%");
    for c in text.chars() {
        if escapes && matches!(c, '\\' | '%' | '_') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

fn product_conditions(f: &ProductFilter) -> Result<Vec<v1::Condition>, ProviderError> {
    let mut c = Vec::new();
    if let Some(s) = f.modified_since {
        c.push(cond("modified_at", condition::Op::Range(v1::Range { from: s.to_string(), to: String::new() })));
    }
    if let Some(cat) = &f.category_id {
        c.push(cond("group", condition::Op::Eq(cat.strip_prefix('G').unwrap_or(cat).to_string())));
    }
    if let Some(n) = &f.name_contains {
        c.push(cond("name", condition::Op::Like(contains_pattern(n)?)));
    }
    if f.active_only {
        c.push(cond("active", condition::Op::Eq("true".into())));
    }
    Ok(c)
}

// ---- reads -------------------------------------------------------------------

/// Records by id in request order, `None` for missing ids; asks in chunks
/// of the server's limit (1000 for enventa).
fn get_by_ids(entity: Entity, ids: &[String]) -> Result<Vec<Option<v1::Record>>, ProviderError> {
    with_session(|s| {
        let mut found: HashMap<String, v1::Record> = HashMap::new();
        let mut unique: Vec<String> = ids.to_vec();
        unique.sort();
        unique.dedup();
        let lim = s.ensure()?;
        let budget = lim.max_frame.saturating_sub(session::ENVELOPE_BYTES);
        for chunk in session::chunks(&unique, lim.max_ids, budget, |id| session::field_len(id.len())) {
            let body = request::Body::GetByIds(v1::GetByIds { entity: entity as i32, ids: chunk.to_vec() });
            match s.read(body)? {
                response::Body::Records(r) => found.extend(r.records.into_iter().map(|r| (r.id.clone(), r))),
                _ => return unexpected("GetByIds"),
            }
        }
        Ok(ids.iter().map(|id| found.get(id).cloned()).collect())
    })
}

fn get_one(entity: Entity, id: &str) -> Result<v1::Record, ProviderError> {
    get_by_ids(entity, &[id.to_string()])?.pop().flatten().ok_or_else(|| {
        ProviderError::NotFound(format!(
            "{} {id} does not exist",
            if entity == Entity::Article { "article" } else { "customer" }
        ))
    })
}

/// One page of a query.
fn query(
    entity: Entity,
    conditions: &[v1::Condition],
    page: u32,
    continuation: &str,
) -> Result<(Vec<v1::Record>, String), ProviderError> {
    with_session(|s| {
        let body = request::Body::Query(v1::Query {
            entity: entity as i32,
            conditions: conditions.to_vec(),
            page_size: page.clamp(1, s.ensure()?.max_page),
            continuation: continuation.to_string(),
            since_row_version: 0,
        });
        match s.read(body)? {
            response::Body::Page(p) => Ok((p.records, p.continuation)),
            _ => unexpected("Query"),
        }
    })
}

/// A pull cursor over a query. With a 1.1 container its pages come from a
/// server stream (§3.10) the session keeps open between `next` calls; the
/// records of a page not yet handed out wait in `buffer`.
pub struct QueryCursor {
    /// Names this cursor's stream in the session.
    owner: u64,
    query: v1::Query,
    /// The continuation of the last page received; `None` once the last
    /// page has arrived.
    continuation: RefCell<Option<String>>,
    /// The page being handed out and the index of its next record.
    buffer: RefCell<Option<(PageView, usize)>>,
}

thread_local! {
    static NEXT_CURSOR: std::cell::Cell<u64> = const { std::cell::Cell::new(1) };
}

impl QueryCursor {
    fn new(entity: Entity, conditions: Vec<v1::Condition>) -> Self {
        let owner = NEXT_CURSOR.with(|n| n.replace(n.get() + 1));
        Self {
            owner,
            query: v1::Query { entity: entity as i32, conditions, ..Default::default() },
            continuation: RefCell::new(Some(String::new())),
            buffer: RefCell::default(),
        }
    }

    /// Up to `max` records, each mapped by `map`; an empty list only when
    /// the query is exhausted.
    fn pull<T>(
        &self,
        max: u32,
        map: impl Fn(RecordRef<'_>) -> Result<T, ProviderError>,
    ) -> Result<Vec<T>, ProviderError> {
        loop {
            if let Some((page, at)) = self.buffer.borrow_mut().as_mut()
                && *at < page.len()
            {
                let end = page.len().min(*at + max.max(1) as usize);
                let out = (*at..end).filter_map(|i| page.get(i)).map(&map).collect();
                *at = end;
                return out;
            }
            let Some(token) = self.continuation.borrow().clone() else { return Ok(Vec::new()) };
            let q = v1::Query { continuation: token, ..self.query.clone() };
            let mut page = with_session(|s| s.stream_page(self.owner, &q, max))?;
            let continuation = std::mem::take(&mut page.continuation);
            *self.continuation.borrow_mut() = (!continuation.is_empty()).then_some(continuation);
            *self.buffer.borrow_mut() = Some((page, 0));
        }
    }
}

impl Drop for QueryCursor {
    fn drop(&mut self) {
        // A cursor dropped mid-stream frees the session (§3.10). Never
        // re-entered: a cursor is dropped outside any session call.
        SESSION.with(|s| {
            if let Ok(mut s) = s.try_borrow_mut() {
                s.forget_stream(self.owner);
            }
        });
    }
}

// One query cursor serves the three record kinds; the SDK's `Cursor`
// keeps `max` and the end for it.
impl Source<Product> for QueryCursor {
    fn next(&mut self, max: usize) -> Result<Vec<Product>, ProviderError> {
        self.pull(max as u32, |r| Ok(product(&r)))
    }
}

impl Source<Customer> for QueryCursor {
    fn next(&mut self, max: usize) -> Result<Vec<Customer>, ProviderError> {
        self.pull(max as u32, |r| Ok(customer(&r)))
    }
}

impl Source<ProductDetails> for QueryCursor {
    fn next(&mut self, max: usize) -> Result<Vec<ProductDetails>, ProviderError> {
        self.pull(max as u32, |r| details(&r))
    }
}

// ---- writes ------------------------------------------------------------------

/// A value that does not parse is `invalid-input` naming the key (the
/// SDK's one rule), not a silent fallback.
fn sync_batch_size() -> Result<usize, ProviderError> {
    Ok(Context::current().setting_or("syncBatchSize", 1000usize)?.clamp(1, enventa_proto::MAX_IDS))
}

/// Upserts in batches of at most `syncBatchSize` records, the container's
/// `max_ids_per_request` and `max_frame_bytes`; each batch is committed by
/// the ERP on its own. Per-item failures are reported, not fatal. When a
/// batch fails as a whole after earlier ones were committed, the answer
/// still says what was committed: the records of the failed batch and of
/// every later one are listed as failures (§3.4), so the host's delta
/// state records exactly the committed batches.
fn upsert(entity: Entity, records: Vec<(String, v1::Record)>) -> Result<SyncResult, ProviderError> {
    let mut r = SyncResult {
        received: records.len() as u32,
        created: 0,
        updated: 0,
        unchanged: 0,
        failed: 0,
        failures: Vec::new(),
    };
    let lim = with_session(|s| s.ensure())?;
    let budget = lim.max_frame.saturating_sub(session::ENVELOPE_BYTES);
    let batches = session::chunks(&records, sync_batch_size()?.min(lim.max_ids), budget, |(_, rec)| {
        session::field_len(rec.encoded_len())
    });
    let mut index = 0u32;
    for (n, chunk) in batches.iter().enumerate() {
        let body = request::Body::Upsert(v1::Upsert {
            entity: entity as i32,
            records: chunk.iter().map(|(_, rec)| rec.clone()).collect(),
            check_row_version: false,
        });
        let result = match with_session(|s| Ok(s.write(body)))? {
            Ok(response::Body::UpsertResult(u)) => u,
            Ok(_) => return unexpected("Upsert"),
            Err(failure) if index == 0 => return Err(failure.into_provider()),
            Err(failure) => {
                let (lost, sent) = match failure {
                    session::Failure::Lost(_) => (true, true),
                    session::Failure::Answered(_) => (false, true),
                    session::Failure::NotSent(_) => (false, false),
                };
                let cause = failure.into_provider();
                let total = batches.len();
                for (k, (id, _)) in records[index as usize..].iter().enumerate() {
                    let this_batch = k < chunk.len();
                    let why = match (this_batch, lost, sent) {
                        (true, true, _) => format!(
                            "batch {} of {total}: the answer was lost ({}); outcome unknown, send the record again",
                            n + 1,
                            message(&cause)
                        ),
                        (true, false, true) => format!("batch {} of {total} was refused: {}", n + 1, message(&cause)),
                        (true, false, false) => format!("batch {} of {total} not sent: {}", n + 1, message(&cause)),
                        (false, ..) => format!("not sent: batch {} of {total} failed before it", n + 1),
                    };
                    r.failed += 1;
                    r.failures.push(SyncFailure {
                        index: index + k as u32,
                        id: id.clone(),
                        error: with_message(&cause, why),
                    });
                }
                return Ok(r);
            }
        };
        if result.items.len() != chunk.len() {
            return Err(ProviderError::Internal(format!(
                "Upsert answered {} items for {}",
                result.items.len(),
                chunk.len()
            )));
        }
        for item in result.items {
            if item.ok {
                if item.unchanged {
                    r.unchanged += 1;
                } else if item.created {
                    r.created += 1;
                } else {
                    r.updated += 1;
                }
            } else {
                r.failed += 1;
                let error =
                    item.error.map(session::protocol_error).unwrap_or_else(|| ProviderError::Internal("failed".into()));
                r.failures.push(SyncFailure { index, id: item.id, error });
            }
            index += 1;
        }
    }
    Ok(r)
}

fn message(e: &ProviderError) -> &str {
    match e {
        ProviderError::NotFound(m)
        | ProviderError::InvalidInput(m)
        | ProviderError::Conflict(m)
        | ProviderError::Unavailable(m)
        | ProviderError::Timeout(m)
        | ProviderError::Unsupported(m)
        | ProviderError::Internal(m) => m,
    }
}

/// The same kind of error with another message.
fn with_message(e: &ProviderError, m: String) -> ProviderError {
    match e {
        ProviderError::NotFound(_) => ProviderError::NotFound(m),
        ProviderError::InvalidInput(_) => ProviderError::InvalidInput(m),
        ProviderError::Conflict(_) => ProviderError::Conflict(m),
        ProviderError::Unavailable(_) => ProviderError::Unavailable(m),
        ProviderError::Timeout(_) => ProviderError::Timeout(m),
        ProviderError::Unsupported(_) => ProviderError::Unsupported(m),
        ProviderError::Internal(_) => ProviderError::Internal(m),
    }
}

/// Rounds of "lost answer → look up → send again" for one order before
/// its error is returned (each round is one more chance of a lost answer).
const ORDER_ROUNDS: u32 = 3;

/// Creates an order exactly once (§3.6). With protocol 1.1 and an
/// `external_ref` (the host always sets one) a lost answer is recovered
/// with `GetOrderByExternalRef`: found → that is the order; not found →
/// nothing was committed and the order is sent again. A `CONFLICT` on the
/// reference is a repeat of an order already in the ERP: with the same
/// customer and lines it is the same order and is returned; otherwise the
/// conflict names the existing order. With a 1.0 container a lost answer
/// stays an error (the host's caller may retry with the same key only once
/// the container has 1.1).
fn create_order(o: &OrderRequest) -> Result<ErpOrder, ProviderError> {
    let external_ref = o.external_ref.clone().unwrap_or_default();
    let body = request::Body::CreateOrder(v1::CreateOrder {
        customer_id: o.customer_id.clone(),
        lines: o
            .lines
            .iter()
            .map(|l| v1::OrderLine { article_id: l.product_id.clone(), quantity: l.quantity })
            .collect(),
        external_ref: external_ref.clone(),
        note: o.note.clone().unwrap_or_default(),
    });
    let mut round = 0;
    loop {
        round += 1;
        let failure = match with_session(|s| Ok(s.write(body.clone())))? {
            Ok(response::Body::Order(order)) => return erp_order(order),
            Ok(_) => return unexpected("CreateOrder"),
            Err(f) => f,
        };
        let recoverable = !external_ref.is_empty() && with_session(|s| Ok(s.limits.minor))? >= 1;
        match failure {
            session::Failure::Answered(e) if recoverable && e.code == v1::ErrorCode::Conflict as i32 => {
                let Some(existing) = order_by_ref(&o.customer_id, &external_ref)? else {
                    // A conflict for another reason (none is defined today).
                    return Err(session::protocol_error(e));
                };
                if same_order(o, &existing) {
                    return erp_order(existing);
                }
                let id = existing.record.as_ref().map(|r| r.id.clone()).unwrap_or_default();
                return Err(ProviderError::Conflict(format!(
                    "externalRef {external_ref:?} already belongs to ERP order {id} of customer {} with other lines; existing order id: {id}",
                    o.customer_id
                )));
            }
            session::Failure::Lost(e) if recoverable && round <= ORDER_ROUNDS => {
                warn!("CreateOrder {external_ref}: answer lost ({}); looking the order up", message(&e));
                // A lookup failure (container still unreachable) is this
                // call's error; the caller's retry with the same key
                // recovers through CONFLICT above.
                if let Some(existing) = order_by_ref(&o.customer_id, &external_ref)? {
                    return erp_order(existing);
                }
                // Not committed: sending it again is safe (the reference
                // is unique, so a late commit would answer CONFLICT).
            }
            f => return Err(f.into_provider()),
        }
    }
}

/// The order of `customer` created with `external_ref` (1.1), if any.
fn order_by_ref(customer: &str, external_ref: &str) -> Result<Option<v1::Order>, ProviderError> {
    let body = request::Body::GetOrderByExternalRef(v1::GetOrderByExternalRef {
        customer_id: customer.to_string(),
        external_ref: external_ref.to_string(),
    });
    match with_session(|s| s.read(body)) {
        Ok(response::Body::Order(o)) => Ok(Some(o)),
        Ok(_) => unexpected("GetOrderByExternalRef"),
        Err(ProviderError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Whether an ERP order is the one `o` asks for: same customer, same
/// articles and quantities in the same order.
fn same_order(o: &OrderRequest, existing: &v1::Order) -> bool {
    let customer = existing.record.as_ref().map(|r| field(r, "customer_id")).unwrap_or("");
    customer == o.customer_id
        && existing.lines.len() == o.lines.len()
        && existing.lines.iter().zip(&o.lines).all(|(have, want)| {
            field(have, "article_id") == want.product_id && num(have, "quantity") == i64::from(want.quantity)
        })
}

/// §3.8: the order states the container may answer.
fn order_status(s: &str) -> Result<OrderStatus, ProviderError> {
    Ok(match s {
        "created" => OrderStatus::Created,
        "confirmed" => OrderStatus::Confirmed,
        "shipped" => OrderStatus::Shipped,
        "cancelled" => OrderStatus::Cancelled,
        other => return Err(ProviderError::Internal(format!("enventa answered order status {other:?}"))),
    })
}

fn erp_order(order: v1::Order) -> Result<ErpOrder, ProviderError> {
    let rec = order.record.ok_or_else(|| ProviderError::Internal("order without record".into()))?;
    let currency = field(&rec, "currency").to_string();
    let money = |m: i64| Money { amount_minor: m, currency: currency.clone() };
    Ok(ErpOrder {
        id: rec.id.clone(),
        customer_id: field(&rec, "customer_id").into(),
        lines: order
            .lines
            .iter()
            .map(|l| OrderLine {
                product_id: field(l, "article_id").into(),
                sku: field(l, "sku").into(),
                quantity: num(l, "quantity") as u32,
                unit_price: money(num(l, "unit_price_minor")),
                line_total: money(num(l, "line_total_minor")),
            })
            .collect(),
        total: money(num(&rec, "total_minor")),
        status: order_status(field(&rec, "status"))?,
        external_ref: Some(field(&rec, "external_ref")).filter(|s| !s.is_empty()).map(str::to_string),
        note: Some(field(&rec, "note")).filter(|s| !s.is_empty()).map(str::to_string),
        created_at: rec.modified_at,
    })
}

// ---- exports -----------------------------------------------------------------

/// The provider value holds nothing: the session (connection, limits,
/// open stream) is per instance in `SESSION`, where cursors reach it too.
struct Bridge;

impl Provider for Bridge {
    /// Runs in `lifecycle.init`: checks the settings that have a format
    /// (a bad `syncBatchSize` refuses the bind), and does not connect.
    fn new(_: &Context) -> Result<Self, ProviderError> {
        sync_batch_size()?;
        Ok(Bridge)
    }

    /// The host ends the instance (rebind, host exit): Logout on a healthy
    /// session (§2.6), then the connection closes.
    fn shutdown(&mut self) {
        SESSION.with(|s| s.borrow_mut().close());
    }
}

fn customer_conditions(filter: &CustomerFilter) -> Result<Vec<v1::Condition>, ProviderError> {
    let mut c = Vec::new();
    if let Some(s) = filter.modified_since {
        c.push(cond("modified_at", condition::Op::Range(v1::Range { from: s.to_string(), to: String::new() })));
    }
    if let Some(n) = &filter.name_contains {
        c.push(cond("name", condition::Op::Like(contains_pattern(n)?)));
    }
    if let Some(k) = &filter.country {
        c.push(cond("country", condition::Op::Eq(k.to_uppercase())));
    }
    Ok(c)
}

/// A catalog filter as the article query it is: `search` is a name
/// search here (enventa has no full-text index the protocol exposes).
fn catalog_conditions(filter: CatalogFilter) -> Result<Vec<v1::Condition>, ProviderError> {
    product_conditions(&ProductFilter {
        modified_since: filter.modified_since,
        category_id: filter.category_id,
        name_contains: filter.search,
        active_only: false,
    })
}

// `create-orders` and `bulk-sync` are the SDK's defaults: one
// `create-order` per request, tallied, and the two syncs.
impl ErpProvider for Bridge {
    fn get_product(&mut self, id: String) -> Result<Product, ProviderError> {
        Ok(product(&get_one(Entity::Article, &id)?))
    }
    fn get_products(&mut self, ids: Vec<String>) -> Result<Vec<Option<Product>>, ProviderError> {
        Ok(get_by_ids(Entity::Article, &ids)?.into_iter().map(|r| r.as_ref().map(product)).collect())
    }
    fn stream_products(&mut self, filter: ProductFilter) -> Result<Cursor<Product>, ProviderError> {
        Ok(Cursor::new(QueryCursor::new(Entity::Article, product_conditions(&filter)?)))
    }
    fn get_customer(&mut self, id: String) -> Result<Customer, ProviderError> {
        Ok(customer(&get_one(Entity::Customer, &id)?))
    }
    fn get_customers(&mut self, ids: Vec<String>) -> Result<Vec<Option<Customer>>, ProviderError> {
        Ok(get_by_ids(Entity::Customer, &ids)?.into_iter().map(|r| r.as_ref().map(customer)).collect())
    }
    fn stream_customers(&mut self, filter: CustomerFilter) -> Result<Cursor<Customer>, ProviderError> {
        Ok(Cursor::new(QueryCursor::new(Entity::Customer, customer_conditions(&filter)?)))
    }
    fn create_order(&mut self, order: OrderRequest) -> Result<ErpOrder, ProviderError> {
        create_order(&order)
    }
    fn sync_products(&mut self, products: Vec<Product>) -> Result<SyncResult, ProviderError> {
        upsert(Entity::Article, products.iter().map(|p| (p.id.clone(), article(p))).collect())
    }
    fn sync_customers(&mut self, customers: Vec<Customer>) -> Result<SyncResult, ProviderError> {
        upsert(Entity::Customer, customers.iter().map(|c| (c.id.clone(), customer_record(c))).collect())
    }
}

fn contact(r: &v1::Record) -> Contact {
    Contact {
        id: r.id.clone(),
        customer_id: field(r, "customer_id").into(),
        first_name: field(r, "first_name").into(),
        last_name: field(r, "last_name").into(),
        email: field(r, "email").into(),
        phone: field(r, "phone").into(),
        role: field(r, "role").into(),
        modified_at: r.modified_at,
    }
}

impl CrmProvider for Bridge {
    fn get_contact(&mut self, id: String) -> Result<Contact, ProviderError> {
        let r = get_by_ids(Entity::Contact, std::slice::from_ref(&id))?
            .pop()
            .flatten()
            .ok_or_else(|| ProviderError::NotFound(format!("contact {id} does not exist")))?;
        Ok(contact(&r))
    }
    fn get_contacts(&mut self, ids: Vec<String>) -> Result<Vec<Option<Contact>>, ProviderError> {
        Ok(get_by_ids(Entity::Contact, &ids)?.iter().map(|r| r.as_ref().map(contact)).collect())
    }
    fn get_activities(&mut self, _: String, _: u32) -> Result<Vec<Activity>, ProviderError> {
        unsupported("crm get-activities")
    }
    fn get_activities_batch(&mut self, _: Vec<String>, _: u32) -> Result<Vec<Option<Vec<Activity>>>, ProviderError> {
        unsupported("crm get-activities-batch")
    }
}

/// Says why, where the SDK's default would only name the operation.
fn unsupported<T>(op: &str) -> Result<T, ProviderError> {
    Err(ProviderError::Unsupported(format!(
        "enventa-bridge does not serve {op}: enventa keeps this data outside the tables the bridge protocol exposes"
    )))
}

impl PimProvider for Bridge {
    fn get_product_details(&mut self, id: String) -> Result<ProductDetails, ProviderError> {
        let r = get_one(Entity::Article, &id)?;
        details(&r)
    }
    fn get_categories(&mut self) -> Result<Vec<Category>, ProviderError> {
        Ok(all_groups()?
            .iter()
            .map(|r| Category {
                id: category_id(&r.id),
                name: field(r, "name").into(),
                parent_id: Some(field(r, "parent_id")).filter(|p| !p.is_empty()).map(category_id),
                path: field(r, "path").into(),
            })
            .collect())
    }
    fn get_catalog(
        &mut self,
        filter: CatalogFilter,
        page_size: u32,
        continuation: Option<String>,
    ) -> Result<CatalogPage, ProviderError> {
        if page_size == 0 || page_size > 1000 {
            return Err(ProviderError::InvalidInput(format!("page size must be 1..=1000, got {page_size}")));
        }
        let conditions = catalog_conditions(filter)?;
        // The container's continuation token is opaque, bound to the query
        // and valid across connections for 24 h (§3.3), so it can be handed
        // to REST callers as it is; used with other filters it is a 422.
        let (records, next) = query(Entity::Article, &conditions, page_size, continuation.as_deref().unwrap_or(""))?;
        Ok(CatalogPage {
            items: records.iter().map(details).collect::<Result<_, _>>()?,
            continuation: (!next.is_empty()).then_some(next),
        })
    }
    fn stream_catalog(&mut self, filter: CatalogFilter) -> Result<Cursor<ProductDetails>, ProviderError> {
        Ok(Cursor::new(QueryCursor::new(Entity::Article, catalog_conditions(filter)?)))
    }
}

export_provider!(Bridge: erp, crm, pim);

#[cfg(test)]
mod tests {
    //! The bridge's pure rules, natively (`cd plugins && cargo test`); the
    //! protocol paths are tested through the host in `tests/it/enventa.rs`.
    use super::*;

    #[test]
    fn like_patterns_escape_only_with_1_1() {
        assert_eq!(like_contains(r"50% a_b\c", true), r"%50\% a\_b\\c%");
        assert_eq!(like_contains(r"50% a_b", false), "%50% a_b%");
        assert_eq!(like_contains("", true), "%%");
    }

    #[test]
    fn category_ids_carry_the_g_prefix() {
        assert_eq!(category_id("100"), "G100");
    }

    #[test]
    fn chunks_cut_by_count_and_by_bytes() {
        let sizes = [10, 10, 10, 10, 10];
        let by_count: Vec<usize> = session::chunks(&sizes, 2, 1000, |n| *n).iter().map(|c| c.len()).collect();
        assert_eq!(by_count, [2, 2, 1]);
        let by_bytes: Vec<usize> = session::chunks(&sizes, 100, 25, |n| *n).iter().map(|c| c.len()).collect();
        assert_eq!(by_bytes, [2, 2, 1]);
        // An item larger than the byte limit goes alone (its send then fails clearly).
        let big = [5, 100, 5];
        let runs: Vec<&[usize]> = session::chunks(&big, 100, 50, |n| *n);
        assert_eq!(runs, [&[5][..], &[100][..], &[5][..]]);
        assert!(session::chunks(&[] as &[usize], 10, 10, |n| *n).is_empty());
    }

    #[test]
    fn backoff_doubles_from_10_ms_capped_at_500_with_jitter() {
        for seed in 0..200u64 {
            for n in 1..=10u32 {
                let base = (10u64 << (n - 1).min(6)).min(500);
                let d = session::backoff(n, seed).as_millis() as u64;
                assert!((base / 2..=base / 2 + base).contains(&d), "retry {n} seed {seed}: {d} ms, base {base}");
            }
        }
    }
}
