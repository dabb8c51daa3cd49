//! The statuses a route can answer besides its own success, declared once
//! per route class. A route's `#[utoipa::path]` names its class in
//! `responses(...)`, then adds only what is its own (a 409, a route's
//! specific 404 wording), so every status the shared code answers (the
//! extractors, authentication, rate limiting, the actor's failures) is
//! documented on every route that can answer it, with its media type.
//!
//! Which class a route is in follows from where it is mounted and what it
//! extracts: a tenant route (its `auth::authenticate` and
//! `middleware::rate_limit` layers) brings 401 and 429; a provider call brings 404 (no
//! binding), 502, 503 and 504; a body brings 400 (malformed), 413 (over the
//! size limit) and 415 (wrong Content-Type).

use std::collections::BTreeMap;
use utoipa::IntoResponses;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};

/// The media type of every error answer (RFC 9457).
pub const PROBLEM_JSON: &str = "application/problem+json";

/// One problem+json response; `retry` adds the `Retry-After` header.
fn problem(description: &str, retry: bool) -> RefOr<Response> {
    let mut r = ResponseBuilder::new()
        .description(description)
        .content(PROBLEM_JSON, ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build());
    if retry {
        r = r.header("Retry-After", HeaderBuilder::new().description(Some("Seconds to wait before retrying")).build());
    }
    r.build().into()
}

type Responses = BTreeMap<String, RefOr<Response>>;

fn add(map: &mut Responses, status: u16, description: &str, retry: bool) {
    map.insert(status.to_string(), problem(description, retry));
}

/// What every tenant route can answer: its path, its key, its rate limit,
/// its provider.
fn tenant() -> Responses {
    let mut m = Responses::new();
    add(&mut m, 400, "Malformed path or header (bad-request)", false);
    add(&mut m, 401, "Missing or invalid API key (unauthorized)", false);
    add(&mut m, 404, "Unknown id, another tenant's resource, or no provider of this kind bound", false);
    add(&mut m, 422, "A parameter or field out of its documented range (invalid-input)", false);
    add(&mut m, 429, "Over the tenant's request rate limit", true);
    add(&mut m, 502, "The plugin failed, broke the contract, or its answer was too large", false);
    add(&mut m, 503, "The tenant's queue is full, its breaker is open, or its backend is unavailable", true);
    add(&mut m, 504, "The plugin or its backend did not answer in time", false);
    m
}

/// What a route that reads a body can answer on top of its class.
fn with_body(mut m: Responses) -> Responses {
    add(&mut m, 400, "Malformed path, header or body (bad-request: the body is not valid JSON)", false);
    add(&mut m, 413, "The body is over the size limit (payload-too-large)", false);
    add(&mut m, 415, "Wrong or missing Content-Type (unsupported-media-type)", false);
    m
}

/// What every admin route can answer.
fn admin() -> Responses {
    let mut m = Responses::new();
    add(&mut m, 400, "Malformed path or header (bad-request)", false);
    add(&mut m, 401, "No or wrong admin token (unauthorized)", false);
    add(&mut m, 403, "A tenant key was used on the operator API (forbidden)", false);
    add(&mut m, 422, "A parameter or field out of its documented range (invalid-input)", false);
    m
}

/// A route class: a type naming one of the sets above, for `responses(...)`.
macro_rules! route_class {
    ($(#[$doc:meta])* $name:ident => $set:expr) => {
        $(#[$doc])*
        pub struct $name;
        impl IntoResponses for $name {
            fn responses() -> Responses {
                $set
            }
        }
    };
}

route_class!(
    /// Tenant routes without a body (GET).
    TenantErrors => tenant()
);
route_class!(
    /// Tenant routes with a JSON (or NDJSON) body.
    TenantBodyErrors => with_body(tenant())
);
route_class!(
    /// Admin routes without a body.
    AdminErrors => admin()
);
route_class!(
    /// Admin routes with a body (JSON, or the component for publish).
    AdminBodyErrors => with_body(admin())
);
route_class!(
    /// Admin routes about one tenant: the tenant must exist.
    AdminTenantErrors => {
        let mut m = admin();
        add(&mut m, 404, "No such tenant (not-found)", false);
        m
    }
);
