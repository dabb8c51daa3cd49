//! A plugin's stdout and stderr (WASI), captured per call and logged after
//! it with the tenant and plugin, bounded like the plugin's `log` records.
//!
//! Writes always succeed, whatever their size: a guest's `print!` panics
//! (traps) when stdout fails, so failing a plugin for printing too much
//! would turn chatter into an outage. The host keeps at most
//! [`KEPT_PER_CALL`] bytes per stream and call and counts the rest as
//! dropped; after each call the kept text becomes one log record per stream
//! (escaped and cut by `untrusted::sanitize`, and charged to the tenant's
//! plugin-log budget), so a call adds at most two bounded records.

use bytes::Bytes;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// Bytes of one stream kept per call: what one log record can hold.
pub const KEPT_PER_CALL: usize = crate::untrusted::MAX_PLUGIN_TEXT;

/// Permit a guest gets per write: it may write this much at once.
const PERMIT: usize = 64 * 1024;

#[derive(Default, Debug)]
struct Captured {
    kept: Vec<u8>,
    dropped: u64,
}

/// One captured stream (clones share it): the WASI side writes, the actor
/// takes what a call wrote.
#[derive(Clone, Default, Debug)]
pub struct PluginOutput(Arc<Mutex<Captured>>);

/// What a call wrote to one stream.
#[derive(Debug, PartialEq, Eq)]
pub struct Taken {
    pub text: String,
    /// Bytes written beyond [`KEPT_PER_CALL`], not kept.
    pub dropped: u64,
}

impl PluginOutput {
    fn append(&self, bytes: &[u8]) {
        let mut c = self.0.lock().expect("plugin output lock");
        let room = KEPT_PER_CALL.saturating_sub(c.kept.len());
        let keep = bytes.len().min(room);
        c.kept.extend_from_slice(&bytes[..keep]);
        c.dropped += (bytes.len() - keep) as u64;
    }

    /// What was written since the last `take`, or `None` if nothing was.
    pub fn take(&self) -> Option<Taken> {
        let mut c = self.0.lock().expect("plugin output lock");
        if c.kept.is_empty() && c.dropped == 0 {
            return None;
        }
        let kept = std::mem::take(&mut c.kept);
        let dropped = std::mem::take(&mut c.dropped);
        Some(Taken { text: String::from_utf8_lossy(&kept).trim_end().to_string(), dropped })
    }
}

impl IsTerminal for PluginOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for PluginOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl OutputStream for PluginOutput {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.append(&bytes);
        Ok(())
    }
    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }
    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(PERMIT)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for PluginOutput {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for PluginOutput {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.append(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_a_bounded_head_per_call_counts_the_rest_and_starts_over() {
        let out = PluginOutput::default();
        assert_eq!(out.take(), None, "nothing written, nothing to log");
        let mut stream = out.p2_stream();
        assert_eq!(stream.check_write().unwrap(), PERMIT);
        stream.write(Bytes::from_static(b"hello\n")).unwrap();
        assert_eq!(out.take(), Some(Taken { text: "hello".into(), dropped: 0 }));
        // 1 MiB in 64 KiB writes: every write succeeds, 4 KiB is kept.
        for _ in 0..16 {
            stream.write(Bytes::from(vec![b'x'; PERMIT])).unwrap();
        }
        let t = out.take().unwrap();
        assert_eq!(t.text.len(), KEPT_PER_CALL);
        assert_eq!(t.dropped, (16 * PERMIT - KEPT_PER_CALL) as u64);
        assert_eq!(out.take(), None, "the next call starts empty");
    }
}
