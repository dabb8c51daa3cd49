//! A fake host for unit tests of provider logic (feature `testing`,
//! native builds): settings, a log you can read back, and a socket whose
//! peer is any in-memory or loopback byte stream.
//!
//! ```ignore
//! let host = FakeHost::new("acme").setting("productCount", "5").install();
//! let mut shop = Shop::new(&Context::current())?;
//! assert_eq!(shop.get_product("P1".into())?.id, "P1");
//! assert!(host.logs().iter().any(|(_, m)| m.contains("ready")));
//! ```
//!
//! The host is per thread (cargo runs each test on its own thread), and
//! `install` replaces whatever the thread had.

use std::collections::BTreeMap;

use crate::host::{FAKE, Fake, Level, Peer};

/// The settings and peer a test gives its provider.
pub struct FakeHost {
    fake: Fake,
}

impl FakeHost {
    /// A host for tenant `tenant`, with no settings and no socket grant.
    pub fn new(tenant: &str) -> Self {
        Self { fake: Fake { tenant: tenant.to_string(), ..Fake::default() } }
    }

    /// Adds one setting.
    pub fn setting(mut self, key: &str, value: &str) -> Self {
        self.fake.settings.insert(key.to_string(), value.to_string());
        self
    }

    /// Grants `endpoint`; each `connect` to it opens a new peer with
    /// `open` (a `UnixStream` half, a `TcpStream` to a test server...).
    pub fn socket<S: Peer + 'static>(
        mut self,
        endpoint: &str,
        mut open: impl FnMut() -> std::io::Result<S> + 'static,
    ) -> Self {
        self.fake.endpoint = Some(endpoint.to_string());
        self.fake.peer = Some(Box::new(move || open().map(|s| Box::new(s) as Box<dyn Peer>)));
        self
    }

    /// Grants `endpoint` with nothing listening: `connect` answers
    /// `connection-refused`.
    pub fn unreachable(mut self, endpoint: &str) -> Self {
        self.fake.endpoint = Some(endpoint.to_string());
        self.fake.peer = None;
        self
    }

    /// Makes this the current thread's host, and forgets any provider
    /// value an earlier test built on this thread.
    pub fn install(self) -> Installed {
        crate::provider::reset();
        FAKE.with(|cell| *cell.borrow_mut() = Some(self.fake));
        Installed(())
    }
}

/// The installed host; uninstalls itself when dropped.
pub struct Installed(());

impl Installed {
    /// Every record logged so far, oldest first.
    pub fn logs(&self) -> Vec<(Level, String)> {
        FAKE.with(|cell| cell.borrow().as_ref().map(|f| f.logs.clone()).unwrap_or_default())
    }

    /// The settings the provider sees.
    pub fn settings(&self) -> BTreeMap<String, String> {
        FAKE.with(|cell| cell.borrow().as_ref().map(|f| f.settings.clone()).unwrap_or_default())
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        FAKE.with(|cell| *cell.borrow_mut() = None);
        crate::provider::reset();
    }
}
