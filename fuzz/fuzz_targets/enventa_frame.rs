//! The enventa frame decoder, as the bridge and the simulator use it:
//! arbitrary bytes arriving in arbitrary pieces decode to frames or to a
//! `FrameError`, never a panic, and never allocate past the frame limit.
#![no_main]

use enventa_proto::{FrameReader, v1};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else { return };
    let cut = (split as usize).min(rest.len());
    for as_response in [false, true] {
        let mut r = FrameReader::new(64 * 1024);
        r.push(&rest[..cut]);
        let mut pushed_rest = false;
        loop {
            let next = if as_response {
                r.next::<v1::Response>().map(|m| m.is_some())
            } else {
                r.next::<v1::Request>().map(|m| m.is_some())
            };
            match next {
                Ok(true) => continue,
                Ok(false) if !pushed_rest => {
                    r.push(&rest[cut..]);
                    pushed_rest = true;
                }
                _ => break,
            }
        }
    }
});
