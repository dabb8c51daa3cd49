//! The conformance kit: runs the protocol's behaviour checks against any
//! container (the real .NET one or this simulator) and reports one
//! pass/fail line per check. `docs/enventa-protocol.md` is what is checked;
//! every check names its section.
//!
//! The kit obeys the spec itself: it discovers ids through Query instead of
//! assuming a data set, uses only the limits HelloOk announces, and never
//! sends two Logins at once (a BUSY Login is retried). The checks that
//! write (Upsert, CreateOrder) create records whose ids start with
//! `CONF-` and orders whose external_ref starts with `conf-`: run the kit
//! against a test mandant.

use enventa_proto::v1::{self, ErrorCode, request, response};
use enventa_proto::{FrameReader, encode};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Login data for the container under test.
#[derive(Clone, Debug, Default)]
pub struct Credentials {
    pub user: String,
    pub password: String,
    pub mandant: String,
}

/// The outcome of one check.
#[derive(Clone, Debug)]
pub struct Check {
    pub name: &'static str,
    /// The section of docs/enventa-protocol.md the check enforces.
    pub section: &'static str,
    pub passed: bool,
    pub detail: String,
}

type Outcome = Result<String, String>;

const IO_TIMEOUT: Duration = Duration::from_secs(10);

struct Conn {
    s: TcpStream,
    r: FrameReader,
    id: u64,
}

impl Conn {
    async fn open(addr: SocketAddr) -> Result<Conn, String> {
        let s = tokio::time::timeout(IO_TIMEOUT, TcpStream::connect(addr))
            .await
            .map_err(|_| "connect timed out".to_string())?
            .map_err(|e| format!("connect: {e}"))?;
        Ok(Conn { s, r: FrameReader::new(64 << 20), id: 0 })
    }

    async fn send(&mut self, body: request::Body) -> Result<u64, String> {
        self.id += 1;
        self.s
            .write_all(&encode(&v1::Request { request_id: self.id, body: Some(body) }))
            .await
            .map_err(|e| format!("write: {e}"))?;
        Ok(self.id)
    }

    async fn recv(&mut self) -> Result<v1::Response, String> {
        let work = async {
            loop {
                if let Some(r) = self.r.next::<v1::Response>().map_err(|e| format!("bad frame from the server: {e}"))? {
                    return Ok(r);
                }
                let mut buf = vec![0u8; 64 * 1024];
                let n = self.s.read(&mut buf).await.map_err(|e| format!("read: {e}"))?;
                if n == 0 {
                    return Err("the server closed the connection".to_string());
                }
                self.r.push(&buf[..n]);
            }
        };
        tokio::time::timeout(IO_TIMEOUT, work).await.map_err(|_| "no answer within 10 s".to_string())?
    }

    async fn call(&mut self, body: request::Body) -> Result<response::Body, String> {
        let id = self.send(body).await?;
        let r = self.recv().await?;
        if r.request_id != id {
            return Err(format!("answer carries request_id {} for request {id}", r.request_id));
        }
        r.body.ok_or_else(|| "response without a body".to_string())
    }

    async fn hello(&mut self) -> Result<v1::HelloOk, String> {
        self.hello_minor(enventa_proto::PROTOCOL_MINOR).await
    }

    async fn hello_minor(&mut self, minor_version: u32) -> Result<v1::HelloOk, String> {
        let hello = v1::Hello { protocol_version: 1, client: "enventa-conformance/1.1".into(), minor_version };
        match self.call(request::Body::Hello(hello)).await? {
            response::Body::HelloOk(h) => Ok(h),
            other => Err(format!("Hello answered {other:?}")),
        }
    }

    /// Login, sent again after a backoff while another client's Login runs
    /// (BUSY is the answer §2.2 requires then).
    async fn login(&mut self, c: &Credentials) -> Result<(), String> {
        let login = v1::Login { user: c.user.clone(), password: c.password.clone(), mandant: c.mandant.clone() };
        for attempt in 0..50u64 {
            match self.call(request::Body::Login(login.clone())).await? {
                response::Body::LoginOk(_) => return Ok(()),
                response::Body::Error(e) if e.code == ErrorCode::Busy as i32 => {
                    tokio::time::sleep(Duration::from_millis(20 + 20 * attempt.min(10))).await;
                }
                other => return Err(format!("Login answered {other:?}")),
            }
        }
        Err("Login stayed BUSY".into())
    }

    async fn session(addr: SocketAddr, c: &Credentials) -> Result<Conn, String> {
        let mut conn = Conn::open(addr).await?;
        conn.hello().await?;
        conn.login(c).await?;
        Ok(conn)
    }

    /// The next frame if one arrives within `wait`, `None` if the server
    /// stays silent that long (how the kit sees that a stream waits for
    /// credit).
    async fn recv_within(&mut self, wait: Duration) -> Result<Option<v1::Response>, String> {
        if let Some(r) = self.r.next::<v1::Response>().map_err(|e| format!("bad frame from the server: {e}"))? {
            return Ok(Some(r));
        }
        match tokio::time::timeout(wait, self.recv()).await {
            Ok(r) => r.map(Some),
            Err(_) => Ok(None),
        }
    }

    /// Sends a request that is never answered (Credit, CancelStream) with
    /// an explicit request id: the open stream's (§3.10).
    async fn send_as(&mut self, id: u64, body: request::Body) -> Result<(), String> {
        self.s
            .write_all(&encode(&v1::Request { request_id: id, body: Some(body) }))
            .await
            .map_err(|e| format!("write: {e}"))
    }

    /// One frame of the stream `id`: a Page, or the terminal Error or
    /// StreamEnd. A frame with another request id is a protocol error.
    async fn stream_frame(&mut self, id: u64) -> Result<response::Body, String> {
        let r = self.recv().await?;
        if r.request_id != id {
            return Err(format!("a frame of stream {id} carries request_id {}", r.request_id));
        }
        r.body.ok_or_else(|| "stream frame without a body".to_string())
    }

    /// The pages of stream `id` up to its last one; an error for any other
    /// frame, or when `most` pages came without the last.
    async fn stream_pages(&mut self, id: u64, most: usize) -> Result<Vec<v1::Page>, String> {
        let mut pages = Vec::new();
        loop {
            match self.stream_frame(id).await? {
                response::Body::Page(p) => {
                    let last = p.continuation.is_empty();
                    pages.push(p);
                    if last {
                        return Ok(pages);
                    }
                }
                other => return Err(format!("stream frame {other:?}")),
            }
            if pages.len() >= most {
                return Err(format!("{} pages and no last page", pages.len()));
            }
        }
    }

    async fn query(&mut self, q: v1::Query) -> Result<v1::Page, String> {
        match self.call(request::Body::Query(q)).await? {
            response::Body::Page(p) => Ok(p),
            other => Err(format!("Query answered {other:?}")),
        }
    }

    async fn get(&mut self, entity: v1::Entity, ids: Vec<String>) -> Result<v1::Records, String> {
        match self.call(request::Body::GetByIds(v1::GetByIds { entity: entity as i32, ids })).await? {
            response::Body::Records(r) => Ok(r),
            other => Err(format!("GetByIds answered {other:?}")),
        }
    }

    /// Up to `n` records of `entity`, found by paging a Query (never by
    /// guessing ids).
    async fn discover(&mut self, entity: v1::Entity, n: usize, max_page: u32) -> Result<Vec<v1::Record>, String> {
        let mut out = Vec::new();
        let mut continuation = String::new();
        loop {
            let page_size = (n - out.len()).clamp(1, max_page as usize) as u32;
            let p =
                self.query(v1::Query { entity: entity as i32, page_size, continuation, ..Default::default() }).await?;
            out.extend(p.records);
            if out.len() >= n || p.continuation.is_empty() {
                out.truncate(n);
                return Ok(out);
            }
            continuation = p.continuation;
        }
    }
}

fn expect_error(b: &response::Body, code: ErrorCode) -> Outcome {
    match b {
        response::Body::Error(e) if e.code == code as i32 => {
            if e.message.is_empty() {
                Err(format!("{code:?} without a message"))
            } else {
                Ok(format!("{code:?}: {}", e.message))
            }
        }
        other => Err(format!("expected error {code:?}, got {other:?}")),
    }
}

fn nonce() -> String {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    format!("{:x}", t.as_nanos())
}

fn eq(field: &str, v: &str) -> v1::Condition {
    v1::Condition { field: field.into(), op: Some(v1::condition::Op::Eq(v.into())) }
}

fn op(field: &str, op: v1::condition::Op) -> v1::Condition {
    v1::Condition { field: field.into(), op: Some(op) }
}

fn ids_of(p: &[v1::Record]) -> Vec<String> {
    p.iter().map(|r| r.id.clone()).collect()
}

/// Everything a check needs to know about the container, learned once.
struct Known {
    hello: v1::HelloOk,
    articles: Vec<v1::Record>,
}

/// Runs every check against the container at `addr`.
pub async fn run(addr: SocketAddr, creds: &Credentials) -> Vec<Check> {
    let mut out = Vec::new();
    macro_rules! check {
        ($name:literal, $section:literal, $body:expr) => {{
            let r: Outcome = async { $body }.await;
            let (passed, detail) = match r {
                Ok(d) => (true, d),
                Err(d) => (false, d),
            };
            out.push(Check { name: $name, section: $section, passed, detail: format!("[{}] {detail}", $section) });
        }};
    }
    let known: Result<Known, String> = async {
        let mut c = Conn::open(addr).await?;
        let hello = c.hello().await?;
        c.login(creds).await.map_err(|e| format!("no session: {e}"))?;
        let articles = c.discover(v1::Entity::Article, 12, hello.max_page_size.max(1)).await?;
        Ok(Known { hello, articles })
    }
    .await;
    let known = match known {
        Ok(k) => k,
        Err(e) => {
            out.push(Check { name: "session", section: "§2", passed: false, detail: format!("[§2] {e}") });
            return out;
        }
    };
    let max_ids = known.hello.max_ids_per_request as usize;
    let max_page = known.hello.max_page_size;
    let minor = known.hello.minor_version;
    let arts = &known.articles;

    check!("framing", "§1.3", {
        let mut c = Conn::open(addr).await?;
        let h = c.hello().await?;
        Ok(format!("length-delimited Hello/HelloOk round trip, request_id echoed, server {}", h.server))
    });
    check!("handshake", "§2.1", {
        let h = &known.hello;
        if h.protocol_version != 1 {
            return Err(format!("negotiated protocol {} (expected 1)", h.protocol_version));
        }
        if h.minor_version > enventa_proto::PROTOCOL_MINOR {
            return Err(format!(
                "minor_version {} is above the client's {}",
                h.minor_version,
                enventa_proto::PROTOCOL_MINOR
            ));
        }
        if h.max_ids_per_request == 0 || h.max_ids_per_request > 1000 {
            return Err(format!("max_ids_per_request is {} (must be 1..=1000)", h.max_ids_per_request));
        }
        if h.max_page_size == 0 {
            return Err("max_page_size must be announced".into());
        }
        Ok(format!(
            "1.{}, {} ids/request, {} records/page, {} bytes/frame",
            h.minor_version, h.max_ids_per_request, h.max_page_size, h.max_frame_bytes
        ))
    });
    check!("negotiation-1.0", "§2.1", {
        let mut c = Conn::open(addr).await?;
        let h = c.hello_minor(0).await?;
        if h.protocol_version != 1 || h.minor_version != 0 {
            return Err(format!("a 1.0 Hello got protocol {}.{}", h.protocol_version, h.minor_version));
        }
        Ok("a 1.0 client is answered 1.0".into())
    });
    check!("hello-first", "§2.1", {
        let mut c = Conn::open(addr).await?;
        let b = c.call(request::Body::Ping(v1::Ping { nonce: 1 })).await?;
        expect_error(&b, ErrorCode::InvalidRequest)
    });
    check!("hello-once", "§2.1", {
        let mut c = Conn::open(addr).await?;
        c.hello().await?;
        let again = v1::Hello { protocol_version: 1, client: "again".into(), minor_version: 1 };
        expect_error(&c.call(request::Body::Hello(again)).await?, ErrorCode::InvalidRequest)
    });
    check!("protocol-version", "§2.1", {
        for v in [0, 2] {
            let mut c = Conn::open(addr).await?;
            let b = c
                .call(request::Body::Hello(v1::Hello { protocol_version: v, client: "x".into(), minor_version: 0 }))
                .await?;
            expect_error(&b, ErrorCode::ProtocolVersion).map_err(|e| format!("major {v}: {e}"))?;
        }
        Ok("majors 0 and 2 refused with PROTOCOL_VERSION".into())
    });
    check!("login-required", "§2.4", {
        let mut c = Conn::open(addr).await?;
        c.hello().await?;
        let b = c.call(request::Body::GetByIds(v1::GetByIds { entity: 1, ids: vec!["x".into()] })).await?;
        expect_error(&b, ErrorCode::NotLoggedIn)?;
        expect_error(&c.call(request::Body::Logout(v1::Logout {})).await?, ErrorCode::NotLoggedIn)
    });
    check!("login-once", "§2.2", {
        let mut c = Conn::session(addr, creds).await?;
        let again =
            v1::Login { user: creds.user.clone(), password: creds.password.clone(), mandant: creds.mandant.clone() };
        let b = c.call(request::Body::Login(again)).await?;
        expect_error(&b, ErrorCode::InvalidRequest)
    });
    check!("auth-failed", "§2.2", {
        if creds.password.is_empty() || minor < 1 {
            return Ok("not checked: needs a password (--password) and protocol 1.1".into());
        }
        let mut c = Conn::open(addr).await?;
        c.hello().await?;
        let wrong = v1::Login {
            user: creds.user.clone(),
            password: format!("wrong-{}", nonce()),
            mandant: creds.mandant.clone(),
        };
        expect_error(&c.call(request::Body::Login(wrong)).await?, ErrorCode::AuthFailed)
    });
    check!("ping", "§2.5", {
        let mut c = Conn::session(addr, creds).await?;
        match c.call(request::Body::Ping(v1::Ping { nonce: 4242 })).await? {
            response::Body::Pong(p) if p.nonce == 4242 => Ok("nonce echoed".into()),
            other => Err(format!("Ping answered {other:?}")),
        }
    });
    check!("logout", "§2.6", {
        let mut c = Conn::session(addr, creds).await?;
        match c.call(request::Body::Logout(v1::Logout {})).await? {
            response::Body::LogoutOk(_) => {}
            other => return Err(format!("Logout answered {other:?}")),
        }
        let b = c.call(request::Body::GetByIds(v1::GetByIds { entity: 1, ids: vec!["x".into()] })).await?;
        expect_error(&b, ErrorCode::NotLoggedIn).map_err(|e| format!("after Logout: {e}"))
    });
    check!("get-by-ids", "§3.5", {
        let mut c = Conn::session(addr, creds).await?;
        if arts.len() < 2 {
            return Err(format!("the container lists {} articles; the kit needs 2", arts.len()));
        }
        let unknown = format!("CONF-NONE-{}", nonce());
        // Known ids backwards with an unknown one between: order must follow the request.
        let mut asked: Vec<String> = ids_of(arts).into_iter().rev().take(max_ids.saturating_sub(1).max(1)).collect();
        asked.insert(1.min(asked.len()), unknown.clone());
        asked.truncate(max_ids);
        let r = c.get(v1::Entity::Article, asked.clone()).await?;
        let want: Vec<String> = asked.iter().filter(|id| **id != unknown).cloned().collect();
        if ids_of(&r.records) != want {
            return Err(format!("records {:?} for request {asked:?}", ids_of(&r.records)));
        }
        if asked.contains(&unknown) && r.missing != vec![unknown.clone()] {
            return Err(format!("missing is {:?}, expected [{unknown}]", r.missing));
        }
        for rec in &r.records {
            let listed = arts.iter().find(|a| a.id == rec.id).unwrap();
            if listed.fields != rec.fields {
                return Err(format!("{}: GetByIds and Query disagree on the fields", rec.id));
            }
        }
        Ok(format!("{} ids in request order, unknown id listed as missing", asked.len()))
    });
    check!("id-limit", "§3.5", {
        let mut c = Conn::session(addr, creds).await?;
        let too_many: Vec<String> = (0..=max_ids).map(|i| format!("CONF-{i}")).collect();
        let b = c.call(request::Body::GetByIds(v1::GetByIds { entity: 1, ids: too_many })).await?;
        expect_error(&b, ErrorCode::InvalidRequest)?;
        let b = c.call(request::Body::GetByIds(v1::GetByIds { entity: 1, ids: vec![] })).await?;
        expect_error(&b, ErrorCode::InvalidRequest)?;
        let values = v1::StringList { values: (0..=max_ids).map(|i| i.to_string()).collect() };
        let q = v1::Query {
            entity: 1,
            conditions: vec![op("id", v1::condition::Op::In(values))],
            page_size: 1,
            ..Default::default()
        };
        expect_error(&c.call(request::Body::Query(q)).await?, ErrorCode::InvalidRequest)?;
        Ok(format!("{} ids, 0 ids and an IN-list of {} refused", max_ids + 1, max_ids + 1))
    });
    check!("paging", "§3.3", {
        let mut c = Conn::session(addr, creds).await?;
        let n = arts.len().min(9);
        if n < 3 {
            return Err("the kit needs 3 articles".into());
        }
        let mut seen = Vec::new();
        let mut continuation = String::new();
        for _ in 0..n {
            let p = c.query(v1::Query { entity: 1, page_size: 1, continuation, ..Default::default() }).await?;
            seen.extend(ids_of(&p.records));
            if p.continuation.is_empty() || seen.len() >= n {
                break;
            }
            continuation = p.continuation;
        }
        let want: Vec<String> = ids_of(&arts[..n]);
        if seen[..n.min(seen.len())] != want[..] {
            return Err(format!("pages of 1 gave {seen:?}, one page of {n} gave {want:?}"));
        }
        if !want.windows(2).all(|w| w[0].as_bytes() < w[1].as_bytes()) {
            return Err(format!("records are not ordered by id: {want:?}"));
        }
        Ok(format!("{n} pages of 1 equal one page of {n}, ordered by id"))
    });
    check!("continuation-bound", "§3.3", {
        let mut c = Conn::session(addr, creds).await?;
        let p = c.query(v1::Query { entity: 1, page_size: 1, ..Default::default() }).await?;
        if p.continuation.is_empty() {
            return Err("a page of 1 of many articles has no continuation".into());
        }
        let other = v1::Query {
            entity: 1,
            page_size: 1,
            continuation: p.continuation.clone(),
            conditions: vec![op("name", v1::condition::Op::Like("%".into()))],
            ..Default::default()
        };
        expect_error(&c.call(request::Body::Query(other)).await?, ErrorCode::InvalidRequest)?;
        // The same query on another connection continues.
        let mut d = Conn::session(addr, creds).await?;
        let next =
            d.query(v1::Query { entity: 1, page_size: 1, continuation: p.continuation, ..Default::default() }).await?;
        if next.records.first().map(|r| &r.id) != arts.get(1).map(|r| &r.id) {
            return Err("the token did not continue on another connection".into());
        }
        Ok("refused for another query, valid on another connection".into())
    });
    check!("page-size", "§3.3", {
        let mut c = Conn::session(addr, creds).await?;
        for size in [0, max_page.saturating_add(1)] {
            let q = v1::Query { entity: 1, page_size: size, ..Default::default() };
            expect_error(&c.call(request::Body::Query(q)).await?, ErrorCode::InvalidRequest)
                .map_err(|e| format!("page_size {size}: {e}"))?;
        }
        Ok(format!("0 and {} refused", max_page.saturating_add(1)))
    });
    check!("conditions", "§3.2", {
        let mut c = Conn::session(addr, creds).await?;
        let (a, b) = (&arts[0], &arts[1]);
        let q = |conditions: Vec<v1::Condition>| v1::Query {
            entity: 1,
            conditions,
            page_size: max_page.min(1000),
            ..Default::default()
        };
        let got = ids_of(&c.query(q(vec![eq("id", &a.id)])).await?.records);
        if got != vec![a.id.clone()] {
            return Err(format!("eq id={} gave {got:?}", a.id));
        }
        let list = v1::StringList { values: vec![b.id.clone(), a.id.clone(), "CONF-NONE".into()] };
        let got = ids_of(&c.query(q(vec![op("id", v1::condition::Op::In(list))])).await?.records);
        if got != vec![a.id.clone(), b.id.clone()] {
            return Err(format!("in [{}, {}] gave {got:?}", b.id, a.id));
        }
        let range = v1::Range { from: a.id.clone(), to: b.id.clone() };
        let got = ids_of(&c.query(q(vec![op("id", v1::condition::Op::Range(range))])).await?.records);
        if got != vec![a.id.clone(), b.id.clone()] {
            return Err(format!("range [{}, {}] gave {got:?}", a.id, b.id));
        }
        let name = a.fields.get("name").cloned().unwrap_or_default();
        if let Some(first) = name.chars().next() {
            // Upper-cased, first character replaced by `_`, wrapped in `%`: case-insensitive wildcards.
            let pattern = format!(
                "%_{}%",
                name.chars().skip(1).collect::<String>().to_uppercase().replace(['%', '_', '\\'], "_")
            );
            let got = ids_of(
                &c.query(q(vec![eq("id", &a.id), op("name", v1::condition::Op::Like(pattern.clone()))])).await?.records,
            );
            if got != vec![a.id.clone()] {
                return Err(format!("like {pattern:?} on name {name:?} (first {first:?}) gave {got:?}"));
            }
        }
        let both = vec![eq("id", &a.id), eq("id", &b.id)];
        if !c.query(q(both)).await?.records.is_empty() {
            return Err("two eq conditions on different ids matched: not ANDed".into());
        }
        let ex = op("id", v1::condition::Op::Exists(v1::Exists { entity: 2, conditions: vec![] }));
        expect_error(&c.call(request::Body::Query(q(vec![ex]))).await?, ErrorCode::Unsupported)?;
        Ok("eq, in, range, like (case-insensitive), AND, exists → UNSUPPORTED".into())
    });
    check!("upsert-merge", "§3.4", {
        let mut c = Conn::session(addr, creds).await?;
        let group = arts[0].fields.get("group").cloned().unwrap_or_default();
        let id = format!("CONF-{}", nonce());
        let mut fields = std::collections::BTreeMap::new();
        fields.insert("name".to_string(), "Conformance article".to_string());
        fields.insert("sku".to_string(), id.clone());
        fields.insert("group".to_string(), group);
        fields.insert("stock".to_string(), "1".to_string());
        let upsert = |fields: std::collections::BTreeMap<String, String>| {
            request::Body::Upsert(v1::Upsert {
                entity: 1,
                records: vec![v1::Record { id: id.clone(), fields, ..Default::default() }],
                check_row_version: false,
            })
        };
        let first = match c.call(upsert(fields)).await? {
            response::Body::UpsertResult(u) if u.items.len() == 1 && u.items[0].ok && u.items[0].created => {
                u.items[0].clone()
            }
            other => return Err(format!("creating {id} answered {other:?}")),
        };
        let mut stock = std::collections::BTreeMap::new();
        stock.insert("stock".to_string(), "7".to_string());
        let second = match c.call(upsert(stock.clone())).await? {
            response::Body::UpsertResult(u)
                if u.items.len() == 1 && u.items[0].ok && !u.items[0].created && !u.items[0].unchanged =>
            {
                u.items[0].clone()
            }
            other => return Err(format!("updating stock of {id} answered {other:?}")),
        };
        if second.row_version <= first.row_version {
            return Err(format!("row version {} after {}", second.row_version, first.row_version));
        }
        let r = c.get(v1::Entity::Article, vec![id.clone()]).await?;
        let rec = r.records.first().ok_or("the upserted record is missing")?;
        if rec.fields.get("name").map(String::as_str) != Some("Conformance article")
            || rec.fields.get("stock").map(String::as_str) != Some("7")
        {
            return Err(format!("after sending only stock the record is {:?}: not a merge", rec.fields));
        }
        match c.call(upsert(stock)).await? {
            response::Body::UpsertResult(u)
                if u.items.len() == 1
                    && u.items[0].ok
                    && u.items[0].unchanged
                    && u.items[0].row_version == second.row_version => {}
            other => {
                return Err(format!("the same upsert again answered {other:?} (expected unchanged, same row version)"));
            }
        }
        let since = c
            .query(v1::Query {
                entity: 1,
                page_size: max_page.min(1000),
                since_row_version: first.row_version,
                ..Default::default()
            })
            .await?;
        if ids_of(&since.records) != vec![id.clone()] {
            return Err(format!("since_row_version {} gave {:?}", first.row_version, ids_of(&since.records)));
        }
        let mut ro = std::collections::BTreeMap::new();
        ro.insert("group_name".to_string(), "x".to_string());
        match c.call(upsert(ro)).await? {
            response::Body::UpsertResult(u) if u.items.len() == 1 && !u.items[0].ok => {}
            other => return Err(format!("writing read-only group_name answered {other:?}")),
        }
        Ok(format!("{id}: created, merged, unchanged, since_row_version, read-only field refused"))
    });
    check!("like-escape", "§3.2", {
        if minor < 1 {
            return Ok("not checked: protocol 1.0 has no escape".into());
        }
        let mut c = Conn::session(addr, creds).await?;
        let id = format!("CONF-{}", nonce());
        let mut fields = std::collections::BTreeMap::new();
        fields.insert("name".to_string(), "50% off_x".to_string());
        fields.insert("group".to_string(), arts[0].fields.get("group").cloned().unwrap_or_default());
        let body = request::Body::Upsert(v1::Upsert {
            entity: 1,
            records: vec![v1::Record { id: id.clone(), fields, ..Default::default() }],
            check_row_version: false,
        });
        if !matches!(c.call(body).await?, response::Body::UpsertResult(u) if u.items.iter().all(|i| i.ok)) {
            return Err("could not create the test article".into());
        }
        for (pattern, hit) in
            [("50\\% off\\_x", true), ("50\\%%", true), ("5_\\%%", true), ("50\\_%", false), ("%off\\%x", false)]
        {
            let q = v1::Query {
                entity: 1,
                conditions: vec![eq("id", &id), op("name", v1::condition::Op::Like(pattern.into()))],
                page_size: 1,
                ..Default::default()
            };
            let got = !c.query(q).await?.records.is_empty();
            if got != hit {
                return Err(format!("like {pattern:?} on \"50% off_x\" matched: {got}, expected {hit}"));
            }
        }
        Ok("\\%, \\_ are literal".into())
    });
    check!("orders", "§3.6", {
        let mut c = Conn::session(addr, creds).await?;
        let customer = c.discover(v1::Entity::Customer, 1, max_page).await?.pop().ok_or("no customer listed")?;
        let article = &arts[0];
        let ext = format!("conf-{}", nonce());
        let order = |ext: &str, qty: u32| {
            request::Body::CreateOrder(v1::CreateOrder {
                customer_id: customer.id.clone(),
                lines: vec![v1::OrderLine { article_id: article.id.clone(), quantity: qty }],
                external_ref: ext.into(),
                note: String::new(),
            })
        };
        let created = match c.call(order(&ext, 2)).await? {
            response::Body::Order(o) => o,
            other => return Err(format!("CreateOrder answered {other:?}")),
        };
        let rec = created.record.clone().ok_or("order without record")?;
        let price: i64 = article.fields.get("price_minor").and_then(|p| p.parse().ok()).unwrap_or(0);
        if rec.fields.get("total_minor") != Some(&(price * 2).to_string()) || created.lines.len() != 1 {
            return Err(format!("order {:?} for 2 × {} at {price}", rec.fields, article.id));
        }
        if !matches!(
            rec.fields.get("status").map(String::as_str),
            Some("created" | "confirmed" | "shipped" | "cancelled")
        ) {
            return Err(format!("status {:?}", rec.fields.get("status")));
        }
        let dup = c.call(order(&ext, 3)).await?;
        expect_error(&dup, ErrorCode::Conflict)?;
        if minor >= 1 {
            let look = |ext: &str| {
                request::Body::GetOrderByExternalRef(v1::GetOrderByExternalRef {
                    customer_id: customer.id.clone(),
                    external_ref: ext.into(),
                })
            };
            match c.call(look(&ext)).await? {
                response::Body::Order(o) if o == created => {}
                other => return Err(format!("GetOrderByExternalRef answered {other:?}, not the created order")),
            }
            expect_error(&c.call(look(&format!("conf-none-{}", nonce()))).await?, ErrorCode::NotFound)?;
            // A lost answer, recovered as §3.6 says: CreateOrder sent and
            // the connection closed before its answer; on a fresh session
            // the lookup finds it (or NOT_FOUND: nothing was committed and
            // CreateOrder is sent again); either way exactly one order ends
            // up with that external_ref.
            let lost = format!("conf-lost-{}", nonce());
            let mut gone = Conn::session(addr, creds).await?;
            gone.send(order(&lost, 1)).await?;
            drop(gone);
            let mut fresh = Conn::session(addr, creds).await?;
            let mut found = None;
            for _ in 0..50 {
                match fresh.call(look(&lost)).await? {
                    response::Body::Order(o) => {
                        found = Some(o);
                        break;
                    }
                    // The container may still be executing the request of
                    // the closed connection: look again shortly.
                    response::Body::Error(e) if e.code == ErrorCode::NotFound as i32 => {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    other => return Err(format!("looking up a lost order answered {other:?}")),
                }
            }
            let recovered = match found {
                Some(o) => o,
                None => match fresh.call(order(&lost, 1)).await? {
                    response::Body::Order(o) => o,
                    other => {
                        return Err(format!(
                            "the lookup found no order for {lost}, but creating it again answered {other:?}"
                        ));
                    }
                },
            };
            let again = fresh.call(order(&lost, 1)).await?;
            expect_error(&again, ErrorCode::Conflict).map_err(|e| format!("after recovering {lost}: {e}"))?;
            match fresh.call(look(&lost)).await? {
                response::Body::Order(o) if o == recovered => {}
                other => return Err(format!("{lost} recovered as {recovered:?}, then looked up as {other:?}")),
            }
        }
        let unknown = request::Body::CreateOrder(v1::CreateOrder {
            customer_id: format!("CONF-NONE-{}", nonce()),
            lines: vec![v1::OrderLine { article_id: article.id.clone(), quantity: 1 }],
            ..Default::default()
        });
        expect_error(&c.call(unknown).await?, ErrorCode::NotFound)?;
        Ok(format!(
            "order {} created, priced, CONFLICT on its external_ref, found by it; a lost answer recovered once",
            rec.id
        ))
    });
    // §3.10: five known articles, streamed one per page.
    let stream_ids: Vec<String> = arts.iter().take(5).map(|r| r.id.clone()).collect();
    let stream_query = |page_size: u32, continuation: String| v1::Query {
        entity: v1::Entity::Article as i32,
        conditions: vec![op("id", v1::condition::Op::In(v1::StringList { values: stream_ids.clone() }))],
        page_size,
        continuation,
        ..Default::default()
    };
    // A stream of the five articles from the start, `page_size` per page.
    let open_stream = |page_size: u32, credit: u32| {
        request::Body::StreamQuery(v1::StreamQuery { query: Some(stream_query(page_size, String::new())), credit })
    };
    let unsupported_in_1_0 = || Ok::<String, String>("not checked: protocol 1.0 has no StreamQuery".into());
    check!("stream-query", "§3.10", {
        if minor < 1 {
            return unsupported_in_1_0();
        }
        let mut c = Conn::session(addr, creds).await?;
        let all: Vec<String> = arts.iter().map(|r| r.id.clone()).collect();
        let q = v1::Query {
            entity: v1::Entity::Article as i32,
            conditions: vec![op("id", v1::condition::Op::In(v1::StringList { values: all.clone() }))],
            page_size: 2,
            ..Default::default()
        };
        let id = c.send(request::Body::StreamQuery(v1::StreamQuery { query: Some(q.clone()), credit: 64 })).await?;
        // Pages of 2: more than one page per record is no answer.
        let pages = c.stream_pages(id, all.len() + 1).await?;
        // The same pages as Query one after another, page by page.
        let mut token = String::new();
        for (n, p) in pages.iter().enumerate() {
            let qp = c.query(v1::Query { continuation: token.clone(), ..q.clone() }).await?;
            if ids_of(&qp.records) != ids_of(&p.records) {
                return Err(format!(
                    "streamed page {n} {:?}, Query answers {:?}",
                    ids_of(&p.records),
                    ids_of(&qp.records)
                ));
            }
            // Each streamed token is a valid Query token (§3.3).
            token = p.continuation.clone();
        }
        let streamed: Vec<String> = pages.iter().flat_map(|p| ids_of(&p.records)).collect();
        if streamed != all {
            return Err(format!("streamed {streamed:?}, expected {all:?}"));
        }
        // And the other way: a Query page's token continues a StreamQuery.
        let first = c.query(q.clone()).await?;
        let id = c
            .send(request::Body::StreamQuery(v1::StreamQuery {
                query: Some(v1::Query { continuation: first.continuation.clone(), ..q.clone() }),
                credit: 64,
            }))
            .await?;
        let mut rest = ids_of(&first.records);
        for p in c.stream_pages(id, all.len() + 1).await.map_err(|e| format!("from a Query's continuation: {e}"))? {
            rest.extend(ids_of(&p.records));
        }
        if rest != all {
            return Err(format!(
                "a Query's first page and a StreamQuery from its continuation gave {rest:?}, expected {all:?}"
            ));
        }
        match c.call(request::Body::Ping(v1::Ping { nonce: 3 })).await? {
            response::Body::Pong(_) => {}
            other => return Err(format!("after the last page the session answered {other:?}")),
        }
        Ok(format!(
            "{} records in {} pages equal Query's pages, a Query's token continues a stream, session free after",
            streamed.len(),
            pages.len()
        ))
    });
    check!("stream-credit", "§3.10", {
        if minor < 1 {
            return unsupported_in_1_0();
        }
        let mut c = Conn::session(addr, creds).await?;
        let quiet = Duration::from_millis(300);
        let id = c.send(open_stream(1, 1)).await?;
        let mut got = Vec::new();
        let page = |b: response::Body, got: &mut Vec<String>| match b {
            response::Body::Page(p) => {
                got.extend(ids_of(&p.records));
                Ok(p.continuation.is_empty())
            }
            other => Err(format!("stream frame {other:?}")),
        };
        if page(c.stream_frame(id).await?, &mut got)? {
            return Err("the first page of 5 records of 1 was the last".into());
        }
        if let Some(r) = c.recv_within(quiet).await? {
            return Err(format!("with 1 credit used, the server sent {:?}", r.body));
        }
        // A request while the stream is open is BUSY (§2.3).
        let ping = c.send(request::Body::Ping(v1::Ping { nonce: 5 })).await?;
        match c.recv().await? {
            v1::Response { request_id, body: Some(response::Body::Error(e)) }
                if request_id == ping && e.code == ErrorCode::Busy as i32 => {}
            other => return Err(format!("a Ping during the open stream answered {other:?} (expected BUSY)")),
        }
        c.send_as(id, request::Body::Credit(v1::Credit { pages: 2 })).await?;
        for _ in 0..2 {
            if page(c.stream_frame(id).await?, &mut got)? {
                return Err(format!("a last page after {} of 5 records", got.len()));
            }
        }
        if let Some(r) = c.recv_within(quiet).await? {
            return Err(format!("after 2 more credits were used, the server sent {:?}", r.body));
        }
        c.send_as(id, request::Body::Credit(v1::Credit { pages: 10 })).await?;
        while !page(c.stream_frame(id).await?, &mut got)? {
            if got.len() > stream_ids.len() {
                return Err(format!("more records than asked for: {got:?}"));
            }
        }
        if got != stream_ids {
            return Err(format!("streamed {got:?}, expected {stream_ids:?}"));
        }
        match c.call(request::Body::Ping(v1::Ping { nonce: 6 })).await? {
            response::Body::Pong(_) => Ok("1 page per credit, silent without credit, BUSY while open".into()),
            other => Err(format!("after the last page the session answered {other:?}")),
        }
    });
    check!("stream-cancel", "§3.10", {
        if minor < 1 {
            return unsupported_in_1_0();
        }
        let mut c = Conn::session(addr, creds).await?;
        let id = c.send(open_stream(1, 1)).await?;
        let mut got = Vec::new();
        c.send_as(id, request::Body::CancelStream(v1::CancelStream {})).await?;
        // Pages already on their way arrive first; then the terminal frame.
        let rest = loop {
            match tokio::time::timeout(Duration::from_secs(3), c.stream_frame(id))
                .await
                .map_err(|_| "no StreamEnd within 3 s of CancelStream".to_string())??
            {
                response::Body::Page(p) if p.continuation.is_empty() => {
                    got.extend(ids_of(&p.records));
                    break None;
                }
                response::Body::Page(p) => got.extend(ids_of(&p.records)),
                response::Body::StreamEnd(e) => break Some(e.continuation),
                other => return Err(format!("stream frame after CancelStream: {other:?}")),
            }
        };
        if let Some(token) = &rest {
            // The StreamEnd's token continues after the last page sent.
            let p = c.query(stream_query(10, token.clone())).await?;
            got.extend(ids_of(&p.records));
        }
        if got != stream_ids {
            return Err(format!("pages before StreamEnd plus its continuation gave {got:?}, expected {stream_ids:?}"));
        }
        // Late control messages of the ended stream are ignored: the next
        // frame answers the Ping.
        c.send_as(id, request::Body::CancelStream(v1::CancelStream {})).await?;
        c.send_as(id, request::Body::Credit(v1::Credit { pages: 1 })).await?;
        match c.call(request::Body::Ping(v1::Ping { nonce: 7 })).await? {
            response::Body::Pong(p) if p.nonce == 7 => {}
            other => return Err(format!("after the stream ended, a Ping answered {other:?}")),
        }
        Ok(if rest.is_some() { "StreamEnd's continuation continues, late control ignored" } else { "ended" }.into())
    });
    check!("stream-errors", "§3.10", {
        if minor < 1 {
            return unsupported_in_1_0();
        }
        let mut c = Conn::session(addr, creds).await?;
        let too_big = max_page.saturating_add(1);
        for (credit, page_size, what) in [(0, 1, "credit 0"), (65, 1, "credit 65"), (1, too_big, "page_size above max")]
        {
            let b = c.call(open_stream(page_size, credit)).await?;
            expect_error(&b, ErrorCode::InvalidRequest).map_err(|e| format!("{what}: {e}"))?;
        }
        // No stream was opened: the session is free.
        match c.call(request::Body::Ping(v1::Ping { nonce: 8 })).await? {
            response::Body::Pong(_) => {}
            other => return Err(format!("after refused streams a Ping answered {other:?}")),
        }
        let mut old = Conn::open(addr).await?;
        // A server that negotiates 1.1 with a 1.0 client fails
        // `negotiation-1.0`; this check needs a 1.0 session.
        if old.hello_minor(0).await?.minor_version == 0 {
            old.login(creds).await?;
            let b = old.call(open_stream(1, 1)).await?;
            expect_error(&b, ErrorCode::Unsupported).map_err(|e| format!("in a 1.0 session: {e}"))?;
        }
        Ok("credit 0/65 and a page_size above the maximum refused, no stream opened; UNSUPPORTED in 1.0".into())
    });
    check!("overlap", "§2.3", {
        let mut c = Conn::session(addr, creds).await?;
        // Two requests without waiting: the second is BUSY or answered after
        // the first; either way answers come in request order.
        let a = c
            .send(request::Body::Query(v1::Query { entity: 1, page_size: max_page.min(1000), ..Default::default() }))
            .await?;
        let b = c.send(request::Body::Ping(v1::Ping { nonce: 9 })).await?;
        let (first, second) = (c.recv().await?, c.recv().await?);
        // §1.3: a BUSY for the overlapping request may overtake the answer
        // to the running one; nothing else may.
        let overtaken = first.request_id == b;
        let (ra, rb) = if overtaken { (second, first) } else { (first, second) };
        if (ra.request_id, rb.request_id) != (a, b) {
            return Err(format!("answers {} and {} for requests {a} and {b}", ra.request_id, rb.request_id));
        }
        if !matches!(ra.body, Some(response::Body::Page(_))) {
            return Err(format!("the running Query answered {:?}", ra.body));
        }
        if overtaken && !matches!(rb.body, Some(response::Body::Error(ref e)) if e.code == ErrorCode::Busy as i32) {
            return Err("an answer other than BUSY overtook the running request".into());
        }
        match rb.body {
            Some(response::Body::Pong(_)) => Ok("answered in order (no overlap seen)".into()),
            Some(response::Body::Error(e)) if e.code == ErrorCode::Busy as i32 && e.retryable => {
                Ok("overlap answered BUSY, retryable".into())
            }
            other => Err(format!("the overlapping Ping answered {other:?}")),
        }
    });
    check!("frame-limit", "§1.4", {
        if known.hello.max_frame_bytes == 0 || known.hello.max_frame_bytes as usize > 64 << 20 {
            return Ok("not checked: no small frame limit announced".into());
        }
        let mut c = Conn::session(addr, creds).await?;
        let mut prefix = Vec::new();
        enventa_proto::prost::encode_length_delimiter(known.hello.max_frame_bytes as usize + 1, &mut prefix)
            .map_err(|e| e.to_string())?;
        c.s.write_all(&prefix).await.map_err(|e| e.to_string())?;
        match c.recv().await {
            Ok(r)
                if r.request_id == 0
                    && matches!(r.body, Some(response::Body::Error(ref e)) if e.code == ErrorCode::InvalidRequest as i32) =>
                {}
            Ok(r) => return Err(format!("a frame over the limit answered {r:?}")),
            Err(e) if e.contains("closed") => {}
            Err(e) => return Err(format!("a frame over the limit: {e}")),
        }
        let mut next = Conn::open(addr).await?;
        next.hello().await?;
        Ok(format!("a {}-byte frame refused", known.hello.max_frame_bytes as usize + 1))
    });
    check!("error-shape", "§4.1", {
        let mut c = Conn::session(addr, creds).await?;
        let b = c.call(request::Body::GetByIds(v1::GetByIds { entity: 0, ids: vec!["x".into()] })).await?;
        expect_error(&b, ErrorCode::Unsupported)
    });
    check!("concurrent-clients", "§2.2", {
        // Sessions are opened one after another (Login is never concurrent),
        // then used at the same time.
        let mut sessions = Vec::new();
        for _ in 0..4 {
            sessions.push(Conn::session(addr, creds).await?);
        }
        let mut tasks = Vec::new();
        for (n, mut c) in sessions.into_iter().enumerate() {
            tasks.push(tokio::spawn(async move {
                for i in 0..20u64 {
                    let nonce = n as u64 * 1000 + i;
                    match c.call(request::Body::Ping(v1::Ping { nonce })).await? {
                        response::Body::Pong(p) if p.nonce == nonce => {}
                        other => return Err(format!("session {n}: cross-talk or refusal: {other:?}")),
                    }
                }
                Ok::<(), String>(())
            }));
        }
        for t in tasks {
            t.await.map_err(|e| e.to_string())??;
        }
        Ok("4 sessions × 20 requests, answers matched".into())
    });
    check!("bad-frame", "§1.5", {
        let mut c = Conn::open(addr).await?;
        c.s.write_all(&[0x05, 0xff, 0xff, 0xff, 0xff, 0xff]).await.map_err(|e| e.to_string())?;
        match c.recv().await {
            Ok(r)
                if r.request_id == 0
                    && matches!(r.body, Some(response::Body::Error(ref e)) if e.code == ErrorCode::InvalidRequest as i32) =>
                {}
            Ok(r) => return Err(format!("garbage answered {r:?}")),
            Err(e) if e.contains("closed") => {}
            Err(e) => return Err(e),
        }
        let mut next = Conn::open(addr).await?;
        next.hello().await?;
        Ok("garbage refused, server still serves new connections".into())
    });
    out
}
