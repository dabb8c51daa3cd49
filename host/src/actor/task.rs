//! The actor task: takes jobs off the bounded queue one at a time, creates
//! the instance on demand (instantiation, then `lifecycle.init`), runs each
//! job on it, throws the instance away after a trap or timeout, and keeps
//! the actor's counters. When the last handle is gone and the queue is
//! empty it calls `lifecycle.shutdown` on a live instance and ends.

use super::error::CallError;
use super::instance::{Live, instantiate};
use super::spec::{ActorSettings, ActorSpec};
use super::stats::{ActorStats, now_ms};
use crate::capabilities::socket::SocketCounters;
use crate::engine::PluginEngine;
use crate::state::Metered;
use futures::future::BoxFuture;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// What a job hands back: whether the instance may be kept, and the
/// delivery of the caller's answer. The actor delivers only after its
/// bookkeeping (a discarded Store is counted before the caller hears of the
/// trap), so a caller never observes counters that lag its own answer.
type JobDone = (bool, Box<dyn FnOnce() + Send>);

/// One queued call: runs on the live instance, or is told why there is
/// none (instantiation failed).
pub(super) type Job = Box<dyn for<'a> FnOnce(Result<&'a mut Live, CallError>) -> BoxFuture<'a, JobDone> + Send>;

/// Longest the host waits for a plugin's `lifecycle.shutdown` (or the
/// call timeout, if shorter): a plugin cannot hold a rebind, a bind check
/// or the host's exit longer than this.
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a waiter (a bind check, a conformance check, the host's exit)
/// gives an ending actor: its shutdown limit plus a margin for dropping the
/// Store and for a loaded machine (a waiter that gave up early would leave
/// the instance running after a bind returned). The actor bounds itself;
/// this only keeps the waiter bounded too.
pub const SHUTDOWN_WAIT: Duration = Duration::from_secs(SHUTDOWN_TIMEOUT.as_secs() + 5);

/// `fut`, or [`CallError::Timeout`] once `timeout` has passed (dropping
/// `fut`, and with it the guest's stack or a half-built Store).
async fn within<T>(timeout: Duration, fut: impl Future<Output = Result<T, CallError>>) -> Result<T, CallError> {
    tokio::time::timeout(timeout, fut).await.unwrap_or(Err(CallError::Timeout(timeout)))
}

/// Wraps `f` as a job: bounded by `timeout` and metered against the CPU
/// budget; an error that poisons the instance tells the task to discard
/// it. The answer arrives on the returned receiver.
pub(super) fn job<R, F>(timeout: Duration, f: F) -> (Job, oneshot::Receiver<Result<R, CallError>>)
where
    R: Send + 'static,
    F: for<'a> FnOnce(&'a mut Live) -> BoxFuture<'a, Result<R, CallError>> + Send + 'static,
{
    let (reply, answer) = oneshot::channel();
    let job: Job = Box::new(move |live: Result<&mut Live, CallError>| {
        Box::pin(async move {
            let result = match live {
                Err(e) => Err(e),
                Ok(live) => {
                    let meter = live.cpu();
                    within(timeout, Metered::new(f(live), meter, CallError::cpu_budget_err)).await
                }
            };
            let keep = !result.as_ref().err().is_some_and(CallError::poisons);
            let deliver: Box<dyn FnOnce() + Send> = Box::new(move || {
                let _ = reply.send(result);
            });
            (keep, deliver)
        })
    });
    (job, answer)
}

/// A new instance, ready for calls: instantiated, then its
/// `lifecycle.init` run under the CPU budget (a 1.0.0 plugin has none).
/// An instance whose init fails is discarded like one whose call trapped;
/// a trap's error carries what it wrote to stderr.
async fn start(
    engine: &PluginEngine,
    spec: &ActorSpec,
    settings: &ActorSettings,
    counters: &Arc<SocketCounters>,
    stats: &Arc<ActorStats>,
) -> Result<Live, CallError> {
    let mut live = instantiate(engine, spec, settings, counters, stats).await?;
    live.begin_call(settings.cpu_budget);
    let meter = live.cpu();
    match Metered::new(Box::pin(live.init()), meter, CallError::cpu_budget_err).await {
        Ok(()) => {
            live.log_output();
            Ok(live)
        }
        Err(e) => {
            let stderr = live.discard();
            // The caller logs the failure once. A panic's message is on
            // stderr, not in the trap: a refused bind's 422 carries both
            // (each escaped and bounded). A call's 502 never shows trap
            // text, so nothing leaks to API clients.
            Err(match e {
                CallError::Trap(m) if !stderr.is_empty() => CallError::Trap(format!("{m}; its stderr: {stderr}")),
                e => e,
            })
        }
    }
}

/// Ends a live instance on purpose: `lifecycle.shutdown` (bounded by
/// [`SHUTDOWN_TIMEOUT`] and the CPU budget), then the Store is dropped.
async fn stop(mut live: Live, spec: &ActorSpec, settings: &ActorSettings) {
    if live.has_lifecycle() {
        live.begin_call(settings.cpu_budget);
        let meter = live.cpu();
        let limit = settings.call_timeout.min(SHUTDOWN_TIMEOUT);
        if let Err(e) = within(limit, Metered::new(Box::pin(live.shutdown()), meter, CallError::cpu_budget_err)).await {
            let stderr = live.discard();
            tracing::warn!(tenant = %spec.tenant, kinds = %spec.kinds_label(), plugin = %spec.plugin, %stderr, "plugin instance dropped anyway: {}", e.in_lifecycle("shutdown"));
            return;
        }
        live.log_output();
    }
    let _ = live.discard();
}

/// The actor task. Ends when every sender is gone and the queue is empty,
/// or when told to stop (`stopping`, the host's exit) between two jobs,
/// after `lifecycle.shutdown` on the live instance; `finished` is dropped
/// then, which is how [`ProviderHandle::finished`] learns of it.
///
/// [`ProviderHandle::finished`]: super::ProviderHandle::finished
#[allow(clippy::too_many_arguments)]
pub(super) async fn run(
    engine: Arc<PluginEngine>,
    spec: Arc<ActorSpec>,
    settings: ActorSettings,
    stats: Arc<ActorStats>,
    counters: Arc<SocketCounters>,
    mut rx: mpsc::Receiver<Job>,
    mut stopping: tokio::sync::watch::Receiver<bool>,
    finished: tokio::sync::watch::Sender<()>,
) {
    let mut live: Option<Live> = None;
    loop {
        // Between jobs only: a running job always finishes. Stopping (the
        // host's exit) leaves queued jobs unanswered: their callers get
        // `Closed` when the queue is dropped.
        let job = tokio::select! {
            biased;
            _ = async {
                if stopping.wait_for(|s| *s).await.is_err() {
                    // Nobody can stop this actor any more: only its
                    // handles ending it counts.
                    std::future::pending::<()>().await;
                }
            } => break,
            job = rx.recv() => match job {
                Some(job) => job,
                None => break,
            },
        };
        stats.queued.fetch_sub(1, Ordering::Relaxed);
        stats.busy_since_ms.store(now_ms().max(1) as u64, Ordering::Relaxed);
        if live.is_none() {
            // Creating the instance runs plugin code (its start function
            // and `init`): bounded by the call timeout like a call. On a
            // timeout the half-built Store is dropped with the future:
            // nothing leaks.
            let created = within(settings.call_timeout, start(&engine, &spec, &settings, &counters, &stats)).await;
            match created {
                Ok(l) => {
                    stats.instances_created.fetch_add(1, Ordering::Relaxed);
                    live = Some(l);
                }
                Err(e) => {
                    // Once per call that finds no instance (a full pool, a
                    // back end that is down at init): under the host's
                    // failure-line budget.
                    crate::failure_log::write(
                        |suppressed| tracing::warn!(tenant = %spec.tenant, kinds = %spec.kinds_label(), plugin = %spec.plugin, suppressed, "plugin instance could not start: {}", e.in_lifecycle("init")),
                    );
                    // Counted as a restart: an instance was (or was being)
                    // made and is gone, as after a trapping call. A host
                    // with no room made none.
                    if !matches!(e, CallError::HostFull(_)) {
                        stats.restarts.fetch_add(1, Ordering::Relaxed);
                    }
                    let (_, deliver) = job(Err(e)).await;
                    stats.busy_since_ms.store(0, Ordering::Relaxed);
                    deliver();
                    continue;
                }
            }
        }
        let l = live.as_mut().expect("instance was just created");
        l.begin_call(settings.cpu_budget);

        let inside = stats.in_call.fetch_add(1, Ordering::SeqCst) + 1;
        if inside > 1 {
            stats.overlaps.fetch_add(1, Ordering::SeqCst);
        }
        stats.max_in_call.fetch_max(inside, Ordering::SeqCst);
        stats.calls.fetch_add(1, Ordering::Relaxed);
        let (keep, deliver) = job(Ok(l)).await;
        stats.in_call.fetch_sub(1, Ordering::SeqCst);
        stats.busy_since_ms.store(0, Ordering::Relaxed);

        if keep {
            live.as_mut().expect("instance present").log_output();
        } else {
            // Free the Store (memory, handles, pool slot) before answering.
            let stderr = live.take().expect("instance present").discard();
            crate::failure_log::write(
                |suppressed| tracing::warn!(tenant = %spec.tenant, kinds = %spec.kinds_label(), plugin = %spec.plugin, %stderr, suppressed, "plugin instance discarded after a trap or timeout; the next call starts a fresh one"),
            );
            stats.restarts.fetch_add(1, Ordering::Relaxed);
        }
        deliver();
    }
    // Calls still queued (the actor was told to stop) hear `Closed` now,
    // not after the shutdown below.
    drop(rx);
    if let Some(l) = live.take() {
        stop(l, &spec, &settings).await;
    }
    tracing::debug!(tenant = %spec.tenant, kinds = %spec.kinds_label(), plugin = %spec.plugin, "actor drained and stopped");
    drop(finished);
}
