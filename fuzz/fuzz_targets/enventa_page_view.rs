//! The bridge's in-place page reader against prost: for any bytes,
//! `view::read_response` succeeds exactly when prost decodes the same
//! `Response`, with the same request id and the same body (a page read in
//! place equals the page prost builds), and `view::skim_response` agrees
//! with prost on every body prost decodes. Never a panic.
#![no_main]

use enventa_proto::prost::Message;
use enventa_proto::v1::{self, response};
use enventa_proto::view::{Answer, read_response, skim_response};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let by_prost = v1::Response::decode(data).ok();
    let by_view = read_response(data).ok().map(|(id, answer)| {
        let body = answer.map(|a| match a {
            Answer::Page(p) => response::Body::Page(p.to_page()),
            Answer::Other(b) => b,
        });
        v1::Response { request_id: id, body }
    });
    assert_eq!(by_view, by_prost);
    if let Some(r) = by_prost {
        let more = r.body.map(|b| matches!(b, response::Body::Page(p) if !p.continuation.is_empty()));
        assert_eq!(skim_response(data).ok(), Some((r.request_id, more)));
    }
});
