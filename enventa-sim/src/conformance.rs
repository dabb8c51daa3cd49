//! The conformance kit: runs the protocol's behaviour checks against any
//! container (the real .NET one or this simulator) and reports one
//! pass/fail line per check. `docs/enventa-protocol.md` is what is checked.

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
        match self
            .call(request::Body::Hello(v1::Hello { protocol_version: 1, client: "enventa-conformance/1".into() }))
            .await?
        {
            response::Body::HelloOk(h) => Ok(h),
            other => Err(format!("Hello answered {other:?}")),
        }
    }

    async fn login(&mut self, c: &Credentials) -> Result<(), String> {
        let login = v1::Login { user: c.user.clone(), password: c.password.clone(), mandant: c.mandant.clone() };
        match self.call(request::Body::Login(login)).await? {
            response::Body::LoginOk(_) => Ok(()),
            other => Err(format!("Login answered {other:?}")),
        }
    }

    async fn session(addr: SocketAddr, c: &Credentials) -> Result<Conn, String> {
        let mut conn = Conn::open(addr).await?;
        conn.hello().await?;
        conn.login(c).await?;
        Ok(conn)
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

fn ids(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("A{i:07}")).collect()
}

/// Runs every check against the container at `addr`.
pub async fn run(addr: SocketAddr, creds: &Credentials) -> Vec<Check> {
    let mut out = Vec::new();
    macro_rules! check {
        ($name:literal, $body:expr) => {{
            let r: Outcome = async { $body }.await;
            out.push(match r {
                Ok(detail) => Check { name: $name, passed: true, detail },
                Err(detail) => Check { name: $name, passed: false, detail },
            });
        }};
    }
    check!("framing", {
        let mut c = Conn::open(addr).await?;
        let h = c.hello().await?;
        Ok(format!("length-delimited Hello/HelloOk round trip, request_id echoed, server {}", h.server))
    });
    check!("handshake", {
        let mut c = Conn::open(addr).await?;
        let h = c.hello().await?;
        if h.protocol_version != 1 {
            return Err(format!("negotiated protocol {} (expected 1)", h.protocol_version));
        }
        if h.max_ids_per_request == 0 || h.max_ids_per_request > 1000 {
            return Err(format!("max_ids_per_request is {} (must be 1..=1000)", h.max_ids_per_request));
        }
        if h.max_page_size == 0 || h.max_frame_bytes == 0 {
            return Err("max_page_size and max_frame_bytes must be announced".into());
        }
        Ok(format!("v1, {} ids/request, {} records/page", h.max_ids_per_request, h.max_page_size))
    });
    check!("hello-first", {
        let mut c = Conn::open(addr).await?;
        let b = c.call(request::Body::Ping(v1::Ping { nonce: 1 })).await?;
        expect_error(&b, ErrorCode::InvalidRequest)
    });
    check!("protocol-version", {
        let mut c = Conn::open(addr).await?;
        let b = c.call(request::Body::Hello(v1::Hello { protocol_version: 0, client: "old".into() })).await?;
        expect_error(&b, ErrorCode::ProtocolVersion)
    });
    check!("login-required", {
        let mut c = Conn::open(addr).await?;
        c.hello().await?;
        let b = c.call(request::Body::GetByIds(v1::GetByIds { entity: 1, ids: ids(1) })).await?;
        expect_error(&b, ErrorCode::NotLoggedIn)
    });
    check!("login-once", {
        let mut c = Conn::session(addr, creds).await?;
        let again =
            v1::Login { user: creds.user.clone(), password: creds.password.clone(), mandant: creds.mandant.clone() };
        let b = c.call(request::Body::Login(again)).await?;
        expect_error(&b, ErrorCode::InvalidRequest)
    });
    check!("ping", {
        let mut c = Conn::session(addr, creds).await?;
        match c.call(request::Body::Ping(v1::Ping { nonce: 4242 })).await? {
            response::Body::Pong(p) if p.nonce == 4242 => Ok("nonce echoed".into()),
            other => Err(format!("Ping answered {other:?}")),
        }
    });
    check!("get-by-ids", {
        let mut c = Conn::session(addr, creds).await?;
        let asked = ids(1000);
        match c.call(request::Body::GetByIds(v1::GetByIds { entity: 1, ids: asked.clone() })).await? {
            response::Body::Records(r) => {
                if r.records.len() + r.missing.len() != 1000 {
                    return Err(format!("{} records + {} missing for 1000 ids", r.records.len(), r.missing.len()));
                }
                let order: Vec<&String> = asked.iter().filter(|id| r.records.iter().any(|x| &x.id == *id)).collect();
                if r.records.iter().map(|x| &x.id).collect::<Vec<_>>() != order {
                    return Err("records are not in request order".into());
                }
                Ok(format!("1000 ids: {} found, {} missing", r.records.len(), r.missing.len()))
            }
            other => Err(format!("GetByIds answered {other:?}")),
        }
    });
    check!("in-list-limit", {
        let mut c = Conn::session(addr, creds).await?;
        let b = c.call(request::Body::GetByIds(v1::GetByIds { entity: 1, ids: ids(1001) })).await?;
        expect_error(&b, ErrorCode::InvalidRequest)
    });
    check!("paging", {
        let mut c = Conn::session(addr, creds).await?;
        let q = |cont: String| {
            request::Body::Query(v1::Query {
                entity: 1,
                conditions: vec![],
                page_size: 10,
                continuation: cont,
                since_row_version: 0,
            })
        };
        let (p1, p2) = match (c.call(q(String::new())).await?, ()) {
            (response::Body::Page(p1), ()) => {
                if p1.continuation.is_empty() {
                    return Err("first page of 10 has no continuation".into());
                }
                match c.call(q(p1.continuation.clone())).await? {
                    response::Body::Page(p2) => (p1, p2),
                    other => return Err(format!("second Query answered {other:?}")),
                }
            }
            (other, ()) => return Err(format!("Query answered {other:?}")),
        };
        let all: Vec<&String> = p1.records.iter().chain(&p2.records).map(|r| &r.id).collect();
        if p1.records.len() != 10 || !all.windows(2).all(|w| w[0] < w[1]) {
            return Err("pages are not ordered by id without overlap".into());
        }
        Ok(format!("2 pages, {} records, ordered", all.len()))
    });
    check!("error-shape", {
        let mut c = Conn::session(addr, creds).await?;
        let b = c.call(request::Body::GetByIds(v1::GetByIds { entity: 0, ids: ids(1) })).await?;
        match b {
            response::Body::Error(e) if e.code != 0 && !e.message.is_empty() => {
                Ok(format!("code {} with a message", e.code))
            }
            other => Err(format!("expected a structured error, got {other:?}")),
        }
    });
    check!("concurrent-clients", {
        let mut tasks = Vec::new();
        for n in 0..4u64 {
            let creds = creds.clone();
            tasks.push(tokio::spawn(async move {
                let mut c = Conn::session(addr, &creds).await?;
                for i in 0..20u64 {
                    let nonce = n * 1000 + i;
                    match c.call(request::Body::Ping(v1::Ping { nonce })).await? {
                        response::Body::Pong(p) if p.nonce == nonce => {}
                        response::Body::Error(e) if e.code == ErrorCode::Busy as i32 => {
                            return Err("BUSY on sequential requests of separate sessions".to_string());
                        }
                        other => return Err(format!("cross-talk: {other:?}")),
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
    check!("bad-frame", {
        let mut c = Conn::open(addr).await?;
        c.s.write_all(&[0x05, 0xff, 0xff, 0xff, 0xff, 0xff]).await.map_err(|e| e.to_string())?;
        // Either an error frame or a closed connection is fine; what matters
        // is that the server survives and serves the next client.
        let _ = c.recv().await;
        let mut next = Conn::open(addr).await?;
        next.hello().await?;
        Ok("garbage refused, server still serves new connections".into())
    });
    out
}
