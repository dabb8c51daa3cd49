//! `ProviderError` constructors and conversions, so a provider writes
//! `ProviderError::not_found(format!(..))` or `?` on a socket call instead
//! of spelling out the variant and its message each time.

use crate::bindings::b2connect::provider::socket::SocketError;
use crate::bindings::b2connect::provider::types::ProviderError;

/// What a provider operation returns.
pub type Result<T, E = ProviderError> = std::result::Result<T, E>;

impl ProviderError {
    /// The record does not exist (HTTP 404).
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::NotFound(message.into())
    }
    /// The caller's request is malformed or breaks a business rule (422).
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::InvalidInput(message.into())
    }
    /// The request conflicts with the current state (409).
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::Conflict(message.into())
    }
    /// The back end is down or unreachable (503; the host may retry).
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::Unavailable(message.into())
    }
    /// The back end did not answer in time (504).
    pub fn timeout(message: impl Into<String>) -> Self {
        Self::Timeout(message.into())
    }
    /// This provider does not implement the operation (501). Every trait
    /// method the provider leaves out answers this, naming the operation.
    pub fn unsupported(operation: &str) -> Self {
        Self::Unsupported(format!("{operation} is not supported by this provider"))
    }
    /// A bug or an unexpected state inside the provider (502).
    pub fn internal(message: impl Into<String>) -> Self {
        Self::Internal(message.into())
    }

    /// The message, whichever the variant.
    pub fn message(&self) -> &str {
        match self {
            Self::NotFound(m)
            | Self::InvalidInput(m)
            | Self::Conflict(m)
            | Self::Unavailable(m)
            | Self::Timeout(m)
            | Self::Unsupported(m)
            | Self::Internal(m) => m,
        }
    }
}

/// One rule for every provider: the back end behind the granted socket is
/// *unavailable* when it cannot be reached or hangs up, a *timeout* when it
/// is slow, and a frame over the host's limit is the provider's own bug
/// (*internal*), since the provider chose the size.
impl From<SocketError> for ProviderError {
    fn from(e: SocketError) -> Self {
        match e {
            SocketError::AccessDenied(m) => Self::Unavailable(format!("socket access denied: {m}")),
            SocketError::ConnectionRefused(m) => Self::Unavailable(format!("back end unreachable: {m}")),
            SocketError::Timeout(m) => Self::Timeout(format!("back end did not answer: {m}")),
            SocketError::Closed => Self::Unavailable("back end closed the connection".into()),
            SocketError::TooLarge(m) => Self::Internal(format!("socket read or write too large: {m}")),
            SocketError::Io(m) => Self::Unavailable(format!("socket error: {m}")),
        }
    }
}
