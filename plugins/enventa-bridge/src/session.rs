//! One enventa session over the host's socket capability: connect to the
//! granted endpoint, Hello (negotiating 1.1 or 1.0), Login once, then
//! strictly one request at a time (the host's actor already serializes
//! calls; the session never pipelines).
//!
//! Rules of `docs/enventa-protocol.md` this file keeps:
//! - a Login answered `BUSY` (another client is logging in) is sent again
//!   after a jittered backoff (§2.2);
//! - nothing larger than the announced `max_frame_bytes` is sent (§1);
//! - reads answered with a retryable error, or whose connection failed, are
//!   retried on a fresh connection with jittered exponential backoff, up to
//!   [`READ_ATTEMPTS`] times (§4.2); a healthy connection that is given up is
//!   closed with `Logout` first (§2.6);
//! - writes are never resent here: only the caller knows whether a lost
//!   answer can be recovered (`CreateOrder` by `external_ref`, §3.6);
//! - streams (§3.10, 1.1): a cursor's first page is one `Query` the size of
//!   its first pull; the rest come from a `StreamQuery` with
//!   [`STREAM_CREDIT`] pages of credit, one page granted back per page
//!   read. The session holds at most one stream open; any other request
//!   (another call of the tenant, another cursor) first cancels it
//!   (`CancelStream`, pages drained up to `StreamEnd`), and its cursor later
//!   continues with a new `StreamQuery` from the last page it received.
//!
//! The host's call deadline bounds the total time.

use b2connect_provider::types::ProviderError;
use b2connect_provider::{Connection, Context, SocketError};
use enventa_proto::prost::Message;
use enventa_proto::v1::{self, ErrorCode, request, response};
use enventa_proto::view::{Answer, PageView, read_response, skim_response};
use enventa_proto::{FrameError, FrameReader, PROTOCOL_MINOR, PROTOCOL_VERSION, encode};

/// Attempts for an idempotent read before its error is returned.
pub const READ_ATTEMPTS: u32 = 8;
/// Attempts for a Login answered BUSY (another client is logging in; with
/// a 500 ms Login and a few clients this covers several seconds).
const LOGIN_ATTEMPTS: u32 = 40;
/// Pages of credit a stream starts with (§3.10): enough for the container
/// to prepare the next page while the bridge converts the current one.
/// More buys nothing once the bridge is the slower side, and costs when a
/// stream is cancelled: every page in flight is read and dropped before the
/// session serves its next request (one quick bench run each: the warm
/// first record of a REST stream took 9.9 ms with 4 pages, 6.7 ms with 2).
pub const STREAM_CREDIT: u32 = 2;
/// Records per streamed page (clamped to what the container announces).
/// Large, because a container's time per request is paid per page; the
/// first page of a cursor is asked for on its own, as small as its first
/// pull (see [`Session::stream_page`]). A 1.0 container gets `Query` pages
/// of this size. A page of big records may be cut short by the container
/// (§3.3: a page holds at most `page_size` records), which keeps its
/// frames within its `max_frame_bytes`.
pub const STREAM_PAGE: u32 = 2000;

/// Bytes of a request frame besides its records or ids: request id, body
/// tag and length, entity, flags. Generous on purpose.
pub const ENVELOPE_BYTES: usize = 64;

/// Backoff before retry `n` (1-based): 10 ms · 2^(n-1), capped at 500 ms,
/// with ±50 % jitter so many tenants do not retry in lockstep.
pub fn backoff(n: u32, seed: u64) -> std::time::Duration {
    let base = (10u64 << (n - 1).min(6)).min(500);
    let jitter = (seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 33) % (base + 1);
    std::time::Duration::from_millis(base / 2 + jitter)
}

/// What the container announced in `HelloOk`, clamped to what the bridge
/// accepts.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_ids: usize,
    pub max_page: u32,
    /// Largest frame body the container accepts.
    pub max_frame: usize,
    /// Negotiated minor version: 1 for 1.1, 0 for a 1.0 container.
    pub minor: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_ids: enventa_proto::MAX_IDS, max_page: 1000, max_frame: enventa_proto::DEFAULT_MAX_FRAME, minor: 0 }
    }
}

/// How a request failed.
pub enum Failure {
    /// The container answered with an error: the request changed nothing.
    Answered(v1::Error),
    /// No answer (connection lost, timeout, bad frame): a write may or may
    /// not have been committed.
    Lost(ProviderError),
    /// The request was never sent (no session could be opened).
    NotSent(ProviderError),
}

impl Failure {
    pub fn into_provider(self) -> ProviderError {
        match self {
            Failure::Answered(e) => protocol_error(e),
            Failure::Lost(e) | Failure::NotSent(e) => e,
        }
    }
}

pub struct Session {
    conn: Option<Connection>,
    logged_in: bool,
    /// The open stream (§3.10): the cursor it serves and its request id.
    stream: Option<(u64, u64)>,
    reader: FrameReader,
    next_id: u64,
    pub limits: Limits,
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
        ErrorCode::AuthFailed => ProviderError::Unavailable(format!("enventa refused the tenant's credentials: {m}")),
        ErrorCode::Timeout => ProviderError::Timeout(m),
        ErrorCode::Unsupported => ProviderError::Unsupported(m),
        ErrorCode::ProtocolVersion | ErrorCode::Internal | ErrorCode::Unspecified => ProviderError::Internal(m),
    }
}

/// Whether a lost call may be retried on a fresh connection.
fn transient(e: &ProviderError) -> bool {
    matches!(e, ProviderError::Unavailable(_) | ProviderError::Timeout(_))
}

impl Session {
    pub fn new() -> Self {
        Self {
            conn: None,
            logged_in: false,
            stream: None,
            reader: FrameReader::new(enventa_proto::DEFAULT_MAX_FRAME),
            next_id: 1,
            limits: Limits::default(),
        }
    }

    /// One request and its answer on the open connection. `Err` means no
    /// usable answer arrived; the connection is then dropped.
    fn exchange(&mut self, body: request::Body) -> Result<response::Body, ProviderError> {
        self.exchange_with(body, decode_response)
    }

    /// [`Session::exchange`] with the answer read by `read` (e.g. a page
    /// in place, [`read_response`]).
    fn exchange_with<T>(
        &mut self,
        body: request::Body,
        read: impl Fn(&[u8]) -> Result<(u64, Option<T>), FrameError>,
    ) -> Result<T, ProviderError> {
        // The session is not free while a stream is open (§3.10).
        self.suspend_stream();
        let r = self.send(body).and_then(|id| self.receive_with(id, read));
        if r.is_err() {
            self.drop_connection();
        }
        r
    }

    fn drop_connection(&mut self) {
        self.conn = None;
        self.logged_in = false;
        self.stream = None;
    }

    /// Sends one request frame; its id is returned.
    fn send(&mut self, body: request::Body) -> Result<u64, ProviderError> {
        let id = self.next_id;
        self.next_id += 1;
        self.send_as(id, body)?;
        Ok(id)
    }

    /// Sends a frame with a given id (a stream's Credit/CancelStream repeat
    /// the stream's id, §3.10).
    fn send_as(&mut self, id: u64, body: request::Body) -> Result<(), ProviderError> {
        let req = v1::Request { request_id: id, body: Some(body) };
        if req.encoded_len() > self.limits.max_frame {
            // The callers split by bytes; one record alone can still be too big.
            return Err(ProviderError::InvalidInput(format!(
                "request of {} bytes exceeds the container's max_frame_bytes {}",
                req.encoded_len(),
                self.limits.max_frame
            )));
        }
        let conn = self.conn.as_mut().ok_or_else(|| ProviderError::Unavailable("not connected".into()))?;
        conn.send(&encode(&req)).map_err(socket_error)
    }

    /// The next frame read by `read` into its request id and body; the id
    /// must be `id`.
    fn receive_with<T>(
        &mut self,
        id: u64,
        read: impl Fn(&[u8]) -> Result<(u64, Option<T>), FrameError>,
    ) -> Result<T, ProviderError> {
        loop {
            if let Some((request_id, body)) = self
                .reader
                .next_with(&read)
                .map_err(|e| ProviderError::Internal(format!("bad frame from enventa: {e}")))?
            {
                if request_id != id {
                    return Err(ProviderError::Internal(format!(
                        "answer for request {request_id} while waiting for {id}"
                    )));
                }
                return body.ok_or_else(|| ProviderError::Internal("empty response".into()));
            }
            let want = self.reader.needed().map_err(|e| ProviderError::Internal(e.to_string()))?.clamp(1, 1 << 20);
            let conn = self.conn.as_mut().ok_or_else(|| ProviderError::Unavailable("not connected".into()))?;
            let bytes = conn.receive(want as u32).map_err(socket_error)?;
            self.reader.push(&bytes);
        }
    }

    /// Stops the open stream so the session can serve another request:
    /// `CancelStream`, then its remaining frames are read and dropped up to
    /// the terminal one (§3.10). The stream's cursor continues later from
    /// the last page it received. If that fails the connection is dropped
    /// (the next request opens a fresh one).
    fn suspend_stream(&mut self) {
        let Some((_, id)) = self.stream.take() else { return };
        let drained = (|| {
            self.send_as(id, request::Body::CancelStream(v1::CancelStream {}))?;
            // The pages in flight are skimmed, not read: the request
            // waiting for the session should not pay for them.
            while self.receive_with(id, skim_response)? {}
            Ok::<(), ProviderError>(())
        })();
        if drained.is_err() {
            self.drop_connection();
        }
    }

    /// Ends the stream of cursor `owner` if it is the open one (the cursor
    /// is gone).
    pub fn forget_stream(&mut self, owner: u64) {
        if self.stream.is_some_and(|(o, _)| o == owner) {
            self.suspend_stream();
        }
    }

    /// The next page for cursor `owner` of `query` (whose continuation is
    /// the last page the cursor received), when `max` records are wanted.
    /// With 1.1 the pages come from a server stream that stays open between
    /// calls; with 1.0 each is a `Query`. A cursor's first page, when fewer
    /// than a stream page are wanted, is one `Query` of that size: the
    /// first records leave without waiting for a whole stream page, and a
    /// caller that wants only those never opens a stream (a continuation
    /// is valid for `Query` and `StreamQuery` alike, §3.10). Retried like
    /// any read (§4.2): a failed stream continues on a fresh connection
    /// from the cursor's continuation.
    pub fn stream_page(&mut self, owner: u64, query: &v1::Query, max: u32) -> Result<PageView, ProviderError> {
        let first = query.continuation.is_empty() && max < STREAM_PAGE;
        let answer = self.retry_read(|s, limits| {
            let size = if first { max.max(1) } else { STREAM_PAGE };
            let q = v1::Query { page_size: size.min(limits.max_page), ..query.clone() };
            if limits.minor >= 1 && !first {
                s.stream_page_once(owner, q)
            } else {
                // 1.0 (no streams) and a cursor's small first page: one
                // round trip.
                s.exchange_with(request::Body::Query(q), read_response)
            }
        })?;
        match answer {
            Answer::Page(p) => Ok(p),
            Answer::Other(_) => Err(ProviderError::Internal("unexpected answer to StreamQuery".into())),
        }
    }

    /// One page of cursor `owner`'s stream, opening it if it is not the
    /// open one. Credit is granted back for every page that is not the last.
    /// Pages are read in place ([`PageView`]): a streamed page's records
    /// are never built as prost messages.
    fn stream_page_once(&mut self, owner: u64, q: v1::Query) -> Result<Answer, ProviderError> {
        let id = match self.stream {
            Some((o, id)) if o == owner => id,
            _ => {
                self.suspend_stream();
                let body = request::Body::StreamQuery(v1::StreamQuery { query: Some(q), credit: STREAM_CREDIT });
                let id = self.send(body)?;
                self.stream = Some((owner, id));
                id
            }
        };
        let frame = self.receive_with(id, read_response);
        if matches!(&frame, Ok(Answer::Page(p)) if !p.continuation.is_empty()) {
            self.send_as(id, request::Body::Credit(v1::Credit { pages: 1 }))?;
        } else {
            // The last page, an Error or anything unexpected ends the stream.
            self.stream = None;
        }
        frame
    }

    /// Ends the ERP session of a healthy connection (§2.6) and closes it.
    pub fn close(&mut self) {
        if self.conn.is_some() && self.logged_in {
            // Best effort: the connection is dropped either way.
            let _ = self.exchange(request::Body::Logout(v1::Logout {}));
        }
        self.drop_connection();
    }

    /// Connects, says Hello and logs in, unless already connected.
    pub fn ensure(&mut self) -> Result<Limits, ProviderError> {
        if self.conn.is_none()
            && let Err(e) = self.connect()
        {
            self.drop_connection();
            return Err(e);
        }
        Ok(self.limits)
    }

    fn connect(&mut self) -> Result<(), ProviderError> {
        self.drop_connection();
        self.reader = FrameReader::new(enventa_proto::DEFAULT_MAX_FRAME);
        self.limits = Limits::default();
        let ctx = Context::current();
        let endpoint = ctx.granted_endpoint().ok_or_else(|| {
            ProviderError::Unavailable("no enventa endpoint is granted to this tenant (binding `socket`)".into())
        })?;
        self.conn = Some(Connection::open(&endpoint).map_err(socket_error)?);
        let hello = request::Body::Hello(v1::Hello {
            protocol_version: PROTOCOL_VERSION,
            client: "enventa-bridge/1.1.0".into(),
            minor_version: PROTOCOL_MINOR,
        });
        match self.exchange(hello)? {
            response::Body::HelloOk(ok) => {
                if ok.protocol_version != PROTOCOL_VERSION {
                    return Err(ProviderError::Internal(format!(
                        "enventa container answered protocol {} to Hello {PROTOCOL_VERSION}",
                        ok.protocol_version
                    )));
                }
                self.limits = Limits {
                    max_ids: (ok.max_ids_per_request as usize).clamp(1, enventa_proto::MAX_IDS),
                    max_page: ok.max_page_size.max(1),
                    // 0 = not announced: the protocol's default.
                    max_frame: match ok.max_frame_bytes {
                        0 => enventa_proto::DEFAULT_MAX_FRAME,
                        n => (n as usize).max(256),
                    },
                    minor: ok.minor_version.min(PROTOCOL_MINOR),
                };
            }
            response::Body::Error(e) => return Err(protocol_error(e)),
            _ => return Err(ProviderError::Internal("unexpected answer to Hello".into())),
        }
        let login = v1::Login {
            user: ctx.get("enventaUser").unwrap_or_else(|| "b2connect".into()),
            password: ctx.get("enventaPassword").unwrap_or_default(),
            mandant: ctx.get("enventaMandant").unwrap_or_else(|| "1".into()),
        };
        for attempt in 1..=LOGIN_ATTEMPTS {
            match self.exchange(request::Body::Login(login.clone()))? {
                response::Body::LoginOk(_) => {
                    self.logged_in = true;
                    b2connect_provider::info!("enventa session open on {endpoint} (protocol 1.{})", self.limits.minor);
                    return Ok(());
                }
                // Another client's Login runs (§2.2): the same Login may be
                // sent again on this connection.
                response::Body::Error(e) if e.code == ErrorCode::Busy as i32 && attempt < LOGIN_ATTEMPTS => {
                    std::thread::sleep(backoff(attempt.min(7), self.next_id ^ u64::from(attempt)));
                }
                response::Body::Error(e) => return Err(protocol_error(e)),
                _ => return Err(ProviderError::Internal("unexpected answer to Login".into())),
            }
        }
        Err(ProviderError::Unavailable("enventa Login stayed BUSY".into()))
    }

    /// A write: sent once; a lost answer is `Failure::Lost` so the caller
    /// can recover (never resent here).
    pub fn write(&mut self, body: request::Body) -> Result<response::Body, Failure> {
        self.ensure().map_err(Failure::NotSent)?;
        match self.exchange(body) {
            Ok(response::Body::Error(e)) => Err(Failure::Answered(e)),
            Ok(b) => Ok(b),
            Err(e) => Err(Failure::Lost(e)),
        }
    }

    /// A read: retried on a fresh connection after a retryable error or a
    /// lost connection.
    pub fn read(&mut self, body: request::Body) -> Result<response::Body, ProviderError> {
        self.retry_read(|s, _| s.exchange(body.clone()))
    }

    /// Runs a read (`once`, given the connection's limits) until it is
    /// answered, retrying on a fresh connection after a retryable error or
    /// a lost connection (§4.2). An answered error that is not retryable is
    /// returned as `Err`.
    fn retry_read<A: Answered>(
        &mut self,
        mut once: impl FnMut(&mut Self, Limits) -> Result<A, ProviderError>,
    ) -> Result<A, ProviderError> {
        let mut last = None;
        for attempt in 0..READ_ATTEMPTS {
            if attempt > 0 {
                std::thread::sleep(backoff(attempt, self.next_id ^ u64::from(attempt)));
            }
            let limits = match self.ensure() {
                Ok(l) => l,
                Err(e) if transient(&e) => {
                    last = Some(e);
                    continue;
                }
                Err(e) => return Err(e),
            };
            match once(self, limits).map(A::error) {
                Ok(Err(e)) if e.retryable && attempt + 1 < READ_ATTEMPTS => {
                    // §4.2: the retry goes to a fresh connection.
                    self.close();
                    last = Some(protocol_error(e));
                }
                Ok(Err(e)) => return Err(protocol_error(e)),
                Ok(Ok(b)) => return Ok(b),
                Err(e) => {
                    self.drop_connection();
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

/// A `Response` body decoded by prost: its request id and body.
fn decode_response(body: &[u8]) -> Result<(u64, Option<response::Body>), FrameError> {
    let r: v1::Response = enventa_proto::decode(body)?;
    Ok((r.request_id, r.body))
}

/// An answer that may be the container's `Error`.
trait Answered: Sized {
    /// The error, or the answer itself.
    fn error(self) -> Result<Self, v1::Error>;
}

impl Answered for response::Body {
    fn error(self) -> Result<Self, v1::Error> {
        match self {
            response::Body::Error(e) => Err(e),
            b => Ok(b),
        }
    }
}

impl Answered for Answer {
    fn error(self) -> Result<Self, v1::Error> {
        match self {
            Answer::Other(b) => b.error().map(Answer::Other),
            page => Ok(page),
        }
    }
}

/// Splits `items` into runs of at most `max_count` items whose sizes
/// (`size`) add up to at most `max_bytes`. An item larger than `max_bytes`
/// forms a run of its own (the send then fails with a clear error).
pub fn chunks<T>(items: &[T], max_count: usize, max_bytes: usize, size: impl Fn(&T) -> usize) -> Vec<&[T]> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, item) in items.iter().enumerate() {
        let n = size(item);
        if i > start && (i - start >= max_count.max(1) || bytes + n > max_bytes) {
            out.push(&items[start..i]);
            start = i;
            bytes = 0;
        }
        bytes += n;
    }
    if start < items.len() {
        out.push(&items[start..]);
    }
    out
}

/// Encoded size of a repeated message field element: tag, length, body.
pub fn field_len(body: usize) -> usize {
    1 + enventa_proto::prost::length_delimiter_len(body) + body
}
