//! `b2connect:provider/socket`: outbound TCP to the one endpoint the host
//! granted this tenant (e.g. its enventa .NET container).
//!
//! Deny by default: without a grant, and for any address other than the
//! grant, `connect` answers `access-denied` (a WIT error value, not a trap),
//! logs it and counts it. Connect, read and write are bounded by timeouts,
//! and one read or write by a size cap, so a plugin cannot hang the host on
//! a silent peer or ask it to buffer gigabytes.
//!
//! Sessions to one endpoint are opened one at a time across all tenants
//! ([`EndpointGates`]): the enventa container's Login may never run
//! concurrently (docs/enventa-protocol.md §2.2), and tenants sharing a
//! container each have their own actor, so only the host can order them.
//!
//! Connections live in this capability's own resource table, so the
//! capability needs nothing of the Store data but its [`State`].

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wasmtime::component::{HasSelf, Linker, Resource, ResourceTable};
use wit::b2connect::provider::socket::{Host, HostConnection, SocketError};

/// Bindings of this interface alone, so the module needs nothing of the
/// host's other bindings (wasmtime `wasi-config` does the same).
mod wit {
    wasmtime::component::bindgen!({
        path: "../wit/1.1.0",
        interfaces: "import b2connect:provider/socket@1.1.0;",
        imports: { default: async | trappable },
        with: { "b2connect:provider/socket.connection": super::Connection },
    });
}

/// Limits for a tenant's socket grant.
#[derive(Clone, Debug)]
pub struct SocketLimits {
    pub connect_timeout: Duration,
    pub io_timeout: Duration,
    /// Largest single send or receive, in bytes.
    pub max_transfer: u32,
    /// Connections one instance may hold open at once.
    pub max_connections: usize,
}

impl Default for SocketLimits {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            io_timeout: Duration::from_secs(30),
            max_transfer: 16 * 1024 * 1024,
            max_connections: 4,
        }
    }
}

/// Process-wide socket counters, exported as metrics.
#[derive(Default, Debug)]
pub struct SocketCounters {
    pub connects: AtomicU64,
    pub denied: AtomicU64,
    pub bytes_sent: AtomicU64,
    pub bytes_received: AtomicU64,
    pub open: AtomicU64,
    /// Kept with the counters because both are process-wide and reach every
    /// instance's socket state through the same handle.
    pub gates: EndpointGates,
    /// Connects that waited for another session to open first.
    pub gate_waits: AtomicU64,
}

/// Request/answer exchanges that open a session on a new connection before
/// it may run beside others: enventa's Hello and Login.
pub const OPENING_EXCHANGES: u32 = 2;

/// One gate per endpoint ("host:port"): a new connection holds its
/// endpoint's gate from `connect` until the answer to its
/// [`OPENING_EXCHANGES`]th request starts to arrive (the container answers
/// Login only after Login finished), or until it sends more, or is dropped.
/// So at most one Login runs per container from this host, whichever
/// tenants share it.
#[derive(Default, Debug)]
pub struct EndpointGates {
    gates: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl EndpointGates {
    fn gate(&self, endpoint: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut g = self.gates.lock().unwrap_or_else(|e| e.into_inner());
        // Drop gates nobody holds or waits for, so the map stays as small
        // as the set of endpoints in use.
        if g.len() > 64 {
            g.retain(|_, m| Arc::strong_count(m) > 1);
        }
        g.entry(endpoint.to_string()).or_default().clone()
    }
}

/// What the operator granted a tenant, with the host-wide limits and
/// counters its connections are held to.
#[derive(Clone, Debug)]
pub struct Grant {
    pub tenant: String,
    /// "host:port" the tenant may reach; `None` denies every connect.
    pub endpoint: Option<String>,
    pub limits: SocketLimits,
    pub counters: Arc<SocketCounters>,
}

/// The socket capability of one instance: its grant and its connections.
pub struct State {
    grant: Grant,
    /// The instance's open connections (dropped with the Store).
    table: ResourceTable,
    open: usize,
}

impl State {
    pub fn new(grant: &Grant) -> Self {
        Self { grant: grant.clone(), table: ResourceTable::new(), open: 0 }
    }
}

/// A live connection, owned by the instance's resource table.
pub struct Connection {
    stream: TcpStream,
    counters: Arc<SocketCounters>,
    /// The endpoint's gate while this connection opens its session.
    opening: Option<tokio::sync::OwnedMutexGuard<()>>,
    sends: u32,
}

impl Connection {
    /// Called after data arrived: the answer to the last opening request
    /// has begun, so the session is open and the gate is released.
    fn received(&mut self) {
        if self.sends >= OPENING_EXCHANGES {
            self.opening = None;
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.counters.open.fetch_sub(1, Ordering::Relaxed);
    }
}

fn io_error(e: std::io::Error) -> SocketError {
    use std::io::ErrorKind::*;
    match e.kind() {
        ConnectionRefused | HostUnreachable | NetworkUnreachable | AddrNotAvailable => {
            SocketError::ConnectionRefused(e.to_string())
        }
        UnexpectedEof | ConnectionReset | ConnectionAborted | BrokenPipe => SocketError::Closed,
        TimedOut => SocketError::Timeout(e.to_string()),
        _ => SocketError::Io(e.to_string()),
    }
}

impl State {
    fn check_len(&self, len: usize) -> Result<(), SocketError> {
        if len > self.grant.limits.max_transfer as usize {
            return Err(SocketError::TooLarge(format!(
                "{len} bytes exceeds the limit of {}",
                self.grant.limits.max_transfer
            )));
        }
        Ok(())
    }
}

impl Host for State {
    async fn granted_endpoint(&mut self) -> wasmtime::Result<Option<String>> {
        Ok(self.grant.endpoint.clone())
    }

    async fn connect(&mut self, address: String) -> wasmtime::Result<Result<Resource<Connection>, SocketError>> {
        if self.grant.endpoint.as_deref() != Some(address.as_str()) {
            self.grant.counters.denied.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(tenant = %self.grant.tenant, %address, "plugin socket connect denied: not the tenant's granted endpoint");
            return Ok(Err(SocketError::AccessDenied(format!("{address} is not the endpoint granted to this tenant"))));
        }
        if self.open >= self.grant.limits.max_connections {
            return Ok(Err(SocketError::AccessDenied(format!(
                "at most {} open connections per instance",
                self.grant.limits.max_connections
            ))));
        }
        let gate = self.grant.counters.gates.gate(&address);
        let opening = match gate.clone().try_lock_owned() {
            Ok(g) => g,
            Err(_) => {
                self.grant.counters.gate_waits.fetch_add(1, Ordering::Relaxed);
                match tokio::time::timeout(self.grant.limits.io_timeout, gate.lock_owned()).await {
                    Ok(g) => g,
                    Err(_) => {
                        return Ok(Err(SocketError::Timeout(format!(
                            "waited too long for another session to {address} to open"
                        ))));
                    }
                }
            }
        };
        let stream = match tokio::time::timeout(self.grant.limits.connect_timeout, TcpStream::connect(&address)).await {
            Err(_) => {
                return Ok(Err(SocketError::Timeout(format!("connect to {address} timed out"))));
            }
            Ok(Err(e)) => return Ok(Err(io_error(e))),
            Ok(Ok(s)) => s,
        };
        // Small request/response frames: latency matters more than batching.
        let _ = stream.set_nodelay(true);
        self.grant.counters.connects.fetch_add(1, Ordering::Relaxed);
        self.grant.counters.open.fetch_add(1, Ordering::Relaxed);
        self.open += 1;
        let conn = Connection { stream, counters: self.grant.counters.clone(), opening: Some(opening), sends: 0 };
        Ok(Ok(self.table.push(conn)?))
    }
}

impl HostConnection for State {
    async fn send(&mut self, conn: Resource<Connection>, data: Vec<u8>) -> wasmtime::Result<Result<(), SocketError>> {
        if let Err(e) = self.check_len(data.len()) {
            return Ok(Err(e));
        }
        let timeout = self.grant.limits.io_timeout;
        let c = self.table.get_mut(&conn)?;
        c.sends = c.sends.saturating_add(1);
        if c.sends > OPENING_EXCHANGES {
            c.opening = None;
        }
        Ok(match tokio::time::timeout(timeout, c.stream.write_all(&data)).await {
            Err(_) => Err(SocketError::Timeout("write timed out".into())),
            Ok(Err(e)) => Err(io_error(e)),
            Ok(Ok(())) => {
                c.counters.bytes_sent.fetch_add(data.len() as u64, Ordering::Relaxed);
                Ok(())
            }
        })
    }

    async fn receive(
        &mut self,
        conn: Resource<Connection>,
        max: u32,
    ) -> wasmtime::Result<Result<Vec<u8>, SocketError>> {
        let max = max.clamp(1, self.grant.limits.max_transfer) as usize;
        let timeout = self.grant.limits.io_timeout;
        let c = self.table.get_mut(&conn)?;
        let mut buf = vec![0u8; max.min(64 * 1024)];
        Ok(match tokio::time::timeout(timeout, c.stream.read(&mut buf)).await {
            Err(_) => Err(SocketError::Timeout("read timed out".into())),
            Ok(Err(e)) => Err(io_error(e)),
            Ok(Ok(0)) => Err(SocketError::Closed),
            Ok(Ok(n)) => {
                c.received();
                buf.truncate(n);
                c.counters.bytes_received.fetch_add(n as u64, Ordering::Relaxed);
                Ok(buf)
            }
        })
    }

    async fn receive_exact(
        &mut self,
        conn: Resource<Connection>,
        len: u32,
    ) -> wasmtime::Result<Result<Vec<u8>, SocketError>> {
        if let Err(e) = self.check_len(len as usize) {
            return Ok(Err(e));
        }
        let timeout = self.grant.limits.io_timeout;
        let c = self.table.get_mut(&conn)?;
        let mut buf = vec![0u8; len as usize];
        Ok(match tokio::time::timeout(timeout, c.stream.read_exact(&mut buf)).await {
            Err(_) => Err(SocketError::Timeout("read timed out".into())),
            Ok(Err(e)) => Err(io_error(e)),
            Ok(Ok(_)) => {
                c.received();
                c.counters.bytes_received.fetch_add(u64::from(len), Ordering::Relaxed);
                Ok(buf)
            }
        })
    }

    async fn drop(&mut self, conn: Resource<Connection>) -> wasmtime::Result<()> {
        self.table.delete(conn)?;
        self.open = self.open.saturating_sub(1);
        Ok(())
    }
}

/// Adds `socket` to `linker`; `get` finds this capability's state in the
/// Store data.
pub fn add_to_linker<T: Send + 'static>(linker: &mut Linker<T>, get: fn(&mut T) -> &mut State) -> wasmtime::Result<()> {
    wit::b2connect::provider::socket::add_to_linker::<T, HasSelf<State>>(linker, get)
}
