//! The host functions a provider may call, in one place: the contract's
//! imports inside a component, the fake host (`testing`) in a native build.
//! Everything else in the SDK calls these, so provider code written against
//! the SDK runs unchanged under `cargo test`.

pub use crate::bindings::b2connect::provider::log::Level;
use crate::bindings::b2connect::provider::socket::SocketError;

#[cfg(target_arch = "wasm32")]
mod imp {
    use super::*;
    use crate::bindings::b2connect::provider::{config, log, socket};

    pub fn tenant_id() -> String {
        config::tenant_id()
    }
    pub fn setting(key: &str) -> Option<String> {
        config::get(key)
    }
    pub fn settings() -> Vec<(String, String)> {
        config::get_all()
    }
    pub fn log(level: Level, message: &str) {
        log::log(level, message)
    }
    pub fn granted_endpoint() -> Option<String> {
        socket::granted_endpoint()
    }

    /// An open connection to the granted endpoint.
    pub struct Connection(socket::Connection);

    pub fn connect(address: &str) -> Result<Connection, SocketError> {
        socket::connect(address).map(Connection)
    }

    impl Connection {
        pub fn send(&mut self, data: &[u8]) -> Result<(), SocketError> {
            self.0.send(data)
        }
        pub fn receive(&mut self, max: u32) -> Result<Vec<u8>, SocketError> {
            self.0.receive(max)
        }
        pub fn receive_exact(&mut self, len: u32) -> Result<Vec<u8>, SocketError> {
            self.0.receive_exact(len)
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    //! Native builds answer from the fake host of the current thread
    //! (`testing::FakeHost`); without one installed a call panics, naming
    //! the feature to enable.
    use super::*;
    use std::cell::RefCell;
    use std::io::{Read, Write};

    /// A byte stream standing in for the granted endpoint.
    pub trait Peer: Read + Write + Send {}
    impl<T: Read + Write + Send> Peer for T {}

    /// Opens a fresh peer per `connect`.
    pub type PeerFactory = Box<dyn FnMut() -> std::io::Result<Box<dyn Peer>>>;

    #[derive(Default)]
    pub struct Fake {
        pub tenant: String,
        pub settings: std::collections::BTreeMap<String, String>,
        pub logs: Vec<(Level, String)>,
        pub endpoint: Option<String>,
        pub peer: Option<PeerFactory>,
    }

    thread_local! {
        pub static FAKE: RefCell<Option<Fake>> = const { RefCell::new(None) };
    }

    fn with<R>(f: impl FnOnce(&mut Fake) -> R) -> R {
        FAKE.with(|cell| {
            let mut slot = cell.borrow_mut();
            let fake = slot.as_mut().expect(
                "no host: natively, install one with b2connect_provider::testing::FakeHost (feature `testing`)",
            );
            f(fake)
        })
    }

    pub fn tenant_id() -> String {
        with(|h| h.tenant.clone())
    }
    pub fn setting(key: &str) -> Option<String> {
        with(|h| h.settings.get(key).cloned())
    }
    pub fn settings() -> Vec<(String, String)> {
        with(|h| h.settings.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
    }
    pub fn log(level: Level, message: &str) {
        with(|h| h.logs.push((level, message.to_string())))
    }
    pub fn granted_endpoint() -> Option<String> {
        with(|h| h.endpoint.clone())
    }

    /// An open connection to the fake host's peer.
    pub struct Connection(Box<dyn Peer>);

    pub fn connect(address: &str) -> Result<Connection, SocketError> {
        with(|h| {
            if h.endpoint.as_deref() != Some(address) {
                return Err(SocketError::AccessDenied(format!("{address} is not the granted endpoint")));
            }
            let factory = h.peer.as_mut().ok_or_else(|| SocketError::ConnectionRefused(address.to_string()))?;
            factory().map(Connection).map_err(|e| SocketError::ConnectionRefused(e.to_string()))
        })
    }

    fn io(e: std::io::Error) -> SocketError {
        match e.kind() {
            std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::BrokenPipe => SocketError::Closed,
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => SocketError::Timeout(e.to_string()),
            _ => SocketError::Io(e.to_string()),
        }
    }

    impl Connection {
        pub fn send(&mut self, data: &[u8]) -> Result<(), SocketError> {
            self.0.write_all(data).and_then(|()| self.0.flush()).map_err(io)
        }
        pub fn receive(&mut self, max: u32) -> Result<Vec<u8>, SocketError> {
            let mut buf = vec![0; max as usize];
            match self.0.read(&mut buf).map_err(io)? {
                0 => Err(SocketError::Closed),
                n => {
                    buf.truncate(n);
                    Ok(buf)
                }
            }
        }
        pub fn receive_exact(&mut self, len: u32) -> Result<Vec<u8>, SocketError> {
            let mut buf = vec![0; len as usize];
            self.0.read_exact(&mut buf).map_err(io)?;
            Ok(buf)
        }
    }
}

pub use imp::*;
