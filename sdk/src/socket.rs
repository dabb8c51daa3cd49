//! The contract's `socket` interface: outbound TCP to the one endpoint the
//! operator granted the tenant. `Context::connect` opens one; failures
//! convert to `ProviderError` with `?`.

pub use crate::bindings::b2connect::provider::socket::SocketError;
use crate::host;

/// An open connection to the granted endpoint (closed when dropped).
pub struct Connection(host::Connection);

impl Connection {
    /// Connects to `address`, which must be the granted endpoint.
    pub fn open(address: &str) -> Result<Self, SocketError> {
        host::connect(address).map(Self)
    }

    /// Writes all of `data`.
    pub fn send(&mut self, data: &[u8]) -> Result<(), SocketError> {
        self.0.send(data)
    }

    /// Reads at least one and at most `max` bytes; `closed` when the peer
    /// has hung up.
    pub fn receive(&mut self, max: u32) -> Result<Vec<u8>, SocketError> {
        self.0.receive(max)
    }

    /// Reads exactly `len` bytes (one frame body, say).
    pub fn receive_exact(&mut self, len: u32) -> Result<Vec<u8>, SocketError> {
        self.0.receive_exact(len)
    }
}
