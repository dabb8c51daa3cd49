//! The enventa bridge wire protocol (see `docs/enventa-protocol.md`).
//!
//! - [`v1`]: the messages, generated from `proto/enventa.proto`.
//! - [`encode`], [`FrameReader`]: length-delimited framing as
//!   Google.Protobuf's `WriteDelimitedTo`/`ParseDelimitedFrom` do it: a
//!   base-128 varint length, then the message bytes.
//!
//! The codec is I/O-free so the same code runs in the wasm plugin (over the
//! host's socket capability), in the simulator and in the conformance kit.

pub mod v1 {
    #![allow(clippy::all, missing_docs)]
    include!(concat!(env!("OUT_DIR"), "/b2connect.enventa.v1.rs"));
}

pub mod view;

/// Re-exported so users encode and measure messages with the same version.
pub use prost;
use prost::Message;

/// The major protocol version this crate speaks (`Hello.protocol_version`).
pub const PROTOCOL_VERSION: u32 = 1;
/// The highest minor version of [`PROTOCOL_VERSION`] this crate speaks
/// (`Hello.minor_version`): 1.1.
pub const PROTOCOL_MINOR: u32 = 1;
/// The enventa limit for ids in one request (IN-lists, get-by-ids, upserts).
pub const MAX_IDS: usize = 1000;
/// Default largest frame body, in bytes.
pub const DEFAULT_MAX_FRAME: usize = 16 * 1024 * 1024;

/// Why bytes are not a valid frame.
#[derive(Debug, PartialEq, Eq)]
pub enum FrameError {
    /// The length prefix is longer than 10 bytes or overflows.
    BadLength,
    /// The announced body is larger than allowed.
    TooLarge { len: usize, max: usize },
    /// The body is not a valid message of the expected type.
    Decode(String),
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::BadLength => write!(f, "invalid varint length prefix"),
            FrameError::TooLarge { len, max } => write!(f, "frame of {len} bytes exceeds the limit of {max}"),
            FrameError::Decode(e) => write!(f, "frame body is not a valid message: {e}"),
        }
    }
}

impl std::error::Error for FrameError {}

/// One message as a frame: varint length + body.
pub fn encode<M: Message>(msg: &M) -> Vec<u8> {
    msg.encode_length_delimited_to_vec()
}

/// One frame's body (without its length prefix) decoded as `M`.
pub fn decode<M: Message + Default>(body: &[u8]) -> Result<M, FrameError> {
    M::decode(body).map_err(|e| FrameError::Decode(e.to_string()))
}

/// Parses the length prefix at the start of `buf`: `Ok(None)` if more bytes
/// are needed, else (prefix length, body length).
pub fn frame_header(buf: &[u8], max: usize) -> Result<Option<(usize, usize)>, FrameError> {
    let mut len: u64 = 0;
    for (i, b) in buf.iter().enumerate().take(10) {
        len |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            let len = usize::try_from(len).map_err(|_| FrameError::BadLength)?;
            if len > max {
                return Err(FrameError::TooLarge { len, max });
            }
            return Ok(Some((i + 1, len)));
        }
    }
    if buf.len() >= 10 { Err(FrameError::BadLength) } else { Ok(None) }
}

/// Accumulates bytes and yields complete message bodies; one per frame.
pub struct FrameReader {
    buf: Vec<u8>,
    max: usize,
}

impl FrameReader {
    pub fn new(max: usize) -> Self {
        Self { buf: Vec::new(), max }
    }

    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// How many more bytes the next frame needs at least (0 if complete).
    pub fn needed(&self) -> Result<usize, FrameError> {
        Ok(match frame_header(&self.buf, self.max)? {
            None => 1,
            Some((h, n)) => (h + n).saturating_sub(self.buf.len()),
        })
    }

    /// The next complete frame decoded as `M`, if buffered. (Not an
    /// `Iterator`: it is generic over the message type and fallible.)
    #[allow(clippy::should_implement_trait)]
    pub fn next<M: Message + Default>(&mut self) -> Result<Option<M>, FrameError> {
        self.next_with(decode)
    }

    /// The next complete frame's body read by `read` (e.g.
    /// [`view::read_response`]), if buffered. The frame is consumed even
    /// when `read` fails.
    pub fn next_with<T>(&mut self, read: impl FnOnce(&[u8]) -> Result<T, FrameError>) -> Result<Option<T>, FrameError> {
        let Some((h, n)) = frame_header(&self.buf, self.max)? else { return Ok(None) };
        if self.buf.len() < h + n {
            return Ok(None);
        }
        let msg = read(&self.buf[h..h + n]);
        self.buf.drain(..h + n);
        msg.map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::v1::*;
    use super::*;

    #[test]
    fn round_trip_and_partial_frames() {
        let req = Request { request_id: 7, body: Some(request::Body::Ping(Ping { nonce: 42 })) };
        let frame = encode(&req);
        // Ping{nonce=42} = 08 2a; body = 08 07 | 6a 02 08 2a (field 13, len 2).
        assert_eq!(frame, vec![0x06, 0x08, 0x07, 0x6a, 0x02, 0x08, 0x2a]);
        let mut r = FrameReader::new(1024);
        r.push(&frame[..3]);
        assert_eq!(r.next::<Request>().unwrap(), None);
        assert_eq!(r.needed().unwrap(), 4);
        r.push(&frame[3..]);
        r.push(&frame);
        assert_eq!(r.next::<Request>().unwrap(), Some(req.clone()));
        assert_eq!(r.next::<Request>().unwrap(), Some(req));
        assert_eq!(r.next::<Request>().unwrap(), None);
    }

    #[test]
    fn hostile_frames_are_errors_not_panics() {
        assert_eq!(frame_header(&[0xff; 11], 100), Err(FrameError::BadLength));
        assert_eq!(frame_header(&[0x80, 0x80, 0x04], 100), Err(FrameError::TooLarge { len: 65536, max: 100 }));
        let mut r = FrameReader::new(100);
        r.push(&[0x03, 0xff, 0xff, 0xff]);
        assert!(matches!(r.next::<Request>(), Err(FrameError::Decode(_))));
    }
}

#[cfg(test)]
mod doc_examples {
    //! The worked examples of `docs/enventa-protocol.md`, byte for byte.
    use super::v1::*;
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn frames_match_the_spec() {
        let hello = Request {
            request_id: 1,
            body: Some(request::Body::Hello(Hello { protocol_version: 1, client: "bridge".into(), minor_version: 0 })),
        };
        assert_eq!(hex(&encode(&hello)), "0e 08 01 52 0a 08 01 12 06 62 72 69 64 67 65");
        let ok = Response {
            request_id: 1,
            body: Some(response::Body::HelloOk(HelloOk {
                protocol_version: 1,
                server: "sim".into(),
                max_ids_per_request: 1000,
                max_page_size: 5000,
                max_frame_bytes: 16_777_216,
                minor_version: 0,
            })),
        };
        assert_eq!(hex(&encode(&ok)), "16 08 01 52 12 08 01 12 03 73 69 6d 18 e8 07 20 88 27 28 80 80 80 08");
        let login = Request {
            request_id: 2,
            body: Some(request::Body::Login(Login { user: "b2c".into(), password: "pw".into(), mandant: "1".into() })),
        };
        assert_eq!(hex(&encode(&login)), "10 08 02 5a 0c 0a 03 62 32 63 12 02 70 77 1a 01 31");
        let get = Request {
            request_id: 3,
            body: Some(request::Body::GetByIds(GetByIds {
                entity: Entity::Article as i32,
                ids: vec!["A0000042".into()],
            })),
        };
        assert_eq!(hex(&encode(&get)), "11 08 03 a2 01 0c 08 01 12 08 41 30 30 30 30 30 34 32");
        let err = Response {
            request_id: 3,
            body: Some(response::Body::Error(Error {
                code: ErrorCode::NotFound as i32,
                message: "no".into(),
                retryable: false,
            })),
        };
        assert_eq!(hex(&encode(&err)), "0a 08 03 12 06 08 01 12 02 6e 6f");
        let q = Request {
            request_id: 4,
            body: Some(request::Body::Query(Query {
                entity: Entity::Article as i32,
                conditions: vec![Condition { field: "group".into(), op: Some(condition::Op::Eq("100".into())) }],
                page_size: 2,
                continuation: String::new(),
                since_row_version: 0,
            })),
        };
        assert_eq!(hex(&encode(&q)), "17 08 04 aa 01 12 08 01 12 0c 0a 05 67 72 6f 75 70 12 03 31 30 30 18 02");
    }

    #[test]
    fn protocol_1_1_frames_match_the_spec() {
        let hello = Request {
            request_id: 1,
            body: Some(request::Body::Hello(Hello { protocol_version: 1, client: "bridge".into(), minor_version: 1 })),
        };
        assert_eq!(hex(&encode(&hello)), "10 08 01 52 0c 08 01 12 06 62 72 69 64 67 65 18 01");
        let ok = Response {
            request_id: 1,
            body: Some(response::Body::HelloOk(HelloOk {
                protocol_version: 1,
                server: "sim".into(),
                max_ids_per_request: 1000,
                max_page_size: 5000,
                max_frame_bytes: 16_777_216,
                minor_version: 1,
            })),
        };
        assert_eq!(hex(&encode(&ok)), "18 08 01 52 14 08 01 12 03 73 69 6d 18 e8 07 20 88 27 28 80 80 80 08 30 01");
        let missing = Response {
            request_id: 3,
            body: Some(response::Body::Records(Records { records: vec![], missing: vec!["A9".into()] })),
        };
        assert_eq!(hex(&encode(&missing)), "09 08 03 a2 01 04 12 02 41 39");
        let lookup = Request {
            request_id: 5,
            body: Some(request::Body::GetOrderByExternalRef(GetOrderByExternalRef {
                customer_id: "K1".into(),
                external_ref: "k-7".into(),
            })),
        };
        assert_eq!(hex(&encode(&lookup)), "0e 08 05 c2 01 09 0a 02 4b 31 12 03 6b 2d 37");
    }

    /// The spec's examples are the bytes in `docs/enventa-protocol.md`: every
    /// hex line there is one of the frames asserted above.
    #[test]
    fn every_hex_example_of_the_document_is_asserted() {
        let doc = include_str!("../../docs/enventa-protocol.md");
        let src = include_str!("lib.rs");
        let mut seen = 0;
        for line in doc.lines() {
            let l = line.trim();
            let is_frame =
                l.len() > 20 && l.split(' ').all(|b| b.len() == 2 && b.chars().all(|c| c.is_ascii_hexdigit()));
            if is_frame {
                seen += 1;
                assert!(src.contains(&format!("\"{l}\"")), "example frame not asserted by a test: {l}");
            }
        }
        assert!(seen >= 8, "found {seen} example frames");
    }
}
