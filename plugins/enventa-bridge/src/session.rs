//! One enventa session over the host's socket capability: connect to the
//! granted endpoint, Hello, Login once, then strictly one request at a time
//! (the host's actor already serializes calls; the session never pipelines).
//!
//! A lost connection is reconnected (with a fresh Login) on the next call.
//! Idempotent reads are retried on transient failures (connection lost,
//! `UNAVAILABLE`/`BUSY`) up to [`READ_ATTEMPTS`] times with jittered
//! exponential backoff; writes are never retried (the ERP may have
//! committed them). The host's call deadline bounds the total time.

use crate::b2connect::provider::socket::{self, Connection, SocketError};
use crate::b2connect::provider::types::ProviderError;
use crate::b2connect::provider::{config, log};
use enventa_proto::v1::{self, ErrorCode, request, response};
use enventa_proto::{FrameReader, PROTOCOL_VERSION, encode};

/// Attempts for an idempotent read before its error is returned.
pub const READ_ATTEMPTS: u32 = 8;

/// Backoff before retry `n` (1-based): 10 ms · 2^(n-1), capped at 500 ms,
/// with ±50 % jitter so many tenants do not retry in lockstep.
fn backoff(n: u32, seed: u64) -> std::time::Duration {
    let base = (10u64 << (n - 1).min(6)).min(500);
    let jitter = (seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 33) % (base + 1);
    std::time::Duration::from_millis(base / 2 + jitter)
}

pub struct Session {
    conn: Option<Connection>,
    reader: FrameReader,
    next_id: u64,
    pub max_ids: usize,
    pub max_page: u32,
}

fn socket_error(e: SocketError) -> ProviderError {
    match e {
        SocketError::AccessDenied(m) => ProviderError::Unavailable(format!("socket access denied: {m}")),
        SocketError::ConnectionRefused(m) => ProviderError::Unavailable(format!("enventa container unreachable: {m}")),
        SocketError::Timeout(m) => ProviderError::Timeout(format!("enventa container did not answer: {m}")),
        SocketError::Closed => ProviderError::Unavailable("enventa container closed the connection".into()),
        SocketError::TooLarge(m) => ProviderError::Internal(format!("frame too large: {m}")),
        SocketError::Io(m) => ProviderError::Unavailable(format!("socket error: {m}")),
    }
}

/// Maps a protocol error to the provider error the host turns into HTTP.
pub fn protocol_error(e: v1::Error) -> ProviderError {
    let m = e.message;
    match ErrorCode::try_from(e.code).unwrap_or(ErrorCode::Internal) {
        ErrorCode::NotFound => ProviderError::NotFound(m),
        ErrorCode::InvalidRequest => ProviderError::InvalidInput(m),
        ErrorCode::Conflict => ProviderError::Conflict(m),
        ErrorCode::Unavailable | ErrorCode::Busy | ErrorCode::NotLoggedIn => ProviderError::Unavailable(m),
        ErrorCode::Timeout => ProviderError::Timeout(m),
        ErrorCode::Unsupported => ProviderError::Unsupported(m),
        ErrorCode::ProtocolVersion | ErrorCode::Internal | ErrorCode::Unspecified => ProviderError::Internal(m),
    }
}

/// Whether a failed call may be retried on a fresh connection.
fn transient(e: &ProviderError) -> bool {
    matches!(e, ProviderError::Unavailable(_))
}

impl Session {
    pub fn new() -> Self {
        Self {
            conn: None,
            reader: FrameReader::new(enventa_proto::DEFAULT_MAX_FRAME),
            next_id: 1,
            max_ids: 1000,
            max_page: 1000,
        }
    }

    fn send(&mut self, body: request::Body) -> Result<response::Body, ProviderError> {
        let id = self.next_id;
        self.next_id += 1;
        let frame = encode(&v1::Request { request_id: id, body: Some(body) });
        let conn = self.conn.as_ref().ok_or_else(|| ProviderError::Unavailable("not connected".into()))?;
        conn.send(&frame).map_err(socket_error)?;
        loop {
            if let Some(res) = self
                .reader
                .next::<v1::Response>()
                .map_err(|e| ProviderError::Internal(format!("bad frame from enventa: {e}")))?
            {
                if res.request_id != id {
                    return Err(ProviderError::Internal(format!(
                        "answer for request {} while waiting for {id}",
                        res.request_id
                    )));
                }
                return res.body.ok_or_else(|| ProviderError::Internal("empty response".into()));
            }
            let want = self.reader.needed().map_err(|e| ProviderError::Internal(e.to_string()))?.clamp(1, 1 << 20);
            let bytes = conn.receive(want as u32).map_err(socket_error)?;
            self.reader.push(&bytes);
        }
    }

    fn connect(&mut self) -> Result<(), ProviderError> {
        self.conn = None;
        self.reader = FrameReader::new(enventa_proto::DEFAULT_MAX_FRAME);
        let endpoint = socket::granted_endpoint().ok_or_else(|| {
            ProviderError::Unavailable("no enventa endpoint is granted to this tenant (binding `socket`)".into())
        })?;
        self.conn = Some(socket::connect(&endpoint).map_err(socket_error)?);
        let hello = request::Body::Hello(v1::Hello {
            protocol_version: PROTOCOL_VERSION,
            client: "enventa-bridge/1.0.0".into(),
        });
        match self.send(hello)? {
            response::Body::HelloOk(ok) => {
                self.max_ids = (ok.max_ids_per_request as usize).clamp(1, enventa_proto::MAX_IDS);
                self.max_page = ok.max_page_size.max(1);
            }
            response::Body::Error(e) => return Err(protocol_error(e)),
            _ => return Err(ProviderError::Internal("unexpected answer to Hello".into())),
        }
        let login = request::Body::Login(v1::Login {
            user: config::get("enventaUser").unwrap_or_else(|| "b2connect".into()),
            password: config::get("enventaPassword").unwrap_or_default(),
            mandant: config::get("enventaMandant").unwrap_or_else(|| "1".into()),
        });
        match self.send(login)? {
            response::Body::LoginOk(_) => {
                log::log(log::Level::Info, &format!("enventa session open on {endpoint}"));
                Ok(())
            }
            response::Body::Error(e) => Err(protocol_error(e)),
            _ => Err(ProviderError::Internal("unexpected answer to Login".into())),
        }
    }

    /// Sends one request; connects (and logs in) first if needed. Reads
    /// (`idempotent`) are retried once on a fresh connection.
    pub fn call(&mut self, body: request::Body, idempotent: bool) -> Result<response::Body, ProviderError> {
        let attempts = if idempotent { READ_ATTEMPTS } else { 1 };
        let mut last = None;
        for attempt in 0..attempts {
            if attempt > 0 {
                std::thread::sleep(backoff(attempt, self.next_id ^ u64::from(attempt)));
            }
            if self.conn.is_none() {
                if let Err(e) = self.connect() {
                    self.conn = None;
                    last = Some(e);
                    continue;
                }
            }
            match self.send(body.clone()) {
                Ok(response::Body::Error(e)) if e.retryable && idempotent && attempt + 1 < attempts => {
                    last = Some(protocol_error(e));
                }
                Ok(response::Body::Error(e)) => return Err(protocol_error(e)),
                Ok(b) => return Ok(b),
                Err(e) => {
                    // The connection is in an unknown state: start over.
                    self.conn = None;
                    if !transient(&e) {
                        return Err(e);
                    }
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or_else(|| ProviderError::Unavailable("enventa call failed".into())))
    }
}
