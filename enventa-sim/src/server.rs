//! The container side of the protocol: one task per connection, frames in,
//! frames out, with the real enventa constraints enforced and every
//! violation counted (and answered with an error).

use crate::store::Store;
use crate::{Broken, Faults, ProtocolConfig, Stats};
use enventa_proto::v1::{self, Entity, ErrorCode, request, response};
use enventa_proto::{FrameError, FrameReader, PROTOCOL_VERSION, encode};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Notify, mpsc};

/// Shared by all connections of one simulator.
pub struct Shared {
    pub store: Mutex<Store>,
    pub stats: Stats,
    pub faults: Mutex<Faults>,
    pub protocol: ProtocolConfig,
    /// Requests still to be answered UNAVAILABLE after a commit-then-drop.
    pub unavailable_left: AtomicU32,
    /// Set while any connection is inside Login: enventa's Login() must
    /// never run concurrently.
    pub login_running: AtomicBool,
    pub rng: Mutex<u64>,
}

impl Shared {
    fn broken(&self, b: Broken) -> bool {
        self.protocol.broken == Some(b)
    }

    fn chance(&self, p: f64) -> bool {
        if p <= 0.0 {
            return false;
        }
        let mut s = self.rng.lock().unwrap();
        *s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((*s >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    /// Whether this write is committed and then its connection dropped
    /// (`Faults::commit_then_drop`); arms `unavailable_after_drop`.
    fn take_commit_then_drop(&self) -> bool {
        let mut f = self.faults.lock().unwrap();
        if f.commit_then_drop == 0 {
            return false;
        }
        f.commit_then_drop -= 1;
        self.unavailable_left.store(f.unavailable_after_drop, Ordering::SeqCst);
        true
    }

    /// Whether this Upsert is the one `Faults::drop_upsert_number` names.
    fn take_drop_upsert(&self) -> bool {
        let mut f = self.faults.lock().unwrap();
        match f.drop_upsert_number {
            0 => false,
            1 => {
                f.drop_upsert_number = 0;
                true
            }
            _ => {
                f.drop_upsert_number -= 1;
                false
            }
        }
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
    /// The negotiated minor version (0 = 1.0, 1 = 1.1).
    minor: u32,
    logged_in: bool,
    /// Logout was answered: only Ping is served until the client closes.
    logged_out: bool,
    /// True while an operation of this session runs (a whole stream, §3.10).
    busy: Arc<AtomicBool>,
    /// The open stream: its request id and where its Credit/CancelStream go.
    stream: Option<(u64, mpsc::UnboundedSender<StreamCtl>)>,
}

/// What the client sends to an open stream (§3.10).
enum StreamCtl {
    Credit(u32),
    Cancel,
}

/// Most pages a stream may have outstanding (§3.10).
const MAX_CREDIT: u64 = 64;

/// What a handled request asks the connection to do.
enum Outcome {
    Answer(response::Body),
    /// Close the connection without answering (a fault).
    Drop,
    /// A validated StreamQuery: send its pages (§3.10).
    Stream(Entity, v1::Query, u32),
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
    // Notified by a request task that wants the connection gone (a dropped
    // connection fault): both halves are then dropped, the peer sees EOF.
    let kill = Arc::new(Notify::new());
    let mut reader = FrameReader::new(shared.protocol.max_frame_bytes as usize);
    let mut buf = vec![0u8; 64 * 1024];
    let session = Arc::new(Mutex::new(Session {
        hello: false,
        minor: 0,
        logged_in: false,
        logged_out: false,
        busy: Arc::new(AtomicBool::new(false)),
        stream: None,
    }));
    'conn: loop {
        let n = tokio::select! {
            r = rd.read(&mut buf) => match r {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            },
            _ = kill.notified() => {
                session.lock().unwrap().stream = None;
                writer.abort();
                return;
            }
        };
        reader.push(&buf[..n]);
        loop {
            let req = match reader.next::<v1::Request>() {
                Ok(Some(r)) => r,
                Ok(None) => break,
                Err(e) => {
                    if matches!(e, FrameError::TooLarge { .. }) {
                        shared.stats.violation_frame_size.fetch_add(1, Ordering::Relaxed);
                    }
                    shared.stats.protocol_errors.fetch_add(1, Ordering::Relaxed);
                    let body = err(ErrorCode::InvalidRequest, format!("bad frame: {e}"), false);
                    let _ = tx.send(encode(&v1::Response { request_id: 0, body: Some(body) }));
                    break 'conn;
                }
            };
            shared.stats.requests.fetch_add(1, Ordering::Relaxed);
            // Credit and CancelStream belong to the open stream: they are
            // never answered, and ignored when they name no open stream
            // (they may cross its terminal frame, §3.10).
            if let Some(ctl @ (request::Body::Credit(_) | request::Body::CancelStream(_))) = &req.body {
                let s = session.lock().unwrap();
                if s.minor >= 1 {
                    if let Some((id, tx)) = &s.stream
                        && *id == req.request_id
                    {
                        let _ = tx.send(match ctl {
                            request::Body::Credit(c) => StreamCtl::Credit(c.pages),
                            _ => StreamCtl::Cancel,
                        });
                    }
                    continue;
                }
            }
            let busy = session.lock().unwrap().busy.clone();
            if busy.swap(true, Ordering::SeqCst) {
                // A second operation while one runs on this ERP session.
                shared.stats.violation_overlap.fetch_add(1, Ordering::Relaxed);
                let body = err(ErrorCode::Busy, "another operation is running on this session (not thread-safe)", true);
                let _ = tx.send(encode(&v1::Response { request_id: req.request_id, body: Some(body) }));
                continue;
            }
            let (shared, session, tx, kill) = (shared.clone(), session.clone(), tx.clone(), kill.clone());
            tokio::spawn(async move {
                let faults = shared.faults.lock().unwrap().clone();
                if faults.drop_rate > 0.0 && shared.chance(faults.drop_rate) {
                    shared.stats.faults_dropped.fetch_add(1, Ordering::Relaxed);
                    busy.store(false, Ordering::SeqCst);
                    kill.notify_one();
                    return;
                }
                if faults.hang {
                    shared.stats.faults_hung.fetch_add(1, Ordering::Relaxed);
                    std::future::pending::<()>().await;
                }
                if faults.latency_ms > 0 {
                    tokio::time::sleep(Duration::from_millis(faults.latency_ms)).await;
                }
                // Injected UNAVAILABLE hits ERP operations only: session
                // messages (Hello, Login, Logout, Ping) do not touch the ERP.
                let erp_op = matches!(
                    req.body,
                    Some(
                        request::Body::GetByIds(_)
                            | request::Body::Query(_)
                            | request::Body::Upsert(_)
                            | request::Body::CreateOrder(_)
                            | request::Body::GetOrderByExternalRef(_)
                    )
                );
                let unavailable = erp_op
                    && shared
                        .unavailable_left
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                        .is_ok();
                let injected = erp_op && faults.error_rate > 0.0 && shared.chance(faults.error_rate);
                let outcome = if unavailable || injected {
                    shared.stats.faults_errors.fetch_add(1, Ordering::Relaxed);
                    Outcome::Answer(err(ErrorCode::Unavailable, "injected fault: ERP temporarily unavailable", true))
                } else {
                    handle(&shared, &session, req.body, &faults).await
                };
                if let Outcome::Stream(e, q, credit) = outcome {
                    run_stream(&shared, &session, &busy, &tx, req.request_id, e, q, credit).await;
                    return;
                }
                busy.store(false, Ordering::SeqCst);
                match outcome {
                    Outcome::Answer(body) => {
                        let id = if faults.wrong_request_id { req.request_id + 1 } else { req.request_id };
                        let _ = tx.send(encode(&v1::Response { request_id: id, body: Some(body) }));
                    }
                    Outcome::Drop => {
                        shared.stats.faults_dropped.fetch_add(1, Ordering::Relaxed);
                        kill.notify_one();
                    }
                    Outcome::Stream(..) => unreachable!("handled above"),
                }
            });
        }
    }
    // Ends an open stream's task (its control channel closes).
    session.lock().unwrap().stream = None;
    drop(tx);
    let _ = writer.await;
}

fn check_ids(shared: &Shared, ids: &[String]) -> Result<(), response::Body> {
    let max = shared.protocol.max_ids_per_request as usize;
    if ids.len() > max && !shared.broken(Broken::NoIdLimit) {
        shared.stats.violation_in_list.fetch_add(1, Ordering::Relaxed);
        return Err(err(ErrorCode::InvalidRequest, format!("{} ids exceed the limit of {max}", ids.len()), false));
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

fn matches(rec: &v1::Record, conds: &[v1::Condition], escapes: bool, case_sensitive: bool) -> bool {
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
            Some(v1::condition::Op::Like(p)) if case_sensitive => like(&v, p, escapes),
            Some(v1::condition::Op::Like(p)) => like(&v.to_lowercase(), &p.to_lowercase(), escapes),
            Some(v1::condition::Op::Range(r)) => {
                let cmp = |a: &str, b: &str| match (a.parse::<i64>(), b.parse::<i64>()) {
                    (Ok(x), Ok(y)) => x.cmp(&y),
                    _ => a.cmp(b),
                };
                (r.from.is_empty() || cmp(&v, &r.from).is_ge()) && (r.to.is_empty() || cmp(&v, &r.to).is_le())
            }
            // `exists` is answered UNSUPPORTED before matching (spec 3.2).
            Some(v1::condition::Op::Exists(_)) | None => false,
        }
    })
}

/// One token of a LIKE pattern.
#[derive(Clone, Copy, PartialEq)]
enum Tok {
    Lit(char),
    One,
    Any,
}

/// SQL LIKE with '%' and '_'; with `escapes` (protocol 1.1) a backslash
/// makes the next character literal.
fn like(s: &str, p: &str, escapes: bool) -> bool {
    let s: Vec<char> = s.chars().collect();
    let mut toks = Vec::new();
    let mut it = p.chars();
    while let Some(c) = it.next() {
        toks.push(match c {
            '\\' if escapes => Tok::Lit(it.next().unwrap_or('\\')),
            '%' => Tok::Any,
            '_' => Tok::One,
            c => Tok::Lit(c),
        });
    }
    let (mut i, mut j, mut star, mut mark) = (0, 0, None, 0);
    while i < s.len() {
        if j < toks.len() && (toks[j] == Tok::One || toks[j] == Tok::Lit(s[i])) {
            i += 1;
            j += 1;
        } else if j < toks.len() && toks[j] == Tok::Any {
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
    toks[j..].iter().all(|t| *t == Tok::Any)
}

/// A continuation token: opaque to clients, bound to the query that made
/// it (a hash of entity, conditions and `since_row_version`) and to the
/// last id of its page, so it stays valid across connections and restarts.
fn token(shared: &Shared, q: &v1::Query, last: &str) -> String {
    if shared.broken(Broken::UnboundTokens) {
        return last.to_string();
    }
    format!("{:016x}.{last}", query_hash(q))
}

fn query_hash(q: &v1::Query) -> u64 {
    use enventa_proto::prost::Message;
    let key = v1::Query { page_size: 0, continuation: String::new(), ..q.clone() };
    // FNV-1a: stable across processes (unlike the std hasher).
    key.encode_to_vec().iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3))
}

/// The last id a token continues after, if it belongs to this query.
fn resume_after(shared: &Shared, q: &v1::Query) -> Result<String, response::Body> {
    if q.continuation.is_empty() {
        return Ok(String::new());
    }
    if shared.broken(Broken::UnboundTokens) {
        return Ok(q.continuation.clone());
    }
    let bad = || err(ErrorCode::InvalidRequest, "continuation does not belong to this query", false);
    let (hash, last) = q.continuation.split_once('.').ok_or_else(bad)?;
    if hash != format!("{:016x}", query_hash(q)) {
        return Err(bad());
    }
    Ok(last.to_string())
}

async fn handle(shared: &Shared, session: &Mutex<Session>, body: Option<request::Body>, faults: &Faults) -> Outcome {
    use request::Body as B;
    let Some(body) = body else {
        return Outcome::Answer(err(ErrorCode::InvalidRequest, "empty request", false));
    };
    let (hello, logged_in, logged_out, minor) = {
        let s = session.lock().unwrap();
        (s.hello, s.logged_in, s.logged_out, s.minor)
    };
    if !hello && !matches!(body, B::Hello(_)) && !shared.broken(Broken::NoHelloFirst) {
        shared.stats.protocol_errors.fetch_add(1, Ordering::Relaxed);
        return Outcome::Answer(err(ErrorCode::InvalidRequest, "the first frame must be Hello", false));
    }
    let p = &shared.protocol;
    Outcome::Answer(match body {
        B::Hello(_) if hello => err(ErrorCode::InvalidRequest, "Hello was already answered on this connection", false),
        B::Hello(h) => {
            if h.protocol_version != PROTOCOL_VERSION {
                return Outcome::Answer(err(
                    ErrorCode::ProtocolVersion,
                    format!("protocol {} is not supported; this server speaks {PROTOCOL_VERSION}", h.protocol_version),
                    false,
                ));
            }
            let minor = if shared.broken(Broken::IgnoresMinorVersion) {
                p.minor_version
            } else {
                h.minor_version.min(p.minor_version)
            };
            {
                let mut s = session.lock().unwrap();
                s.hello = true;
                s.minor = minor;
            }
            response::Body::HelloOk(v1::HelloOk {
                protocol_version: PROTOCOL_VERSION,
                server: format!("enventa-sim/1.{}", p.minor_version),
                max_ids_per_request: p.max_ids_per_request,
                max_page_size: p.max_page_size,
                max_frame_bytes: p.max_frame_bytes,
                // A 1.0 server does not know the field: it stays 0.
                minor_version: if p.minor_version == 0 { 0 } else { minor },
            })
        }
        B::Login(_) if (logged_in || logged_out) && !shared.broken(Broken::LoginTwice) => {
            shared.stats.protocol_errors.fetch_add(1, Ordering::Relaxed);
            err(ErrorCode::InvalidRequest, "Login is sent once per connection", false)
        }
        B::Login(l) => {
            if shared.login_running.swap(true, Ordering::SeqCst) {
                shared.stats.violation_concurrent_login.fetch_add(1, Ordering::Relaxed);
                return Outcome::Answer(err(
                    ErrorCode::Busy,
                    "another Login() is running (must never run concurrently)",
                    true,
                ));
            }
            if faults.login_delay_ms > 0 {
                tokio::time::sleep(Duration::from_millis(faults.login_delay_ms)).await;
            }
            shared.login_running.store(false, Ordering::SeqCst);
            if l.user.is_empty() {
                return Outcome::Answer(err(ErrorCode::InvalidRequest, "user is required", false));
            }
            if p.password.as_ref().is_some_and(|pw| *pw != l.password) {
                let code = if minor >= 1 { ErrorCode::AuthFailed } else { ErrorCode::InvalidRequest };
                return Outcome::Answer(err(code, "unknown user or wrong password", false));
            }
            shared.stats.logins.fetch_add(1, Ordering::Relaxed);
            session.lock().unwrap().logged_in = true;
            response::Body::LoginOk(v1::LoginOk {
                session_id: format!("S{}", shared.stats.logins.load(Ordering::Relaxed)),
            })
        }
        B::Ping(p) => response::Body::Pong(v1::Pong { nonce: p.nonce }),
        _ if !logged_in => err(ErrorCode::NotLoggedIn, "Login first", false),
        B::Logout(_) => {
            {
                let mut s = session.lock().unwrap();
                if !shared.broken(Broken::IgnoresLogout) {
                    s.logged_in = false;
                    s.logged_out = true;
                }
            }
            shared.stats.logouts.fetch_add(1, Ordering::Relaxed);
            response::Body::LogoutOk(v1::LogoutOk {})
        }
        B::GetByIds(g) => {
            let e = match entity(g.entity) {
                Ok(e) => e,
                Err(b) => return Outcome::Answer(b),
            };
            if g.ids.is_empty() {
                return Outcome::Answer(err(ErrorCode::InvalidRequest, "GetByIds needs at least one id", false));
            }
            if let Err(b) = check_ids(shared, &g.ids) {
                return Outcome::Answer(b);
            }
            let store = shared.store.lock().unwrap();
            let mut out = v1::Records::default();
            for id in g.ids {
                match store.get(e, &id) {
                    Some(r) => out.records.push(r),
                    None => out.missing.push(id),
                }
            }
            if !out.missing.is_empty() && shared.broken(Broken::MissingAsError) {
                return Outcome::Answer(err(ErrorCode::NotFound, format!("{} does not exist", out.missing[0]), false));
            }
            response::Body::Records(out)
        }
        B::Query(q) => match check_query(shared, q) {
            Ok((e, q)) => response::Body::Page(page(shared, e, &q, minor)),
            Err(b) => b,
        },
        B::StreamQuery(_) if minor == 0 => {
            err(ErrorCode::Unsupported, "server-streamed queries need protocol 1.1", false)
        }
        B::StreamQuery(sq) => {
            if sq.credit == 0 || u64::from(sq.credit) > MAX_CREDIT {
                return Outcome::Answer(err(
                    ErrorCode::InvalidRequest,
                    format!("credit must be 1..={MAX_CREDIT}, got {}", sq.credit),
                    false,
                ));
            }
            match check_query(shared, sq.query.unwrap_or_default()) {
                Ok((e, mut q)) => {
                    if shared.broken(Broken::StreamIgnoresContinuation) {
                        q.continuation.clear();
                    }
                    return Outcome::Stream(e, q, sq.credit);
                }
                Err(b) => b,
            }
        }
        // The connection loop takes these in 1.1 sessions: only a 1.0
        // session, which does not know them, gets here.
        B::Credit(_) | B::CancelStream(_) => {
            err(ErrorCode::Unsupported, "server-streamed queries need protocol 1.1", false)
        }
        B::Upsert(u) => {
            let e = match entity(u.entity) {
                Ok(e) => e,
                Err(b) => return Outcome::Answer(b),
            };
            if e == Entity::ArticleGroup || e == Entity::Contact {
                return Outcome::Answer(err(ErrorCode::Unsupported, "this entity is read-only", false));
            }
            let ids: Vec<String> = u.records.iter().map(|r| r.id.clone()).collect();
            if let Err(b) = check_ids(shared, &ids) {
                return Outcome::Answer(b);
            }
            if shared.take_drop_upsert() {
                return Outcome::Drop;
            }
            let items = upsert(shared, e, u);
            shared.stats.upserts.fetch_add(1, Ordering::Relaxed);
            if shared.take_commit_then_drop() {
                return Outcome::Drop;
            }
            response::Body::UpsertResult(v1::UpsertResult { items })
        }
        B::CreateOrder(o) => {
            let answer = create_order(shared, o);
            if matches!(answer, response::Body::Order(_)) && shared.take_commit_then_drop() {
                return Outcome::Drop;
            }
            answer
        }
        B::GetOrderByExternalRef(_) if minor == 0 => {
            err(ErrorCode::Unsupported, "GetOrderByExternalRef needs protocol 1.1", false)
        }
        B::GetOrderByExternalRef(g) => {
            shared.stats.order_lookups.fetch_add(1, Ordering::Relaxed);
            if g.external_ref.is_empty() {
                return Outcome::Answer(err(ErrorCode::InvalidRequest, "external_ref is required", false));
            }
            let mut store = shared.store.lock().unwrap();
            let lost = shared.broken(Broken::LosesOrders);
            match store.orders().iter().find(|(r, _)| {
                !lost
                    && r.fields.get("customer_id") == Some(&g.customer_id)
                    && r.fields.get("external_ref") == Some(&g.external_ref)
            }) {
                Some((r, lines)) => response::Body::Order(v1::Order { record: Some(r.clone()), lines: lines.clone() }),
                None => err(
                    ErrorCode::NotFound,
                    format!("no order of customer {} has external_ref {}", g.customer_id, g.external_ref),
                    false,
                ),
            }
        }
    })
}

/// Validates a Query (§3.2, §3.3): the entity, its conditions, the page
/// size and its continuation; answers the error a bad one gets.
fn check_query(shared: &Shared, q: v1::Query) -> Result<(Entity, v1::Query), response::Body> {
    let p = &shared.protocol;
    let e = entity(q.entity)?;
    for c in &q.conditions {
        match &c.op {
            Some(v1::condition::Op::In(l)) => check_ids(shared, &l.values)?,
            Some(v1::condition::Op::Exists(_)) => {
                return Err(err(ErrorCode::Unsupported, "exists is not supported", false));
            }
            None => return Err(err(ErrorCode::InvalidRequest, "condition without op", false)),
            _ => {}
        }
    }
    let mut q = q;
    if q.page_size == 0 && shared.broken(Broken::PageSizeZero) {
        q.page_size = 1;
    }
    if q.page_size == 0 || q.page_size > p.max_page_size {
        if q.page_size > p.max_page_size {
            shared.stats.violation_page_size.fetch_add(1, Ordering::Relaxed);
        }
        return Err(err(ErrorCode::InvalidRequest, format!("page_size must be 1..={}", p.max_page_size), false));
    }
    resume_after(shared, &q)?;
    Ok((e, q))
}

/// The page a validated Query answers.
fn page(shared: &Shared, e: Entity, q: &v1::Query, minor: u32) -> v1::Page {
    // Validated by check_query: the token belongs to this query.
    let after = resume_after(shared, q).unwrap_or_default();
    let since = q.since_row_version;
    let escapes = minor >= 1 && !shared.broken(Broken::NoLikeEscape);
    let case_sensitive = shared.broken(Broken::CaseSensitiveLike);
    let keep = |r: &v1::Record| r.row_version > since && matches(r, &q.conditions, escapes, case_sensitive);
    let store = shared.store.lock().unwrap();
    let (records, last) = store.scan(e, &after, q.page_size as usize, &keep);
    let continuation = last.map(|l| token(shared, q, &l)).unwrap_or_default();
    v1::Page { records, continuation }
}

/// The frame answering request `id` with the page of a validated Query,
/// and that page's continuation. A query without conditions (a full or
/// delta stream, the bulk of a container's traffic) is encoded straight
/// from the store, without building its records; the bytes are the ones
/// [`page`] would give (a test holds them equal).
fn page_frame(shared: &Shared, e: Entity, q: &v1::Query, minor: u32, id: u64) -> (Vec<u8>, String) {
    use enventa_proto::prost::encoding::{self, WireType};
    if !q.conditions.is_empty() {
        let p = page(shared, e, q, minor);
        let continuation = p.continuation.clone();
        return (encode(&v1::Response { request_id: id, body: Some(response::Body::Page(p)) }), continuation);
    }
    // Validated by check_query: the token belongs to this query.
    let after = resume_after(shared, q).unwrap_or_default();
    let mut page = Vec::with_capacity(q.page_size as usize * 320);
    let last =
        shared.store.lock().unwrap().scan_encoded(e, &after, q.page_size as usize, q.since_row_version, &mut page);
    let continuation = last.map(|l| token(shared, q, &l)).unwrap_or_default();
    if !continuation.is_empty() {
        encoding::string::encode(2, &continuation, &mut page);
    }
    // Response { request_id = 1, page = 21 }, behind the frame's length.
    let mut head = Vec::with_capacity(24);
    if id != 0 {
        encoding::uint64::encode(1, &id, &mut head);
    }
    encoding::encode_key(21, WireType::LengthDelimited, &mut head);
    encoding::encode_varint(page.len() as u64, &mut head);
    let mut frame = Vec::with_capacity(10 + head.len() + page.len());
    encoding::encode_varint((head.len() + page.len()) as u64, &mut frame);
    frame.extend_from_slice(&head);
    frame.extend_from_slice(&page);
    (frame, continuation)
}

/// Sends the pages of an open stream while it has credit (§3.10). The
/// session is busy until the terminal frame; the stream's state is cleared
/// before that frame is sent, so the client's next request finds the
/// session free.
#[allow(clippy::too_many_arguments)]
async fn run_stream(
    shared: &Shared,
    session: &Mutex<Session>,
    busy: &AtomicBool,
    tx: &mpsc::UnboundedSender<Vec<u8>>,
    id: u64,
    e: Entity,
    mut q: v1::Query,
    credit: u32,
) {
    let (ctl_tx, mut ctl) = mpsc::unbounded_channel();
    let minor = {
        let mut s = session.lock().unwrap();
        s.stream = Some((id, ctl_tx));
        s.minor
    };
    shared.stats.streams.fetch_add(1, Ordering::Relaxed);
    let ignores_credit = shared.broken(Broken::StreamIgnoresCredit);
    let mut credit = u64::from(credit);
    let mut cancelled = false;
    let apply = |c: StreamCtl, credit: &mut u64, cancelled: &mut bool| match c {
        StreamCtl::Credit(n) => *credit = (*credit + u64::from(n)).min(MAX_CREDIT),
        StreamCtl::Cancel => *cancelled = true,
    };
    let end = |frame: Vec<u8>| {
        session.lock().unwrap().stream = None;
        busy.store(false, Ordering::SeqCst);
        let _ = tx.send(frame);
    };
    loop {
        while let Ok(c) = ctl.try_recv() {
            apply(c, &mut credit, &mut cancelled);
        }
        if cancelled && !shared.broken(Broken::StreamIgnoresCancel) {
            let body = response::Body::StreamEnd(v1::StreamEnd { continuation: q.continuation.clone() });
            return end(encode(&v1::Response { request_id: id, body: Some(body) }));
        }
        if credit == 0 && !ignores_credit {
            match ctl.recv().await {
                Some(c) => apply(c, &mut credit, &mut cancelled),
                // The connection is gone.
                None => {
                    busy.store(false, Ordering::SeqCst);
                    return;
                }
            }
            continue;
        }
        // The ERP's time for one page (the same fault as a Query's).
        let latency = shared.faults.lock().unwrap().latency_ms;
        if latency > 0 {
            tokio::time::sleep(Duration::from_millis(latency)).await;
        }
        let (frame, continuation) = page_frame(shared, e, &q, minor, id);
        credit = credit.saturating_sub(1);
        shared.stats.stream_pages.fetch_add(1, Ordering::Relaxed);
        if continuation.is_empty() {
            return end(frame);
        }
        q.continuation = continuation;
        if tx.send(frame).is_err() {
            busy.store(false, Ordering::SeqCst);
            return;
        }
        // Lets the connection's writer send this page now: on a runtime
        // with one worker it would otherwise wait until the credit runs
        // out, and the client's first page would come after its last
        // credited one.
        tokio::task::yield_now().await;
    }
}

/// One Upsert request: items that fail are not written, the others are
/// committed together (spec 3.4).
fn upsert(shared: &Shared, e: Entity, u: v1::Upsert) -> Vec<v1::UpsertItemResult> {
    let mut store = shared.store.lock().unwrap();
    let now = now_ms();
    u.records
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
            let stored = store.get(e, &id);
            if id.is_empty() {
                return fail(ErrorCode::InvalidRequest, "record without id".into());
            }
            let name = r.fields.get("name");
            if name.is_some_and(|n| n.trim().is_empty()) || (stored.is_none() && name.is_none()) {
                return fail(ErrorCode::InvalidRequest, format!("record {id:?}: name is required"));
            }
            if let Some(bad) = r.fields.keys().find(|k| READ_ONLY.contains(&k.as_str())) {
                return fail(ErrorCode::InvalidRequest, format!("record {id:?}: field {bad} is read-only"));
            }
            if let Some(v) =
                stored.as_ref().map(|s| s.row_version).filter(|_| u.check_row_version && r.row_version != 0)
                && v != r.row_version
            {
                return fail(ErrorCode::Conflict, format!("{id}: row version {} is stale (now {v})", r.row_version));
            }
            match store.upsert(e, r, now, !shared.broken(Broken::UpsertReplaces)) {
                Ok((created, unchanged, v)) => {
                    v1::UpsertItemResult { id, ok: true, created, row_version: v, error: None, unchanged }
                }
                Err(m) => fail(ErrorCode::InvalidRequest, m),
            }
        })
        .collect()
}

/// Fields the container derives itself; an Upsert may not set them.
const READ_ONLY: [&str; 1] = ["group_name"];

fn create_order(shared: &Shared, o: v1::CreateOrder) -> response::Body {
    let mut store = shared.store.lock().unwrap();
    if store.get(Entity::Customer, &o.customer_id).is_none() {
        return err(ErrorCode::NotFound, format!("customer {} does not exist", o.customer_id), false);
    }
    if o.lines.is_empty() {
        return err(ErrorCode::InvalidRequest, "an order needs at least one line", false);
    }
    if let Some((existing, _)) = store.orders().iter().find(|(r, _)| {
        !o.external_ref.is_empty()
            && r.fields.get("customer_id") == Some(&o.customer_id)
            && r.fields.get("external_ref") == Some(&o.external_ref)
    }) {
        return err(
            ErrorCode::Conflict,
            format!("external_ref {} already used by order {}", o.external_ref, existing.id),
            false,
        );
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
        use super::like;
        assert!(like("sechskantschraube 8 mm", "%schraube%", true));
        assert!(like("abc", "a_c", true));
        assert!(!like("abc", "a_d", true));
        assert!(like("", "%", true));
        // 1.1: a backslash makes the next character literal.
        assert!(like("50% rabatt", "50\\%%", true));
        assert!(!like("500 rabatt", "50\\%%", true));
        assert!(like("a_b", "a\\_b", true));
        assert!(!like("axb", "a\\_b", true));
        assert!(like("a\\b", "a\\\\b", true));
        // 1.0: no escapes, the backslash is an ordinary character.
        assert!(like("50\\x", "50\\_", false));
    }

    /// The stream's directly encoded frames equal what encoding [`page`]'s
    /// answer gives, over a whole stream with and without a delta bound.
    #[test]
    fn a_page_frame_is_the_encoded_page() {
        use super::*;
        use enventa_proto::prost::Message;
        let shared = Shared {
            store: Mutex::new(Store::new(2_500, 10)),
            stats: Stats::default(),
            faults: Mutex::default(),
            protocol: ProtocolConfig::default(),
            unavailable_left: AtomicU32::new(0),
            login_running: AtomicBool::new(false),
            rng: Mutex::new(1),
        };
        let rec = v1::Record {
            id: "A0000007".into(),
            fields: [("name".into(), "renamed".into())].into(),
            ..Default::default()
        };
        let (_, _, written) = shared.store.lock().unwrap().upsert(Entity::Article, rec, 9, true).unwrap();
        // (A query with conditions takes `page` itself: nothing to compare.)
        for since in [0, written - 1] {
            let mut q = v1::Query {
                entity: Entity::Article as i32,
                page_size: 1000,
                since_row_version: since,
                ..Default::default()
            };
            let mut pages = 0;
            loop {
                let (frame, continuation) = page_frame(&shared, Entity::Article, &q, 1, 42);
                let want = page(&shared, Entity::Article, &q, 1);
                assert_eq!(continuation, want.continuation);
                let want = encode(&v1::Response { request_id: 42, body: Some(response::Body::Page(want)) });
                assert_eq!(frame, want, "page {pages} of since {since}");
                let got = v1::Response::decode_length_delimited(frame.as_slice()).unwrap();
                assert_eq!(got.request_id, 42);
                pages += 1;
                if continuation.is_empty() {
                    break;
                }
                q.continuation = continuation;
            }
            assert_eq!(pages, if since == 0 { 3 } else { 1 }, "since {since}");
        }
    }
}
