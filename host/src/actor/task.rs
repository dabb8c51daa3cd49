//! The actor task: takes jobs off the bounded queue one at a time, creates
//! the instance on demand, runs each job on it, throws the instance away
//! after a trap or timeout, and keeps the actor's counters.

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

/// The actor task. Ends when every sender is gone and the queue is empty.
pub(super) async fn run(
    engine: Arc<PluginEngine>,
    spec: Arc<ActorSpec>,
    settings: ActorSettings,
    stats: Arc<ActorStats>,
    counters: Arc<SocketCounters>,
    mut rx: mpsc::Receiver<Job>,
) {
    let mut live: Option<Live> = None;
    while let Some(job) = rx.recv().await {
        stats.queued.fetch_sub(1, Ordering::Relaxed);
        stats.busy_since_ms.store(now_ms().max(1) as u64, Ordering::Relaxed);
        if live.is_none() {
            // Creating the instance runs plugin code (its start function):
            // bounded by the call timeout like a call. On a timeout the
            // half-built Store is dropped with the future: nothing leaks.
            let created =
                within(settings.call_timeout, instantiate(&engine, &spec, &settings, &counters, &stats)).await;
            match created {
                Ok(l) => {
                    stats.instances_created.fetch_add(1, Ordering::Relaxed);
                    live = Some(l);
                }
                Err(e) => {
                    tracing::error!(tenant = %spec.tenant, kinds = %spec.kinds_label(), plugin = %spec.plugin, "instantiation failed: {e}");
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
            tracing::warn!(tenant = %spec.tenant, kinds = %spec.kinds_label(), plugin = %spec.plugin, %stderr, "plugin instance discarded after a trap or timeout; the next call starts a fresh one");
            stats.restarts.fetch_add(1, Ordering::Relaxed);
        }
        deliver();
    }
    tracing::debug!(tenant = %spec.tenant, kinds = %spec.kinds_label(), plugin = %spec.plugin, "actor drained and stopped");
}
