//! Pages read in place: a `Page` answer decoded without building one
//! `Record` (and its map of owned strings) per record.
//!
//! A streamed page carries up to thousands of records of ten or more
//! fields each. Decoding it with prost builds a `BTreeMap<String, String>`
//! per record only for the bridge to move a few values out and drop the
//! rest; in the bridge's stream that was most of the plugin's time. A
//! [`PageView`] validates the page exactly as prost would (wire types,
//! lengths, UTF-8 of every string, unknown fields skipped, the last of a
//! repeated scalar or map key winning) and keeps every string in one text
//! buffer, so a page costs a handful of allocations whatever its size.

use crate::v1::{self, response};
use crate::{FrameError, decode};
use prost::bytes::Buf;
use prost::encoding::{DecodeContext, WireType, decode_key, decode_varint, skip_field};

/// A decoded `Page`: its records in order, and its continuation.
#[derive(Debug, Default, Clone)]
pub struct PageView {
    /// Every string of the page (ids, keys, values), back to back.
    text: String,
    /// Map entries of all records: key and value as ranges of `text`.
    fields: Vec<[u32; 4]>,
    records: Vec<RecordMeta>,
    /// Empty on the last page (§3.3).
    pub continuation: String,
}

#[derive(Debug, Clone, PartialEq)]
struct RecordMeta {
    id: [u32; 2],
    row_version: u64,
    modified_at: i64,
    /// This record's entries in `PageView::fields`.
    fields: [u32; 2],
}

/// One record of a [`PageView`].
#[derive(Clone, Copy)]
pub struct RecordRef<'a> {
    page: &'a PageView,
    meta: &'a RecordMeta,
}

/// A `Response` frame whose body was read: a page (in place, or copied
/// from prost's decoding when the view left the bytes to prost), anything
/// else decoded by prost.
#[derive(Debug, PartialEq)]
pub enum Answer {
    Page(PageView),
    Other(response::Body),
}

fn bad(e: impl std::fmt::Display) -> FrameError {
    FrameError::Decode(e.to_string())
}

#[inline]
fn expect(wire: WireType, want: WireType, what: &str) -> Result<(), FrameError> {
    if wire == want { Ok(()) } else { Err(wrong_wire(wire, want, what)) }
}

#[cold]
fn wrong_wire(wire: WireType, want: WireType, what: &str) -> FrameError {
    bad(format!("{what}: wire type {wire:?}, expected {want:?}"))
}

/// A field key, as prost's `decode_key` reads it; keys of fields 1 to 15
/// are one byte and read inline.
#[inline(always)]
fn key(buf: &mut &[u8]) -> Result<(u32, WireType), FrameError> {
    if let Some(&b) = buf.first()
        && (8..0x80).contains(&b)
        && b & 7 < 6
    {
        *buf = &buf[1..];
        let wire = WireType::try_from(u64::from(b & 7)).map_err(bad)?;
        return Ok((u32::from(b >> 3), wire));
    }
    decode_key(buf).map_err(bad)
}

/// A varint; one byte (values below 128, every length up to 127 bytes)
/// is read inline.
#[inline(always)]
fn varint(buf: &mut &[u8]) -> Result<u64, FrameError> {
    if let Some(&b) = buf.first()
        && b < 0x80
    {
        *buf = &buf[1..];
        return Ok(u64::from(b));
    }
    decode_varint(buf).map_err(bad)
}

/// The bytes of a length-delimited field whose key was just read.
#[inline(always)]
fn delimited<'a>(buf: &mut &'a [u8]) -> Result<&'a [u8], FrameError> {
    let len = varint(buf)?;
    let len = usize::try_from(len).ok().filter(|&l| l <= buf.len()).ok_or_else(|| bad("length beyond the buffer"))?;
    let (field, rest) = buf.split_at(len);
    *buf = rest;
    Ok(field)
}

/// Steps over an unknown field. Groups are refused: prost counts their
/// nesting against a limit that depends on where they sit, and the callers
/// hand anything the view refuses to prost, which then decides.
fn skip(wire: WireType, tag: u32, buf: &mut &[u8]) -> Result<(), FrameError> {
    if wire == WireType::StartGroup {
        return Err(bad("a group"));
    }
    skip_field(wire, tag, buf, DecodeContext::default()).map_err(bad)
}

/// A `Response` body (one frame without its length prefix). The body's
/// oneof is the last body field present, as for prost; when it is a
/// `Page`, the page is read in place. Anything the view does not read
/// (another answer, or bytes it refuses) is decoded by prost, so the two
/// accept and refuse exactly the same bytes; a page prost decoded is
/// still answered as [`Answer::Page`].
pub fn read_response(body: &[u8]) -> Result<(u64, Option<Answer>), FrameError> {
    if let Ok(Some((id, page))) = read_page_in_place(body) {
        return Ok((id, Some(Answer::Page(page))));
    }
    let r: v1::Response = decode(body)?;
    let answer = match r.body {
        Some(response::Body::Page(p)) => Some(Answer::Page(PageView::from_page(p)?)),
        other => other.map(Answer::Other),
    };
    Ok((r.request_id, answer))
}

/// A member of a `Response` body's oneof, met at its top level.
enum Member<'a> {
    /// A `page` field's bytes.
    Page(&'a [u8]),
    /// Any other member of the body oneof.
    Other,
}

/// Walks a `Response` body's top level: answers its request id and hands
/// each body member to `on`, in order.
fn walk_response<'a>(
    body: &'a [u8],
    mut on: impl FnMut(Member<'a>) -> Result<(), FrameError>,
) -> Result<u64, FrameError> {
    let mut request_id = 0;
    let mut buf = body;
    while buf.has_remaining() {
        let (tag, wire) = key(&mut buf)?;
        match tag {
            1 => {
                expect(wire, WireType::Varint, "Response.request_id")?;
                request_id = varint(&mut buf)?;
            }
            21 => {
                expect(wire, WireType::LengthDelimited, "Response.page")?;
                on(Member::Page(delimited(&mut buf)?))?;
            }
            // The other members of the body oneof.
            2 | 10..=13 | 20 | 22..=24 => {
                skip(wire, tag, &mut buf)?;
                on(Member::Other)?;
            }
            _ => skip(wire, tag, &mut buf)?,
        }
    }
    Ok(request_id)
}

/// The request id and page of a body that is one page answer, read in
/// place; `None` for any other body.
fn read_page_in_place(body: &[u8]) -> Result<Option<(u64, PageView)>, FrameError> {
    let (mut page, mut other) = (None, false);
    let request_id = walk_response(body, |m| {
        match m {
            // Two page fields merge (protobuf's rule for a repeated
            // message field): prost then decodes the whole body.
            Member::Page(p) => {
                other |= page.is_some();
                page = Some(p);
            }
            Member::Other => {
                other = true;
                page = None;
            }
        }
        Ok(())
    })?;
    match page {
        Some(p) if !other => Ok(Some((request_id, PageView::decode(p)?))),
        _ => Ok(None),
    }
}

/// A `Response` body skimmed for what a stream being drained needs: its
/// request id and whether it is a page with more to come (`Some(true)`) or
/// another answer (`Some(false)`; `None` when it has no body). The page's
/// records are stepped over, not read: a cancelled stream's pages are
/// thrown away, and reading them would delay the session's next request.
/// Bytes the skim refuses are decoded by prost, which then decides.
pub fn skim_response(body: &[u8]) -> Result<(u64, Option<bool>), FrameError> {
    skim_in_place(body).or_else(|_| {
        let r: v1::Response = decode(body)?;
        Ok((r.request_id, r.body.map(|b| matches!(b, response::Body::Page(p) if !p.continuation.is_empty()))))
    })
}

fn skim_in_place(body: &[u8]) -> Result<(u64, Option<bool>), FrameError> {
    let mut more = None;
    let request_id = walk_response(body, |m| {
        more = Some(match m {
            Member::Page(mut page) => {
                // Two page fields merge: a continuation in the later one
                // replaces the earlier one's.
                let mut cont = (more == Some(true)).then_some(true);
                while page.has_remaining() {
                    let (tag, wire) = key(&mut page)?;
                    match tag {
                        2 => {
                            expect(wire, WireType::LengthDelimited, "Page.continuation")?;
                            cont = Some(!delimited(&mut page)?.is_empty());
                        }
                        _ => skip(wire, tag, &mut page)?,
                    }
                }
                cont.unwrap_or(false)
            }
            Member::Other => false,
        });
        Ok(())
    })?;
    Ok((request_id, more))
}

/// A [`PageView`] being read: its text is checked as UTF-8 once, at the
/// end, instead of string by string (see `finish`).
#[derive(Default)]
struct Builder {
    text: Vec<u8>,
    fields: Vec<[u32; 4]>,
    records: Vec<RecordMeta>,
}

impl Builder {
    /// Appends `s` to the text; its range there.
    fn push(&mut self, s: &[u8]) -> Result<[u32; 2], FrameError> {
        let start = self.text.len();
        self.text.extend_from_slice(s);
        let end = u32::try_from(self.text.len()).map_err(|_| bad("page text beyond 4 GiB"))?;
        Ok([start as u32, end])
    }

    /// Appends one map entry of the record being read.
    fn entry(&mut self, k: &[u8], v: &[u8]) -> Result<(), FrameError> {
        let ([ks, ke], [vs, ve]) = (self.push(k)?, self.push(v)?);
        self.fields.push([ks, ke, vs, ve]);
        Ok(())
    }

    /// Ends the record whose entries start at `first`.
    fn end_record(&mut self, first: usize, id: &[u8], row_version: u64, modified_at: i64) -> Result<(), FrameError> {
        let id = self.push(id)?;
        let fields = [first as u32, self.fields.len() as u32];
        self.records.push(RecordMeta { id, row_version, modified_at, fields });
        Ok(())
    }

    fn record(&mut self, mut buf: &[u8]) -> Result<(), FrameError> {
        let first = self.fields.len();
        let (mut row_version, mut modified_at) = (0, 0);
        let mut id: &[u8] = b"";
        while buf.has_remaining() {
            let (tag, wire) = key(&mut buf)?;
            match tag {
                1 => {
                    expect(wire, WireType::LengthDelimited, "Record.id")?;
                    id = replace(id, delimited(&mut buf)?)?;
                }
                2 => {
                    expect(wire, WireType::Varint, "Record.row_version")?;
                    row_version = varint(&mut buf)?;
                }
                3 => {
                    expect(wire, WireType::Varint, "Record.modified_at")?;
                    // int64: the varint is the two's complement.
                    modified_at = varint(&mut buf)? as i64;
                }
                4 => {
                    expect(wire, WireType::LengthDelimited, "Record.fields")?;
                    let mut entry = delimited(&mut buf)?;
                    let (mut k, mut v): (&[u8], &[u8]) = (b"", b"");
                    while entry.has_remaining() {
                        let (tag, wire) = key(&mut entry)?;
                        match tag {
                            1 => {
                                expect(wire, WireType::LengthDelimited, "Record.fields key")?;
                                k = replace(k, delimited(&mut entry)?)?;
                            }
                            2 => {
                                expect(wire, WireType::LengthDelimited, "Record.fields value")?;
                                v = replace(v, delimited(&mut entry)?)?;
                            }
                            _ => skip(wire, tag, &mut entry)?,
                        }
                    }
                    self.entry(k, v)?;
                }
                _ => skip(wire, tag, &mut buf)?,
            }
        }
        self.end_record(first, id, row_version, modified_at)
    }

    /// Every string of the page is valid UTF-8 exactly when their
    /// concatenation is and each starts on a character boundary of it
    /// (contiguous pieces cut at boundaries are whole characters). One
    /// pass over the text is much cheaper than one per short string. Every
    /// piece pushed is an id, key or value whose start is checked.
    fn finish(self, continuation: String) -> Result<PageView, FrameError> {
        let text = String::from_utf8(self.text).map_err(|_| not_utf8())?;
        let starts = self.records.iter().map(|r| r.id[0]).chain(self.fields.iter().flat_map(|f| [f[0], f[2]]));
        if !starts.into_iter().all(|s| text.is_char_boundary(s as usize)) {
            return Err(not_utf8());
        }
        Ok(PageView { text, fields: self.fields, records: self.records, continuation })
    }
}

/// A string field sent again: the new value wins, and the one it replaces
/// is checked here, as prost checks every occurrence (only the winning
/// ones go into the page's text, which `finish` checks).
fn replace<'a>(old: &[u8], new: &'a [u8]) -> Result<&'a [u8], FrameError> {
    if !old.is_empty() {
        utf8(old)?;
    }
    Ok(new)
}

#[cold]
fn not_utf8() -> FrameError {
    bad("a string field is not valid UTF-8")
}

impl PageView {
    /// Reads the bytes of a `Page` message.
    pub fn decode(mut buf: &[u8]) -> Result<Self, FrameError> {
        let mut page = Builder { text: Vec::with_capacity(buf.len()), ..Builder::default() };
        let mut continuation = String::new();
        while buf.has_remaining() {
            let (tag, wire) = key(&mut buf)?;
            match tag {
                1 => {
                    expect(wire, WireType::LengthDelimited, "Page.records")?;
                    let rec = delimited(&mut buf)?;
                    page.record(rec)?;
                }
                2 => {
                    expect(wire, WireType::LengthDelimited, "Page.continuation")?;
                    continuation = utf8(delimited(&mut buf)?)?.to_string();
                }
                _ => skip(wire, tag, &mut buf)?,
            }
        }
        page.finish(continuation)
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Record `i` (0-based), if there is one.
    pub fn get(&self, i: usize) -> Option<RecordRef<'_>> {
        self.records.get(i).map(|meta| RecordRef { page: self, meta })
    }

    /// A page prost decoded (a page answer the view left to prost), in the
    /// same form as one read in place. Fails only past 4 GiB of text.
    pub fn from_page(p: v1::Page) -> Result<Self, FrameError> {
        let mut b = Builder::default();
        for r in &p.records {
            let first = b.fields.len();
            for (k, v) in &r.fields {
                b.entry(k.as_bytes(), v.as_bytes())?;
            }
            b.end_record(first, r.id.as_bytes(), r.row_version, r.modified_at)?;
        }
        b.finish(p.continuation)
    }

    /// The page as prost's message (for tests, and for code that needs
    /// owned records).
    pub fn to_page(&self) -> v1::Page {
        v1::Page {
            records: (0..self.len()).filter_map(|i| self.get(i)).map(|r| r.to_record()).collect(),
            continuation: self.continuation.clone(),
        }
    }
}

/// Equal when they hold the same records and continuation, however the
/// text is laid out.
impl PartialEq for PageView {
    fn eq(&self, other: &Self) -> bool {
        self.to_page() == other.to_page()
    }
}

fn utf8(b: &[u8]) -> Result<&str, FrameError> {
    std::str::from_utf8(b).map_err(|_| not_utf8())
}

/// The text of range `[s, e]` (ranges are made by `Builder::push`, and
/// `Builder::finish` checked that every one starts on a character
/// boundary; each ends where the next starts or at the text's end).
fn slice(text: &str, [s, e]: [u32; 2]) -> &str {
    text.get(s as usize..e as usize).unwrap_or_default()
}

impl<'a> RecordRef<'a> {
    fn text(&self, range: [u32; 2]) -> &'a str {
        slice(&self.page.text, range)
    }

    pub fn id(&self) -> &'a str {
        self.text(self.meta.id)
    }

    pub fn row_version(&self) -> u64 {
        self.meta.row_version
    }

    pub fn modified_at(&self) -> i64 {
        self.meta.modified_at
    }

    /// The fields as sent, a key repeated as often as it was.
    pub fn entries(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        let page = self.page;
        let [first, end] = self.meta.fields;
        let entries = page.fields.get(first as usize..end as usize).unwrap_or_default();
        entries.iter().map(move |&[ks, ke, vs, ve]| (slice(&page.text, [ks, ke]), slice(&page.text, [vs, ve])))
    }

    /// The value of each of `keys` (the last one sent wins, as in a map),
    /// in one pass over the fields.
    pub fn pick<const N: usize>(&self, keys: [&str; N]) -> [Option<&'a str>; N] {
        let mut out = [None; N];
        for (k, v) in self.entries() {
            if let Some(i) = keys.iter().position(|want| *want == k) {
                out[i] = Some(v);
            }
        }
        out
    }

    /// One field's value.
    pub fn field(&self, key: &str) -> Option<&'a str> {
        let [v] = self.pick([key]);
        v
    }

    /// The record as prost's message.
    pub fn to_record(&self) -> v1::Record {
        v1::Record {
            id: self.id().to_string(),
            row_version: self.row_version(),
            modified_at: self.modified_at(),
            fields: self.entries().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode;
    use prost::Message;

    fn record(i: u64) -> v1::Record {
        let mut fields = std::collections::BTreeMap::new();
        fields.insert("name".to_string(), format!("Sechskantschraube {i} mm, Größe ✓"));
        fields.insert("sku".to_string(), format!("100-{i:07}"));
        fields.insert("empty".to_string(), String::new());
        if i.is_multiple_of(3) {
            fields.insert(String::new(), "value of the empty key".to_string());
        }
        v1::Record { id: format!("A{i:07}"), row_version: i * 7, modified_at: -(i as i64) * 1000, fields }
    }

    fn page(n: u64, continuation: &str) -> v1::Page {
        v1::Page { records: (1..=n).map(record).collect(), continuation: continuation.into() }
    }

    /// What prost makes of `body`, in the view's terms.
    fn prost_response(body: &[u8]) -> Result<(u64, Option<response::Body>), ()> {
        v1::Response::decode(body).map(|r| (r.request_id, r.body)).map_err(|_| ())
    }

    fn view_response(body: &[u8]) -> Result<(u64, Option<response::Body>), ()> {
        let (id, answer) = read_response(body).map_err(|_| ())?;
        Ok((
            id,
            answer.map(|a| match a {
                Answer::Page(p) => response::Body::Page(p.to_page()),
                Answer::Other(b) => b,
            }),
        ))
    }

    #[test]
    fn a_page_reads_as_prost_decodes_it() {
        for (n, cont) in [(0, ""), (1, "tok"), (250, "0123.A0000250")] {
            let p = page(n, cont);
            let body = v1::Response { request_id: 9, body: Some(response::Body::Page(p.clone())) }.encode_to_vec();
            let (id, answer) = read_response(&body).unwrap();
            let Some(Answer::Page(view)) = answer else { panic!("not read in place: {answer:?}") };
            assert_eq!((id, view.len(), view.continuation.as_str()), (9, n as usize, cont));
            assert_eq!(view.to_page(), p);
            if n > 0 {
                let r = view.get(0).unwrap();
                assert_eq!((r.id(), r.row_version(), r.modified_at()), ("A0000001", 7, -1000));
                assert_eq!(r.pick(["sku", "missing", "empty"]), [Some("100-0000001"), None, Some("")]);
                assert_eq!(r.field("name"), Some("Sechskantschraube 1 mm, Größe ✓"));
            }
            assert!(view.get(n as usize).is_none());
            assert_eq!(PageView::from_page(p.clone()).unwrap(), view);
        }
    }

    #[test]
    fn other_answers_are_decoded_by_prost() {
        let err = v1::Error { code: v1::ErrorCode::Busy as i32, message: "busy".into(), retryable: true };
        for body in [
            Some(response::Body::Error(err)),
            Some(response::Body::StreamEnd(v1::StreamEnd { continuation: "c".into() })),
            Some(response::Body::Records(v1::Records { records: vec![record(4)], missing: vec!["A9".into()] })),
            None,
        ] {
            let bytes = v1::Response { request_id: 3, body: body.clone() }.encode_to_vec();
            let (id, answer) = read_response(&bytes).unwrap();
            assert_eq!((id, answer), (3, body.map(Answer::Other)));
        }
    }

    /// Encodes a field key.
    fn key(tag: u32, wire: WireType, out: &mut Vec<u8>) {
        prost::encoding::encode_key(tag, wire, out);
    }

    fn string(tag: u32, s: &[u8], out: &mut Vec<u8>) {
        key(tag, WireType::LengthDelimited, out);
        prost::encoding::encode_varint(s.len() as u64, out);
        out.extend_from_slice(s);
    }

    #[test]
    fn what_prost_tolerates_the_view_reads_the_same_way() {
        // A record with a repeated id, a key sent twice, an entry without
        // a value, and unknown fields at every level.
        let mut entry1 = Vec::new();
        string(1, b"name", &mut entry1);
        string(2, b"first", &mut entry1);
        string(7, b"unknown in an entry", &mut entry1);
        let mut entry2 = Vec::new();
        string(1, b"name", &mut entry2);
        string(2, b"second", &mut entry2);
        let mut entry3 = Vec::new();
        string(1, b"no value", &mut entry3);
        let mut rec = Vec::new();
        string(1, b"A1", &mut rec);
        string(4, &entry1, &mut rec);
        key(9, WireType::Varint, &mut rec);
        rec.push(5);
        string(4, &entry2, &mut rec);
        string(4, &entry3, &mut rec);
        string(1, b"A2", &mut rec);
        key(3, WireType::Varint, &mut rec);
        prost::encoding::encode_varint(-5i64 as u64, &mut rec);
        key(12, WireType::SixtyFourBit, &mut rec);
        rec.extend_from_slice(&[0; 8]);
        let mut pg = Vec::new();
        string(1, &rec, &mut pg);
        string(5, b"unknown in a page", &mut pg);
        string(2, b"c1", &mut pg);
        string(2, b"c2", &mut pg);
        let mut body = Vec::new();
        key(1, WireType::Varint, &mut body);
        body.push(8);
        string(21, &pg, &mut body);
        key(30, WireType::ThirtyTwoBit, &mut body);
        body.extend_from_slice(&[1, 2, 3, 4]);
        let (id, answer) = read_response(&body).unwrap();
        let Some(Answer::Page(view)) = &answer else { panic!("{answer:?}") };
        assert_eq!(view.get(0).unwrap().field("name"), Some("second"));
        assert_eq!(view.get(0).unwrap().id(), "A2");
        assert_eq!(view.continuation, "c2");
        assert_eq!(view_response(&body), prost_response(&body));
        assert_eq!(id, 8);
        // A page followed by another body member is that member; two page
        // fields merge (prost decodes those).
        let mut two = body.clone();
        string(21, &pg, &mut two);
        assert_eq!(view_response(&two), prost_response(&two));
        let Some(response::Body::Page(p)) = view_response(&two).unwrap().1 else { panic!() };
        assert_eq!(p.records.len(), 2);
        let mut then_error = body.clone();
        string(2, &[], &mut then_error);
        assert_eq!(view_response(&then_error), prost_response(&then_error));
        assert!(matches!(view_response(&then_error).unwrap().1, Some(response::Body::Error(_))));
    }

    /// Cases a corruption search does not reach: invalid UTF-8 in a value
    /// a later one replaces, a character split between two records' strings
    /// with the later id replaced, and unknown groups nested to around
    /// prost's limit.
    #[test]
    fn replaced_strings_and_nested_groups_are_read_as_prost_reads_them() {
        let page_body = |records: &[Vec<u8>]| {
            let mut pg = Vec::new();
            for r in records {
                string(1, r, &mut pg);
            }
            let mut body = Vec::new();
            string(21, &pg, &mut body);
            body
        };
        let same = |body: &[u8]| {
            assert_eq!(view_response(body), prost_response(body), "bytes {body:02x?}");
            prost_response(body).is_ok()
        };
        // An entry whose first key is not UTF-8 and is replaced by "k".
        let mut entry = Vec::new();
        string(1, b"\xff", &mut entry);
        string(1, b"k", &mut entry);
        string(2, b"v", &mut entry);
        let mut rec = Vec::new();
        string(4, &entry, &mut rec);
        assert!(!same(&page_body(&[rec])));
        // "A" {"k": "\xc3"}, then a record whose first id "\xa9" is replaced:
        // the winning strings' concatenation would be valid ("é").
        let mut entry = Vec::new();
        string(1, b"k", &mut entry);
        string(2, b"\xc3", &mut entry);
        let mut first = Vec::new();
        string(1, b"A", &mut first);
        string(4, &entry, &mut first);
        let mut second = Vec::new();
        string(1, b"\xa9", &mut second);
        string(1, b"B", &mut second);
        assert!(!same(&page_body(&[first, second])));
        // A replaced id that is valid is fine.
        let mut rec = Vec::new();
        string(1, b"old", &mut rec);
        string(1, b"A7", &mut rec);
        assert!(same(&page_body(&[rec])));
        // Unknown groups in a record, nested 1 to 110 deep: prost accepts
        // them up to its recursion limit and the view agrees at every depth.
        let mut accepted = 0;
        for depth in 1..=110 {
            let mut rec = Vec::new();
            string(1, b"A1", &mut rec);
            for _ in 0..depth {
                key(9, WireType::StartGroup, &mut rec);
            }
            for _ in 0..depth {
                key(9, WireType::EndGroup, &mut rec);
            }
            accepted += usize::from(same(&page_body(&[rec])));
        }
        assert!((1..110).contains(&accepted), "{accepted}");
    }

    #[test]
    fn malformed_pages_are_errors_exactly_where_prost_fails() {
        let good = v1::Response { request_id: 77, body: Some(response::Body::Page(page(40, "more"))) }.encode_to_vec();
        // Every truncation, and a stream of single-byte corruptions.
        let mut cases: Vec<Vec<u8>> = (0..good.len()).map(|n| good[..n].to_vec()).collect();
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mut b = good.clone();
            let at = (x as usize) % b.len();
            b[at] = match (x >> 32) % 4 {
                0 => 0xff,
                1 => 0x80,
                2 => b[at] ^ 0x07,
                _ => (x >> 40) as u8,
            };
            cases.push(b);
        }
        let (mut rejected, mut accepted) = (0, 0);
        for b in &cases {
            let (v, p) = (view_response(b), prost_response(b));
            assert_eq!(v, p, "bytes {b:02x?}");
            if p.is_err() { rejected += 1 } else { accepted += 1 }
        }
        // Both kinds occurred, so the comparison meant something.
        assert!(rejected > 1_000 && accepted > 1_000, "{rejected} rejected, {accepted} accepted");
        // A character split over two strings: the page text is valid, each
        // string is not; prost refuses it, and so must the view.
        let mut entry = Vec::new();
        string(1, b"caf\xc3", &mut entry);
        string(2, b"\xa9", &mut entry);
        let mut rec = Vec::new();
        string(1, b"A1", &mut rec);
        string(4, &entry, &mut rec);
        let mut split = Vec::new();
        string(1, &rec, &mut split);
        assert!(PageView::decode(&split).is_err() && v1::Page::decode(split.as_slice()).is_err());
        // Invalid UTF-8 in a value is an error, as in prost.
        let bad = good.iter().map(|&c| if c == b'S' { 0xc3 } else { c }).collect::<Vec<_>>();
        assert!(read_response(&bad).is_err() && prost_response(&bad).is_err());
    }

    /// What the skim must answer: prost's view of the same bytes.
    fn prost_skim(body: &[u8]) -> Result<(u64, Option<bool>), ()> {
        prost_response(body)
            .map(|(id, b)| (id, b.map(|b| matches!(b, response::Body::Page(p) if !p.continuation.is_empty()))))
    }

    #[test]
    fn a_skim_agrees_with_prost_wherever_prost_decodes() {
        let err = response::Body::Error(v1::Error { code: 5, message: "busy".into(), retryable: true });
        let end = response::Body::StreamEnd(v1::StreamEnd { continuation: "c".into() });
        let mut cases: Vec<Vec<u8>> = [
            Some(response::Body::Page(page(30, "more"))),
            Some(response::Body::Page(page(30, ""))),
            Some(err),
            Some(end),
            None,
        ]
        .into_iter()
        .map(|b| v1::Response { request_id: 11, body: b }.encode_to_vec())
        .collect();
        // A page then a page without more, and the other way round.
        let (more, last) = (cases[0].clone(), cases[1].clone());
        cases.push([more.clone(), last.clone()].concat());
        cases.push([last, more.clone()].concat());
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        for i in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mut b = more.clone();
            let at = (x as usize) % b.len();
            b[at] ^= 1 << (i % 8);
            cases.push(b);
        }
        let mut checked = 0;
        for b in &cases {
            if let Ok(want) = prost_skim(b) {
                assert_eq!(skim_response(b).ok(), Some(want), "bytes {b:02x?}");
                checked += 1;
            }
        }
        assert!(checked > 1_000, "{checked}");
        assert_eq!(skim_response(&cases[5]).unwrap(), (11, Some(true)));
        assert_eq!(skim_response(&cases[6]).unwrap(), (11, Some(true)));
    }

    #[test]
    fn frame_reader_hands_out_bodies() {
        let p = page(3, "");
        let frame = encode(&v1::Response { request_id: 5, body: Some(response::Body::Page(p.clone())) });
        let mut r = crate::FrameReader::new(1 << 20);
        r.push(&frame[..10]);
        assert_eq!(r.next_with(read_response).unwrap(), None);
        r.push(&frame[10..]);
        r.push(&frame);
        for _ in 0..2 {
            let (id, answer) = r.next_with(read_response).unwrap().unwrap();
            assert_eq!((id, answer), (5, Some(Answer::Page(PageView::from_page(p.clone()).unwrap()))));
        }
        assert_eq!(r.next_with(read_response).unwrap(), None);
    }
}
