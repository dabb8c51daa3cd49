//! `b2c-host plugin check FILE`: the provider conformance check. It runs
//! the component in this host's runtime (the same engine, actor, limits
//! and per-answer contract checks as `serve`), with the settings and
//! socket the caller gives, and checks the contract's behavioural rules on
//! whatever data the provider serves: nothing about the data is assumed,
//! ids are discovered through the provider's own streams.
//!
//! Every answer already passes `answers.rs` (batch length and ids, at most
//! `max` per pull, page sizes, categories parents-first, result tallies);
//! a breach there is reported as the failure of the rule that made the
//! call. The rules here are the ones no single answer shows: a streamed
//! record equals its single get, a stream honours its filter and ends,
//! catalog pages cover the stream exactly, tokens terminate, unknown ids
//! are `not-found`, a repeated sync changes nothing.
//!
//! Rules that write (sync, orders) run only with `writes`: the check may
//! be pointed at a real back end.
//!
//! Each call is bounded by the actor's call timeout, but a check makes a
//! few hundred calls, so the whole check has a deadline of its own
//! ([`CheckOptions::deadline`]): past it the check stops, the rule
//! [`WITHIN_DEADLINE`] fails and the rules not yet judged are skipped.
//! Every run reports the same rules in the same order ([`rule_names`]).

use crate::ProviderKind;
use crate::actor::{ActorSettings, ActorSpec, ActorStats, CallError, PluginRef, Provider, ProviderHandle};
use crate::bindings::types::{
    CatalogFilter, Customer, CustomerFilter, OrderLineRequest, OrderRequest, Product, ProductDetails, ProductFilter,
    ProviderError,
};
use crate::capabilities::{log::LogLimit, socket::SocketCounters};
use crate::engine::{EngineSettings, PluginComponent, PluginEngine};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Records read from one stream at most: a provider with more is checked
/// on this many (its end is then not proven).
pub const SAMPLE: usize = 2_000;
/// Records compared with their single get, per stream.
const SPOT_CHECKS: usize = 20;
/// An id no provider is expected to know.
const UNKNOWN: &str = "b2c-conformance-no-such-id";

/// The rule that the whole check finished within its deadline.
pub const WITHIN_DEADLINE: &str = "check.finishes-within-deadline";

/// The deadline of `plugin check` unless given (publish has its own,
/// `serve --conformance-timeout-secs`).
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(300);

const ERP_RULES: [&str; 12] = [
    "erp.products.unknown-not-found",
    "erp.products.stream-ends",
    "erp.products.stream-equals-get",
    "erp.products.batch-order",
    "erp.products.stream-filter",
    "erp.customers.unknown-not-found",
    "erp.customers.stream-ends",
    "erp.customers.stream-equals-get",
    "erp.customers.batch-order",
    "erp.customers.stream-filter",
    "erp.sync-twice-changes-nothing",
    "erp.create-orders-counts-what-was-sent",
];
const CRM_RULES: [&str; 2] = ["crm.contacts.unknown-not-found", "crm.activities.unknown-customer-not-found"];
const PIM_RULES: [&str; 6] = [
    "pim.details.unknown-not-found",
    "pim.catalog.foreign-token-invalid-input",
    "pim.catalog.pages-end-without-duplicates",
    "pim.catalog.stream-ends",
    "pim.catalog.stream-equals-details",
    "pim.catalog.pages-cover-the-stream",
];

/// Every rule a check of `kinds` reports, in the order it reports them.
/// A test holds this list to what a full run of every rule reports.
pub fn rule_names(kinds: &[ProviderKind]) -> Vec<&'static str> {
    let mut names = Vec::new();
    for (kind, rules) in
        [(ProviderKind::Erp, &ERP_RULES[..]), (ProviderKind::Crm, &CRM_RULES[..]), (ProviderKind::Pim, &PIM_RULES[..])]
    {
        if kinds.contains(&kind) {
            names.extend_from_slice(rules);
        }
    }
    names.push(WITHIN_DEADLINE);
    names
}

/// Ends the check's actor when the check ends, however it ends (a check
/// that finished in time has let it shut down first).
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What to run the component with.
#[derive(Clone, Debug)]
pub struct CheckOptions {
    pub config: BTreeMap<String, String>,
    pub socket: Option<String>,
    /// Also run the rules that write (sync twice, create orders).
    pub writes: bool,
    /// When the provider answers `unavailable` (or `invalid-input`: a
    /// required setting is missing) to the first call, skip
    /// every rule with that reason instead of failing them: its back end
    /// cannot be reached without a binding's settings and socket. Publish
    /// (`serve --require-conformance`) has neither; the CLI, given them,
    /// keeps this off so a wrong `--socket` fails.
    pub skip_if_unavailable: bool,
    /// How long the whole check may take (see the module docs).
    pub deadline: Duration,
}

impl Default for CheckOptions {
    fn default() -> Self {
        Self {
            config: BTreeMap::new(),
            socket: None,
            writes: false,
            skip_if_unavailable: false,
            deadline: DEFAULT_DEADLINE,
        }
    }
}

/// The verdict on one rule.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase", tag = "outcome", content = "detail")]
pub enum Outcome {
    /// Checked and kept; what was checked.
    Pass(String),
    /// Broken; the first counter-example.
    Fail(String),
    /// Not checked, and why (unsupported, no data, writes off).
    Skip(String),
}

/// One rule's result.
#[derive(Clone, Debug, serde::Serialize)]
pub struct RuleResult {
    pub rule: &'static str,
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// Why the check could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("the component does not load in this host: {0}")]
    Load(String),
    /// The engine had no room for the checked instance: nothing was
    /// judged (publish answers 503, as a call would).
    #[error("the check could not run: {0}")]
    HostFull(CallError),
}

/// Runs every rule that applies to the kinds `bytes` exports, in an
/// engine of its own, its actor under `settings`.
pub async fn check(bytes: &[u8], settings: ActorSettings, opts: &CheckOptions) -> Result<Vec<RuleResult>, CheckError> {
    let engine = PluginEngine::new(EngineSettings { max_instances: 4, ..EngineSettings::default() })
        .map_err(|e| CheckError::Load(e.to_string()))?;
    let digest = crate::util::sha256_hex(bytes);
    let component =
        engine.load(&digest, Arc::new(bytes.to_vec())).await.map_err(|e| CheckError::Load(e.to_string()))?;
    check_component(engine, component, settings, opts).await.map_err(CheckError::HostFull)
}

/// Runs every rule that applies to the kinds `component` exports, in an
/// actor of `engine` with `settings` (publish checks in the serving engine
/// under the serving host's limits, on the component its upload compiled).
/// Fails only with [`CallError::HostFull`], when the engine has no room for
/// the instance at the probe (`skip_if_unavailable`); any other failure is
/// a rule's outcome.
pub async fn check_component(
    engine: Arc<PluginEngine>,
    component: Arc<PluginComponent>,
    settings: ActorSettings,
    opts: &CheckOptions,
) -> Result<Vec<RuleResult>, CallError> {
    let kinds = component.kinds();
    let spec = ActorSpec {
        tenant: "conformance".into(),
        kinds: kinds.clone(),
        plugin: PluginRef { name: "checked".into(), version: "0.0.0".into() },
        component,
        settings: Arc::new(opts.config.clone()),
        socket: opts.socket.clone(),
        log_limit: Arc::new(LogLimit::new(settings.log_per_sec, settings.log_burst)),
    };
    let (handle, actor) = ProviderHandle::spawn_abortable(
        engine,
        spec,
        settings.clone(),
        Arc::new(ActorStats::default()),
        Arc::new(SocketCounters::default()),
    );
    // The check is the actor's only caller: when it ends (at its deadline
    // too, with a call in flight) the actor and its instance end with it,
    // not a call timeout later.
    let _actor = AbortOnDrop(actor);
    let p = Provider { handle, timeout: settings.call_timeout, max_answer_json_bytes: settings.max_answer_json_bytes };
    let started = Instant::now();
    let mut out = Vec::new();
    // Whether the deadline found the check still probing for a back end
    // (before any rule); atomic only so the future stays `Send`.
    let probing = std::sync::atomic::AtomicBool::new(opts.skip_if_unavailable);
    // The judged rules land in `out` as they finish, so a check stopped at
    // its deadline still reports them (dropping the future drops the
    // waiting call; `_actor` ends the call itself).
    let checked = tokio::time::timeout(opts.deadline, async {
        if opts.skip_if_unavailable {
            let probe = unreachable(&p, &kinds).await;
            probing.store(false, std::sync::atomic::Ordering::Relaxed);
            if !matches!(probe, Probe::Ready) {
                return probe;
            }
        }
        run(&p, &kinds, opts, &mut out).await;
        Probe::Ready
    })
    .await;
    let checked = match checked {
        Ok(Probe::NoRoom(e)) => return Err(e),
        other => other,
    };
    // The check's own time: the instance's shutdown below is not the
    // provider's answer to any rule.
    let elapsed = started.elapsed();
    if checked.is_ok() {
        // Finished in time: the instance ends as a tenant's does, with
        // `lifecycle.shutdown` (a bridge checked against a container logs
        // out), bounded by the shutdown limit; `_actor` aborts it only if
        // that overruns. At the deadline it is aborted at once instead.
        let finished = p.handle.finished();
        drop(p);
        let _ = tokio::time::timeout(crate::actor::SHUTDOWN_WAIT, finished).await;
    }
    let names = rule_names(&kinds);
    let (within, unjudged) = match checked {
        Ok(probe) => (
            Outcome::Pass(format!(
                "finished in {:.1} s of its {} s",
                elapsed.as_secs_f64(),
                opts.deadline.as_secs_f64()
            )),
            // No back end: the rules are not run at all, each says why.
            match probe {
                Probe::NoBackEnd(why) => why,
                _ => "not reported by this run".into(),
            },
        ),
        Err(_) => {
            let at = match probing.load(std::sync::atomic::Ordering::Relaxed) {
                true => Some(&"its first call (the probe for a back end)"),
                false => names.iter().find(|n| **n != WITHIN_DEADLINE && !out.iter().any(|r| r.rule == **n)),
            };
            (
                Outcome::Fail(format!(
                    "stopped at {:.1} s (the deadline is {} s), during {}, with {} rules judged",
                    elapsed.as_secs_f64(),
                    opts.deadline.as_secs_f64(),
                    at.copied().unwrap_or("the last rule"),
                    out.len()
                )),
                format!("not judged: the check's deadline of {} s passed first", opts.deadline.as_secs_f64()),
            )
        }
    };
    let mut results: Vec<RuleResult> = names
        .iter()
        .map(|&rule| {
            let outcome = match rule {
                WITHIN_DEADLINE => within.clone(),
                _ => match out.iter().position(|r| r.rule == rule) {
                    Some(i) => out.swap_remove(i).outcome,
                    None => Outcome::Skip(unjudged.clone()),
                },
            };
            RuleResult { rule, outcome }
        })
        .collect();
    // A rule missing from `rule_names` still reports (the test that holds
    // the list to the code catches it).
    results.extend(out);
    Ok(results)
}

async fn run(p: &Provider, kinds: &[ProviderKind], opts: &CheckOptions, out: &mut Vec<RuleResult>) {
    if kinds.contains(&ProviderKind::Erp) {
        erp(p, opts, out).await;
    }
    if kinds.contains(&ProviderKind::Crm) {
        crm(p, out).await;
    }
    if kinds.contains(&ProviderKind::Pim) {
        pim(p, out).await;
    }
}

/// What the probe before the rules found.
enum Probe {
    /// Go on with the rules.
    Ready,
    /// The provider's first single get (or, contract 1.1, its
    /// `lifecycle.init` before it) answered `unavailable` or
    /// `invalid-input`: it has no back end or no settings to check with.
    NoBackEnd(String),
    /// The engine had no room for the instance: nothing can be judged.
    NoRoom(CallError),
}

async fn unreachable(p: &Provider, kinds: &[ProviderKind]) -> Probe {
    let answer = match kinds.first() {
        None => return Probe::Ready,
        Some(ProviderKind::Erp) => p.get_product(UNKNOWN.into()).await.err(),
        Some(ProviderKind::Crm) => p.get_contact(UNKNOWN.into()).await.err(),
        Some(ProviderKind::Pim) => p.get_product_details(UNKNOWN.into()).await.err(),
    };
    match answer {
        Some(CallError::Provider(ProviderError::Unavailable(m)) | CallError::Init(ProviderError::Unavailable(m))) => {
            Probe::NoBackEnd(format!(
                "not checked: without a binding's settings and socket the provider is unavailable ({m})"
            ))
        }
        // A required setting that publish cannot give.
        Some(CallError::Provider(ProviderError::InvalidInput(m)) | CallError::Init(ProviderError::InvalidInput(m))) => {
            Probe::NoBackEnd(format!(
                "not checked: without a binding's settings the provider answers invalid-input ({m})"
            ))
        }
        Some(e @ CallError::HostFull(_)) => Probe::NoRoom(e),
        _ => Probe::Ready,
    }
}

fn rule(out: &mut Vec<RuleResult>, rule: &'static str, outcome: Outcome) {
    out.push(RuleResult { rule, outcome });
}

fn unsupported(e: &CallError) -> bool {
    matches!(e, CallError::Provider(ProviderError::Unsupported(_)))
}

/// A stream read to its end or to [`SAMPLE`] records, pulling `max` at a
/// time. `Ok((records, ended))`.
async fn drain<T, F, Fut>(mut next: F, max: u32) -> Result<(Vec<T>, bool), String>
where
    F: FnMut(u32) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<T>, CallError>>,
{
    let mut all = Vec::new();
    while all.len() < SAMPLE {
        let batch = next(max)
            .await
            .map_err(|e| format!("pull {} after {} records: {e}", all.len() / max as usize + 1, all.len()))?;
        if batch.is_empty() {
            return Ok((all, true));
        }
        all.extend(batch);
    }
    Ok((all, false))
}

/// Evenly spread picks of at most `n` items.
fn spread<T>(items: &[T], n: usize) -> impl Iterator<Item = &T> {
    let step = (items.len() / n.max(1)).max(1);
    items.iter().step_by(step).take(n)
}

/// Three consecutive alphanumeric characters of `s`, the run nearest its
/// middle, lowercased: a `name-contains` the record itself satisfies.
fn needle(s: &str) -> Option<String> {
    let chars: Vec<char> = s.chars().collect();
    let mid = chars.len() / 2;
    (0..chars.len().saturating_sub(2))
        .filter(|&i| chars[i..i + 3].iter().all(|c| c.is_alphanumeric()))
        .min_by_key(|&i| (i + 1).abs_diff(mid))
        .map(|i| chars[i..i + 3].iter().collect::<String>().to_lowercase())
}

/// The median of the sampled `modified-at` values (0 for none).
fn median_modified(values: impl Iterator<Item = i64>) -> i64 {
    let mut v: Vec<i64> = values.collect();
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or(0)
}

/// The rules that need the stream's records, when it was not read: they
/// are reported as skipped, so every run lists the same rules.
fn skip_unread(out: &mut Vec<RuleResult>, names: [&'static str; 2]) {
    for name in names {
        rule(out, name, Outcome::Skip("the stream was not read (see its stream-ends rule)".into()));
    }
}

fn contains_ci(hay: &str, needle: &str) -> bool {
    hay.to_lowercase().contains(needle)
}

async fn erp(p: &Provider, opts: &CheckOptions, out: &mut Vec<RuleResult>) {
    let all = ProductFilter { modified_since: None, category_id: None, name_contains: None, active_only: false };
    let products = stream_rules(
        out,
        ("erp.products.stream-ends", "erp.products.stream-equals-get", Some("erp.products.unknown-not-found")),
        || p.open_products(all.clone()),
        |c, max| p.next_products(c, max),
        |id| p.get_product(id),
        |r: &Product| r.id.clone(),
        p,
    )
    .await;
    if let Some((products, ended)) = &products {
        batch_rule(
            out,
            "erp.products.batch-order",
            products.iter().map(|r| r.id.clone()).collect(),
            |ids| p.get_products(ids),
            |r: &Product| r.id.clone(),
        )
        .await;
        // A filter built around a witness: a sampled record (active when
        // one is) that passes it, so a stream that drops what it should
        // keep fails, not only one that keeps what it should drop.
        let median = median_modified(products.iter().map(|r| r.modified_at));
        let witness = products.iter().filter(|r| r.modified_at >= median).max_by_key(|r| r.active);
        let filter = ProductFilter {
            modified_since: Some(median),
            category_id: None,
            name_contains: witness.and_then(|r| needle(&r.name)),
            active_only: witness.is_some_and(|r| r.active),
        };
        let f = filter.clone();
        let keeps = move |r: &Product| {
            (r.active || !f.active_only)
                && f.modified_since.is_none_or(|s| r.modified_at >= s)
                && f.name_contains.as_deref().is_none_or(|n| contains_ci(&r.name, n))
        };
        filter_rule(
            out,
            "erp.products.stream-filter",
            (products, *ended, witness.map(|r| r.id.clone())),
            format!("{filter:?}"),
            keeps,
            || p.open_products(filter.clone()),
            |c, max| p.next_products(c, max),
            |r: &Product| r.id.clone(),
            p,
        )
        .await;
    } else {
        skip_unread(out, ["erp.products.batch-order", "erp.products.stream-filter"]);
    }
    let all = CustomerFilter { modified_since: None, name_contains: None, country: None };
    let customers = stream_rules(
        out,
        ("erp.customers.stream-ends", "erp.customers.stream-equals-get", Some("erp.customers.unknown-not-found")),
        || p.open_customers(all.clone()),
        |c, max| p.next_customers(c, max),
        |id| p.get_customer(id),
        |r: &Customer| r.id.clone(),
        p,
    )
    .await;
    if let Some((customers, ended)) = &customers {
        batch_rule(
            out,
            "erp.customers.batch-order",
            customers.iter().map(|r| r.id.clone()).collect(),
            |ids| p.get_customers(ids),
            |r: &Customer| r.id.clone(),
        )
        .await;
        let median = median_modified(customers.iter().map(|r| r.modified_at));
        let witness = customers.iter().find(|r| r.modified_at >= median);
        let filter = CustomerFilter {
            modified_since: Some(median),
            name_contains: witness.and_then(|r| needle(&r.name)),
            country: witness.map(|r| r.address.country.clone()).filter(|c| !c.is_empty()),
        };
        let f = filter.clone();
        let keeps = move |r: &Customer| {
            f.modified_since.is_none_or(|s| r.modified_at >= s)
                && f.name_contains.as_deref().is_none_or(|n| contains_ci(&r.name, n))
                && f.country.as_deref().is_none_or(|c| r.address.country.eq_ignore_ascii_case(c))
        };
        filter_rule(
            out,
            "erp.customers.stream-filter",
            (customers, *ended, witness.map(|r| r.id.clone())),
            format!("{filter:?}"),
            keeps,
            || p.open_customers(filter.clone()),
            |c, max| p.next_customers(c, max),
            |r: &Customer| r.id.clone(),
            p,
        )
        .await;
    } else {
        skip_unread(out, ["erp.customers.batch-order", "erp.customers.stream-filter"]);
    }

    // Writes.
    let sample: Vec<Product> = products.as_ref().map(|(v, _)| v.iter().take(3).cloned().collect()).unwrap_or_default();
    if !opts.writes {
        rule(out, "erp.sync-twice-changes-nothing", Outcome::Skip("writes are off (--writes runs it)".into()));
        rule(out, "erp.create-orders-counts-what-was-sent", Outcome::Skip("writes are off (--writes runs it)".into()));
        return;
    }
    if sample.is_empty() {
        rule(out, "erp.sync-twice-changes-nothing", Outcome::Skip("no products to sync".into()));
    } else {
        let first = p.sync_products(sample.clone()).await;
        let second = p.sync_products(sample.clone()).await;
        let outcome = match (first, second) {
            (Err(e), _) | (_, Err(e)) if unsupported(&e) => Outcome::Skip("sync-products is unsupported".into()),
            (Err(e), _) | (_, Err(e)) => Outcome::Fail(format!("sync-products failed: {e}")),
            (Ok(_), Ok(r)) if r.created == 0 && r.updated == 0 && r.unchanged == sample.len() as u32 => {
                Outcome::Pass(format!("{} products synced twice: the second sync answered all unchanged", sample.len()))
            }
            (Ok(_), Ok(r)) => Outcome::Fail(format!(
                "the second sync of the same {} products answered created={} updated={} unchanged={} failed={}",
                sample.len(),
                r.created,
                r.updated,
                r.unchanged,
                r.failed
            )),
        };
        rule(out, "erp.sync-twice-changes-nothing", outcome);
    }
    let customer = customers.as_ref().and_then(|(v, _)| v.first().cloned());
    match (sample.first(), customer) {
        (Some(product), Some(customer)) => {
            let stamp = crate::actor::now_ms();
            let orders: Vec<OrderRequest> = (0..2)
                .map(|i| OrderRequest {
                    customer_id: customer.id.clone(),
                    lines: vec![OrderLineRequest { product_id: product.id.clone(), quantity: 1 }],
                    external_ref: Some(format!("b2c-conformance-{stamp}-{i}")),
                    note: Some("b2c-host plugin check".into()),
                })
                .collect();
            // The host checks the tally (`answers::batch_result`); a breach
            // arrives here as a contract error.
            let outcome = match p.create_orders(orders).await {
                Err(e) if unsupported(&e) => Outcome::Skip("create-orders is unsupported".into()),
                Err(e) => Outcome::Fail(format!("create-orders of 2: {e}")),
                Ok(r) => {
                    let ok = r.items.iter().filter(|i| i.is_ok()).count() as u32;
                    if r.items.len() == 2 && r.succeeded == ok && r.failed == 2 - ok {
                        Outcome::Pass(format!("2 orders sent: 2 items, succeeded={} failed={}", r.succeeded, r.failed))
                    } else {
                        Outcome::Fail(format!(
                            "2 orders sent: {} items, succeeded={} failed={} ({ok} ok items)",
                            r.items.len(),
                            r.succeeded,
                            r.failed
                        ))
                    }
                }
            };
            rule(out, "erp.create-orders-counts-what-was-sent", outcome);
        }
        _ => {
            rule(out, "erp.create-orders-counts-what-was-sent", Outcome::Skip("no product or customer to order".into()))
        }
    }
}

/// The three rules every stream kind shares: it ends (within the sample)
/// without exceeding `max`, its records equal their single gets, and an
/// unknown id is `not-found` (`unknown: None` when the caller judged that
/// already). Returns the records read and whether the stream ended, or
/// `None` when the kind is unsupported or failed.
#[allow(clippy::too_many_arguments)]
async fn stream_rules<T, Open, OpenFut, Next, NextFut, Get, GetFut>(
    out: &mut Vec<RuleResult>,
    (ends, equals, unknown): (&'static str, &'static str, Option<&'static str>),
    open: Open,
    next: Next,
    get: Get,
    id: fn(&T) -> String,
    p: &Provider,
) -> Option<(Vec<T>, bool)>
where
    T: PartialEq + std::fmt::Debug,
    Open: Fn() -> OpenFut,
    OpenFut: std::future::Future<Output = Result<u64, CallError>>,
    Next: Fn(u64, u32) -> NextFut,
    NextFut: std::future::Future<Output = Result<Vec<T>, CallError>>,
    Get: Fn(String) -> GetFut,
    GetFut: std::future::Future<Output = Result<T, CallError>>,
{
    if let Some(unknown) = unknown {
        match get(UNKNOWN.into()).await {
            Err(CallError::Provider(ProviderError::NotFound(_))) => {
                rule(out, unknown, Outcome::Pass(format!("{UNKNOWN:?}: not-found")))
            }
            Err(e) if unsupported(&e) => rule(out, unknown, Outcome::Skip("the single get is unsupported".into())),
            Err(e) => rule(out, unknown, Outcome::Fail(format!("{UNKNOWN:?} answered {e}, not not-found"))),
            Ok(r) => rule(out, unknown, Outcome::Fail(format!("{UNKNOWN:?} answered a record: {r:?}"))),
        }
    }
    let cursor = match open().await {
        Ok(c) => c,
        Err(e) if unsupported(&e) => {
            rule(out, ends, Outcome::Skip("the stream is unsupported".into()));
            rule(out, equals, Outcome::Skip("the stream is unsupported".into()));
            return None;
        }
        Err(e) => {
            rule(out, ends, Outcome::Fail(format!("opening the stream: {e}")));
            rule(out, equals, Outcome::Skip("the stream did not open".into()));
            return None;
        }
    };
    // An odd `max`, so a provider that hands out fixed-size batches is seen
    // cutting them (the host refuses a pull over `max`).
    let read = drain(|max| next(cursor, max), 7).await;
    let _ = p.close_cursor(cursor).await;
    let (records, ended) = match read {
        Ok(r) => r,
        Err(e) => {
            rule(out, ends, Outcome::Fail(e));
            rule(out, equals, Outcome::Skip("the stream failed".into()));
            return None;
        }
    };
    let mut seen = HashSet::new();
    if let Some(dup) = records.iter().map(id).find(|i| !seen.insert(i.clone())) {
        rule(out, ends, Outcome::Fail(format!("record {dup:?} streamed twice")));
    } else if ended {
        rule(out, ends, Outcome::Pass(format!("{} records in pulls of at most 7, then the end", records.len())));
    } else {
        rule(
            out,
            ends,
            Outcome::Skip(format!(
                "more than {SAMPLE} records: read {SAMPLE} in pulls of at most 7; the end is not proven"
            )),
        );
    }
    if records.is_empty() {
        rule(out, equals, Outcome::Skip("the stream is empty".into()));
        return Some((records, ended));
    }
    let mut checked = 0;
    let mut broken = None;
    for r in spread(&records, SPOT_CHECKS) {
        match get(id(r)).await {
            Ok(g) if g == *r => checked += 1,
            Ok(g) => {
                broken = Some(format!("streamed {r:?}\nbut the single get answered {g:?}"));
                break;
            }
            Err(e) => {
                broken = Some(format!("streamed {:?}, but its single get answered {e}", id(r)));
                break;
            }
        }
    }
    if let Some(b) = broken {
        rule(out, equals, Outcome::Fail(b));
        return Some((records, ended));
    }
    rule(out, equals, Outcome::Pass(format!("{checked} streamed records equal their single get")));
    Some((records, ended))
}

/// A batch get of known ids around an unknown one, with a repeat: one
/// answer per id, in order, the unknown one `none`.
async fn batch_rule<T, Get, GetFut>(
    out: &mut Vec<RuleResult>,
    name: &'static str,
    known: Vec<String>,
    get: Get,
    id: fn(&T) -> String,
) where
    Get: Fn(Vec<String>) -> GetFut,
    GetFut: std::future::Future<Output = Result<Vec<Option<T>>, CallError>>,
{
    let (Some(a), Some(b)) = (known.last().cloned(), known.first().cloned()) else {
        return rule(out, name, Outcome::Skip("no records to ask for".into()));
    };
    let ids = vec![a.clone(), UNKNOWN.to_string(), b.clone(), a.clone()];
    let want = vec![Some(a.clone()), None, Some(b), Some(a)];
    let outcome = match get(ids.clone()).await {
        Err(e) if unsupported(&e) => Outcome::Skip("the batch get is unsupported".into()),
        Err(e) => Outcome::Fail(format!("{ids:?} answered {e}")),
        Ok(got) => {
            let got: Vec<Option<String>> = got.iter().map(|r| r.as_ref().map(id)).collect();
            if got == want {
                Outcome::Pass(format!("{ids:?}: one answer per id, in order, the unknown one none"))
            } else {
                Outcome::Fail(format!("{ids:?} answered ids {got:?}"))
            }
        }
    };
    rule(out, name, outcome);
}

/// A filtered stream: every record it hands out passes the filter, and
/// (when the unfiltered stream was read to its end) every sampled record
/// that passes is among them.
#[allow(clippy::too_many_arguments)]
async fn filter_rule<T, Open, OpenFut, Next, NextFut>(
    out: &mut Vec<RuleResult>,
    name: &'static str,
    (sample, sample_complete, witness): (&[T], bool, Option<String>),
    shown: String,
    keeps: impl Fn(&T) -> bool,
    open: Open,
    next: Next,
    id: fn(&T) -> String,
    p: &Provider,
) where
    T: std::fmt::Debug,
    Open: Fn() -> OpenFut,
    OpenFut: std::future::Future<Output = Result<u64, CallError>>,
    Next: Fn(u64, u32) -> NextFut,
    NextFut: std::future::Future<Output = Result<Vec<T>, CallError>>,
{
    let cursor = match open().await {
        Ok(c) => c,
        Err(e) => return rule(out, name, Outcome::Fail(format!("opening the filtered stream: {e}"))),
    };
    let read = drain(|max| next(cursor, max), 50).await;
    let _ = p.close_cursor(cursor).await;
    let (got, ended) = match read {
        Ok(r) => r,
        Err(e) => return rule(out, name, Outcome::Fail(e)),
    };
    if let Some(bad) = got.iter().find(|r| !keeps(r)) {
        return rule(
            out,
            name,
            Outcome::Fail(format!("the stream filtered by {shown} handed out a record the filter excludes: {bad:?}")),
        );
    }
    if ended {
        let got_ids: HashSet<String> = got.iter().map(id).collect();
        // Every sampled record that passes, when the sample is the whole
        // stream; the witness (a known record that passes) in any case.
        let mut passing = sample.iter().filter(|r| sample_complete && keeps(r)).map(id).chain(witness);
        if let Some(missing) = passing.find(|i| !got_ids.contains(i)) {
            return rule(
                out,
                name,
                Outcome::Fail(format!(
                    "record {missing:?} passes the filter {shown} but the filtered stream ended without it"
                )),
            );
        }
    }
    rule(out, name, Outcome::Pass(format!("{} records, each passing the filter {shown}", got.len())));
}

async fn crm(p: &Provider, out: &mut Vec<RuleResult>) {
    match p.get_contact(UNKNOWN.into()).await {
        Err(CallError::Provider(ProviderError::NotFound(_))) => {
            rule(out, "crm.contacts.unknown-not-found", Outcome::Pass(format!("{UNKNOWN:?}: not-found")))
        }
        Err(e) if unsupported(&e) => rule(out, "crm.contacts.unknown-not-found", Outcome::Skip("unsupported".into())),
        Err(e) => rule(out, "crm.contacts.unknown-not-found", Outcome::Fail(format!("{UNKNOWN:?} answered {e}"))),
        Ok(r) => rule(out, "crm.contacts.unknown-not-found", Outcome::Fail(format!("{UNKNOWN:?} answered {r:?}"))),
    }
    match p.get_activities(UNKNOWN.into(), 5).await {
        Err(CallError::Provider(ProviderError::NotFound(_))) => {
            rule(out, "crm.activities.unknown-customer-not-found", Outcome::Pass(format!("{UNKNOWN:?}: not-found")))
        }
        Err(e) if unsupported(&e) => {
            rule(out, "crm.activities.unknown-customer-not-found", Outcome::Skip("unsupported".into()))
        }
        Err(e) => {
            rule(out, "crm.activities.unknown-customer-not-found", Outcome::Fail(format!("{UNKNOWN:?} answered {e}")))
        }
        Ok(r) => rule(
            out,
            "crm.activities.unknown-customer-not-found",
            Outcome::Fail(format!("an unknown customer answered {} activities", r.len())),
        ),
    }
}

async fn pim(p: &Provider, out: &mut Vec<RuleResult>) {
    let all = CatalogFilter { category_id: None, modified_since: None, search: None };
    match p.get_product_details(UNKNOWN.into()).await {
        Err(CallError::Provider(ProviderError::NotFound(_))) => {
            rule(out, "pim.details.unknown-not-found", Outcome::Pass(format!("{UNKNOWN:?}: not-found")))
        }
        Err(e) if unsupported(&e) => rule(out, "pim.details.unknown-not-found", Outcome::Skip("unsupported".into())),
        Err(e) => rule(out, "pim.details.unknown-not-found", Outcome::Fail(format!("{UNKNOWN:?} answered {e}"))),
        Ok(r) => rule(out, "pim.details.unknown-not-found", Outcome::Fail(format!("{UNKNOWN:?} answered {r:?}"))),
    }
    match p.get_catalog(all.clone(), 10, Some("b2c-conformance-not-a-token".into())).await {
        Err(CallError::Provider(ProviderError::InvalidInput(_))) => rule(
            out,
            "pim.catalog.foreign-token-invalid-input",
            Outcome::Pass("a token it never issued: invalid-input".into()),
        ),
        Err(e) if unsupported(&e) => {
            rule(out, "pim.catalog.foreign-token-invalid-input", Outcome::Skip("get-catalog is unsupported".into()))
        }
        Err(e) => {
            rule(out, "pim.catalog.foreign-token-invalid-input", Outcome::Fail(format!("a foreign token answered {e}")))
        }
        Ok(page) => rule(
            out,
            "pim.catalog.foreign-token-invalid-input",
            Outcome::Fail(format!("a token it never issued answered a page of {}", page.items.len())),
        ),
    }

    // Pages: follow the tokens to the end (bounded), no duplicates.
    let mut paged: Vec<ProductDetails> = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0usize;
    let pages_outcome = loop {
        match p.get_catalog(all.clone(), 25, token.clone()).await {
            Err(e) if unsupported(&e) => break Outcome::Skip("get-catalog is unsupported".into()),
            Err(e) => break Outcome::Fail(format!("page {} answered {e}", pages + 1)),
            Ok(page) => {
                pages += 1;
                paged.extend(page.items);
                match page.continuation {
                    None => {
                        break Outcome::Pass(format!(
                            "{} entries in {pages} pages of at most 25, then no token",
                            paged.len()
                        ));
                    }
                    Some(t) if Some(&t) == token.as_ref() => {
                        break Outcome::Fail(format!(
                            "page {pages} answered its own token {t:?} again: the pages never end"
                        ));
                    }
                    Some(_) if paged.len() >= SAMPLE || pages >= SAMPLE => {
                        break Outcome::Skip(format!("more than {SAMPLE} entries; the end of the pages is not proven"));
                    }
                    Some(t) => token = Some(t),
                }
            }
        }
    };
    let pages_ended = matches!(pages_outcome, Outcome::Pass(_));
    let mut seen = HashSet::new();
    let pages_outcome = match paged.iter().map(|d| d.product.id.clone()).find(|i| !seen.insert(i.clone())) {
        Some(dup) => Outcome::Fail(format!("entry {dup:?} is on two pages")),
        None => pages_outcome,
    };
    rule(out, "pim.catalog.pages-end-without-duplicates", pages_outcome);

    let streamed = stream_rules(
        out,
        // The unknown-id rule ran above already, as pim.details.unknown-not-found.
        ("pim.catalog.stream-ends", "pim.catalog.stream-equals-details", None),
        || p.open_catalog(all.clone()),
        |c, max| p.next_catalog(c, max),
        |id| p.get_product_details(id),
        |d: &ProductDetails| d.product.id.clone(),
        p,
    )
    .await;
    match streamed {
        Some((streamed, true)) if pages_ended => {
            // As sets: an entry on two pages is the rule above's business.
            let mut a: Vec<String> = paged.iter().map(|d| d.product.id.clone()).collect();
            let mut b: Vec<String> = streamed.iter().map(|d| d.product.id.clone()).collect();
            a.sort();
            a.dedup();
            b.sort();
            b.dedup();
            let outcome = if a == b {
                Outcome::Pass(format!("the pages and the stream hold the same {} entries", a.len()))
            } else {
                let only_pages = a.iter().find(|i| b.binary_search(i).is_err());
                let only_stream = b.iter().find(|i| a.binary_search(i).is_err());
                Outcome::Fail(format!(
                    "pages: {} entries, stream: {}; only on the pages: {only_pages:?}, only in the stream: {only_stream:?}",
                    a.len(),
                    b.len()
                ))
            };
            rule(out, "pim.catalog.pages-cover-the-stream", outcome);
        }
        _ => rule(
            out,
            "pim.catalog.pages-cover-the-stream",
            Outcome::Skip("the pages or the stream were not read to their end".into()),
        ),
    }
}
