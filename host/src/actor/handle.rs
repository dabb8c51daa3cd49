//! [`ProviderHandle`]: the cloneable way into one actor. It starts the
//! task, puts calls on its bounded queue without ever waiting for room, and
//! asks the actor's circuit breaker before each call.

use super::breaker::Breaker;
use super::error::CallError;
use super::instance::Live;
use super::spec::{ActorSettings, ActorSpec};
use super::stats::ActorStats;
use super::task::{self, Job};
use crate::capabilities::socket::SocketCounters;
use crate::engine::PluginEngine;
use futures::future::BoxFuture;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// A cloneable handle to a tenant actor.
#[derive(Clone)]
pub struct ProviderHandle {
    breaker: Arc<Breaker>,
    tx: mpsc::Sender<Job>,
    spec: Arc<ActorSpec>,
    stats: Arc<ActorStats>,
    capacity: usize,
    control: ActorControl,
}

/// Ending an actor from outside, without holding a handle (which would keep
/// it alive): the host's exit stops every actor, including those that
/// requests still hold, and waits for them.
#[derive(Clone)]
pub struct ActorControl {
    stop: Arc<tokio::sync::watch::Sender<bool>>,
    /// Closed when the actor task has ended.
    finished: tokio::sync::watch::Receiver<()>,
}

impl ActorControl {
    /// Tells the actor to end after the job it is running: queued calls
    /// are answered `Closed`, and its instance hears `lifecycle.shutdown`.
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }

    /// Resolves once the actor task has ended (see [`ProviderHandle::finished`]).
    pub fn finished(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.finished.clone();
        async move { while rx.changed().await.is_ok() {} }
    }

    /// Whether the actor task has ended.
    pub fn has_finished(&self) -> bool {
        self.finished.has_changed().is_err()
    }
}

impl ProviderHandle {
    /// Starts the actor task for `spec`. `stats` carries over from a
    /// previous binding of the same tenant × kind, if any.
    pub fn spawn(
        engine: Arc<PluginEngine>,
        spec: ActorSpec,
        settings: ActorSettings,
        stats: Arc<ActorStats>,
        counters: Arc<SocketCounters>,
    ) -> Self {
        Self::spawn_abortable(engine, spec, settings, stats, counters).0
    }

    /// [`spawn`](Self::spawn), with a way to end the actor at once, the call
    /// it is running included (its Store is dropped as on a call timeout).
    /// For an actor whose only caller gave up on it (the conformance check
    /// at its deadline); a tenant's actor instead ends when its last handle
    /// is gone, after the call it is running.
    pub fn spawn_abortable(
        engine: Arc<PluginEngine>,
        spec: ActorSpec,
        settings: ActorSettings,
        stats: Arc<ActorStats>,
        counters: Arc<SocketCounters>,
    ) -> (Self, tokio::task::AbortHandle) {
        let capacity = settings.queue_capacity.max(1);
        let (tx, rx) = mpsc::channel(capacity);
        let spec = Arc::new(spec);
        let breaker =
            Arc::new(Breaker::new(spec.tenant.clone(), settings.breaker_threshold, settings.breaker_cooldown));
        let (finished_tx, finished) = tokio::sync::watch::channel(());
        let (stop, stopping) = tokio::sync::watch::channel(false);
        let task =
            tokio::spawn(task::run(engine, spec.clone(), settings, stats.clone(), counters, rx, stopping, finished_tx));
        let control = ActorControl { stop: Arc::new(stop), finished };
        (Self { breaker, tx, spec, stats, capacity, control }, task.abort_handle())
    }

    /// The way to stop this actor and wait for it without keeping it alive.
    pub fn control(&self) -> ActorControl {
        self.control.clone()
    }

    /// Resolves once the actor task has ended: every handle was dropped,
    /// its queue ran empty and its instance's `lifecycle.shutdown` ran (or
    /// the task was aborted). Holds no handle, so it cannot keep the actor
    /// alive itself.
    pub fn finished(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        self.control.finished()
    }

    /// Makes sure the actor has a started instance (instantiated, its
    /// `lifecycle.init` passed), creating one if needed: the check of a new
    /// binding. The instance's error, if it cannot start.
    pub async fn start(&self, timeout: Duration) -> Result<(), CallError> {
        self.call(timeout, |_live| Box::pin(async { Ok(()) })).await
    }

    pub fn spec(&self) -> &ActorSpec {
        &self.spec
    }

    pub fn stats(&self) -> &Arc<ActorStats> {
        &self.stats
    }

    /// Whether two handles reach the same actor task.
    pub fn same_actor(&self, other: &ProviderHandle) -> bool {
        self.tx.same_channel(&other.tx)
    }

    /// Whether the circuit breaker is failing calls fast right now.
    pub fn breaker_open(&self) -> bool {
        self.breaker.is_open()
    }

    /// Calls waiting in the queue right now.
    pub fn queue_depth(&self) -> usize {
        self.capacity - self.tx.capacity()
    }

    /// Runs `f` on the instance, serialized with every other call of this
    /// actor, bounded by the call timeout. Never waits for queue room.
    pub(super) async fn call<R, F>(&self, timeout: Duration, f: F) -> Result<R, CallError>
    where
        R: Send + 'static,
        F: for<'a> FnOnce(&'a mut Live) -> BoxFuture<'a, Result<R, CallError>> + Send + 'static,
    {
        self.breaker.admit(timeout)?;
        let result = self.enqueue(task::job(timeout, f)).await;
        self.breaker.record(result.as_ref().err());
        if let Err(e) = &result
            && e.is_providers_fault()
        {
            let message = crate::untrusted::sanitize(&e.to_string());
            *self.stats.last_error.lock().expect("stats lock") = Some((super::stats::now_ms(), message));
        }
        result
    }

    /// Queues a job and waits for its answer; a full queue is answered at
    /// once with [`CallError::Overloaded`].
    async fn enqueue<R>(&self, (job, answer): (Job, oneshot::Receiver<Result<R, CallError>>)) -> Result<R, CallError> {
        self.stats.queued.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = self.tx.try_send(job) {
            self.stats.queued.fetch_sub(1, Ordering::Relaxed);
            return Err(match e {
                mpsc::error::TrySendError::Full(_) => {
                    CallError::Overloaded { tenant: self.spec.tenant.clone(), capacity: self.capacity }
                }
                mpsc::error::TrySendError::Closed(_) => CallError::Closed,
            });
        }
        answer.await.unwrap_or(Err(CallError::Closed))
    }
}
