//! The container side of the protocol: one task per connection, frames in,
//! frames out, with the real enventa constraints enforced and every
//! violation counted (and answered with an error).

use crate::store::Store;
use crate::{Faults, Stats};
use enventa_proto::v1::{self, Entity, ErrorCode, request, response};
use enventa_proto::{FrameReader, MAX_IDS, PROTOCOL_VERSION, encode};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

pub const MAX_PAGE: u32 = 5000;
pub const MAX_FRAME: usize = 16 * 1024 * 1024;

/// Shared by all connections of one simulator.
pub struct Shared {
    pub store: Mutex<Store>,
    pub stats: Stats,
    pub faults: Mutex<Faults>,
    /// Set while any connection is inside Login: enventa's Login() must
    /// never run concurrently.
    pub login_running: AtomicBool,
    pub rng: Mutex<u64>,
}

impl Shared {
    fn chance(&self, p: f64) -> bool {
        if p <= 0.0 {
            return false;
        }
        let mut s = self.rng.lock().unwrap();
        *s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((*s >> 11) as f64 / (1u64 << 53) as f64) < p
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

fn err(code: ErrorCode, message: impl Into<String>, retryable: bool) -> response::Body {
    response::Body::Error(v1::Error { code: code as i32, message: message.into(), retryable })
}

/// Per-connection session state.
struct Session {
    hello: bool,
    logged_in: bool,
    /// True while an operation of this session runs.
    busy: Arc<AtomicBool>,
}

pub async fn serve_connection(shared: Arc<Shared>, stream: TcpStream) {
    shared.stats.connections.fetch_add(1, Ordering::Relaxed);
    let _ = stream.set_nodelay(true);
    let (mut rd, mut wr) = stream.into_split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let writer = tokio::spawn(async move {
        while let Some(frame) = rx.recv().await {
            if wr.write_all(&frame).await.is_err() {
                break;
            }
        }
    });
    let mut reader = FrameReader::new(MAX_FRAME);
    let mut buf = vec![0u8; 64 * 1024];
    let session =
        Arc::new(Mutex::new(Session { hello: false, logged_in: false, busy: Arc::new(AtomicBool::new(false)) }));
    'conn: loop {
        let n = match rd.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        reader.push(&buf[..n]);
        loop {
            let req = match reader.next::<v1::Request>() {
                Ok(Some(r)) => r,
                Ok(None) => break,
                Err(e) => {
                    shared.stats.protocol_errors.fetch_add(1, Ordering::Relaxed);
                    let body = err(ErrorCode::InvalidRequest, format!("bad frame: {e}"), false);
                    let _ = tx.send(encode(&v1::Response { request_id: 0, body: Some(body) }));
                    break 'conn;
                }
            };
            shared.stats.requests.fetch_add(1, Ordering::Relaxed);
            let busy = session.lock().unwrap().busy.clone();
            if busy.swap(true, Ordering::SeqCst) {
                // A second operation while one runs on this ERP session.
                shared.stats.violation_overlap.fetch_add(1, Ordering::Relaxed);
                let body = err(ErrorCode::Busy, "another operation is running on this session (not thread-safe)", true);
                let _ = tx.send(encode(&v1::Response { request_id: req.request_id, body: Some(body) }));
                continue;
            }
            let (shared, session, tx) = (shared.clone(), session.clone(), tx.clone());
            tokio::spawn(async move {
                let faults = shared.faults.lock().unwrap().clone();
                if faults.drop_rate > 0.0 && shared.chance(faults.drop_rate) {
                    shared.stats.faults_dropped.fetch_add(1, Ordering::Relaxed);
                    busy.store(false, Ordering::SeqCst);
                    drop(tx);
                    return;
                }
                if faults.hang {
                    shared.stats.faults_hung.fetch_add(1, Ordering::Relaxed);
                    std::future::pending::<()>().await;
                }
                if faults.latency_ms > 0 {
                    tokio::time::sleep(Duration::from_millis(faults.latency_ms)).await;
                }
                let body = if faults.error_rate > 0.0 && shared.chance(faults.error_rate) {
                    shared.stats.faults_errors.fetch_add(1, Ordering::Relaxed);
                    err(ErrorCode::Unavailable, "injected fault: ERP temporarily unavailable", true)
                } else {
                    handle(&shared, &session, req.body, &faults).await
                };
                busy.store(false, Ordering::SeqCst);
                let id = if faults.wrong_request_id { req.request_id + 1 } else { req.request_id };
                let _ = tx.send(encode(&v1::Response { request_id: id, body: Some(body) }));
            });
        }
    }
    drop(tx);
    let _ = writer.await;
}

fn check_ids(shared: &Shared, ids: &[String]) -> Result<(), response::Body> {
    if ids.len() > MAX_IDS {
        shared.stats.violation_in_list.fetch_add(1, Ordering::Relaxed);
        return Err(err(ErrorCode::InvalidRequest, format!("{} ids exceed the limit of {MAX_IDS}", ids.len()), false));
    }
    Ok(())
}

fn entity(e: i32) -> Result<Entity, response::Body> {
    match Entity::try_from(e) {
        Ok(Entity::Article) => Ok(Entity::Article),
        Ok(Entity::Customer) => Ok(Entity::Customer),
        Ok(Entity::Contact) => Ok(Entity::Contact),
        Ok(Entity::ArticleGroup) => Ok(Entity::ArticleGroup),
        _ => Err(err(ErrorCode::Unsupported, format!("entity {e} is not supported"), false)),
    }
}

fn matches(rec: &v1::Record, conds: &[v1::Condition]) -> bool {
    conds.iter().all(|c| {
        let value = match c.field.as_str() {
            "id" => Some(rec.id.clone()),
            "modified_at" => Some(rec.modified_at.to_string()),
            f => rec.fields.get(f).cloned(),
        };
        let Some(v) = value else { return false };
        match &c.op {
            Some(v1::condition::Op::Eq(e)) => &v == e,
            Some(v1::condition::Op::In(list)) => list.values.contains(&v),
            Some(v1::condition::Op::Like(p)) => like(&v.to_lowercase(), &p.to_lowercase()),
            Some(v1::condition::Op::Range(r)) => {
                let cmp = |a: &str, b: &str| match (a.parse::<f64>(), b.parse::<f64>()) {
                    (Ok(x), Ok(y)) => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
                    _ => a.cmp(b),
                };
                (r.from.is_empty() || cmp(&v, &r.from).is_ge()) && (r.to.is_empty() || cmp(&v, &r.to).is_le())
            }
            Some(v1::condition::Op::Exists(_)) | None => false,
        }
    })
}

/// SQL LIKE with '%' and '_'.
fn like(s: &str, p: &str) -> bool {
    let (s, p): (Vec<char>, Vec<char>) = (s.chars().collect(), p.chars().collect());
    let (mut i, mut j, mut star, mut mark) = (0, 0, None, 0);
    while i < s.len() {
        if j < p.len() && (p[j] == '_' || p[j] == s[i]) {
            i += 1;
            j += 1;
        } else if j < p.len() && p[j] == '%' {
            star = Some(j);
            mark = i;
            j += 1;
        } else if let Some(st) = star {
            j = st + 1;
            mark += 1;
            i = mark;
        } else {
            return false;
        }
    }
    p[j..].iter().all(|c| *c == '%')
}

async fn handle(
    shared: &Shared,
    session: &Mutex<Session>,
    body: Option<request::Body>,
    faults: &Faults,
) -> response::Body {
    use request::Body as B;
    let Some(body) = body else { return err(ErrorCode::InvalidRequest, "empty request", false) };
    let (hello, logged_in) = {
        let s = session.lock().unwrap();
        (s.hello, s.logged_in)
    };
    if !hello && !matches!(body, B::Hello(_)) {
        shared.stats.protocol_errors.fetch_add(1, Ordering::Relaxed);
        return err(ErrorCode::InvalidRequest, "the first frame must be Hello", false);
    }
    match body {
        B::Hello(h) => {
            if h.protocol_version < PROTOCOL_VERSION {
                return err(
                    ErrorCode::ProtocolVersion,
                    format!("protocol {} is not supported; this server speaks 1", h.protocol_version),
                    false,
                );
            }
            session.lock().unwrap().hello = true;
            response::Body::HelloOk(v1::HelloOk {
                protocol_version: PROTOCOL_VERSION,
                server: "enventa-sim/1.0.0".into(),
                max_ids_per_request: MAX_IDS as u32,
                max_page_size: MAX_PAGE,
                max_frame_bytes: MAX_FRAME as u32,
            })
        }
        B::Login(l) => {
            if logged_in {
                shared.stats.protocol_errors.fetch_add(1, Ordering::Relaxed);
                return err(ErrorCode::InvalidRequest, "this connection is already logged in", false);
            }
            if shared.login_running.swap(true, Ordering::SeqCst) {
                shared.stats.violation_concurrent_login.fetch_add(1, Ordering::Relaxed);
                return err(ErrorCode::Busy, "another Login() is running (must never run concurrently)", true);
            }
            if faults.login_delay_ms > 0 {
                tokio::time::sleep(Duration::from_millis(faults.login_delay_ms)).await;
            }
            shared.login_running.store(false, Ordering::SeqCst);
            if l.user.is_empty() {
                return err(ErrorCode::InvalidRequest, "user is required", false);
            }
            shared.stats.logins.fetch_add(1, Ordering::Relaxed);
            session.lock().unwrap().logged_in = true;
            response::Body::LoginOk(v1::LoginOk {
                session_id: format!("S{}", shared.stats.logins.load(Ordering::Relaxed)),
            })
        }
        B::Logout(_) => {
            session.lock().unwrap().logged_in = false;
            response::Body::LogoutOk(v1::LogoutOk {})
        }
        B::Ping(p) => response::Body::Pong(v1::Pong { nonce: p.nonce }),
        _ if !logged_in => err(ErrorCode::NotLoggedIn, "Login first", false),
        B::GetByIds(g) => {
            let e = match entity(g.entity) {
                Ok(e) => e,
                Err(b) => return b,
            };
            if let Err(b) = check_ids(shared, &g.ids) {
                return b;
            }
            let store = shared.store.lock().unwrap();
            let mut out = v1::Records::default();
            for id in g.ids {
                match store.get(e, &id) {
                    Some(r) => out.records.push(r),
                    None => out.missing.push(id),
                }
            }
            response::Body::Records(out)
        }
        B::Query(q) => {
            let e = match entity(q.entity) {
                Ok(e) => e,
                Err(b) => return b,
            };
            for c in &q.conditions {
                if let Some(v1::condition::Op::In(l)) = &c.op {
                    if let Err(b) = check_ids(shared, &l.values) {
                        return b;
                    }
                }
            }
            if q.page_size == 0 || q.page_size > MAX_PAGE {
                return err(ErrorCode::InvalidRequest, format!("page_size must be 1..={MAX_PAGE}"), false);
            }
            let since = q.since_row_version;
            let keep = |r: &v1::Record| r.row_version > since && matches(r, &q.conditions);
            let store = shared.store.lock().unwrap();
            let (records, last) = store.scan(e, &q.continuation, q.page_size as usize, &keep);
            response::Body::Page(v1::Page { records, continuation: last.unwrap_or_default() })
        }
        B::Upsert(u) => {
            let e = match entity(u.entity) {
                Ok(e) => e,
                Err(b) => return b,
            };
            let ids: Vec<String> = u.records.iter().map(|r| r.id.clone()).collect();
            if let Err(b) = check_ids(shared, &ids) {
                return b;
            }
            let mut store = shared.store.lock().unwrap();
            let now = now_ms();
            let items = u
                .records
                .into_iter()
                .map(|r| {
                    let id = r.id.clone();
                    let fail = |code, m: String| v1::UpsertItemResult {
                        id: id.clone(),
                        ok: false,
                        created: false,
                        row_version: 0,
                        error: Some(v1::Error { code: code as i32, message: m, retryable: false }),
                        unchanged: false,
                    };
                    if id.is_empty() || r.fields.get("name").is_none_or(|n| n.trim().is_empty()) {
                        return fail(ErrorCode::InvalidRequest, format!("record {id:?}: id and name are required"));
                    }
                    if u.check_row_version && r.row_version != 0 {
                        if let Some(v) = store.stored_row_version(e, &id) {
                            if v != r.row_version {
                                return fail(
                                    ErrorCode::Conflict,
                                    format!("{id}: row version {} is stale (now {v})", r.row_version),
                                );
                            }
                        }
                    }
                    let before = store.stored_row_version(e, &id);
                    match store.upsert(e, r, now) {
                        Ok((created, v)) => v1::UpsertItemResult {
                            id,
                            ok: true,
                            created,
                            row_version: v,
                            error: None,
                            unchanged: before == Some(v),
                        },
                        Err(m) => fail(ErrorCode::Internal, m),
                    }
                })
                .collect();
            shared.stats.upserts.fetch_add(1, Ordering::Relaxed);
            response::Body::UpsertResult(v1::UpsertResult { items })
        }
        B::CreateOrder(o) => create_order(shared, o),
    }
}

fn create_order(shared: &Shared, o: v1::CreateOrder) -> response::Body {
    let mut store = shared.store.lock().unwrap();
    if store.get(Entity::Customer, &o.customer_id).is_none() {
        return err(ErrorCode::NotFound, format!("customer {} does not exist", o.customer_id), false);
    }
    if o.lines.is_empty() {
        return err(ErrorCode::InvalidRequest, "an order needs at least one line", false);
    }
    if !o.external_ref.is_empty()
        && store.orders().iter().any(|(r, _)| {
            r.fields.get("customer_id") == Some(&o.customer_id) && r.fields.get("external_ref") == Some(&o.external_ref)
        })
    {
        return err(ErrorCode::Conflict, format!("external_ref {} already used", o.external_ref), false);
    }
    let mut lines = Vec::new();
    let mut total: i64 = 0;
    for (n, l) in o.lines.iter().enumerate() {
        let Some(a) = store.get(Entity::Article, &l.article_id) else {
            return err(ErrorCode::InvalidRequest, format!("line {n}: article {} does not exist", l.article_id), false);
        };
        if l.quantity == 0 {
            return err(ErrorCode::InvalidRequest, format!("line {n}: quantity must be at least 1"), false);
        }
        let price: i64 = a.fields.get("price_minor").and_then(|p| p.parse().ok()).unwrap_or(0);
        let line_total = price * i64::from(l.quantity);
        total += line_total;
        let mut f = std::collections::BTreeMap::new();
        f.insert("article_id".into(), a.id.clone());
        f.insert("sku".into(), a.fields.get("sku").cloned().unwrap_or_default());
        f.insert("quantity".into(), l.quantity.to_string());
        f.insert("unit_price_minor".into(), price.to_string());
        f.insert("line_total_minor".into(), line_total.to_string());
        lines.push(v1::Record { id: format!("{}", n + 1), row_version: 1, modified_at: now_ms(), fields: f });
    }
    let seq = store.orders().len() + 1;
    let v = store.next_row_version();
    let mut f = std::collections::BTreeMap::new();
    f.insert("customer_id".into(), o.customer_id.clone());
    f.insert("total_minor".into(), total.to_string());
    f.insert("currency".into(), "EUR".into());
    f.insert("status".into(), "created".into());
    f.insert("external_ref".into(), o.external_ref.clone());
    f.insert("note".into(), o.note.clone());
    let rec = v1::Record { id: format!("AU{seq:08}"), row_version: v, modified_at: now_ms(), fields: f };
    store.orders().push((rec.clone(), lines.clone()));
    shared.stats.orders.fetch_add(1, Ordering::Relaxed);
    response::Body::Order(v1::Order { record: Some(rec), lines })
}

#[cfg(test)]
mod tests {
    #[test]
    fn like_patterns() {
        assert!(super::like("sechskantschraube 8 mm", "%schraube%"));
        assert!(super::like("abc", "a_c"));
        assert!(!super::like("abc", "a_d"));
        assert!(super::like("", "%"));
    }
}
