//! The one error type at the HTTP edge: every non-2xx answer is
//! `application/problem+json` (RFC 9457) with a stable `type`, a `title`, the
//! `status` and a `detail` for humans. 5xx details are logged in full and
//! never passed to the caller.

use crate::actor::CallError;
use crate::bindings::types::ProviderError;
use crate::untrusted::sanitize;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Prefix of every problem `type`; the suffix is a stable slug.
pub const PROBLEM_TYPE_PREFIX: &str = "urn:b2connect:problem:";

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    /// Stable machine-readable slug, e.g. "not-found".
    pub slug: &'static str,
    pub detail: String,
    /// Seconds for `Retry-After`, on 429/503.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, slug: &'static str, detail: impl Into<String>) -> Self {
        Self { status, slug, detail: detail.into(), retry_after: None }
    }
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad-request", detail)
    }
    pub fn invalid(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid-input", detail)
    }
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", detail)
    }
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
    }
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", detail)
    }
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", detail)
    }
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    pub fn title(&self) -> &'static str {
        self.status.canonical_reason().unwrap_or("Error")
    }

    /// The problem document. 5xx details stay in the log.
    pub fn body(&self) -> serde_json::Value {
        let detail = if self.status.is_server_error() && self.slug == "internal" {
            "an internal error occurred; it has been logged".to_string()
        } else {
            self.detail.clone()
        };
        serde_json::json!({
            "type": format!("{PROBLEM_TYPE_PREFIX}{}", self.slug),
            "title": self.title(),
            "status": self.status.as_u16(),
            "detail": detail,
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // 501 is a provider saying what it does not serve (a read-only ERP
        // asked to write): an answer, not a failure to page anyone about.
        if self.status == StatusCode::NOT_IMPLEMENTED {
            tracing::debug!(slug = self.slug, detail = %self.detail, "not implemented by the provider");
        } else if self.status.is_server_error() {
            crate::failure_log::write(
                |suppressed| tracing::error!(status = self.status.as_u16(), slug = self.slug, detail = %self.detail, suppressed, "request failed"),
            );
        }
        let mut res = (self.status, self.body().to_string()).into_response();
        res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let Some(s) = self.retry_after {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        res
    }
}

impl From<ProviderError> for ApiError {
    /// The plugin's message becomes the `detail`, escaped and cut
    /// (`untrusted::sanitize`): it is the plugin's text, not the host's.
    fn from(e: ProviderError) -> Self {
        use ProviderError::*;
        let e = match e {
            NotFound(m) => NotFound(sanitize(&m)),
            InvalidInput(m) => InvalidInput(sanitize(&m)),
            Conflict(m) => Conflict(sanitize(&m)),
            Unavailable(m) => Unavailable(sanitize(&m)),
            Timeout(m) => Timeout(sanitize(&m)),
            Unsupported(m) => Unsupported(sanitize(&m)),
            Internal(m) => Internal(sanitize(&m)),
        };
        match e {
            NotFound(m) => ApiError::not_found(m),
            InvalidInput(m) => ApiError::invalid(m),
            Conflict(m) => ApiError::conflict(m),
            Unavailable(m) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "provider-unavailable", m).retry_after(1),
            Timeout(m) => ApiError::new(StatusCode::GATEWAY_TIMEOUT, "provider-timeout", m),
            Unsupported(m) => ApiError::new(StatusCode::NOT_IMPLEMENTED, "unsupported", m),
            Internal(m) => ApiError::new(StatusCode::BAD_GATEWAY, "provider-error", m),
        }
    }
}

impl From<CallError> for ApiError {
    fn from(e: CallError) -> Self {
        match e {
            CallError::Provider(p) => p.into(),
            CallError::Overloaded { .. } => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "overloaded", e.to_string()).retry_after(1)
            }
            CallError::Trap(ref m) => {
                crate::failure_log::write(|suppressed| tracing::error!(suppressed, "plugin trapped: {m}"));
                ApiError::new(
                    StatusCode::BAD_GATEWAY,
                    "plugin-failure",
                    "the provider plugin failed while handling the request; it has been restarted",
                )
            }
            CallError::Timeout(_) => ApiError::new(StatusCode::GATEWAY_TIMEOUT, "plugin-timeout", e.to_string()),
            CallError::Instantiate(ref m) => {
                crate::failure_log::write(|suppressed| tracing::error!(suppressed, "plugin could not start: {m}"));
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "plugin-unavailable",
                    "the provider plugin could not be started",
                )
                .retry_after(5)
            }
            // The actor logged the pool's limit and the flag; the caller
            // learns only that it is the host's capacity, and when to retry.
            CallError::HostFull(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "host-at-capacity",
                "the host has no room to start another plugin instance now; retry later",
            )
            .retry_after(5),
            // The operator's settings (or the back end), not the caller's
            // request: 503 with the plugin's reason, so the caller can
            // tell the tenant is misconfigured.
            CallError::Init(_) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "plugin-unavailable", e.to_string()).retry_after(5)
            }
            CallError::NotExported(_) => ApiError::new(StatusCode::NOT_IMPLEMENTED, "unsupported", e.to_string()),
            CallError::CursorGone => ApiError::new(StatusCode::GONE, "stream-gone", e.to_string()),
            CallError::Closed => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "shutting-down", e.to_string()).retry_after(1)
            }
            CallError::Contract(ref m) => {
                crate::failure_log::write(|suppressed| {
                    tracing::error!(suppressed, "plugin broke the contract: {}", sanitize(m))
                });
                ApiError::new(
                    StatusCode::BAD_GATEWAY,
                    "contract-violation",
                    format!(
                        "the provider plugin's answer breaks the contract ({}); it has been restarted",
                        sanitize(m)
                    ),
                )
            }
            CallError::AnswerTooLarge(ref m) => ApiError::new(StatusCode::BAD_GATEWAY, "answer-too-large", sanitize(m)),
            CallError::CircuitOpen { retry_after_secs, .. } => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "circuit-open", e.to_string())
                    .retry_after(retry_after_secs)
            }
        }
    }
}

impl From<b2c_registry::Error> for ApiError {
    fn from(e: b2c_registry::Error) -> Self {
        use b2c_registry::Error::*;
        match e {
            InvalidInput(m) => ApiError::invalid(m),
            InvalidComponent(c) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid-component", c.to_string()),
            Incompatible(c) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "incompatible-plugin", c.to_string()),
            NotFound(m) => ApiError::not_found(m),
            Conflict(m) => ApiError::conflict(m),
            Database(_) | Io(_) | Corrupt(_) => ApiError::internal(e.to_string()),
        }
    }
}

impl From<crate::service::ServiceError> for ApiError {
    fn from(e: crate::service::ServiceError) -> Self {
        use crate::service::ServiceError::*;
        match e {
            Invalid(m) => ApiError::invalid(m),
            InvalidComponent(m) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid-component", m),
            DigestMismatch(m) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "digest-mismatch", m),
            Nonconformant(m) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "nonconformant-plugin", m),
            Conflict { detail, retry_after } => {
                let e = ApiError::conflict(detail);
                match retry_after {
                    Some(s) => e.retry_after(s),
                    None => e,
                }
            }
            ProviderBroke(m) => ApiError::new(StatusCode::BAD_GATEWAY, "provider-error", m),
            Internal(m) => ApiError::internal(m),
            Registry(e) => e.into(),
            Call(e) => e.into(),
        }
    }
}
